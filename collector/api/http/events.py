"""GET /api/v1/watch: the gRPC Watch as Server-Sent Events.

The same selection (node, GPU, workload; metrics) and the same live windows as
`QueryService.Watch`, from the same query core, pushed every `interval` as one
`event: update` whose `data` is a WatchUpdateOut in JSON. A bad selection is refused before
the stream starts, with the usual error envelope (400, 404); a workload that goes away
mid-stream ends it with one `event: error` carrying the envelope. Streams end when the
collector stops (`closing`), so they never hold its shutdown.

EventSource cannot send an Authorization header: with tokens on, read the stream with
fetch() (the console does) or curl -N -H 'Authorization: Bearer ...'.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from gputel.collector.api.http.common import duration_ns
from gputel.collector.api.http.wire import ERRORS, ApiModel
from gputel.collector.errors import GputelError, InvalidParameterError
from gputel.collector.query.live import LiveSnapshot, Selection, WindowStats
from gputel.collector.query.services import QueryServices
from gputel.collector.timefmt import format_time

MIN_INTERVAL_NS = 10_000_000  # 10 ms, as the gRPC Watch
MAX_INTERVAL_NS = 3600 * 10**9
_CHECK_CLOSING_S = 0.2  # how soon a stream notices the collector stopping
EVENT_STREAM = "text/event-stream"


class WindowStatsOut(ApiModel):
    """One metric over the window, in its unit (null where the GPU reported no number)."""

    avg: float | None
    min: float | None
    max: float | None
    last: float | None
    count: int

    @classmethod
    def from_core(cls, s: WindowStats) -> Self:
        """A window's statistics, NaN and infinities as null."""
        return cls(avg=_number(s.avg), min=_number(s.min), max=_number(s.max),
                   last=_number(s.last), count=s.count)


class LiveDeviceOut(ApiModel):
    """One GPU's windows; `fraction` is the watched workload's share (1 otherwise); the
    window ends at `end`, the GPU's newest sample."""

    node: str
    gpu: str
    index: int
    fraction: float
    end: str
    metrics: dict[str, WindowStatsOut]


class WatchUpdateOut(ApiModel):
    """One update of the stream (the `data` of each `event: update`)."""

    time: str
    window_seconds: float
    devices: list[LiveDeviceOut]

    @classmethod
    def from_core(cls, snapshot: LiveSnapshot) -> Self:
        """A live snapshot as one update."""
        return cls(time=format_time(snapshot.ts_ns), window_seconds=snapshot.window_ns / 1e9,
                   devices=[LiveDeviceOut(
                       node=d.node, gpu=d.uuid, index=d.index, fraction=d.fraction,
                       end=format_time(d.end_ns),
                       metrics={m: WindowStatsOut.from_core(w) for m, w in d.metrics.items()})
                       for d in snapshot.devices])


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One Server-Sent Event (JSON data on one line)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def events_router(services: QueryServices, closing: Callable[[], bool]) -> APIRouter:
    """/watch; `closing` says the collector is stopping (open streams then end)."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)
    live = services.live

    @router.get("/watch", summary="Live windows of GPUs as Server-Sent Events (gRPC Watch)",
                response_class=StreamingResponse, responses={200: {
                    "description": "`event: update` every interval, `data` a WatchUpdateOut "
                                   "(JSON); `event: error` with the error envelope ends it",
                    "content": {EVENT_STREAM: {"schema": WatchUpdateOut.model_json_schema(
                        by_alias=True, ref_template="#/components/schemas/{model}")}}}})
    async def watch(
            node: str | None = None,
            gpu: Annotated[str | None, Query(description="a GPU UUID")] = None,
            workload: Annotated[str | None, Query(description="a workload uid: the GPUs it "
                                                          "holds at each update")] = None,
            metric: Annotated[list[str] | None, Query(
                description="metric ids, repeatable; default gpu_util, mem_used, power, "
                            "temperature")] = None,
            interval: Annotated[str | None, Query(
                description="period and window, 10ms to 1h; default --watch-interval",
                examples=["1s"])] = None) -> StreamingResponse:
        period = _interval(interval, services.watch_interval_seconds)
        selection = await asyncio.to_thread(live.select, node, gpu, workload,
                                            tuple(metric or ()))
        return StreamingResponse(_updates(services, selection, period, closing),
                                 media_type=EVENT_STREAM,
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    return router


def _interval(text: str | None, default_seconds: float) -> int:
    """The stream's period in ns. Raises InvalidParameterError."""
    period = duration_ns("interval", text)
    if period is None:
        return round(default_seconds * 1e9)
    if not MIN_INTERVAL_NS <= period <= MAX_INTERVAL_NS:
        raise InvalidParameterError("interval", "must be between 10ms and 1h")
    return period


async def _updates(services: QueryServices, selection: Selection, period_ns: int,
                   closing: Callable[[], bool]) -> AsyncIterator[bytes]:
    """One update per period until the client goes (Starlette cancels us) or we stop."""
    yield f"retry: {max(1000, period_ns // 1_000_000)}\n\n".encode()
    while not closing():
        try:
            snapshot = await asyncio.to_thread(services.live.snapshot, selection, period_ns)
        except GputelError as exc:
            yield sse("error", {"error": {"code": exc.code, "message": exc.message,
                                          "details": dict(exc.details)}})
            return
        yield sse("update", WatchUpdateOut.from_core(snapshot).model_dump(by_alias=True),
                  str(snapshot.ts_ns))
        await _pause(period_ns / 1e9, closing)


async def _pause(seconds: float, closing: Callable[[], bool]) -> None:
    """Sleep `seconds`, waking early when the collector starts closing."""
    deadline = time.monotonic() + seconds
    while not closing():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, _CHECK_CLOSING_S))
