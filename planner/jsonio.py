"""JSON that strict parsers accept: NaN and infinities written as null, numpy values as plain
numbers, files written whole or not at all."""

from __future__ import annotations

import json
import math


def jsonable(x):
    """Plain Python for json: numpy scalars and arrays unwrapped, non-finite floats as None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):      # numpy arrays and scalars
        return jsonable(x.tolist())
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f if math.isfinite(f) else None


def dumps(x, indent: int | None = 2) -> str:
    return json.dumps(jsonable(x), indent=indent, allow_nan=False) + "\n"


def write_json(path, x, indent: int | None = 2) -> None:
    from edgeplan.models.profile_io import atomic_write_text
    atomic_write_text(path, dumps(x, indent))
