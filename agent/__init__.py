"""The gputel agent: backend -> sampler -> batcher -> outbox -> stream, plus a node exporter."""
