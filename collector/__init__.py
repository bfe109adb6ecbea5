"""The gputel collector: ingest, store, one query core, and its transports (gRPC, HTTP, /metrics)."""
