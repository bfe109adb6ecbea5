"""The Prometheus text exposition format (0.0.4), rendered fast from numpy columns.

Shared by the agent's and the collector's /metrics. A family is rendered as its
`# HELP` and `# TYPE` lines, then one line per series: a precomputed prefix
(`name{label="value",...} `) joined with the value. The prefixes depend only on
the label sets, so callers build them once and reuse them while the devices and
holders stay the same; a scrape then costs one `tolist()` and one join per family
instead of one Python object per sample.

Values follow the format: `NaN`, `+Inf`, `-Inf`, otherwise Python's shortest
round-tripping repr (which Prometheus parses as Go's ParseFloat does).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_LABEL_ESCAPES = str.maketrans({"\\": r"\\", '"': r"\"", "\n": r"\n"})
_HELP_ESCAPES = str.maketrans({"\\": r"\\", "\n": r"\n"})

Labels = Sequence[tuple[str, str]]


def escape_label_value(value: str) -> str:
    """A label value with backslash, double quote and newline escaped."""
    return value.translate(_LABEL_ESCAPES)


def label_text(labels: Labels) -> str:
    """`{a="x",b="y"}` with names sorted and empty values left out ('' when none remain)."""
    pairs = sorted((k, v) for k, v in labels if v != "")
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs) + "}"


def format_value(value: float) -> str:
    """One sample value as the format spells it: NaN, +Inf, -Inf or a float literal."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def header(name: str, kind: str, help_text: str) -> str:
    """The `# HELP` and `# TYPE` lines of a family. Raises ValueError for a bad name or type."""
    if not METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    if kind not in TYPES:
        raise ValueError(f"invalid metric type {kind!r}")
    return f"# HELP {name} {help_text.translate(_HELP_ESCAPES)}\n# TYPE {name} {kind}\n"


def prefixes(name: str, label_sets: Iterable[Labels]) -> list[str]:
    """Per series, `name{labels} ` (trailing space included), for `render_samples`."""
    return [f"{name}{label_text(labels)} " for labels in label_sets]


def render_samples(series: Sequence[str], values: npt.NDArray[np.float64],
                   skip_nan: bool = True) -> str:
    """Sample lines: prefix + value per series, newline-terminated ('' when none).

    `values[i]` belongs to `series[i]`; a NaN value drops its line when `skip_nan`
    (NaN is how gputel says "no value"), otherwise it is written `NaN`.
    """
    vals = np.asarray(values, dtype=np.float64)
    if len(series) != vals.size:
        raise ValueError(f"{len(series)} series but {vals.size} values")
    finite = np.isfinite(vals)
    if finite.all():
        texts = map(repr, vals.tolist())
        lines = list(map(operator.add, series, texts))
    else:
        keep = ~np.isnan(vals) if skip_nan else np.ones(vals.size, dtype=bool)
        rows = np.flatnonzero(keep).tolist()
        lines = [series[i] + format_value(v) for i, v in zip(rows, vals[rows].tolist(),
                                                                   strict=True)]
    if not lines:
        return ""
    lines.append("")
    return "\n".join(lines)


def render_family(name: str, kind: str, help_text: str, series: Sequence[str],
                  values: npt.NDArray[np.float64], always: bool = False) -> str:
    """A whole family; '' when it has no sample and not `always`."""
    body = render_samples(series, values)
    if not body and not always:
        return ""
    return header(name, kind, help_text) + body
