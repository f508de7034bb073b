"""Profile files: the unit-table CSV, measured-times CSV, and measured workbooks.

Formats (shared/spec/scenario.md):
- profile CSV: `name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes`, one row per
  unit in execution order, values per sample, the first row named `input` (only out_bytes).
- times CSV (this project's format for measured per-node times):
  `machine,unit,fwd_s,bwd_s,update_s,batch_size`, seconds per batch of `batch_size` samples,
  one row per machine and unit, units in the profile's order.
- measured workbook (shared/profiles/sfl-workflow): one sheet per machine, a row per layer,
  columns forward, backward, update in milliseconds per batch, no header; sheet `memory`:
  per layer, activation KB (first column) and weight KB (second column).

This module needs no torch: the planner reads profiles without importing it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from edgeplan.errors import ScenarioError

from .table import OPTIONAL_COLUMNS, PROFILE_COLUMNS, UnitTable

TIMES_COLUMNS = ["machine", "unit", "fwd_s", "bwd_s", "update_s", "batch_size"]

# A workbook sheet with more than this share of layers unmeasured (forward and backward both
# zero) is rejected: planning on it would treat unmeasured layers as free.
MAX_UNMEASURED_SHARE = 0.25


from edgeplan.files import atomic_write_text  # noqa: E402  (one atomic writer for every output)

# ---------------------------------------------------------------- profile CSV

def write_profile_csv(table: UnitTable, path: str | Path) -> None:
    buf = io.StringIO()
    cols = PROFILE_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in table.df.columns]
    table.df[cols].to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    atomic_write_text(path, buf.getvalue())


def read_profile_csv(path: str | Path, bytes_per_value: int = 4) -> UnitTable:
    """Read a unit table; errors name the file, the line and the fix."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")      # a spreadsheet may add a BOM
    except FileNotFoundError:
        raise ScenarioError("profile file not found", file) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ScenarioError(f"empty profile; the first line must be the header {','.join(PROFILE_COLUMNS)}", file, 1)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in PROFILE_COLUMNS if c not in header]
    if missing:
        raise ScenarioError(f"header lacks column(s) {', '.join(missing)}; expected "
                            f"{','.join(PROFILE_COLUMNS)}", file, 1)
    optional = [c for c in OPTIONAL_COLUMNS if c in header]
    col = {c: header.index(c) for c in PROFILE_COLUMNS + optional}
    records = []
    for ln, r in enumerate(rows[1:], start=2):
        if not any(x.strip() for x in r):
            continue
        rec = {"name": r[col["name"]].strip()}
        for c in PROFILE_COLUMNS[1:] + optional:
            try:
                v = float(r[col[c]])
            except (ValueError, IndexError):
                raise ScenarioError(f"column '{c}': {r[col[c]] if col[c] < len(r) else ''!r} is not a number",
                                    file, ln) from None
            if not np.isfinite(v) or v < 0:
                raise ScenarioError(f"column '{c}': must be a non-negative number, got {v}", file, ln)
            rec[c] = v
        records.append(rec)
    if not records or records[0]["name"] != "input":
        raise ScenarioError("the first row must be named 'input' and carry one input sample's out_bytes",
                            file, 2)
    if len(records) < 2:
        raise ScenarioError("a profile needs at least one unit after the 'input' row", file, 2)
    if records[0]["out_bytes"] <= 0:
        raise ScenarioError("the 'input' row needs out_bytes > 0 (the bytes of one input sample)", file, 2)
    df = pd.DataFrame(records, columns=PROFILE_COLUMNS + optional)
    df["params"] = df["params"].astype(np.int64)
    return UnitTable(df, Path(path).stem, (), bytes_per_value)


# ---------------------------------------------------------------- measured times

@dataclass
class MeasuredTimes:
    """Per machine, per unit: forward, backward and update seconds for `batch_size` samples."""
    df: pd.DataFrame
    problems: dict[str, str] = field(default_factory=dict)   # rejected machine -> why

    @property
    def machines(self) -> list[str]:
        return list(dict.fromkeys(self.df["machine"]))

    def per_sample(self, machine: str) -> np.ndarray:
        """Seconds per sample of each unit (forward + backward + update), length L."""
        d = self.df[self.df.machine == machine]
        return ((d.fwd_s + d.bwd_s + d.update_s) / d.batch_size).to_numpy(float)

    def check_machine(self, machine: str) -> None:
        if machine in self.problems:
            raise ValueError(self.problems[machine])
        if machine not in self.machines:
            raise ValueError(f"no measured times for machine '{machine}'; available: {', '.join(self.machines)}")


def host_times(table: UnitTable, machine: str = "this-host", batch_size: int = 1,
               scale: float = 1.0) -> MeasuredTimes:
    """The unit times a `measure=True` profile took on this host (columns fwd_time_s and
    bwd_time_s, seconds per sample at the batch it was timed at) as a measured-times table for
    `machine`, for `batch_size` samples, every time multiplied by `scale` (a node `scale` times
    slower than this host)."""
    if "fwd_time_s" not in table.df.columns:
        raise ValueError("the profile has no measured times: profile with measure=True")
    d = table.df.iloc[1:]
    df = pd.DataFrame({"machine": machine, "unit": list(d.name),
                       "fwd_s": d.fwd_time_s.to_numpy(float) * batch_size * scale,
                       "bwd_s": d.bwd_time_s.to_numpy(float) * batch_size * scale,
                       "update_s": 0.0, "batch_size": batch_size}, columns=TIMES_COLUMNS)
    return MeasuredTimes(df)


def write_times_csv(times: MeasuredTimes, path: str | Path) -> None:
    buf = io.StringIO()
    times.df[TIMES_COLUMNS].to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    atomic_write_text(path, buf.getvalue())


def read_times_csv(path: str | Path, unit_names: list[str] | None = None) -> MeasuredTimes:
    file = str(path)
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError("times file not found", file) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ScenarioError(f"not a readable CSV: {e}", file) from None
    missing = [c for c in TIMES_COLUMNS if c not in df.columns]
    if missing:
        raise ScenarioError(f"header lacks column(s) {', '.join(missing)}; expected {','.join(TIMES_COLUMNS)}",
                            file, 1)
    for c in ("fwd_s", "bwd_s", "update_s", "batch_size"):
        bad = pd.to_numeric(df[c], errors="coerce")
        if bad.isna().any() or (bad < 0).any():
            i = int(np.flatnonzero(bad.isna().to_numpy() | (bad < 0).to_numpy())[0])
            raise ScenarioError(f"column '{c}': {df[c].iloc[i]!r} is not a non-negative number", file, i + 2)
        df[c] = bad
    if (df.batch_size <= 0).any():
        raise ScenarioError("column 'batch_size' must be positive", file)
    problems = {}
    for m, d in df.groupby("machine", sort=False):
        if unit_names is not None and list(d.unit) != list(unit_names[1:]):
            raise ScenarioError(f"machine '{m}' lists {len(d)} units {list(d.unit)[:3]}...; the profile has "
                                f"{len(unit_names) - 1} units {unit_names[1:4]}...: one row per unit, in order",
                                file)
        # units that take no time are real (PipeDream's GNMT: indexing, adds, concatenations);
        # only a machine with no time at all was not measured
        if ((d.fwd_s == 0) & (d.bwd_s == 0) & (d.update_s == 0)).all():
            problems[m] = f"machine '{m}' has no time for any unit: it was not measured; use another machine"
    return MeasuredTimes(df.reset_index(drop=True), problems)


def _unmeasured(machine: str, fwd: np.ndarray, bwd: np.ndarray) -> str | None:
    zero = (fwd == 0) & (bwd == 0)
    if zero.all():
        return f"sheet '{machine}' is all zeros: that machine was not measured for this model; use another sheet"
    if zero.mean() > MAX_UNMEASURED_SHARE:
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(zero)[:8])
        return (f"sheet '{machine}' has {int(zero.sum())} of {len(zero)} layers unmeasured (forward and "
                f"backward both 0, rows {rows}{', ...' if zero.sum() > 8 else ''}); it was only partly "
                f"measured: use another sheet")
    return None


# ---------------------------------------------------------------- measured workbooks

def read_workbook(path: str | Path, batch_size: int = 128, input_bytes: float | None = None,
                  bytes_per_value: int = 4) -> tuple[UnitTable, MeasuredTimes]:
    """Read a measured workbook into a unit table (no FLOP counts) and per-machine times.

    `batch_size` is the batch the times and activation sizes were measured at (128 for the
    shipped SFL-workflow workbooks: their first VGG-19 activation, 64x32x32 fp32 per sample,
    is listed as 32 768 KB). Sheets that cannot be planned on (all zeros, mostly unmeasured)
    are kept out of the times and listed in `times.problems`; a machine sheet whose row count
    differs from the memory sheet is an error.
    """
    import openpyxl

    file = str(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise ScenarioError("workbook not found", file) from None
    except Exception as e:  # zipfile.BadZipFile, openpyxl's InvalidFileException, ...
        raise ScenarioError(f"not a readable .xlsx workbook ({type(e).__name__}: {e})", file) from None
    try:
        sheets = {name: _numeric_rows(wb[name], name, file) for name in wb.sheetnames}
    finally:
        wb.close()
    if "memory" not in sheets:
        raise ScenarioError(f"no sheet named 'memory' (sheets: {', '.join(sheets)}); the memory sheet gives "
                            "activation and weight KB per layer", file)
    mem = sheets.pop("memory")
    n = len(mem)
    if n == 0:
        raise ScenarioError("sheet 'memory' has no rows", file)
    for i, r in enumerate(mem):
        if len(r) < 2 or r[0] is None or r[1] is None:
            raise ScenarioError(f"sheet 'memory', row {i + 1}: needs activation KB and weight KB", file)
    act = np.array([r[0] for r in mem], float) * 1024.0 / batch_size
    wbytes = np.array([r[1] for r in mem], float) * 1024.0
    if input_bytes is None:
        input_bytes = act[0]
    names = [f"layer{i + 1}" for i in range(n)]
    df = pd.DataFrame({
        "name": ["input"] + names,
        "fwd_flops": 0.0, "bwd_flops": 0.0,
        "out_bytes": np.concatenate([[input_bytes], act]),
        "act_bytes": np.concatenate([[0.0], act]),
        "params": np.concatenate([[0], np.round(wbytes / bytes_per_value)]).astype(np.int64),
        "param_bytes": np.concatenate([[0.0], wbytes]),
    }, columns=PROFILE_COLUMNS)
    table = UnitTable(df, Path(path).stem, (), bytes_per_value)

    rows, problems = [], {}
    for machine, data in sheets.items():
        if len(data) != n:
            raise ScenarioError(f"sheet '{machine}' has {len(data)} layer rows but sheet 'memory' has {n}; "
                                "every machine sheet needs one row per layer of the memory sheet", file)
        arr = np.array([[(r[k] if k < len(r) and r[k] is not None else 0.0) for k in range(3)] for r in data],
                       float) / 1000.0
        why = _unmeasured(machine, arr[:, 0], arr[:, 1])
        if why:
            problems[machine] = why
            continue
        for i in range(n):
            rows.append((machine, names[i], arr[i, 0], arr[i, 1], arr[i, 2], batch_size))
    times = MeasuredTimes(pd.DataFrame(rows, columns=TIMES_COLUMNS), problems)
    return table, times


def _numeric_rows(ws, name: str, file: str) -> list[list]:
    rows = []
    for i, r in enumerate(ws.iter_rows(values_only=True)):
        vals = list(r)
        while vals and vals[-1] is None:
            vals.pop()
        for k, v in enumerate(vals):
            if v is not None and not isinstance(v, (int, float)):
                raise ScenarioError(f"sheet '{name}', row {i + 1}, column {k + 1}: {v!r} is not a number "
                                    "(sheets carry numbers only, no header)", file)
        rows.append(vals)
    while rows and not rows[-1]:
        rows.pop()
    return rows
