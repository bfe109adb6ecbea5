"""The gputel collector: ingest, store, one query core, and transports (gRPC, HTTP, /metrics)."""
