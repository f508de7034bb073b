"""Plan: the result of planning one paradigm, with its predicted costs.

The JSON form is shared/spec/cli.md's plan file ("edgeplan.plan/1"); it is written atomically
and reads back identically. `assignments` has one row per participating node.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

from .errors import ScenarioError
from .units import fmt_si

PLAN_FORMAT = "edgeplan.plan/1"


@dataclass
class Plan:
    scenario: str
    scenario_sha256: str
    paradigm: str
    solver: dict
    objective: dict
    predicted: dict
    assignments: list[dict]
    paradigm_detail: dict = field(default_factory=dict)
    format: str = PLAN_FORMAT

    # ------------------------------------------------------------ views

    @property
    def assignments_df(self) -> pd.DataFrame:
        if not self.assignments:
            return pd.DataFrame()
        df = pd.DataFrame(self.assignments).set_index("node")
        whole = [c for c in df.columns          # integers some rows lack (a server has no cut): 2, not 2.0
                 if all(isinstance(a[c], int) and not isinstance(a[c], bool) for a in self.assignments if c in a
                        and a[c] is not None)
                 and any(c in a for a in self.assignments)]
        return df.astype({c: "Int64" for c in whole})

    @property
    def feasible(self) -> bool:
        return bool(self.predicted.get("feasible", True))

    @property
    def round_latency(self) -> float:
        return float(self.predicted["round_latency_s"])

    def summary(self) -> pd.Series:
        p = self.predicted
        return pd.Series({"paradigm": self.paradigm, "method": self.solver.get("method"),
                          "round_latency_s": p["round_latency_s"], "energy_j": p["energy_j"],
                          "comm_bytes": p["comm_bytes"], "feasible": self.feasible})

    def __repr__(self) -> str:
        p = self.predicted
        crit = p.get("critical", {})
        lines = [f"Plan({self.scenario}: {self.paradigm} by {self.solver.get('method')} "
                 f"[{self.solver.get('status')}])",
                 f"  round {fmt_si(p['round_latency_s'], 's')}, energy {fmt_si(p['energy_j'], 'J')} "
                 f"(devices {fmt_si(p['device_energy_j'], 'J')}), {fmt_si(p['comm_bytes'], 'B')}/round, "
                 f"critical {crit.get('node')}/{crit.get('phase')}"]
        if not self.feasible:
            lines.append("  INFEASIBLE: " + "; ".join(p.get("violations", [])))
        if self.paradigm_detail:
            from .tables import cell
            lines.append("  " + ", ".join(f"{k}={cell(k, v)}" for k, v in self.paradigm_detail.items()
                                          if not isinstance(v, (list, dict))))
        return "\n".join(lines)

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict:
        d = asdict(self)
        fmt = d.pop("format")
        return {"format": fmt, **d}

    def to_json(self) -> str:
        """Indented JSON with one assignment per line: a plan of 100,000 devices reads as a table
        and is written by the C encoder (json's indented encoder is pure Python: 10 s there).
        `_finite` copies as it goes, so no deep copy of the plan is needed first."""
        doc = {"format": self.format, **{f.name: getattr(self, f.name) if f.name == "assignments"
                                         else _finite(getattr(self, f.name)) for f in fields(self) if f.name != "format"}}
        parts = []
        for key, value in doc.items():
            if key == "assignments" and value:
                rows = ",\n".join("    " + _row_json(r) for r in value)
                text = "[\n" + rows + "\n  ]"
            else:
                text = json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n  ")
            parts.append(f"  {json.dumps(key)}: {text}")
        return "{\n" + ",\n".join(parts) + "\n}\n"

    def save(self, path: str | Path) -> None:
        from edgeplan.models.profile_io import atomic_write_text
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, d: dict, file: str | None = None) -> Plan:
        """A plan from its JSON data, every field's type checked (the values are checked against
        the scenario when the plan is decoded: planner.evaluate.decode_plan)."""
        if not isinstance(d, dict):
            raise ScenarioError("a plan file is a JSON object", file)
        if d.get("format") != PLAN_FORMAT:
            raise ScenarioError(f"format {_short(d.get('format'))} is not '{PLAN_FORMAT}'; is this a plan written by "
                                "`edgeplan plan`?", file, path="format")
        missing = [k for k in ("scenario", "paradigm", "assignments") if k not in d]
        if missing:
            raise ScenarioError(f"required field '{missing[0]}' is missing", file, path=missing[0])
        known = {"format", "scenario", "scenario_sha256", "paradigm", "solver", "objective", "predicted",
                 "assignments", "paradigm_detail"}
        extra = [k for k in d if k not in known]
        if extra:
            raise ScenarioError(f"unknown field {_short(extra[0])}", file, path=str(extra[0])[:40])
        for key in ("scenario", "paradigm", "scenario_sha256"):
            if key in d and not isinstance(d[key], str):
                raise ScenarioError(f"must be a string, got {_short(d[key])}", file, path=key)
        for key in ("solver", "objective", "predicted", "paradigm_detail"):
            if key in d and not isinstance(d[key], dict):
                raise ScenarioError(f"must be an object, got {_short(d[key])}", file, path=key)
        rows = d["assignments"]
        if not isinstance(rows, list) or not rows:
            raise ScenarioError("'assignments' must be a non-empty list of objects, each with a 'node'", file,
                                path="assignments")
        for i, a in enumerate(rows):
            if not isinstance(a, dict) or not isinstance(a.get("node"), str):
                raise ScenarioError("each assignment is an object with a 'node' name", file, path=f"assignments[{i}]")
        _no_surrogates(d, file)
        return cls(scenario=d["scenario"], scenario_sha256=d.get("scenario_sha256", ""),
                   paradigm=d["paradigm"], solver=d.get("solver", {}), objective=d.get("objective", {}),
                   predicted=d.get("predicted", {}), assignments=rows,
                   paradigm_detail=d.get("paradigm_detail", {}), format=d["format"])

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        file = str(path)
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise ScenarioError("no such plan file", file) from None
        except IsADirectoryError:
            raise ScenarioError("is a directory, not a plan file", file) from None
        except OSError as e:
            raise ScenarioError(f"cannot be read: {e.strerror}", file) from None
        try:
            text = raw.decode("utf-8-sig")      # an editor's byte-order mark is not part of the plan
        except UnicodeDecodeError as e:
            raise ScenarioError(f"not a text file (byte {e.start} is not UTF-8); a plan is the JSON that `edgeplan "
                                "plan --out` writes", file) from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ScenarioError(f"not valid JSON: {e.msg}", file, e.lineno) from None
        except RecursionError:
            raise ScenarioError("not a plan: nested far too deeply", file) from None
        return cls.from_dict(d, file)


def _short(v, n: int = 60) -> str:
    """A value as it would be echoed in a message, cut to n characters."""
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."


def _no_surrogates(x, file) -> None:
    """Strings with lone surrogates (JSON escapes such as \\ud800) cannot be printed or written."""
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if any("\ud800" <= ch <= "\udfff" for ch in v):
                raise ScenarioError("a string holds an invalid character (a lone surrogate such as \\ud800)", file)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _row_json(row: dict) -> str:
    """One assignment as JSON; only a row holding inf or NaN (which JSON lacks) is rebuilt."""
    try:
        return json.dumps(row, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(row), allow_nan=False)


def _finite(x):
    """JSON has no inf/nan: write them as null (an unbounded memory, an infinite latency)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
