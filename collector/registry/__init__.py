"""What the collector knows of nodes and workloads: written by ingest, read by query."""
