"""Physical quantities in scenario files: SI numbers or strings with units.

Every quantity is converted to SI on load (s, bytes, bit/s, FLOP/s, W, J, Hz, W/Hz), so the
rest of the planner never sees a unit. A string that does not parse raises ValueError with
examples of what does, which the scenario loader turns into a located ScenarioError.
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")

_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def _table(units: dict[str, float], prefixes: dict[str, float]) -> dict[str, float]:
    return {p + u: f * k for u, f in units.items() for p, k in prefixes.items()}


def _dbm(x: float) -> float:
    return 10.0 ** ((x - 30.0) / 10.0)


def _dbw(x: float) -> float:
    return 10.0 ** (x / 10.0)


# dimension -> (unit -> factor to SI), the SI unit's name, examples for error messages
DIMENSIONS: dict[str, tuple[dict[str, float], str, str]] = {
    "time": (
        {**_table({"s": 1.0}, _SMALL), "us": 1e-6, "min": 60.0, "h": 3600.0},
        "s", "'5 ms', '2 s', '1.5 min'",
    ),
    "frequency": (_table({"Hz": 1.0}, _SI), "Hz", "'20 MHz', '180 kHz', '2.4 GHz'"),
    "rate": (
        {**_table({"bit/s": 1.0, "bps": 1.0, "b/s": 1.0}, _SI),
         **_table({"B/s": 8.0, "Bps": 8.0}, _SI),
         **_table({"B/s": 8.0}, _BIN)},
        "bit/s", "'50 Mbit/s', '1 Gbit/s', '100 Mbps', '12.5 MB/s'",
    ),
    "bytes": (
        {**_table({"B": 1.0, "byte": 1.0, "bytes": 1.0}, _SI), **_table({"B": 1.0}, _BIN),
         **_table({"bit": 0.125, "b": 0.125}, _SI)},
        "bytes", "'4 GiB', '512 MB', '64 KiB'",
    ),
    "flop_rate": (
        _table({"FLOPS": 1.0, "FLOP/s": 1.0, "flops": 1.0, "flop/s": 1.0}, _SI),
        "FLOP/s", "'0.5 TFLOPS', '20 GFLOPS', '1e12'",
    ),
    "power": (
        {**_table({"W": 1.0}, {**_SI, **_SMALL})},
        "W", "'10 W', '800 mW', '23 dBm'",
    ),
    "energy": (
        {**_table({"J": 1.0}, {**_SI, **_SMALL}), **_table({"Wh": 3600.0}, {**_SI, **_SMALL})},
        "J", "'20 J', '1.5 kJ', '2 Wh'",
    ),
    "noise_density": (
        _table({"W/Hz": 1.0}, {**_SI, **_SMALL}),
        "W/Hz", "'-174 dBm/Hz', '4e-21 W/Hz'",
    ),
    "number": ({"": 1.0}, "", "'2.5', '1e4'"),
}

_LOG_UNITS = {
    "power": {"dBm": _dbm, "dBW": _dbw},
    "noise_density": {"dBm/Hz": _dbm, "dBW/Hz": _dbw},
}

# FLOP/s are often written with a space ("0.5 T FLOPS") or as FLOP/s; also "TFLOP/s".
_ALIASES = {"Mbits/s": "Mbit/s", "Gbits/s": "Gbit/s", "kbits/s": "kbit/s", "bits/s": "bit/s"}


def short(value, n: int = 40) -> str:
    """A value as an error message echoes it: its repr, cut to about n characters."""
    r = repr(value)
    return r if len(r) <= n else r[: n - 3] + "..."


def parse_quantity(value: object, dimension: str) -> float:
    """Return `value` in SI units of `dimension`.

    Numbers are taken as SI already; strings carry a number and a unit ("20 MHz").
    Raises ValueError naming the unit that did not parse and giving examples that do.
    """
    units, si_name, examples = DIMENSIONS[dimension]
    if isinstance(value, bool):
        raise ValueError(f"expected a {dimension.replace('_', ' ')}, got a boolean; use e.g. {examples}")
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        m = _NUMBER.match(value) if len(value) <= 200 else None
        if not m:
            raise ValueError(f"{short(value)} is not a number with a unit; use e.g. {examples}")
        x = float(m.group(1))
        if x == 0 and any(ch in "123456789" for ch in m.group(1).split("e")[0].split("E")[0]):
            raise ValueError(f"{short(value)} is too small to be represented (it underflows to 0)")
        unit = _ALIASES.get(m.group(2), m.group(2)).replace(" ", "")
        if unit == "":  # a bare number written as text (YAML reads 1e9 as a string): SI
            units = {"": 1.0}
        logs = _LOG_UNITS.get(dimension, {})
        if unit in logs:
            try:
                y = logs[unit](x)
            except OverflowError:
                raise ValueError(f"{short(value)} is far too large") from None
            if not math.isfinite(y) or y == 0:
                raise ValueError(f"{short(value)} is out of range")
            return y
        if unit not in units:
            what = dimension.replace("_", " ")
            raise ValueError(
                f"unit {short(m.group(2))} does not parse as a {what}; use e.g. {examples}"
                + (f" (SI: {si_name})" if si_name else "")
            )
        x *= units[unit]
    else:
        raise ValueError(f"expected a number or a string with a unit such as {examples}, "
                         f"got {type(value).__name__}")
    if not math.isfinite(x):
        raise ValueError(f"{short(value)} is not a finite number")
    return x


def fmt_si(x: float, unit: str, binary: bool = False) -> str:
    """Human-readable value: fmt_si(4.2e7, 'bit/s') -> '42 Mbit/s'."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    if binary:
        steps = [(2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki")]
    else:
        steps = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
    ax = abs(x)
    for k, p in steps:
        if ax >= k:
            return f"{x / k:.3g} {p}{unit}"
    if not binary and 0 < ax < 1 and unit in ("s", "J", "W"):
        for k, p in [(1e-3, "m"), (1e-6, "µ"), (1e-9, "n")]:
            if ax >= k:
                return f"{x / k:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def plural(k: int, word: str) -> str:
    """'1 worker', '2 workers', '1,000 devices', '2 branches'."""
    many = word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{k:,} {word if k == 1 else many}"
