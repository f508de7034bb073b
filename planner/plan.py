"""Plan: the result of planning one paradigm, with its predicted costs.

The JSON form is shared/spec/cli.md's plan file ("edgeplan.plan/1"); it is written atomically
and reads back identically. `assignments` has one row per participating node.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
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
        return pd.DataFrame(self.assignments).set_index("node") if self.assignments else pd.DataFrame()

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
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in self.paradigm_detail.items()
                                          if not isinstance(v, (list, dict))))
        return "\n".join(lines)

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict:
        d = asdict(self)
        fmt = d.pop("format")
        return {"format": fmt, **d}

    def to_json(self) -> str:
        return json.dumps(_finite(self.to_dict()), indent=2, sort_keys=False) + "\n"

    def save(self, path: str | Path) -> None:
        from models.profile_io import atomic_write_text
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, d: dict, file: str | None = None) -> Plan:
        if not isinstance(d, dict):
            raise ScenarioError("a plan file is a JSON object", file)
        if d.get("format") != PLAN_FORMAT:
            raise ScenarioError(f"format {d.get('format')!r} is not '{PLAN_FORMAT}'; is this a plan written by "
                                "`edgeplan plan`?", file, path="format")
        missing = [k for k in ("scenario", "paradigm", "assignments") if k not in d]
        if missing:
            raise ScenarioError(f"required field '{missing[0]}' is missing", file, path=missing[0])
        if not isinstance(d["assignments"], list) or not all(isinstance(a, dict) and "node" in a
                                                            for a in d["assignments"]):
            raise ScenarioError("'assignments' must be a list of objects, each with a 'node'", file,
                                path="assignments")
        known = {"format", "scenario", "scenario_sha256", "paradigm", "solver", "objective", "predicted",
                 "assignments", "paradigm_detail"}
        extra = [k for k in d if k not in known]
        if extra:
            raise ScenarioError(f"unknown field '{extra[0]}'", file, path=extra[0])
        return cls(scenario=d["scenario"], scenario_sha256=d.get("scenario_sha256", ""),
                   paradigm=d["paradigm"], solver=d.get("solver", {}), objective=d.get("objective", {}),
                   predicted=d.get("predicted", {}), assignments=d["assignments"],
                   paradigm_detail=d.get("paradigm_detail", {}), format=d["format"])

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError("no such plan file", file) from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ScenarioError(f"not valid JSON: {e.msg}", file, e.lineno) from None
        return cls.from_dict(d, file)


def _finite(x):
    """JSON has no inf/nan: write them as null (an unbounded memory, an infinite latency)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
