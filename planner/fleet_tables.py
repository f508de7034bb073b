"""Fleets as tables: `nodes` and `links` entries of the form `{table: FILE}` (CSV or Parquet).

A table's columns are the fields of a node (name, role, compute, memory, power, ...) or of a link
(from, to, channel, spectral_efficiency, gain_db, uplink, downlink, latency); a header may carry
the unit in brackets (`compute [GFLOPS]`, `latency [ms]`), else numbers are SI and text cells may
carry their unit ("50 GFLOPS"). Columns are checked whole, not row by row through the schema, so
100,000 rows load in about a second; an error names the file, the row (the line of a CSV) and
the column. A row's missing value is the field's default.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .files import separator_problem
from .units import parse_quantity

# field -> (dimension for parse_quantity or a kind, allow zero)
NODE_FIELDS = {
    "name": ("text", None), "role": ("role", None), "compute": ("flop_rate", False), "memory": ("bytes", False),
    "power": ("power", True), "tx_power": ("power", True), "rx_power": ("power", True),
    "samples": ("int", None), "data_source": ("text", None), "batch_size": ("int", None),
    "measured": ("text", None), "kappa": ("number", False), "cycles_per_flop": ("number", False),
    "frequency": ("frequency", False), "call_overhead": ("time", True), "memory_bandwidth": ("rate", False),
}
LINK_FIELDS = {
    "from": ("text", None), "to": ("text", None), "channel": ("text", None),
    "spectral_efficiency": ("number", False), "gain_db": ("db", None), "uplink": ("rate", False),
    "downlink": ("rate", False), "latency": ("time", True),
}
ROLES = ("device", "server", "fog", "cloud")
NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
HEADER = re.compile(r"^\s*([A-Za-z_]+)\s*(?:\[(.+)\])?\s*$")


def read(path: Path, file_label: str) -> pd.DataFrame:
    """The raw table (strings kept as written)."""
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ScenarioError(f"a table is a .csv or .parquet file, not {str(path.name)[:60]!r}", file_label)
    try:
        exists = path.is_file()
    except (OSError, ValueError):          # a name too long, a NUL byte: no such file
        exists = False
    if not exists:
        raise ScenarioError(f"table file '{path}' not found (relative paths are relative to the scenario file)",
                            file_label)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            return df.astype({c: object for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])})
        return pd.read_csv(path, dtype=object, keep_default_na=False, skipinitialspace=True)
    except Exception as e:       # pandas/pyarrow: a malformed file
        raise ScenarioError(f"not a readable {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'} "
                            f"table: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}",
                            str(path)) from None


def _row_line(path: Path, i: int) -> int | None:
    return i + 2 if path.suffix.lower() not in (".parquet", ".pq") else None   # header is line 1


def _columns(df: pd.DataFrame, fields: dict, path: Path, what: str) -> dict[str, tuple[pd.Series, str | None]]:
    out = {}
    for col in df.columns:
        m = HEADER.match(str(col))
        key = m.group(1) if m else str(col)
        if key not in fields:
            import difflib
            why = separator_problem(str(col), "table") if len(df.columns) == 1 else None
            if why:
                raise ScenarioError(why, str(path), 1)
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            raise ScenarioError(f"column '{col}' is not a field of a {what}" +
                                (f"; did you mean '{close[0]}'?" if close else f"; columns are {', '.join(fields)}"),
                                str(path), 1)
        if key in out:
            raise ScenarioError(f"column '{key}' appears twice", str(path), 1)
        out[key] = (df[col], m.group(2) if m else None)
    return out


def _blank(s: pd.Series) -> np.ndarray:
    return (s.isna() | (s.astype(str).str.strip() == "")).to_numpy()


def _quantity(s: pd.Series, unit: str | None, dim: str, zero_ok: bool, path: Path, col: str) -> np.ndarray:
    """A numeric column in SI (NaN where blank)."""
    blank = _blank(s)
    out = np.full(len(s), np.nan)
    vals = s[~blank]
    num = pd.to_numeric(vals, errors="coerce").to_numpy(float)
    scale = 1.0
    if unit is not None and dim not in ("number", "db", "int"):
        try:
            scale = parse_quantity(f"1 {unit}", dim)
        except ValueError as e:
            raise ScenarioError(f"column '{col}': header unit [{unit}]: {e}", str(path), 1) from None
    text = np.isnan(num)
    res = num * scale
    if text.any():                        # cells with their own unit: parse each distinct one once
        cells = vals.to_numpy()[text]
        parsed = {}
        for c in pd.unique(cells):
            try:
                parsed[c] = parse_quantity(str(c), dim if dim not in ("db", "int") else "number")
            except ValueError as e:
                i = int(np.flatnonzero(~blank)[np.flatnonzero(text)[list(cells).index(c)]])
                raise ScenarioError(f"column '{col}', row {i + 1}: {e}", str(path), _row_line(path, i)) from None
        res[text] = [parsed[c] for c in cells]
    bad = ~np.isfinite(res) | ((res < 0) if dim != "db" else np.zeros(len(res), bool)) | \
        ((res == 0) if (zero_ok is False and dim != "db") else np.zeros(len(res), bool))
    if dim == "db":
        bad |= (res < -400) | (res > 400)
    if dim == "int":
        bad |= (res != np.round(res)) | (res <= 0) | (res > 10 ** 9)
    if bad.any():
        i = int(np.flatnonzero(~blank)[np.flatnonzero(bad)[0]])
        need = {"db": "a number of dB in -400..400", "int": "a positive whole number"}.get(
            dim, "a non-negative number" if zero_ok else "a positive number")
        raise ScenarioError(f"column '{col}', row {i + 1}: {s.iloc[i]!r} is not {need}", str(path),
                            _row_line(path, i))
    out[~blank] = res
    return out


def _text(s: pd.Series) -> np.ndarray:
    blank = _blank(s)
    v = s.astype(object).to_numpy().copy()
    v = np.array([x.strip() if isinstance(x, str) else x for x in v], dtype=object)
    v[blank] = None
    return v


def _need(mask: np.ndarray, path: Path, message: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise ScenarioError(f"row {i + 1}: {message}", str(path), _row_line(path, i))


def nodes(df: pd.DataFrame, path: Path, spec_index: int) -> pd.DataFrame:
    """Node rows (the columns of scenario._node_row) from a table."""
    cols = _columns(df, NODE_FIELDS, path, "node")
    n = len(df)
    for req in ("name", "role", "power"):
        if req not in cols:
            raise ScenarioError(f"a node table needs a '{req}' column", str(path), 1)
    out = {}
    for key, (dim, zero_ok) in NODE_FIELDS.items():
        if key not in cols:
            out[key] = np.full(n, None, dtype=object) if dim in ("text", "role") else np.full(n, np.nan)
            continue
        s, unit = cols[key]
        out[key] = _text(s) if dim in ("text", "role") else _quantity(s, unit, dim, zero_ok, path, key)
    names = out["name"]
    _need(np.array([x is None or not NAME.match(x) for x in names]), path,
          "column 'name': a node name is letters, digits and _ . : - (and not empty)")
    _need(~np.isin(out["role"].astype(str), ROLES), path, f"column 'role': must be one of {', '.join(ROLES)}")
    _need(np.isnan(out["power"]), path, "column 'power': every node needs its power (W) while computing")
    has_rate = ~np.isnan(out["compute"]) | (out["measured"] != None) | ~np.isnan(out["frequency"])  # noqa: E711
    _need(~has_rate, path, "give 'compute' (sustained FLOP/s, e.g. '50 GFLOPS'), or 'measured' (a machine of "
          "the model's measured times)")
    _need(~np.isnan(out["kappa"]) & np.isnan(out["frequency"]), path, "'kappa' needs 'frequency' (CPU clock)")
    derive = np.isnan(out["compute"]) & (out["measured"] == None) & ~np.isnan(out["frequency"])  # noqa: E711
    cpf = np.where(np.isnan(out["cycles_per_flop"]), 1.0, out["cycles_per_flop"])
    out["compute"] = np.where(derive, out["frequency"] / cpf, out["compute"])
    out["rx_power"] = np.where(np.isnan(out["rx_power"]), 0.0, out["rx_power"])
    frame = pd.DataFrame({"name": pd.Series(names, dtype=object), "role": pd.Series(out["role"], dtype=object), "group": names, "spec_index": spec_index,
                          **{k: out[k] for k in NODE_FIELDS if k not in ("name", "role")}})
    for k in ("samples", "batch_size"):
        frame[k] = frame[k].astype(object).where(frame[k].notna(), None)
        frame[k] = [int(x) if x is not None else None for x in frame[k]]
    frame["table_row"] = np.arange(n)
    return frame


def links(df: pd.DataFrame, path: Path, spec_index: int) -> pd.DataFrame:
    """Link rows (the columns of scenario's links table) from a table."""
    cols = _columns(df, LINK_FIELDS, path, "link")
    n = len(df)
    for req in ("from", "to"):
        if req not in cols:
            raise ScenarioError(f"a link table needs a '{req}' column", str(path), 1)
    out = {}
    for key, (dim, zero_ok) in LINK_FIELDS.items():
        if key not in cols:
            out[key] = np.full(n, None, dtype=object) if dim == "text" else np.full(n, np.nan)
            continue
        s, unit = cols[key]
        out[key] = _text(s) if dim == "text" else _quantity(s, unit, dim, zero_ok, path, key)
    ch = out["channel"] != None  # noqa: E711
    up, dn = out["uplink"], out["downlink"]
    fixed = ~np.isnan(up) | ~np.isnan(dn)
    _need((out["from"] == None) | (out["to"] == None), path, "every link names its 'from' and 'to' nodes")  # noqa: E711
    _need(~ch & ~fixed, path, "a link needs a rate: 'uplink'/'downlink', or a 'channel' with "
          "'spectral_efficiency' or 'gain_db'")
    _need(ch & fixed, path, "a link is either fixed-rate ('uplink'/'downlink') or on a 'channel', not both")
    _need(ch & (np.isnan(out["spectral_efficiency"]) == np.isnan(out["gain_db"])), path,
          "a link on a channel needs exactly one of 'spectral_efficiency' or 'gain_db'")
    up2, dn2 = np.where(np.isnan(up), dn, up), np.where(np.isnan(dn), up, dn)
    frame = pd.DataFrame({"src": pd.Series(out["from"], dtype=object), "dst": pd.Series(out["to"], dtype=object),
                          "channel": pd.Series(out["channel"], dtype=object),
                          "spectral_efficiency": _none(out["spectral_efficiency"]), "gain_db": _none(out["gain_db"]),
                          "uplink": _none(up2), "downlink": _none(dn2),
                          "latency": np.where(np.isnan(out["latency"]), 0.0, out["latency"]),
                          "spec_index": spec_index})
    return frame


def _none(a: np.ndarray) -> np.ndarray:
    o = a.astype(object)
    o[np.isnan(a)] = None
    return o
