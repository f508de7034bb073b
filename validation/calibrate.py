"""`edgeplan calibrate`: learning curves from short pilot runs on the scenario's own data.

For every paradigm asked for, the planner's best plan (for fpl: the best plan at each junction
and grouping the planner considers) is trained through the in-process engines for a pilot of K
rounds, once per seed; test accuracy and loss after every round are the points the curves are
fitted to (edgeplan.calibration). The points are kept in a work folder beside the table
(`curves.csv` -> `curves.calibration/points.csv`, the same columns a user's own training log
imports with `--from-log`), each pilot checkpoints every round there, and `--resume` picks up
where an interrupted calibration stopped. A finished pilot keeps its last state (not the one
before it), so `--resume` with more `--rounds` lengthens the pilots from where they ended rather
than training them again: a longer pilot is what narrows a curve's band (bench_accuracy: median
error 5.7 points from a fifth of the rounds, 3.2 from three fifths).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from edgeplan.calibration import POINT_COLUMNS, fit_curves, pilots, planning_scenario
from edgeplan.convergence import MIN_ROUNDS, Curve
from edgeplan.curves import fingerprint, write_table
from edgeplan.errors import PlanError, ScenarioError
from edgeplan.progress import Bar
from edgeplan.scenario import Scenario


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
    bar = Bar(progress, len(runs) * rounds, "rounds", text="calibrating", width=30)
    points = {key: g for key, g in done.groupby(["configuration", "seed"])}    # (configuration, seed) -> its rows
    try:
        from edgeplan.validation.checkpoints import drop_previous, state_path
        from edgeplan.validation.runner import _calibrate, make_job, run_inprocess
        host_rate = None
        for p, seed in runs:
            have = len(points.get((p.configuration, seed), ()))        # rounds already measured
            if have >= rounds:
                bar.advance(rounds)
                continue
            if host_rate is None:
                job, cm, _ = make_job(base, p.plan, seed)
                from edgeplan.models.profile import one_torch_thread
                with one_torch_thread():
                    host_rate = _calibrate(job, cm)
            spr = float(p.plan.predicted["samples_per_round"])
            bar.update(text=f"{p.configuration}, seed {seed}")
            pilot = work / f"{p.slug}-seed{seed}"
            if state_path(pilot, 0).exists():
                bar.advance(have)          # a lengthened pilot goes on from its last state
            res = run_inprocess(base, p.plan, rounds=rounds, out_dir=pilot, resume=resume, seed=seed,
                                on_round=lambda row: bar.advance(), host_rate=host_rate)
            r = res.rounds
            points[(p.configuration, seed)] = pd.DataFrame({
                "paradigm": p.paradigm, "configuration": p.configuration, "seed": seed,
                "round": r["round"].astype(int), "samples": r["round"] * spr, "accuracy": r.test_accuracy,
                "loss": r.test_loss, "coverage": res.extra.get("test_coverage", 1.0), "fingerprint": fp})
            _write_points(work / "points.csv", pd.concat(points.values(), ignore_index=True))
            drop_previous(pilot, 0)        # its last state is enough to lengthen it
    finally:
        bar.close()
    allpts = pd.concat(points.values(), ignore_index=True) if points else done
    wanted = {p.configuration for p in todo}
    allpts = allpts[allpts.configuration.isin(wanted) & (allpts["round"] <= rounds)]
    curves = fit_curves(allpts)
    write_table(out, curves, scn)
    return curves, allpts


def work_folder(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".calibration")


def _write_points(path: Path, df: pd.DataFrame) -> None:
    from edgeplan.models.profile_io import atomic_write_text
    atomic_write_text(path, df[POINT_COLUMNS].to_csv(index=False, lineterminator="\n"))


def _read_points(path: Path, fp: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.read_csv(path)
    return df[df.fingerprint == fp] if "fingerprint" in df else pd.DataFrame(columns=POINT_COLUMNS)
