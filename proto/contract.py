"""Constants of the ingest wire contract that both sides must agree on (see telemetry.proto)."""

from __future__ import annotations

# The largest ingest message either side sends or accepts, in bytes.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Trailing metadata: the sequence number of the frame a status is about.
BAD_SEQ_KEY = "gputel-bad-seq"
# Trailing metadata: milliseconds the agent waits before it connects again.
RETRY_AFTER_KEY = "gputel-retry-after-ms"
