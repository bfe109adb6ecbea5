"""The collector's one error tree; each transport maps it to its status in one function."""

from __future__ import annotations


class GputelError(Exception):
    """Base of every error the collector reports to a client."""

    code = "INTERNAL"

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidParameterError(GputelError):
    """A request parameter is malformed or out of range; `details['parameter']` names it."""

    code = "INVALID_PARAMETER"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}", {"parameter": parameter})
        self.parameter = parameter


class NotFoundError(GputelError):
    """No such node, GPU or metric."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found", {"kind": kind, "id": ident})


class UnavailableError(GputelError):
    """The collector cannot answer now (starting, stopping)."""

    code = "UNAVAILABLE"


class InvalidFrameError(GputelError):
    """An ingest message is malformed; `seq` names the frame (0 for a Hello)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, message: str, seq: int = 0) -> None:
        super().__init__(message, {"seq": seq})
        self.seq = seq


class OutOfWindowError(InvalidFrameError):
    """A frame's timestamps lie outside the accepted window (the agent's clock is off):
    the agent keeps the frame and retries, rather than dropping it."""

    code = "OUT_OF_RANGE"


class LimitError(GputelError):
    """A configured limit refuses the request; `details['limit']` names the limit (a flag)."""

    code = "RESOURCE_EXHAUSTED"

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(f"{message} (limit {limit})", {"limit": limit})
        self.limit = limit


class AlreadyStreamingError(GputelError):
    """A stream for this node is already open; a second one is refused until it ends."""

    code = "ALREADY_EXISTS"


class IdentityError(GputelError):
    """The client's credential does not allow the node its Hello names."""

    code = "FORBIDDEN"


def unknown_metric(metric: str) -> InvalidParameterError:
    """The error for a metric id the catalogue does not know: a bad `metric` parameter."""
    from gputel.proto.metrics import METRICS  # noqa: PLC0415 - only when the error happens

    return InvalidParameterError(
        "metric", f"{metric[:64]!r} is not a metric; known: {', '.join(sorted(METRICS))}")
