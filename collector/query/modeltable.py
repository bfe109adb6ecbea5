"""Per-GPU-model settings (alert thresholds, prices): `MODEL=VALUE,...` tables and lookup.

A key matches a model exactly, else when the model contains it (case-insensitive): "H100"
matches "NVIDIA H100 80GB HBM3". The longest matching key wins, so "H100 NVL" beats "H100".
"""

from __future__ import annotations

import math

ModelTable = tuple[tuple[str, float], ...]


def for_model(table: ModelTable, model: str, default: float) -> float:
    """The value `table` gives `model`, or `default` when no key matches."""
    exact = [v for k, v in table if k == model]
    if exact:
        return exact[0]
    lowered = model.lower()
    matching = sorted(((k, v) for k, v in table if k.lower() in lowered),
                      key=lambda kv: -len(kv[0]))
    return matching[0][1] if matching else default


def parse_model_table(text: str, what: str) -> ModelTable:
    """`H100=83,MI300X=90` -> ((H100, 83.0), (MI300X, 90.0)). Raises ValueError naming `what`."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        model, sep, value = part.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not model.strip() or not math.isfinite(number):
            raise ValueError(f"{what}: {part!r} is not MODEL=NUMBER")
        out.append((model.strip(), number))
    return tuple(out)
