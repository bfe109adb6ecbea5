"""Transports over the query core: HTTP/JSON, gRPC, Prometheus /metrics, and access control."""
