"""gputel's wire contract: generated stubs (gputel.proto.gputel.v1), the metric
catalogue and the pure frame codec both the agent and the collector use."""
