"""Utilization and allocated-GPU demand for the next hours, forecast from the history.

The history is /utilization/history's answer on a grid of `step` (default one hour) over the
last `history` hours: mean GPU utilization (percent) over the GPUs that reported, and GPUs
held by workloads at each point, for the cluster or one node. Each series is fitted with
statsmodels' ETSModel (exponential smoothing as a state-space model; Hyndman et al.,
"Forecasting with Exponential Smoothing"): additive error and trend (Holt), plus an
additive daily season (Holt-Winters) only when the history holds at least two whole days
of points and a day is at most MAX_SEASON points. Initial states come from statsmodels'
heuristic (so at least MIN_POINTS points are needed); smoothing parameters by maximum
likelihood. The interval is the model's analytic prediction interval at INTERVAL_LEVEL.
Forecasts and bounds are clipped to what the quantity can be (0 to 100 %, 0 to the GPUs
known), and the answer says so.

The series runs from the first to the last point with data; a gap inside is filled by
linear interpolation (counted in `filled_points`); when the data ends before now, the
forecast also covers the points between. Fits run one at a time (the history read takes
a query slot like any range query); statsmodels is imported on the first forecast only,
as it and pandas add ~125 MiB and 2 s of start-up (measured) a collector that never forecasts
should not pay.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from gputel.collector.errors import InvalidParameterError
from gputel.collector.query.aggregate import FloatArray, IntArray
from gputel.collector.query.cluster import ClusterQueries, UtilizationHistory
from gputel.collector.query.core import QueryCore

HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
MAX_HOURS = 24 * 14.0
MAX_HISTORY_HOURS = 24 * 90.0
MIN_STEP_NS = 60 * 10**9
MAX_STEP_NS = DAY_NS
MAX_HORIZON_POINTS = 1000
MAX_HISTORY_POINTS = 5000
MAX_SEASON = 168
MIN_POINTS = 10  # statsmodels' heuristic initialisation needs ten observations
INTERVAL_LEVEL = 0.95
_FIT = threading.Lock()


@dataclass(frozen=True, slots=True)
class ForecastMethod:
    """How a series was forecast: the model (ETS(A,A,N) Holt, ETS(A,A,A) Holt-Winters), its
    library, the season length in points (0: none), the fitted parameters, whether the
    likelihood optimisation converged (an exact line or constant gives it nothing to
    improve), and whether any value was clipped to the quantity's range."""

    model: str
    library: str
    seasonal_periods: int
    params: tuple[tuple[str, float], ...]
    converged: bool
    clipped: bool


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """One quantity's forecast: per future point its mean and interval bounds, in `unit`;
    the history points it was fitted on and how many of them filled a gap."""

    name: str
    unit: str
    method: ForecastMethod
    history_points: int
    filled_points: int
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray


@dataclass(frozen=True, slots=True)
class Forecast:
    """Forecasts for `hours` after `history_end_ns` on a grid of `step_ns` (times in Unix ns):
    utilization (percent) and allocated GPUs (of `gpus_total`), fitted on the points with
    data between `history_start_ns` and `history_end_ns`."""

    hours: float
    step_ns: int
    node: str | None
    history_start_ns: int
    history_end_ns: int
    interval_level: float
    gpus_total: int
    times: IntArray
    utilization: SeriesForecast
    allocated_gpus: SeriesForecast


@dataclass(frozen=True, slots=True)
class _Fit:
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    model: str
    library: str
    params: tuple[tuple[str, float], ...]
    converged: bool


class ForecastQueries:
    """Forecasts over the cluster's utilization history."""

    def __init__(self, core: QueryCore, cluster: ClusterQueries) -> None:
        self._core = core
        self._cluster = cluster

    def forecast(self, hours: float = 24.0, history_hours: float = 168.0,
                 step_ns: int = HOUR_NS, node: str | None = None,
                 end_ns: int | None = None) -> Forecast:
        """Utilization and allocated GPUs for the `hours` after `end_ns`, from the
        `history_hours` before it at `step_ns`, for the cluster or one `node`. The default
        end is now rounded down to a whole step (Unix time), so every forecast asked within
        one step is fitted on the same points and agrees.

        Raises InvalidParameterError (hours, history, step, end; `history` also when it
        holds fewer than MIN_POINTS points with data) or NotFoundError (node).
        """
        horizon, wanted = _check(hours, history_hours, step_ns)
        end = self._core.time_ns() // step_ns * step_ns if end_ns is None else end_ns
        start = end - wanted * step_ns
        history = self._cluster.utilization_history(start, end, step_ns, node)
        return _forecast(history, hours, horizon, node)


def _check(hours: float, history_hours: float, step_ns: int) -> tuple[int, int]:
    """(points to forecast, points of history) for valid parameters."""
    if not MIN_STEP_NS <= step_ns <= MAX_STEP_NS:
        raise InvalidParameterError("step", f"{step_ns / 1e9:g} s is outside "
                                    f"{MIN_STEP_NS / 1e9:g} s to {MAX_STEP_NS / 1e9:g} s")
    if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise InvalidParameterError("hours", f"{hours!r} is outside (0, {MAX_HOURS:g}]")
    if not (math.isfinite(history_hours) and 0 < history_hours <= MAX_HISTORY_HOURS):
        raise InvalidParameterError("history", f"{history_hours!r} is outside "
                                    f"(0, {MAX_HISTORY_HOURS:g}] hours")
    horizon = math.ceil(hours * HOUR_NS / step_ns - 1e-9)
    if horizon > MAX_HORIZON_POINTS:
        raise InvalidParameterError("hours", f"{horizon} points at this step; at most "
                                    f"{MAX_HORIZON_POINTS}: raise step or shorten hours")
    points = int(history_hours * HOUR_NS // step_ns)
    if points > MAX_HISTORY_POINTS:
        raise InvalidParameterError("history", f"{points} points at this step; at most "
                                    f"{MAX_HISTORY_POINTS}: raise step or shorten history")
    return horizon, points


def _forecast(h: UtilizationHistory, hours: float, horizon: int, node: str | None) -> Forecast:
    have = np.flatnonzero(h.reporting > 0)
    step = h.grid.step
    if have.size < MIN_POINTS:
        raise InvalidParameterError(
            "history", f"{have.size} points with data at a step of {step / 1e9:g} s; a "
            f"forecast needs at least {MIN_POINTS}: wait for more history, lengthen history "
            "or shorten step")
    first, last = int(have[0]), int(have[-1])
    util, filled = _interpolated(h.utilization[first:last + 1])
    held = h.allocated[first:last + 1].astype(np.float64)
    behind = h.times.size - 1 - last  # points between the last data and now
    season = _season(step, util.size)
    times = h.times[-1] + step * np.arange(1, horizon + 1, dtype=np.int64)
    return Forecast(hours, step, node, int(h.times[first]), int(h.times[last]), INTERVAL_LEVEL,
                    h.gpus_total, times,
                    _series("utilization", "percent", util, filled, season, behind, horizon,
                            100.0),
                    _series("allocatedGpus", "gpus", held, 0, season, behind, horizon,
                            float(h.gpus_total)))


def _interpolated(values: FloatArray) -> tuple[FloatArray, int]:
    """The values with inner NaNs linearly interpolated, and how many were."""
    gaps = np.isnan(values)
    if not gaps.any():
        return values.astype(np.float64), 0
    x = np.arange(values.size)
    out = values.astype(np.float64).copy()
    out[gaps] = np.interp(x[gaps], x[~gaps], values[~gaps])
    return out, int(gaps.sum())


def _season(step_ns: int, points: int) -> int:
    """Points per day when the history holds two whole days and a day fits MAX_SEASON; else 0."""
    if DAY_NS % step_ns:
        return 0
    period = DAY_NS // step_ns
    return period if 2 <= period <= MAX_SEASON and points >= 2 * period else 0


def _series(name: str, unit: str, values: FloatArray, filled: int, season: int, behind: int,
            horizon: int, ceiling: float) -> SeriesForecast:
    fit = _fit(values, season, behind + horizon)
    cut = slice(behind, behind + horizon)
    mean, lower, upper = (np.clip(a[cut], 0.0, ceiling) for a in (fit.mean, fit.lower, fit.upper))
    clipped = not (np.array_equal(mean, fit.mean[cut]) and np.array_equal(lower, fit.lower[cut])
                   and np.array_equal(upper, fit.upper[cut]))
    method = ForecastMethod(fit.model, fit.library, season, fit.params, fit.converged, clipped)
    return SeriesForecast(name, unit, method, values.size, filled, mean, lower, upper)


def _fit(values: FloatArray, season: int, steps: int) -> _Fit:
    """Fit ETS on `values` and forecast `steps` points with the interval."""
    import pandas as pd  # noqa: PLC0415 - on the first forecast only (see the module's doc)
    import statsmodels  # noqa: PLC0415
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # noqa: PLC0415
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: PLC0415

    seasonal = "add" if season else None
    with _FIT, warnings.catch_warnings(record=True) as caught:
        # An exact line or constant leaves the likelihood nothing to optimise: statsmodels
        # warns and still fits it exactly, which the answer reports as not converged.
        warnings.simplefilter("always", ConvergenceWarning)
        model = ETSModel(pd.Series(values), error="add", trend="add", seasonal=seasonal,
                         seasonal_periods=season or None, initialization_method="heuristic")
        result = model.fit(disp=False)
        prediction = result.get_prediction(start=values.size, end=values.size + steps - 1)
        bounds = np.asarray(prediction.pred_int(alpha=1 - INTERVAL_LEVEL), dtype=np.float64)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    params = tuple((str(k), float(v)) for k, v in zip(result.param_names, result.params,
                                                      strict=True)
                   if not str(k).startswith("initial_seasonal"))
    return _Fit(np.asarray(prediction.predicted_mean, dtype=np.float64), bounds[:, 0],
                bounds[:, 1], "ETS(A,A,A) Holt-Winters" if season else "ETS(A,A,N) Holt",
                f"statsmodels {statsmodels.__version__} ETSModel", params, converged)
