"""Argument parsing: every flag also reads GPUTEL_<FLAG>; a bad flag or value: one line, exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line naming the flag.

    argparse checks `choices` only for values given on the command line; values from
    GPUTEL_ variables are checked here too, so a bad one is refused the same way.
    """

    def error(self, message: str) -> NoReturn:
        """Print `gputel <cmd>: error: message` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse, then check every option's value against its choices."""
        parsed, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            if action.choices is not None and action.option_strings and value is not None \
                    and value not in action.choices:
                self.error(f"argument {action.option_strings[0]}: invalid choice: {value!r} "
                           f"(choose from {', '.join(map(str, action.choices))})")
        return parsed, rest


def env_name(flag: str) -> str:
    """--grpc-port -> GPUTEL_GRPC_PORT."""
    return "GPUTEL_" + flag.lstrip("-").replace("-", "_").upper()


def add(parser: argparse.ArgumentParser, env: Mapping[str, str], flag: str, default: Any,
        help_text: str, kind: Callable[[str], Any] = str, **extra: Any) -> None:
    """Add --flag with its GPUTEL_ variable as the default; argparse converts it with `kind`."""
    name = env_name(flag)
    value = env.get(name, default)
    parser.add_argument(flag, default=value, type=kind,
                        help=f"{help_text} [env {name}; default {default}]", **extra)


def ranged(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    """A converter that also checks low <= value <= high."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside [{low:g}, {high:g}]")
        return value
    convert.__name__ = kind.__name__
    return convert


def host_port(text: str) -> str:
    """HOST:PORT (IPv6 hosts in brackets)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return text


def host_ports(text: str) -> str:
    """HOST:PORT, or several comma-separated (an agent's collectors, tried in turn)."""
    parts = [p.strip() for p in text.split(",")]
    for part in parts:
        host_port(part)
    return ",".join(parts)


def positive_rate(text: str) -> float:
    """A sampling rate in Hz, 0 < rate <= 1000."""
    return float(ranged(float, 1e-3, 1000)(text))


PORT = ranged(int, 0, 65535)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def size(text: str) -> int:
    """A size in bytes: 1000000, 512MiB, 2GiB, 1.5G (suffixes k, M, G, T and Ki, Mi, Gi, Ti)."""
    number = text.strip().rstrip("bB")
    digits = number.rstrip("kKmMgGtTiI")
    unit = _UNITS.get(number[len(digits):].lower())
    try:
        value = float(digits) * unit if unit is not None else -1.0
    except ValueError:
        value = -1.0
    if not 0 <= value < 2**62:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 512MiB or 2GiB")
    return int(value)


def die(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, then exit."""
    sys.stderr.write(f"gputel: {message}\n")
    raise SystemExit(code)


def environ() -> Mapping[str, str]:
    """The process environment; only the CLI reads it."""
    return os.environ


def duration(low_s: float, high_s: float) -> Callable[[str], float]:
    """A duration such as 1h, 90s, 100ms or plain seconds -> seconds, within [low_s, high_s]."""
    def convert(text: str) -> float:
        from gputel.collector.errors import InvalidParameterError  # noqa: PLC0415
        from gputel.collector.timefmt import parse_duration  # noqa: PLC0415

        try:
            seconds = parse_duration("duration", text) / 1e9
        except InvalidParameterError as exc:
            raise argparse.ArgumentTypeError(exc.message.removeprefix("duration: ")) from None
        if not low_s <= seconds <= high_s:
            raise argparse.ArgumentTypeError(f"{text} is outside [{low_s:g} s, {high_s:g} s]")
        return seconds
    convert.__name__ = "duration"
    return convert


def tiers(text: str) -> tuple[tuple[float, float], ...]:
    """'10s:7d,5m:90d' -> ((10.0, 604800.0), (300.0, 7776000.0)); '' for no rollups."""
    out = []
    span = duration(1, 10 * 365 * 86400)
    for part in filter(None, (p.strip() for p in text.split(","))):
        step, sep, keep = part.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"{part!r} is not STEP:RETENTION")
        out.append((span(step), span(keep)))
    return tuple(sorted(out))


def model_table(flag: str) -> Callable[[str], tuple[tuple[str, float], ...]]:
    """'H100=83,MI300X=90' -> ((H100, 83.0), (MI300X, 90.0)); a bad one names `flag`."""
    def convert(text: str) -> tuple[tuple[str, float], ...]:
        from gputel.collector.query.modeltable import parse_model_table  # noqa: PLC0415

        try:
            return parse_model_table(text, flag)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag}: ")) from None
    convert.__name__ = "model table"
    return convert


def compat_names(text: str) -> tuple[str, ...]:
    """'primus-lens,k8s-gpu' -> the names, each checked against the compatibility routers."""
    from gputel.collector.api.compat import check_names  # noqa: PLC0415 - keeps --help fast

    try:
        return check_names([p.strip() for p in text.split(",") if p.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
