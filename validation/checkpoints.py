"""Where a validation run keeps its progress, the same for both executors.

- `rounds.json` (with `rounds.csv` beside it): the run's record, one row per finished round and
  per node, and the host's calibrated rate; written by the in-process executor or the launcher.
- `rank{r}.pt`: what process r holds after a round (its engine's parts and optimizers, its
  shards' positions), the state of the round before kept beside it (`rank{r}.prev.pt`) so that a
  resume can step back to where every process and the record agree. The in-process executor is
  rank 0 of a world of one.

Checkpoints are tensors and plain data, loaded with `weights_only=True`: a crafted file cannot
run code on `--resume`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import torch
from edgeplan.errors import PlanError, ScenarioError
from edgeplan.files import atomic_path, atomic_write_text, remove_leftovers, write_csv

RECORD = "rounds.json"


def save_checkpoint(path: Path, state: dict) -> None:
    """Tensors and plain data only (numbers, strings, lists, dicts), written atomically."""
    from edgeplan.jsonio import jsonable
    with atomic_path(path, ".pt") as tmp:
        torch.save({k: (v if k in ("engine", "shards") else jsonable(v)) for k, v in state.items()}, tmp)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:          # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        why = "it holds Python objects, which are refused unrun" if "Weights only load failed" in str(e) else \
            f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"   # (torch's advice is unsafe)
        raise ScenarioError(f"not a checkpoint this tool wrote ({why}); use a fresh --out directory", str(path)) from None


def state_path(out: Path, rank: int) -> Path:
    return out / f"rank{rank}.pt"


def _previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev.pt")


def drop_previous(out: Path, rank: int) -> None:
    """A finished run keeps only its last state (it goes on from there, never back)."""
    _previous(state_path(out, rank)).unlink(missing_ok=True)


def clear_states(out: Path) -> None:
    """A fresh run in `out`: the states of an earlier run there go (they would be overwritten,
    and a resume must never mix them with this run's), and the temporaries of one killed outright."""
    for f in list(out.glob("rank*.pt")):
        f.unlink()
    remove_leftovers(out)


def run_identity(job) -> dict:
    """What makes a run the same run beyond its plan: what the model learns from (model, data set,
    split, training settings: the learning curves' fingerprint) and the seed."""
    from edgeplan.curves import fingerprint
    return {"fingerprint": fingerprint(job.cm.scn), "seed": int(job.seed)}


def save_state(out: Path, rank: int, r: int, plan, engine, shards: dict) -> None:
    """Process `rank`'s state after round r; the state before it moves beside it."""
    cur = state_path(out, rank)
    if cur.exists():
        os.replace(cur, _previous(cur))
    save_checkpoint(cur, {"round": r, "plan": plan.to_dict(), "identity": run_identity(engine.job),
                          "engine": engine.state(), "shards": {d: s.state() for d, s in shards.items()}})


def _same_run(state: dict, plan, identity: dict | None) -> bool:
    """The state continues this run: the same plan, or the same plan's decisions and costs from a
    scenario file edited since in what does not change them (a description; learning curves named
    for planning, which add accuracy predictions: calibrate's own advice after a calibration, and
    its --resume to lengthen the pilots was then refused), with the same fingerprint and seed."""
    from edgeplan.curves import CURVE_KEYS
    now = plan.to_dict()
    if state.get("plan") == now:
        return True
    if identity is None or state.get("identity") != identity or not isinstance(state.get("plan"), dict):
        return False

    def run_part(d: dict) -> dict:
        predicted = {k: v for k, v in (d.get("predicted") or {}).items() if k not in CURVE_KEYS}
        return {**d, "scenario_sha256": "", "predicted": predicted}
    return run_part(state["plan"]) == run_part(now)


def load_state(out: Path, rank: int, target: int, engine, shards: dict) -> None:
    """Load process `rank`'s state of round `target` (checked beforehand by `resume_round`)."""
    for path in (state_path(out, rank), _previous(state_path(out, rank))):
        if path.exists():
            st = load_checkpoint(path)
            if int(st["round"]) == target:
                engine.load(st["engine"])
                for d, s in st["shards"].items():
                    shards[d].load(s)
                return
    raise RuntimeError(f"no state of round {target} in {state_path(out, rank)} (checked by the launcher first)")


def resume_round(out: Path, plan, done: int, world: int, identity: dict | None = None) -> int:
    """The round every process can resume from: the record's last round, or one before it where a
    process was stopped before saving it. Every rank must hold a state of that round and this
    plan; states of other rounds (a node that ran on after its launcher, another run in the same
    folder) are refused."""
    rounds = {}
    for rank in range(world):
        have = {}
        for path in (state_path(out, rank), _previous(state_path(out, rank))):
            if path.exists():
                st = load_checkpoint(path)
                if not _same_run(st, plan, identity):
                    raise PlanError(f"{path} belongs to another plan; start afresh in a new --out")
                have[int(st.get("round", -1))] = path
        rounds[rank] = have
    target = min([done] + [max(h) if h else 0 for h in rounds.values()])
    for rank, have in rounds.items():
        if target and target not in have:
            got = ", ".join(str(r) for r in sorted(have)) or "none"
            raise PlanError(f"rank {rank} holds the states of rounds {got}, the run recorded {done}: the states do not "
                            "fit together (a node ran on after its launcher?); start afresh in a new --out")
    return target


class Record:
    """The run's rows and per-node rows, kept in `out` (when given) after every round."""

    def __init__(self, out: Path | None, host_rate: float | None = None):
        self.out, self.rows, self.nodes, self.host_rate = out, [], [], host_rate
        self.saved_host_rate = None          # the rate the interrupted run converted at

    def resume(self, plan, world: int, identity: dict | None = None) -> int:
        """Load the record and cut it to the round every process can resume from (`identity`:
        `run_identity` of the job, see `_same_run`)."""
        remove_leftovers(self.out)           # a run killed outright mid-write left its temporaries
        f = self.out / RECORD
        if f.exists():
            try:
                saved = json.loads(f.read_text())
                self.rows, self.nodes, self.saved_host_rate = saved["rounds"], saved["nodes"], saved.get("host_rate")
            except (ValueError, KeyError, TypeError):
                raise ScenarioError("not a run record this tool wrote; use a fresh --out directory", str(f)) from None
        target = resume_round(self.out, plan, len(self.rows), world, identity)
        self.rows = self.rows[:target]
        self.nodes = [r for r in self.nodes if r.get("round", 0) <= target]
        return target

    def add(self, r: int, row: dict, nodes: list) -> None:
        self.rows.append({"round": r, **row})
        self.nodes += [{"round": r, **n} for n in nodes]
        if self.out is not None:
            from edgeplan.jsonio import dumps
            atomic_write_text(self.out / RECORD, dumps({"rounds": self.rows, "nodes": self.nodes,
                                                        "host_rate": self.host_rate}, indent=None))
            write_csv(pd.DataFrame(self.rows), self.out / "rounds.csv")
