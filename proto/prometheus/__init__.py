"""Prometheus wire formats: remote write 1.0 protobuf stubs and the text exposition format."""
