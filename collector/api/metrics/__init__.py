"""The collector's own Prometheus /metrics collectors."""
