"""Outbound delivery: Prometheus remote write and alert webhooks."""
