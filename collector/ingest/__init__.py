"""Ingest: admission checks, backpressure, and the ingest core that applies agents' frames."""
