"""Learning curves from calibration points, torch-free: which pilots a calibration trains
(each paradigm's best plan per learning configuration), the joint fit of their points
(edgeplan.convergence) into a curve table (edgeplan.curves), and a user's own training log read
as points (`edgeplan calibrate --from-log`). The pilots are trained in edgeplan.validation.calibrate.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import paradigms
from .convergence import MIN_ROUNDS, Curve, FitError, fit_joint, fit_points
from .costs import CostModel
from .curves import STALE_BLOCKS, fingerprint, junction_in, pel_round_is_sgd, workers_in, write_table
from .errors import PlanError, ScenarioError
from .files import separator_problem
from .planfile import Plan
from .reference_fit import fit_along
from .scenario import Scenario
from .variants import variant

POINT_COLUMNS = ["paradigm", "configuration", "seed", "round", "samples", "accuracy", "loss", "coverage",
                 "fingerprint"]
# the points of the centralised reference run (the model trained on the devices' pooled data):
# not a curve, the ceiling of every curve's plateau (planner.convergence.fit_joint)
CENTRALISED = "centralised"


# an fpl branch group that keeps less than this share of the model's parameters to itself (its
# branch and its junction slot) leaves the groups one model in effect: digits' fpl_cnn with the
# junction at 1 keeps 0.4% (conv1) and levels off with the pooled run's curve; from 28% (j=2: conv2
# in the slot) up, and mnist1d's cnn1d from 44% (j=1), at the level of each group's own run
GROUPS_APART = 0.05


def data_reference(configuration: str) -> str:
    """The configuration name of the reference runs on the data a configuration's model learns
    from apart (`own_data`): centralised training on each of those devices' or groups' samples,
    the runs averaged per round."""
    return f"{CENTRALISED} on {configuration}'s data"


def private_share(cm: CostModel, junction: int) -> float:
    """The share of the model's parameters each fpl branch group keeps to itself: its branch
    (units 1..j) and its slot of the junction (unit j+1, one copy per group)."""
    p = np.asarray(cm.pbytes, float)[1:cm.L + 1]
    total = float(p.sum())
    return float(p[:min(int(junction) + 1, cm.L)].sum()) / total if total > 0 else 0.0


def private_shares(cm: CostModel, configurations) -> dict[str, float]:
    """Each fpl configuration's `private_share`, by the junction its name carries: on IID data the
    weight of its groups' runs in the curve it follows (`blended_run`)."""
    return {conf: private_share(cm, j) for conf in configurations
            if conf.startswith("fpl") and (j := junction_in(conf)) is not None}


def blended_run(own: pd.DataFrame, reference: pd.DataFrame, private: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The run an fpl configuration heads for on IID data: per seed and round, its groups' runs
    (`own_data`) weighted by the share of the parameters each group keeps to itself (`private`), the
    pooled run by the rest; None where the two runs share too few seeds and rounds. Each group's
    samples are then draws of one distribution: the private parts learn from a group's samples, as
    its run does, the shared trunk from every device's, as the pooled run does, and fpl lands between
    the two runs' levels (bench_accuracy, mnist1d IID, junction at 1, 44% private: 47-62% of the way
    from the groups' run to the pooled one; its curve beside the groups' runs alone ended 2.7-2.9
    points low on every seed set, 0.05-0.4 now). Not on skewed data, where fpl lands at its groups'
    runs (digits and mnist1d Dirichlet 0.3, the junctions that keep less than all the parameters
    private: a median 0.5% of the way, -31 to +30%): a model on one group's skewed samples misses
    the other classes whatever its trunk learnt."""
    m = own.merge(reference[["seed", "round", "accuracy"]], on=["seed", "round"], suffixes=("", "_pooled"))
    if m["round"].nunique() < MIN_ROUNDS:
        return None
    return m["round"].to_numpy(float), (private * m.accuracy + (1 - private) * m.accuracy_pooled).to_numpy(float)


def own_data(paradigm: str, cm: CostModel, decisions: dict) -> list[list[str]]:
    """The groups of devices whose data alone a configuration's model learns from, one reference
    run each (its curve follows their mean, calibration.fit_curves); [] for the rest. dsgd trains
    the whole model by SGD on its source device's data (the pipeline equals it: a test pins it),
    pel with one active worker on that worker's (its block is the whole model; its optimizer state
    fresh each round, as the run on its data then keeps it: validation.calibrate). fpl's test
    accuracy is the mean of its groups' models (a group's branch and junction slot on the shared
    trunk), whose private parts learn from their group's data alone: where they hold at least
    GROUPS_APART of the parameters, each group's run is the level its model heads for
    (bench_accuracy, 20% pilots: fpl with the junction at 2 on digits Dirichlet 0.3, 91% predicted
    beside the pooled run's curve, 75% beside its groups' runs, 77% measured; on mnist1d 1.8 to 6.0
    points off at its junctions before, 0.05 to 1.3 now on seeds 0-2). On IID data fpl's curve
    follows them beside the pooled run (`blended_run`)."""
    if paradigm == "dsgd":
        return [[decisions["source"]]]
    if paradigm == "pel":
        from .paradigms.pel import active_workers
        workers = list(active_workers(decisions))
        return [workers] if len(workers) == 1 else []
    if paradigm == "fpl":
        groups: dict = {}
        for dev in decisions["devices"]:
            groups.setdefault(decisions["groups"][dev], []).append(dev)
        if len(groups) > 1 and private_share(cm, decisions["junction"]) >= GROUPS_APART:
            return list(groups.values())
    return []


def pooled(points: pd.DataFrame) -> pd.DataFrame:
    """The rows of the centralised reference run on the devices' pooled data."""
    if not len(points):
        return points
    return points[(points.paradigm == CENTRALISED) & (points.configuration == CENTRALISED)]


def ceiling_of(points: pd.DataFrame) -> float:
    """The accuracy the centralised reference run levels off at: its mean test accuracy over the
    second half of its rounds, over its seeds; NaN without such a run."""
    ref = pooled(points)
    if not len(ref):
        return math.nan
    last = ref["round"] > ref["round"].max() / 2
    return float(ref[last].accuracy.mean())


def file_slug(text: str, keep: str = "") -> str:
    """`text` as part of a file name: letters, digits and the characters in `keep`; '_' for the rest."""
    return "".join(ch if ch.isalnum() or ch in keep else "_" for ch in text)


@dataclass
class Pilot:
    paradigm: str
    configuration: str
    plan: Plan
    own_data: list = field(default_factory=list)      # device groups of its reference runs (`own_data`)

    @property
    def slug(self) -> str:
        return file_slug(self.configuration)


def planning_scenario(scn: Scenario) -> Scenario:
    """The scenario without curves (calibration makes them): a time- or energy-to-target
    objective becomes its per-round twin."""
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
            out.append(Pilot(n, conf, para.to_plan(cm, sol.decisions, costs, para.default, sol.status, 0.0),
                             own_data(n, cm, sol.decisions)))
    return out


def work_folder(out: Path) -> Path:
    """A calibration's work folder beside its table: curves.csv -> curves.calibration/."""
    out = Path(out)
    return out.with_name(out.stem + ".calibration")


def default_pilot_rounds(scn: Scenario) -> int:
    """A pilot's rounds when none are asked for: a fifth of training.rounds, at least 5."""
    return max(5, -(-scn.spec.training.rounds // 5))


def learns_apart(paradigm: str, configuration: str) -> bool:
    """A configuration that runs another algorithm than the rest, not the same one at another pace,
    so its curve shares no plateau with theirs: pel with several active workers, whose replicas
    are stale outside their block (issue 14's design; see convergence.fit_joint)."""
    return paradigm == "pel" and workers_in(configuration) > 1


CHANCE_MARGIN = 0.03     # a pilot within this of chance over its second half has not started to learn


def unforeseeable(paradigm: str, configuration: str, g: pd.DataFrame, classes: int | None,
                  local_iterations: int | None, follows_run: bool) -> str:
    """Why no pilot foresees this configuration's curve ('' where one may): its curve then
    predicts only an envelope (planner.convergence.Curve.envelope).

    - pel with several workers, unless each round is exactly one SGD step of the whole model
      (`download=model` and one local iteration, which a test pins): each block trains against
      stale values of the rest, and its first rounds can look like one worker's before it stalls.
      No pilot of 20 to 60% of the rounds foresaw that (bench_accuracy, ten seeds: 12 to 43 points
      off at the last round; its final accuracy inside its 90% band in 71% of cases, every other
      configuration's in 99%).
    - A pilot still at chance over its second half (its mean over those rounds and the seeds within
      CHANCE_MARGIN of 1 / classes), unless its curve follows a run on its own data (`follows_run`):
      when it starts to learn, if ever, cannot be told from it (sl on digits Dirichlet 0.3, ten
      seeds: at 10% through four pilot rounds, then at chance to the end on five seeds and up to
      18-91% on five)."""
    if learns_apart(paradigm, configuration) and not pel_round_is_sgd(configuration, local_iterations):
        return STALE_BLOCKS
    if classes and not follows_run:
        rounds = np.sort(g["round"].unique())
        late = rounds[len(rounds) // 2:]
        level = float(g[g["round"].isin(late)].accuracy.mean())
        if level <= 1.0 / classes + CHANCE_MARGIN:
            return (f"its pilot stayed at chance ({100 * level:.0f}% over rounds {late[0]:.0f}-{late[-1]:.0f}): when it "
                    "starts to learn, if ever, cannot be told from it; lengthen the pilot (`edgeplan calibrate "
                    f"--resume --rounds {2 * int(rounds[-1])}` goes on from where it ended)")
    return ""


def follows_reference(paradigm: str, iid: bool = False) -> bool:
    """A paradigm that trains the whole model on every device's data and averages it (FedAvg: fl;
    SplitFed: psl), so it heads for what the centralised reference run reaches, at its own pace.
    Its curve is the reference run's measured curve at a pace (and lag) fitted to its pilot
    (reference_fit.fit_along); fitted on its own pilot, or beside paradigms that level off lower,
    a slow start extrapolated to a plateau far too low (bench_accuracy, each paradigm calibrated alone from 20% pilots: fl
    16 to 53 points off at the last round, 2 to 9 with the reference's shape). sl too where the
    devices' data is IID (`iid`): it is then SGD on samples of the pooled data, device after
    device (a test pins sl equal to centralised training); a 6-round pilot of sl on mnist1d was
    predicted at 70% after 60 rounds, where it and the reference reach 91%. Not sl on non-IID
    data: device after device it forgets (mnist1d Dirichlet 0.3: 9%, centralised 82%)."""
    return paradigm in ("fl", "psl") or (iid and paradigm == "sl")


def same_as_own(paradigm: str, configuration: str) -> bool:
    """A configuration that is, step for step, SGD on its own data's reference run (`own_data`):
    dsgd's pipeline and pel with one worker (the test suite pins both). Its curve is that run's
    curve at the same samples seen, not one it moves along at a pace of its own."""
    return paradigm == "dsgd" or (paradigm == "pel" and workers_in(configuration) == 1)


def _per_round(g: pd.DataFrame) -> np.ndarray | None:
    """Samples per round of each of a series' rows; None where they do not say."""
    if "samples" in g and len(g) and g.samples.notna().all() and (g["round"] > 0).all():
        return (g.samples / g["round"]).to_numpy(float)
    return None


def _rounds_of(pilot: pd.DataFrame, run: pd.DataFrame) -> float:
    """How many of the run's rounds one of the pilot's is (the same samples seen); 1 where either
    does not say its samples (a log): rounds against rounds."""
    a, b = _per_round(pilot), _per_round(run)
    return float(a[0] / b[0]) if a is not None and b is not None else 1.0


def shapes_others(paradigm: str) -> bool:
    """A pilot that stays in the joint fit of the configurations that do not follow the reference
    run: sl's, which pins the shape of learning this task as plain SGD (without it, on mnist1d
    IID from 10% pilots, the fit of fpl, dsgd and pel levelled off at 52%, measured 79-87%): every
    paradigm but those that follow the reference run whatever the split."""
    return not follows_reference(paradigm)


def fit_curves(points: pd.DataFrame, samples_per_round: dict | None = None, iid: bool = False,
               classes: int | None = None, local_iterations: int | None = None,
               private: dict[str, float] | None = None) -> list[Curve]:
    """One curve per (paradigm, configuration), fitted together (planner.convergence.fit_joint):
    accuracy against rounds over all seeds; loss per configuration on its own; with `classes`,
    no accuracy predicted below chance (1 / classes). A configuration no pilot foresees
    (`unforeseeable`: pel with several workers unless, with `local_iterations` 1, it is SGD; a
    pilot still at chance) is fitted on its own and its curve says why. Rows of the
    centralised reference run (paradigm 'centralised') are no curve: they bound the plateaus and
    give fl's and psl's curves (and sl's where the data is `iid`) their shape
    (`follows_reference`). `private`: fpl configurations' shares of the parameters their branch
    groups keep to themselves (`private_shares`), with which, on `iid` data, their curves follow
    the blend of their groups' runs and the pooled run (`blended_run`)."""
    reference = pooled(points)
    ceiling = ceiling_of(reference)
    references = points[points.paradigm == CENTRALISED] if len(points) else points
    points = points[points.paradigm != CENTRALISED]
    if not len(points):
        raise PlanError("the points hold only the centralised reference run: no paradigm's curve to fit")
    groups = list(points.groupby(["paradigm", "configuration"], sort=False))
    series, coverage = {}, {}
    for (par, conf), g in groups:
        series[conf] = (g["round"].to_numpy(float), g.accuracy.to_numpy(float))
        cov = g["coverage"] if "coverage" in g else pd.Series(dtype=float)
        coverage[conf] = float(cov.mean()) if cov.notna().any() else 1.0
    bound = ceiling if ceiling > 0 else 1.0                 # NaN (no reference run): unbounded
    shaped = reference["round"].nunique() >= MIN_ROUNDS if len(reference) else False   # else it only bounds

    def own_run(conf):
        return references[references.configuration == data_reference(conf)]

    unforeseen = {conf: why for (par, conf), g in groups
                  if (why := unforeseeable(par, conf, g, classes, local_iterations,
                                           same_as_own(par, conf) and own_run(conf)["round"].nunique() >= MIN_ROUNDS))}
    along = {conf for (par, conf), _ in groups if follows_reference(par, iid) and conf not in unforeseen} \
        if shaped else set()
    rest = {conf for (par, conf), _ in groups if conf not in along or shapes_others(par)}
    # configuration -> the reference runs on its own data it follows ("follows") and, blended with
    # the pooled run, its groups' runs' weight ("private")
    meta: dict[str, dict] = {}
    try:
        fits = fit_joint({c: s for c, s in series.items() if c in rest}, coverage,
                         apart={conf for (par, conf), _ in groups if learns_apart(par, conf)} | set(unforeseen),
                         ceiling=bound) if rest - along else {}
        if along:       # the reference run's measured curve at a pace of their own
            fits.update(fit_along((reference["round"].to_numpy(float), reference.accuracy.to_numpy(float)),
                                  {c: series[c] for c in along}, start=1.0 / classes if classes else None,
                                  ceiling=bound))
        for (par, conf), g in groups:
            own = own_run(conf)
            if own["round"].nunique() >= MIN_ROUNDS and conf not in unforeseen:
                # it stays in the others' fit as it was (its pilot shapes theirs); its own curve
                # follows the runs on its own data (`own_data`), which show how far those samples
                # carry, where the others' plateau does not (bench_accuracy: dsgd 2.7-13 points off
                # beside them, 1.3-3.6 following its run); both see the same classes: no coverage
                own_xy = (own["round"].to_numpy(float), own.accuracy.to_numpy(float))
                meta[conf] = {"follows": data_reference(conf)}
                if same_as_own(par, conf):
                    # one curve through the pilot's points and the runs' (at the same samples seen):
                    # a pace of its own, fitted to a short pilot near chance, only added noise
                    # (bench_accuracy, 20% pilots: pel with one worker on digits IID 7.0 points off,
                    # 1.4 on the runs' curve; dsgd 0.3-4.1, was 0.6-3.6; median of all 1.66 -> 1.39); the
                    # run spans the horizon: the family that fits best (`extrapolates`)
                    x, y = series[conf]
                    run_x = own_xy[0] / _rounds_of(g, own)      # in the configuration's rounds
                    fits[conf] = fit_joint({conf: (np.concatenate([x, run_x]), np.concatenate([y, own_xy[1]]))},
                                           {conf: 1.0}, ceiling=bound, extrapolates=False)[conf]
                else:
                    blend = blended_run(own, reference, private[conf]) if iid and conf in (private or {}) else None
                    if blend is not None:
                        own_xy = blend
                        meta[conf]["private"] = private[conf]
                    fits[conf] = fit_joint({conf: series[conf], "own": own_xy}, {conf: 1.0, "own": 1.0},
                                           ceiling=bound)[conf]
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
        if classes:
            fits[conf].floor = 1.0 / classes
        curves.append(Curve(par, conf, spr, fits[conf], loss, int(g["round"].nunique()), int(g.seed.nunique()),
                            float(last.accuracy.mean()), ceiling,
                            meta.get(conf, {}), unforeseen.get(conf, "")))
    return curves


def _samples_per_round(g: pd.DataFrame, default: float | None, conf: str) -> float:
    per = _per_round(g)
    if per is not None:
        if np.allclose(per, per[0], rtol=1e-6):
            return float(per[0])
        raise PlanError(f"{conf}: samples / round is not constant in the log; give samples seen after each round")
    if default is None:
        raise PlanError(f"{conf}: the log has no 'samples' column and no plan gives the samples per round")
    return float(default)


def read_log(path: Path, scn: Scenario, names: list[str] | None) -> pd.DataFrame:
    """A user's training log (CSV: round, accuracy; optionally paradigm, configuration, seed,
    samples, loss) as calibration points. Errors name the file, the line and the column."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")      # a spreadsheet's "CSV UTF-8" starts with a BOM
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        raise ScenarioError("not a readable CSV log", file) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    why = separator_problem(text.splitlines()[0], "log") if text.strip() else None
    if why:
        raise ScenarioError(why, file, 1)
    if not rows or "round" not in rows[0] or "accuracy" not in rows[0]:
        raise ScenarioError("a training log needs the columns round and accuracy (optional: paradigm, "
                            "configuration, seed, samples, loss)", file, 1)
    out = []
    for ln, r in enumerate(rows, start=2):
        par = (r.get("paradigm") or "").strip() or (names[0] if names and len(names) == 1 else "")
        if par not in paradigms.NAMES and par != CENTRALISED:
            raise ScenarioError(f"column 'paradigm': {par[:30]!r}; use one of {', '.join(paradigms.NAMES)} "
                                f"(or give one -p for a log of one paradigm), or {CENTRALISED} for a run of the "
                                "whole model on the pooled data (it bounds the curves' plateaus)", file, ln)
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
                hint = f" (give {c} as a fraction: 0.2, not 20%)" if v.endswith("%") else ""
                raise ScenarioError(f"column '{c}': {v[:30]!r} is not a number{hint}", file, ln) from None
        if not (0 <= rec["accuracy"] <= 1):
            raise ScenarioError(f"column 'accuracy': {rec['accuracy']:g} is not in [0, 1] (a fraction, not %)",
                                file, ln)
        if rec["round"] < 1 or rec["round"] != math.floor(rec["round"]):
            raise ScenarioError(f"column 'round': {rec['round']:g}; rounds are whole numbers from 1", file, ln)
        out.append(rec)
    df = pd.DataFrame(out)
    if (df.paradigm == CENTRALISED).all():
        raise ScenarioError(f"the log holds only rows of paradigm '{CENTRALISED}' (a reference run, which bounds "
                            "curves but is none): add the rows of a paradigm's training", file)
    df["fingerprint"] = fingerprint(scn)
    return df


def import_log(scn: Scenario, pts: pd.DataFrame, out: Path) -> list[Curve]:
    """Curves fitted to a training log's points (`read_log`), their table written to `out`."""
    cm = CostModel(planning_scenario(scn))
    spr = {}
    for par in pts.paradigm.unique():
        if par == CENTRALISED:
            continue
        p = paradigms.get(par)
        spr[par] = p.cost(cm, p.solvers[p.default].fn(cm).decisions).samples
    curves = fit_curves(pts, spr, scn.spec.training.iid, scn.spec.model.num_classes,
                        scn.spec.training.local_iterations, private_shares(cm, pts.configuration.unique()))
    write_table(out, curves, scn)
    return curves
