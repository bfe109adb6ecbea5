"""Kubernetes APIs gputel speaks as a client (vendored .proto files and their stubs)."""
