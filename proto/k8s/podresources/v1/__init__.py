"""kubelet PodResources v1: generated stubs (`api_pb2`, `api_pb2_grpc`), wire package `v1`."""
