"""Storage: the in-memory head, the durable frame log, and rollups for long retention."""
