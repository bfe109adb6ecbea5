"""The collector's view of the Kubernetes API: one list-then-watch per kind for the cluster."""
