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
error 5.7 points from a fifth of the rounds, 3.2 from three fifths). With `--resume` the
configurations calibrated before into the same folder stay in the table: `-p psl --resume` adds
psl's curves to the others' (fitted with them, as the fit is joint).

Before the pilots, a centralised reference run per seed trains the whole model on the devices'
pooled data (shuffled; per round as many batches as the devices take together) for
`ceiling_rounds` rounds (default twice training.rounds; 0 skips it). The accuracy it levels off
at bounds every curve's plateau (calibration.ceiling_of), its curve shapes fl's and psl's (and
sl's on IID data: calibration.follows_reference); its points are kept with the pilots' as paradigm 'centralised',
and its state after every round in `centralised-seed{S}.pt`, so `--resume` goes on with a
reference run stopped part-way (it is the longest part of a calibration) or lengthens it. The
configurations whose model learns from part of the data apart (calibration.own_data: dsgd and pel
with one active worker from one device's, fpl from each branch group's where the groups keep a
share of the parameters to themselves) get reference runs of their own on those devices' data
(configuration 'centralised on dsgd's data'; states `centralised-on-<devices>-seed{S}.pt`, shared
by the configurations with the same group): their curve follows those runs' mean, which sees how
far that data carries (calibration.fit_curves).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from edgeplan.calibration import (
    CENTRALISED,
    POINT_COLUMNS,
    data_reference,
    file_slug,
    fit_curves,
    pilots,
    planning_scenario,
    private_shares,
    work_folder,
)
from edgeplan.convergence import MIN_ROUNDS, Curve
from edgeplan.costs import CostModel
from edgeplan.curves import fingerprint, write_table
from edgeplan.errors import PlanError, ScenarioError
from edgeplan.progress import Bar
from edgeplan.scenario import Scenario


def calibrate(scn: Scenario, names: list[str], rounds: int, seeds: int, out: Path, resume: bool = False,
              progress: bool = False, ceiling_rounds: int | None = None) -> tuple[list[Curve], pd.DataFrame]:
    """Train the centralised reference and the pilots, fit their curves, write the table; returns
    (curves, points)."""
    if ceiling_rounds is None:
        ceiling_rounds = 2 * scn.spec.training.rounds
    if rounds < MIN_ROUNDS:
        raise PlanError(f"--rounds {rounds}: a learning curve needs at least {MIN_ROUNDS} measured rounds")
    if not scn.spec.model.trainable:
        raise ScenarioError("calibration trains a torch model: the scenario needs model.zoo, model.module or "
                            "model.export (a profile table has no model to train)", scn.source, path="model")
    work = work_folder(out)
    fp = fingerprint(scn)
    if resume and Path(out).exists():
        from edgeplan.curves import mismatch, read_table
        if why := mismatch(scn, read_table(Path(out))):      # its pilots' states would be refused one by one
            raise ScenarioError(f"--resume: {why}; drop --resume to calibrate afresh", str(out))
    done = _read_points(work / "points.csv", fp) if resume else pd.DataFrame(columns=POINT_COLUMNS)
    if not resume and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    todo = pilots(scn, names)
    base = planning_scenario(scn)
    seed0 = scn.spec.training.seed
    runs = [(p, seed0 + s) for p in todo for s in range(seeds)]
    ref = reference_pilot(todo)
    refs = [seed0 + s for s in range(seeds)] if ceiling_rounds > 0 and ref is not None else []
    # (reference name, pilot whose data it takes, seed): the run on every device's pooled data, and
    # those on the data each configuration's model learns from apart (calibration.own_data)
    ref_runs = [(CENTRALISED, ref, s) for s in refs] + \
        [(data_reference(p.configuration), p, seed0 + s) for p in todo if p.own_data
         for s in range(seeds) if ceiling_rounds > 0]
    size = {name: 1 if name == CENTRALISED else len(p.own_data) for name, p, _ in ref_runs}     # runs per seed
    bar = Bar(progress, len(runs) * rounds + sum(size[n] for n, _, _ in ref_runs) * ceiling_rounds, "rounds",
              text="calibrating", width=30)
    points = {key: g for key, g in done.groupby(["configuration", "seed"])}    # (configuration, seed) -> its rows
    try:
        from edgeplan.validation.checkpoints import drop_previous, state_path
        from edgeplan.validation.runner import _calibrate, make_job, run_inprocess
        host_rate = None
        for name, pilot, seed in ref_runs:
            if len(points.get((name, seed), ())) >= ceiling_rounds:
                bar.advance(size[name] * ceiling_rounds)
                continue
            bar.update(text=f"{name if name == CENTRALISED else name.replace(CENTRALISED, 'reference')}, seed {seed}")
            points[(name, seed)] = reference_run(base, pilot, seed, ceiling_rounds, on_round=bar.advance, work=work,
                                                 key=fp, name=name).assign(fingerprint=fp)
            _write_points(work / "points.csv", pd.concat(points.values(), ignore_index=True))
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
    wanted = {p.configuration for p in todo} | set(done.configuration)     # resumed: the earlier ones stay
    reference = allpts.paradigm == CENTRALISED
    # every reference run here is this call's or, resumed, one calibrated before, which stays (the
    # configurations it serves do); --ceiling-rounds 0 leaves them all out
    allpts = allpts[(allpts.configuration.isin(wanted) & ~reference & (allpts["round"] <= rounds))
                    | (reference & (allpts["round"] <= ceiling_rounds))]
    curves = fit_curves(allpts, iid=scn.spec.training.iid, classes=scn.spec.model.num_classes,
                        local_iterations=scn.spec.training.local_iterations,
                        private=private_shares(CostModel(base), allpts.configuration.unique()))
    write_table(out, curves, scn)
    return curves, allpts


def not_learning(scn: Scenario, curves: list[Curve], margin: float = 0.02) -> str:
    """A note when the best any run reached (the centralised reference run's level, else the best
    pilot) is no better than always answering the test set's most common class: the model does
    not learn from this data as set up, and every curve only fits that level (unscaled inputs or
    a learning rate far off, more likely than any paradigm's fault). "" otherwise."""
    from edgeplan.models.registry import sample_dtype, sample_shape

    from .data import load
    if not curves:
        return ""
    tr = scn.spec.training
    best = curves[0].ceiling if curves[0].ceiling == curves[0].ceiling else max(c.final_measured for c in curves)
    y = load(tr.dataset, sample_shape(scn.spec.model), scn.spec.model.num_classes, tr.seed, scn.base_dir,
             sample_dtype(scn.spec.model)).y_test
    common = float(y.bincount().max()) / len(y)
    if best > common + margin:
        return ""
    what = "the centralised reference run levels off" if curves[0].ceiling == curves[0].ceiling else \
        "the best pilot reaches"
    fix = "scale the inputs (zero mean, unit variance) or change training.learning_rate" \
        if scn.spec.model.input_dtype == "float32" else "change training.learning_rate or the model"   # tokens
    return (f"note: {what} at {100 * best:.1f}%, no better than always answering the test set's most common class "
            f"({100 * common:.1f}%): the model does not learn from this data as set up; {fix}, then calibrate again")


def reference_pilot(todo: list):
    """The pilot whose job carries the data of every device, for the reference run to pool (any
    but dsgd's, which holds one device's data); None without one."""
    return next((p for p in todo if p.paradigm != "dsgd"), None)


def reference_run(base: Scenario, pilot, seed: int, rounds: int, on_round=None, work: Path | None = None,
                  key: str = "", name: str = CENTRALISED) -> pd.DataFrame:
    """A centralised reference run of one seed (validation.engine.train_pooled), as calibration
    points of paradigm 'centralised', configuration `name`: by default on every device's pooled
    data (any pilot but dsgd's carries it); under `data_reference(configuration)`, a run on each of
    `pilot.own_data`'s device groups, their accuracy and loss averaged per round. Each run is kept
    in `work` after every round and resumed from there (`centralised-seedS.pt`; a group's
    `centralised-on-<its devices>[-fresh]-seedS.pt`, which every configuration with that group
    shares)."""
    from edgeplan.validation import engine
    from edgeplan.validation.engines import ENGINES
    from edgeplan.validation.runner import make_job
    job, _, _ = make_job(base, pilot.plan, seed)
    groups = [list(job.shards)] if name == CENTRALISED else pilot.own_data
    # a run on a configuration's own data keeps its optimizer state as the configuration does
    # (pel with one worker: fresh each round; the test suite pins the engine equal to such SGD)
    fresh = name != CENTRALISED and not ENGINES[pilot.paradigm].keeps_optimizer
    evals, per_round = [], 0
    for group in groups:
        state = None
        if work is not None:
            on = "" if name == CENTRALISED else "-on-" + "+".join(file_slug(d, "-_.") for d in group)
            state = work / f"centralised{on}{'-fresh' * fresh}-seed{seed}.pt"
        evals.append(engine.train_pooled(job, rounds, on_round, state, key + "/fresh" * fresh, group, fresh))
        per_round += sum(job.batch(d) for d in group) * job.cm.tau
    acc, loss = np.mean(evals, axis=0).T
    return pd.DataFrame({"paradigm": CENTRALISED, "configuration": name, "seed": seed,
                         "round": range(1, rounds + 1), "samples": [r * per_round for r in range(1, rounds + 1)],
                         "accuracy": acc, "loss": loss, "coverage": 1.0})


def _write_points(path: Path, df: pd.DataFrame) -> None:
    from edgeplan.models.profile_io import atomic_write_text
    atomic_write_text(path, df[POINT_COLUMNS].to_csv(index=False, lineterminator="\n"))


def _read_points(path: Path, fp: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.read_csv(path)
    return df[df.fingerprint == fp] if "fingerprint" in df else pd.DataFrame(columns=POINT_COLUMNS)
