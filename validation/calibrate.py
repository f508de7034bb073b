"""`edgeplan calibrate`: learning curves from short pilot runs on the scenario's own data.

For every paradigm asked for, the planner's best plan (for fpl: the best plan at each junction
and grouping the planner considers) is trained through the in-process engines for a pilot of K
rounds, once per seed; test accuracy and loss after every round are the points the curves are
fitted to (planner.convergence). The points are kept in a work folder beside the table
(`curves.csv` -> `curves.calibration/points.csv`, the same columns a user's own training log
imports with `--from-log`), each pilot checkpoints every round there, and `--resume` picks up
where an interrupted calibration stopped.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from edgeplan import paradigms
from edgeplan.convergence import MIN_ROUNDS, Curve, FitError, fit_joint, fit_points
from edgeplan.costs import CostModel
from edgeplan.curves import fingerprint, write_table
from edgeplan.errors import PlanError, ScenarioError
from edgeplan.planfile import Plan
from edgeplan.scenario import Scenario

POINT_COLUMNS = ["paradigm", "configuration", "seed", "round", "samples", "accuracy", "loss", "coverage",
                 "fingerprint"]


@dataclass
class Pilot:
    paradigm: str
    configuration: str
    plan: Plan

    @property
    def slug(self) -> str:
        return "".join(ch if ch.isalnum() else "_" for ch in self.configuration)


def planning_scenario(scn: Scenario) -> Scenario:
    """The scenario without curves (calibration makes them): a time- or energy-to-target
    objective becomes its per-round twin."""
    from edgeplan.variants import variant
    obj = scn.spec.objective
    changes = {}
    if scn.spec.training.convergence is not None:
        changes["training.convergence"] = None
    if obj in ("time_to_target", "energy_to_target"):
        changes["objective"] = "latency" if obj == "time_to_target" else "energy"
    return variant(scn, changes) if changes else scn


def pilots(scn: Scenario, names: list[str]) -> list[Pilot]:
    """The plans to train: each paradigm's best plan, per learning configuration it decides."""
    base = planning_scenario(scn)
    cm = CostModel(base)
    out = []
    for n in names:
        para = paradigms.get(n)
        seen = set()
        for sol in para.per_configuration(cm, para.default):
            conf = para.configuration(cm, sol.decisions)
            if conf in seen:
                continue
            seen.add(conf)
            costs = para.cost(cm, sol.decisions)
            out.append(Pilot(n, conf, para.to_plan(cm, sol.decisions, costs, para.default, sol.status, 0.0)))
    return out


def calibrate(scn: Scenario, names: list[str], rounds: int, seeds: int, out: Path, resume: bool = False,
              progress: bool = False) -> tuple[list[Curve], pd.DataFrame]:
    """Train the pilots, fit their curves, write the table; returns (curves, points)."""
    if rounds < MIN_ROUNDS:
        raise PlanError(f"--rounds {rounds}: a learning curve needs at least {MIN_ROUNDS} measured rounds")
    if not scn.spec.model.trainable:
        raise ScenarioError("calibration trains a torch model: the scenario needs model.zoo, model.module or "
                            "model.export (a profile table has no model to train)", scn.source, path="model")
    work = work_folder(out)
    fp = fingerprint(scn)
    done = _read_points(work / "points.csv", fp) if resume else pd.DataFrame(columns=POINT_COLUMNS)
    if not resume and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    todo = pilots(scn, names)
    base = planning_scenario(scn)
    seed0 = scn.spec.training.seed
    runs = [(p, seed0 + s) for p in todo for s in range(seeds)]
    bar = _bar(progress, len(runs) * rounds)
    points = [done]
    try:
        from edgeplan.validation.runner import _calibrate, make_job, run_inprocess
        host_rate = None
        for p, seed in runs:
            have = done[(done.configuration == p.configuration) & (done.seed == seed)]
            if len(have) >= rounds:
                if bar:
                    bar[0].advance(bar[1], rounds)
                continue
            if host_rate is None:
                job, cm, _ = make_job(base, p.plan, seed)
                from edgeplan.models.profile import one_torch_thread
                with one_torch_thread():
                    host_rate = _calibrate(job, cm)
            spr = float(p.plan.predicted["samples_per_round"])
            if bar:
                bar[0].update(bar[1], description=f"{p.configuration}, seed {seed}")

            def tick(row, bar=bar):
                if bar:
                    bar[0].advance(bar[1])

            res = run_inprocess(base, p.plan, rounds=rounds, out_dir=work / f"{p.slug}-seed{seed}", resume=resume,
                                seed=seed, on_round=tick, host_rate=host_rate)
            r = res.rounds
            pts = pd.DataFrame({"paradigm": p.paradigm, "configuration": p.configuration, "seed": seed,
                                "round": r["round"].astype(int), "samples": r["round"] * spr,
                                "accuracy": r.test_accuracy, "loss": r.test_loss,
                                "coverage": res.extra.get("test_coverage", 1.0), "fingerprint": fp})
            points.append(pts)
            _write_points(work / "points.csv", pd.concat(points, ignore_index=True))
            shutil.rmtree(work / f"{p.slug}-seed{seed}", ignore_errors=True)   # its points are saved
    finally:
        if bar:
            bar[0].stop()
    allpts = pd.concat(points, ignore_index=True)
    wanted = {p.configuration for p in todo}
    allpts = allpts[allpts.configuration.isin(wanted) & (allpts["round"] <= rounds)]
    curves = fit_curves(allpts)
    write_table(out, curves, scn)
    return curves, allpts


def work_folder(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".calibration")


def fit_curves(points: pd.DataFrame, samples_per_round: dict | None = None) -> list[Curve]:
    """One curve per (paradigm, configuration), fitted together (planner.convergence.fit_joint):
    accuracy against rounds over all seeds; loss per configuration on its own."""
    groups = list(points.groupby(["paradigm", "configuration"], sort=False))
    series, coverage = {}, {}
    for (par, conf), g in groups:
        series[conf] = (g["round"].to_numpy(float), g.accuracy.to_numpy(float))
        cov = g["coverage"] if "coverage" in g else pd.Series(dtype=float)
        coverage[conf] = float(cov.mean()) if cov.notna().any() else 1.0
    try:
        fits = fit_joint(series, coverage)
    except FitError as e:
        raise PlanError(str(e)) from None
    curves = []
    for (par, conf), g in groups:
        spr = _samples_per_round(g, (samples_per_round or {}).get(par), conf)
        loss = None
        if "loss" in g and g.loss.notna().sum() >= MIN_ROUNDS:
            try:
                loss = fit_points(g["round"].to_numpy(float), g.loss.to_numpy(float), sign=-1)
            except FitError:
                loss = None
        last = g[g["round"] == g["round"].max()]
        curves.append(Curve(par, conf, spr, fits[conf], loss, int(g["round"].nunique()), int(g.seed.nunique()),
                            float(last.accuracy.mean())))
    return curves


def _samples_per_round(g: pd.DataFrame, default: float | None, conf: str) -> float:
    if "samples" in g and g.samples.notna().all() and (g["round"] > 0).all():
        per = (g.samples / g["round"]).to_numpy(float)
        if np.allclose(per, per[0], rtol=1e-6):
            return float(per[0])
        raise PlanError(f"{conf}: samples / round is not constant in the log; give samples seen after each round")
    if default is None:
        raise PlanError(f"{conf}: the log has no 'samples' column and no plan gives the samples per round")
    return float(default)


def _write_points(path: Path, df: pd.DataFrame) -> None:
    from edgeplan.models.profile_io import atomic_write_text
    atomic_write_text(path, df[POINT_COLUMNS].to_csv(index=False, lineterminator="\n"))


def _read_points(path: Path, fp: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.read_csv(path)
    return df[df.fingerprint == fp] if "fingerprint" in df else pd.DataFrame(columns=POINT_COLUMNS)


def read_log(path: Path, scn: Scenario, names: list[str] | None) -> pd.DataFrame:
    """A user's training log (CSV: round, accuracy; optionally paradigm, configuration, seed,
    samples, loss) as calibration points. Errors name the file, the line and the column."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        raise ScenarioError("not a readable CSV log", file) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "round" not in rows[0] or "accuracy" not in rows[0]:
        raise ScenarioError("a training log needs the columns round and accuracy (optional: paradigm, "
                            "configuration, seed, samples, loss)", file, 1)
    out = []
    for ln, r in enumerate(rows, start=2):
        par = (r.get("paradigm") or "").strip() or (names[0] if names and len(names) == 1 else "")
        if par not in paradigms.NAMES:
            raise ScenarioError(f"column 'paradigm': {par[:30]!r}; use one of {', '.join(paradigms.NAMES)} "
                                "(or give one -p for a log of one paradigm)", file, ln)
        rec = {"paradigm": par, "configuration": (r.get("configuration") or "").strip() or par}
        for c, need in (("round", True), ("accuracy", True), ("seed", False), ("samples", False), ("loss", False)):
            v = (r.get(c) or "").strip()
            if v == "":
                if need:
                    raise ScenarioError(f"column '{c}' is empty", file, ln)
                rec[c] = 0.0 if c == "seed" else float("nan")
                continue
            try:
                rec[c] = float(v)
            except ValueError:
                raise ScenarioError(f"column '{c}': {v[:30]!r} is not a number", file, ln) from None
        if not (0 <= rec["accuracy"] <= 1):
            raise ScenarioError(f"column 'accuracy': {rec['accuracy']:g} is not in [0, 1] (a fraction, not %)",
                                file, ln)
        if rec["round"] < 1 or rec["round"] != math.floor(rec["round"]):
            raise ScenarioError(f"column 'round': {rec['round']:g}; rounds are whole numbers from 1", file, ln)
        out.append(rec)
    df = pd.DataFrame(out)
    df["fingerprint"] = fingerprint(scn)
    return df


def import_log(scn: Scenario, log: Path, names: list[str] | None, out: Path) -> list[Curve]:
    pts = read_log(log, scn, names)
    cm = CostModel(planning_scenario(scn))
    spr = {}
    for par in pts.paradigm.unique():
        p = paradigms.get(par)
        spr[par] = p.cost(cm, p.solvers[p.default].fn(cm).decisions).samples
    curves = fit_curves(pts, spr)
    write_table(out, curves, scn)
    return curves


def _bar(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    p = Progress(TextColumn("{task.description:<30}"), BarColumn(), TextColumn("{task.completed}/{task.total} rounds"),
                 TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
    p.start()
    return p, p.add_task("calibrating", total=total)
