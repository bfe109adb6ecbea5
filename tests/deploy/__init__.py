"""The Kubernetes manifests (daemonset/) rendered with kubectl kustomize, against the code."""
