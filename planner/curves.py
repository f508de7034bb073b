"""Curve tables (`training.convergence`): reading, writing, checking them against the scenario,
and the accuracy predictions they give a plan.

A curve table is a CSV with one row per (paradigm, configuration, metric):

    paradigm, configuration, metric (accuracy | loss), family (power | exp | reference), a, b, c,
    cov_aa, cov_ab, cov_ac, cov_bb, cov_bc, cov_cc, sigma, samples_per_round, rounds_measured,
    seeds, final_measured, fingerprint, model, dataset, split, training[, drift, x_end, ceiling, lag,
    unpredictable, knots]

(`drift` and `x_end` widen the band beyond the measured points; `lag` is how long a curve holds
its first round's level (planner.convergence); tables without them read as 0.
`ceiling` is the accuracy of the centralised reference run that bounded the plateaus; empty when
the calibration had none. `unpredictable` says why no pilot foresees the curve, empty where one
does: such a curve predicts only the envelope from just below chance to the ceiling. `knots` holds
a `reference` curve's run, "x:accuracy" pairs joined by ';'; its a, b, c are that run's plateau,
its start and the pace.)

(planner.convergence documents the families and parameters). `fingerprint` digests what the
curves depend on: the model, the data set, the split of the data over the devices and the
training settings; a table made for anything else is refused, naming what differs.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .convergence import REFERENCE, Curve, Fit
from .errors import ScenarioError

COLUMNS = ["paradigm", "configuration", "metric", "family", "a", "b", "c", "cov_aa", "cov_ab", "cov_ac", "cov_bb",
           "cov_bc", "cov_cc", "sigma", "samples_per_round", "rounds_measured", "seeds", "final_measured",
           "fingerprint", "model", "dataset", "split", "training"]
OPTIONAL = ["drift", "x_end", "ceiling", "lag"]          # later additions: older tables lack them
# why a pilot cannot foresee the curve ('' where it can); family `reference`: its run's curve ("x:y;x:y...")
TEXT_OPTIONAL = ["unpredictable", "knots"]
_NUMERIC = ["a", "b", "c", "cov_aa", "cov_ab", "cov_ac", "cov_bb", "cov_bc", "cov_cc", "sigma", "samples_per_round",
            "rounds_measured", "seeds", "final_measured"]
_PARTS = {"model": "model (model.*)", "dataset": "data set (training.dataset)",
          "split": "data split (training.iid, training.dirichlet_alpha, the devices and their samples)",
          "training": "training (batch_size, local_iterations, optimizer, learning_rate, client_state)"}


# ---------------------------------------------------------------- what curves depend on

def fingerprint_parts(scn) -> dict[str, str]:
    """The model, data set, split and training settings a learning curve belongs to, each as a
    short canonical string (the table stores them, so a mismatch can be named)."""
    if "fingerprint" in scn._cache:
        return scn._cache["fingerprint"]
    m, tr = scn.spec.model, scn.spec.training
    if m.zoo is not None:
        src = f"zoo:{m.zoo}"
    elif m.module is not None:
        src = f"module:{m.module}:{json.dumps(m.kwargs or {}, sort_keys=True, default=str)}"
    elif m.export is not None:
        src = f"export:{Path(m.export).name}"
    else:
        src = f"profile:{Path(m.profile).name}"
    model = f"{src} input={list(m.input_shape)} classes={m.num_classes}" + \
        (f" dtype={m.input_dtype}" if m.input_dtype != "float32" else "")     # float: tables as they were
    nodes = scn.nodes[scn.nodes.role == "device"]
    samples = ["-" if s != s or s is None else int(s) for s in nodes.samples.tolist()]
    split = ("iid" if tr.iid else f"dirichlet({tr.dirichlet_alpha:g})") + \
        f" devices={len(nodes)} samples={_digest(json.dumps(samples))[:8]}"
    batches = nodes.batch_size.fillna(tr.batch_size).astype(int).tolist()
    training = (f"batch={_digest(json.dumps(batches))[:8] if len(set(batches)) > 1 else batches[0]} "
                f"tau={tr.local_iterations} {tr.optimizer} lr={tr.learning_rate:g} client_state={tr.client_state}")
    parts = {"model": model, "dataset": tr.dataset, "split": split, "training": training}
    scn._cache["fingerprint"] = parts
    return parts


def fingerprint(scn) -> str:
    return _digest(json.dumps(fingerprint_parts(scn), sort_keys=True))[:16]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- the table

@dataclass
class CurveTable:
    curves: dict[tuple[str, str], Curve]
    fingerprint: str
    parts: dict[str, str]
    file: str = ""

    def find(self, paradigm: str, configuration: str) -> tuple[Curve | None, str]:
        """The curve for a configuration, and how it was found ("" when exact). pel falls back to
        the configuration with the nearest number of workers (by samples seen)."""
        c = self.curves.get((paradigm, configuration))
        if c is not None:
            return c, ""
        same = [k for k in self.curves if k[0] == paradigm]
        if paradigm == "pel":       # the nearest number of workers, never across another download
            want = workers_in(configuration)
            alike = [k for k in same if _besides_workers(k[1]) == _besides_workers(configuration)] or \
                [k for k in same if workers_in(k[1]) == 1]      # one worker: both downloads alike
            if want == 1:       # SGD on one worker's data: several workers' unpredictable curves say nothing of it
                alike = [k for k in alike if not self.curves[k].unpredictable]
            if alike:
                near = min(alike, key=lambda k: (abs(workers_in(k[1]) - want), k[1]))
                curve = self.curves[near]
                if want > 1 and workers_in(near[1]) == 1 and not pel_is_sgd(configuration, self.parts):
                    # one worker's curve says nothing of blocks trained against stale values
                    curve = dataclasses.replace(curve, configuration=configuration, unpredictable=STALE_BLOCKS)
                return curve, f"curve of '{near[1]}', by samples seen"
        if same:
            have = f"its {paradigm} curves: {', '.join(sorted(k[1] for k in same))}"
        else:
            have = "it has " + (", ".join(sorted({k[0] for k in self.curves})) or "no curves")
        why = f"{Path(self.file).name} has no curve for '{configuration}' ({have})"
        return None, why + ("" if same else f"; `edgeplan calibrate -p {paradigm} --resume` into the same --out "
                            "adds it")


# why no pilot foresees pel with several workers (planner.calibration.unforeseeable)
STALE_BLOCKS = ("each worker trains its block against stale values of the rest of the model: its first rounds can "
                "look like one worker's and it may stall later, which no pilot foresees")


def pel_round_is_sgd(configuration: str, local_iterations: int | None) -> bool:
    """pel whose round is exactly one SGD step of the whole model (a test pins it): every active
    worker downloads the whole model and takes one local iteration."""
    return " download=model" in configuration and local_iterations == 1


def pel_is_sgd(configuration: str, parts: dict[str, str]) -> bool:
    """`pel_round_is_sgd` for a table (`parts`: its fingerprint parts; the training part says 'tau=N')."""
    m = re.search(r"\btau=(\d+)\b", parts.get("training", ""))
    return pel_round_is_sgd(configuration, int(m.group(1)) if m else None)


def _besides_workers(configuration: str) -> list[str]:
    return [p for p in configuration.split()[1:] if not p.startswith("workers=")]


def workers_in(configuration: str) -> int:
    for part in configuration.split():
        if part.startswith("workers="):
            return int(part.split("=", 1)[1])
    return 0


def junction_in(configuration: str) -> int | None:
    """fpl's junction in a configuration's name ("fpl j=2 groups=2"); None where it names none."""
    for part in configuration.split():
        if part.startswith("j=") and part[2:].isdigit():
            return int(part[2:])
    return None


def write_table(path, curves: list[Curve], scn) -> None:
    from edgeplan.models.profile_io import atomic_write_text
    parts = fingerprint_parts(scn)
    fp = fingerprint(scn)
    rows = []
    for cv in curves:
        for metric, fit in (("accuracy", cv.accuracy), ("loss", cv.loss)):
            if fit is None:
                continue
            cov = fit.cov
            rows.append([cv.paradigm, cv.configuration, metric, fit.family, *map(_num, fit.params),
                         _num(cov[0, 0]), _num(cov[0, 1]), _num(cov[0, 2]), _num(cov[1, 1]), _num(cov[1, 2]),
                         _num(cov[2, 2]), _num(fit.sigma), _num(cv.samples_per_round), cv.rounds_measured, cv.seeds,
                         _num(cv.final_measured if metric == "accuracy" else float("nan")), fp, parts["model"],
                         parts["dataset"], parts["split"], parts["training"], _num(fit.drift), _num(fit.x_end),
                         _num(cv.ceiling), _num(fit.lag), cv.unpredictable, _knots_text(fit.knots)])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS + OPTIONAL + TEXT_OPTIONAL)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _knots_text(knots) -> str:
    return "" if knots is None else ";".join(f"{x!r}:{y!r}" for x, y in zip(map(float, knots[0]), map(float, knots[1])))


def _knots(text: str, file: str, ln: int) -> np.ndarray:
    """A `reference` curve's knots: increasing x >= 0 with finite, non-decreasing accuracy."""
    try:
        pts = np.array([[float(v) for v in pair.split(":")] for pair in text.split(";")], float)
        ok = pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 2 and np.all(np.isfinite(pts))
    except ValueError:
        ok = False
    if not ok or np.any(np.diff(pts[:, 0]) <= 0) or pts[0, 0] < 0 or np.any(np.diff(pts[:, 1]) < 0):
        raise ScenarioError("column 'knots': the reference run's curve as 'x:accuracy' pairs joined by ';', x "
                            "increasing from 0 and accuracy not falling (as `edgeplan calibrate` writes it)", file, ln)
    return pts.T.copy()


def _num(x) -> str:
    x = float(x)
    return "" if not math.isfinite(x) else repr(x)


def read_table(path) -> CurveTable:
    """Read a curve table; errors name the file, the line and the column."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")      # a spreadsheet may add a BOM
    except FileNotFoundError:
        raise ScenarioError("curve table not found; write it with `edgeplan calibrate SCENARIO --out FILE`",
                            file) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise ScenarioError("not a curve table (a CSV written by `edgeplan calibrate`)", file) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ScenarioError("empty curve table; write it with `edgeplan calibrate`", file, 1)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ScenarioError(f"header lacks column(s) {', '.join(missing)}: is this a table of `edgeplan calibrate`?",
                            file, 1)
    col = {c: header.index(c) for c in COLUMNS + OPTIONAL + TEXT_OPTIONAL if c in header}
    fits: dict[tuple[str, str], dict] = {}
    fps, parts = set(), {}
    for ln, r in enumerate(rows[1:], start=2):
        if not any(x.strip() for x in r):
            continue
        if len(r) < len(header):
            raise ScenarioError(f"row has {len(r)} values, the header {len(header)}", file, ln)
        rec = {c: r[col[c]].strip() if c in col else "" for c in COLUMNS + OPTIONAL + TEXT_OPTIONAL}
        for c in _NUMERIC + OPTIONAL:
            v = rec[c]
            try:
                rec[c] = float(v) if v != "" else float("nan")
            except ValueError:
                raise ScenarioError(f"column '{c}': {v[:40]!r} is not a number", file, ln) from None
        if rec["metric"] not in ("accuracy", "loss"):
            raise ScenarioError(f"column 'metric': {rec['metric'][:40]!r}; use accuracy or loss", file, ln)
        if rec["family"] not in ("power", "exp", REFERENCE):
            raise ScenarioError(f"column 'family': {rec['family'][:40]!r}; use power, exp or {REFERENCE}", file, ln)
        if rec["family"] == REFERENCE:
            if not rec["knots"]:
                raise ScenarioError(f"family {REFERENCE} needs the column 'knots' (its run's curve)", file, ln)
            rec["knots"] = _knots(rec["knots"], file, ln)
        else:
            rec["knots"] = None
        if not all(math.isfinite(rec[k]) for k in ("a", "b", "c", "samples_per_round")) or rec["samples_per_round"] <= 0:
            raise ScenarioError("columns a, b, c and samples_per_round need finite numbers (samples_per_round > 0)",
                                file, ln)
        fits.setdefault((rec["paradigm"], rec["configuration"]), {})[rec["metric"]] = (ln, rec)
        fps.add(rec["fingerprint"])
        parts = {k: rec[k] for k in ("model", "dataset", "split", "training")}
    if not fits:
        raise ScenarioError("the curve table has no rows", file, 2)
    if len(fps) > 1:
        raise ScenarioError("rows carry different fingerprints: curves of different scenarios were mixed; "
                            "calibrate again into a fresh file", file)
    chance = _chance(parts.get("model", ""))
    curves = {}
    for key, by in fits.items():
        if "accuracy" not in by:
            raise ScenarioError(f"'{key[1]}' has a loss curve but no accuracy curve", file, by["loss"][0])
        _, acc = by["accuracy"]
        loss = by.get("loss", (None, None))[1]
        curves[key] = Curve(key[0], key[1], acc["samples_per_round"], _fit(acc, 1),
                            _fit(loss, -1) if loss else None, int(_nz(acc["rounds_measured"])),
                            int(_nz(acc["seeds"], 1)), acc["final_measured"], acc["ceiling"],
                            unpredictable=acc["unpredictable"])
        curves[key].accuracy.floor = chance
    return CurveTable(curves, fps.pop(), parts, file)


def _chance(model: str) -> float:
    """1 / classes of the fingerprint's model part ("... classes=10"); 0 where it names none."""
    m = re.search(r"\bclasses=(\d+)\b", model)
    return 1.0 / int(m.group(1)) if m and int(m.group(1)) > 0 else 0.0


def _nz(x, default=0):
    return default if x != x else x


def _fit(rec: dict, sign: int) -> Fit:
    c = [[rec["cov_aa"], rec["cov_ab"], rec["cov_ac"]], [rec["cov_ab"], rec["cov_bb"], rec["cov_bc"]],
         [rec["cov_ac"], rec["cov_bc"], rec["cov_cc"]]]
    return Fit(rec["family"], np.array([rec["a"], rec["b"], rec["c"]]), np.nan_to_num(np.array(c, float)),
               _nz(rec["sigma"], 0.0), sign=sign, drift=_nz(rec["drift"], 0.0), x_end=_nz(rec["x_end"], 0.0),
               lag=max(_nz(rec["lag"], 0.0), 0.0), knots=rec["knots"])


_TABLES: dict = {}


def to_target(scn) -> bool:
    """Whether plans are compared on the way to the target accuracy: a target and the learning
    curves that predict it (a target alone predicts nothing: the comparison is then per epoch)."""
    return scn.spec.training.target_accuracy is not None and scn.spec.training.convergence is not None


def no_curves_note(scn) -> str:
    """What a target without learning curves means, and how to get them ('' otherwise)."""
    tr = scn.spec.training
    if tr.target_accuracy is None or tr.convergence is not None:
        return ""
    return (f"target {tr.target_accuracy:.0%}: not predicted, the scenario names no learning curves "
            f"(training.convergence); `edgeplan calibrate {scn.source or 'SCENARIO'} --out "
            "curves.csv` measures them")


def unranked_note(paradigms, unpredictable=()) -> str:
    """The lines naming paradigms a to-target ranking cannot see: no curve, or a curve that no
    pilot foresees (`unpredictable`) ('' for none)."""
    names, unforeseen = list(paradigms), list(unpredictable)
    lines = [f"not ranked, no curve in training.convergence: {', '.join(names)}" if names else "",
             f"not ranked, no pilot foresees its curve (its accuracy lies between just below chance and the "
             f"centralised level; `edgeplan validate` measures it): {', '.join(unforeseen)}" if unforeseen else ""]
    return "; ".join(x for x in lines if x)


def curves_for(scn) -> CurveTable | None:
    """The scenario's curve table (training.convergence), checked against the scenario; None
    without one. Raises ScenarioError naming the file, the field and what differs."""
    rel = scn.spec.training.convergence
    if rel is None:
        return None
    path = scn.resolve(rel)
    try:
        st = path.stat()
    except OSError:
        raise scn.error(("training", "convergence"), f"file '{rel}' not found ({path}); write it with "
                        f"`edgeplan calibrate {scn.source or 'SCENARIO'} --out {rel}`") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _TABLES:
        _TABLES.clear()                        # one table in memory at a time is enough
        _TABLES[key] = read_table(path)
    table = _TABLES[key]
    check_fingerprint(scn, table)
    return table


def mismatch(scn, table: CurveTable) -> str:
    """What differs between the scenario and what `table` was calibrated for, in words ('' for
    nothing)."""
    if table.fingerprint == fingerprint(scn):
        return ""
    mine = fingerprint_parts(scn)
    k = ([k for k in _PARTS if table.parts.get(k) != mine[k]] or ["training"])[0]
    return f"{Path(table.file).name} was calibrated for a different {_PARTS[k]}: '{table.parts.get(k)}' there, " \
        f"'{mine[k]}' here"


def check_fingerprint(scn, table: CurveTable) -> None:
    if why := mismatch(scn, table):
        raise scn.error(("training", "convergence"), f"{why}; re-run `edgeplan calibrate` for this scenario")


# ---------------------------------------------------------------- predictions for a plan

# the keys of a plan's `predicted` that come from the learning curves, not from the cost model
CURVE_KEYS = ("accuracy", "target_accuracy", "rounds_to_target", "rounds_to_target_range", "time_to_target_s",
              "energy_to_target_j", "unreachable", "unpredictable")


def predictions(scn, paradigm: str, configuration: str, round_latency: float, energy: float,
                samples_per_round: float) -> dict:
    """The accuracy fields of a plan's `predicted` ({} without curves): accuracy after
    training.rounds with its band and, with a target, rounds, time and energy to it (or
    `unreachable` with the plateau)."""
    table = curves_for(scn)
    if table is None:
        return {}
    tr = scn.spec.training
    curve, how = table.find(paradigm, configuration)
    out: dict = {}
    if curve is None:
        out["accuracy"] = {"value": None, "why": how}
        if tr.target_accuracy is not None:
            out.update(target_accuracy=tr.target_accuracy, rounds_to_target=None, time_to_target_s=None,
                       energy_to_target_j=None)
        return out
    acc = curve.predict(tr.rounds, samples_per_round)
    if how:
        acc["note"] = how
    out["accuracy"] = acc
    if curve.unpredictable:           # the envelope only: no rounds, time or energy to a target
        if tr.target_accuracy is not None:
            out.update(target_accuracy=tr.target_accuracy, rounds_to_target=None, time_to_target_s=None,
                       energy_to_target_j=None, unpredictable=curve.unpredictable)
        return out
    if tr.target_accuracy is not None:
        t = tr.target_accuracy
        r = curve.rounds_to(t, samples_per_round)
        out["target_accuracy"] = t
        out["rounds_to_target"] = r["rounds"]
        out["rounds_to_target_range"] = [r["fastest"], r["slowest"]]
        if r["rounds"] is None:
            out["time_to_target_s"] = out["energy_to_target_j"] = None
            out["unreachable"] = {"plateau": acc["plateau"], "target": t}
        else:
            out["time_to_target_s"] = r["rounds"] * round_latency
            out["energy_to_target_j"] = r["rounds"] * energy
    return out
