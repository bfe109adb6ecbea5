"""HTTP route and answer of /forecast: utilization and allocated-GPU demand for the next
hours, with the interval and the method named (query.forecast)."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter, Query

from gputel.collector.api.http.common import End, duration_ns, time_ns
from gputel.collector.api.http.wire import ERRORS, Answer, ApiModel, ok, times
from gputel.collector.query.forecast import (
    HOUR_NS,
    MAX_HISTORY_HOURS,
    MAX_HOURS,
    Forecast,
    ForecastMethod,
    SeriesForecast,
)
from gputel.collector.query.services import QueryServices
from gputel.collector.timefmt import format_time


class ForecastMethodOut(ApiModel):
    """The model and library that made a forecast, its season (points; 0: none), fitted
    parameters, whether the fit converged, and whether values were clipped to the range."""

    model: str
    library: str
    seasonal_periods: int
    params: dict[str, float]
    converged: bool
    clipped: bool

    @classmethod
    def from_core(cls, m: ForecastMethod) -> Self:
        """How a series was forecast."""
        return cls(model=m.model, library=m.library, seasonal_periods=m.seasonal_periods,
                   params=dict(m.params), converged=m.converged, clipped=m.clipped)


class ForecastPointOut(ApiModel):
    """One future point: the forecast and its interval's bounds."""

    time: str
    value: float
    lower: float
    upper: float


class SeriesForecastOut(ApiModel):
    """One quantity's forecast, in `unit`, from `historyPoints` points (`filledPoints` of
    them interpolated over a gap)."""

    unit: str
    method: ForecastMethodOut
    history_points: int
    filled_points: int
    points: list[ForecastPointOut]

    @classmethod
    def from_core(cls, s: SeriesForecast, when: list[str]) -> Self:
        """A series' forecast at the times `when`."""
        return cls(unit=s.unit, method=ForecastMethodOut.from_core(s.method),
                   history_points=s.history_points, filled_points=s.filled_points,
                   points=[ForecastPointOut(time=t, value=v, lower=lo, upper=hi)
                           for t, v, lo, hi in zip(when, s.mean.tolist(), s.lower.tolist(),
                                                   s.upper.tolist(), strict=True)])


class ForecastOut(ApiModel):
    """Utilization (percent) and allocated GPUs for the next `hours`, with a prediction
    interval at `intervalLevel`, fitted on the history from `historyStart` to `historyEnd`."""

    hours: float
    step_seconds: float
    node: str | None
    history_start: str
    history_end: str
    interval_level: float
    total_gpus: int
    utilization: SeriesForecastOut
    allocated_gpus: SeriesForecastOut

    @classmethod
    def from_core(cls, f: Forecast) -> Self:
        """The forecast answer."""
        when = times(f.times)
        return cls(hours=f.hours, step_seconds=f.step_ns / 1e9, node=f.node,
                   history_start=format_time(f.history_start_ns),
                   history_end=format_time(f.history_end_ns), interval_level=f.interval_level,
                   total_gpus=f.gpus_total,
                   utilization=SeriesForecastOut.from_core(f.utilization, when),
                   allocated_gpus=SeriesForecastOut.from_core(f.allocated_gpus, when))


def forecast_router(services: QueryServices) -> APIRouter:
    """/forecast."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.get("/forecast", summary="Utilization and allocated GPUs forecast for the next hours")
    def forecast(hours: Annotated[float, Query(description=f"hours ahead, up to {MAX_HOURS:g}",
                                               )] = 24.0,
                 history: Annotated[float, Query(description="hours of history to fit, up to "
                                                 f"{MAX_HISTORY_HOURS:g}")] = 168.0,
                 step: Annotated[str | None, Query(description="point spacing: 1h (default), "
                                                   "15m, seconds; 1 min to 1 day")] = None,
                 node: Annotated[str | None, Query(description="one node; default the "
                                                   "cluster")] = None,
                 end: End = None) -> Answer[ForecastOut]:
        return ok(ForecastOut.from_core(services.forecasts.forecast(
            hours, history, duration_ns("step", step) or HOUR_NS, node or None,
            time_ns("end", end))))

    return router
