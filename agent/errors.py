"""The agent's one error tree, as the collector has its own.

Every failure the agent reports derives from AgentError, each kind translated from its
library's errors at one boundary (the original kept as `__cause__`), so the CLI turns any
of them into an exit code and one line in one place.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose; the message says what and where."""
