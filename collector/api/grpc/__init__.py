"""The gRPC services: ingest (IngestService) and queries (QueryService)."""
