"""`edgeplan validate`: train the partitioned network by the plan, round by round, metered;
checkpoint every round (a run resumes from the last one); report predicted against measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.dsgd_costs import phase_words
from edgeplan.errors import ScenarioError
from edgeplan.files import write_csv
from edgeplan.models.profile import one_torch_thread
from edgeplan.models.registry import sample_dtype, sample_shape
from edgeplan.paradigms.pel import active_workers
from edgeplan.planfile import Plan
from edgeplan.progress import Bar
from edgeplan.scenario import Scenario
from edgeplan.tables import pct_range
from edgeplan.units import plural

from .checkpoints import Record, clear_states, load_state, run_identity, save_state
from .data import load, split_across, split_kind, split_summary
from .dsgd_engine import phase_kind
from .engines import ENGINES, Job, Shard
from .meters import RoundMeter, calibrate_host
from .partition import check_tokens, check_units
from .transport import LABEL_DTYPES, WIRE_DTYPES, Local, wire_dtype


@dataclass
class RunResult:
    plan: Plan
    rounds: pd.DataFrame                 # one row per round: measured and predicted
    nodes: pd.DataFrame                  # per round, per node: compute, bytes, transfer, energy
    events: list[dict]                   # the last round's timeline (for the Gantt chart)
    host_rate: float
    executor: str
    extra: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return summarize(self.plan, self.rounds)

    def __repr__(self) -> str:
        """What was run and predicted against measured, in words (the rounds are in .rounds)."""
        head = f"RunResult({self.plan.scenario}: {self.plan.paradigm}, {plural(len(self.rounds), 'round')}, {self.executor})"
        return "\n".join([head] + [f"  {r.quantity}: {r.predicted} predicted, {r.measured} measured" +
                                    (f" ({r.error} off)" if r.error else "")
                                    for r in summary_text(self.summary()).itertuples()])

    @property
    def transfers_measured(self) -> bool:
        """Transfer times are timed only on shaped links; elsewhere they are modelled (the bytes
        that crossed, counted, at the allocated rates)."""
        return "shaped" in self.executor

    def phases(self, scn: Scenario) -> pd.DataFrame:
        """The last round per device and phase: predicted against measured (or, for transfers off
        shaped links, modelled) seconds; `how` says which."""
        return phase_table(scn, self.plan, self.events, self.transfers_measured)


TRANSFER_PHASES = ("uplink", "downlink", "sync", "handoff", "download", "upload")


def _transfer(phase: str) -> bool:
    return phase in TRANSFER_PHASES or phase_kind(phase) not in (None, "compute")


def phase_table(scn: Scenario, plan: Plan, events: list[dict], transfers_measured: bool = False) -> pd.DataFrame:
    """Per device and phase (dsgd: per stage, replica and hop), predicted against measured."""
    if not events:
        return pd.DataFrame()
    cm = CostModel(scn)
    para = paradigms.get(plan.paradigm)
    pred = para.cost(cm, para.decode(cm, plan)).phases
    ev = pd.DataFrame(events)
    meas = ev.groupby(["device", "phase"]).seconds.sum().unstack(fill_value=0.0)
    if "trunk" in pred.columns and "trunk" not in meas.columns and "server" in meas.columns:
        meas = meas.rename(columns={"server": "trunk"})
    words = phase_words if plan.paradigm == "dsgd" else str      # dsgd's phase codes (fwd0, stage0.1) in words
    rows = []
    for dev in pred.index:
        if dev not in meas.index and not pred.loc[dev].any():
            continue                      # it sat the round out (pel's worker without a block): nothing to compare
        for ph in pred.columns:
            p = float(pred.loc[dev, ph])
            m = float(meas.loc[dev, ph]) if dev in meas.index and ph in meas.columns else float("nan")
            how = "modelled" if _transfer(ph) and not transfers_measured else "measured"
            rows.append({"device": dev, "phase": ph, "what": words(ph), "predicted_s": p, "measured_s": m, "how": how,
                         "rel_error": abs(p - m) / m if m == m and m > 0 else float("nan")})
    return pd.DataFrame(rows)


SUMMARY_COLUMNS = ["quantity", "unit", "predicted", "measured", "error", "error_kind", "ratio"]


def summarize(plan: Plan, rounds: pd.DataFrame) -> pd.DataFrame:
    """Predicted against measured: per-round costs (median over rounds, error the median relative
    error per round), the final accuracy (error in points) and the rounds to the target.
    `ratio` is predicted / measured, so an under-prediction by 10x reads 0.1."""
    pr = plan.predicted
    n = len(rounds)
    med = lambda c: float(np.median(rounds[c])) if n else float("nan")  # noqa: E731
    rows = []

    def cost_row(name, unit, key, col, per_round_error=False):
        p, m = pr.get(key), med(col)
        if p is None:
            return
        if per_round_error and n:
            err = float(np.median(np.abs(rounds[col] - p) / rounds[col]))
        else:
            err = abs(p - m) / abs(m) if m else float("nan")
        rows.append([name, unit, float(p), m, err, "relative", float(p) / m if m else float("nan")])

    cost_row("round latency", "s", "round_latency_s", "round_latency_s", per_round_error=True)
    cost_row("energy per round", "J", "energy_j", "energy_j")
    cost_row("device energy per round", "J", "device_energy_j", "device_energy_j")
    cost_row("bytes per round", "B", "comm_bytes", "comm_bytes")
    if n and "predicted_accuracy" in rounds and rounds.predicted_accuracy.isna().all() and \
            rounds.get("predicted_accuracy_high", pd.Series(dtype=float)).notna().any():
        last = rounds.iloc[-1]          # an unpredictable curve: its envelope only, no error to give
        span = pct_range(float(last.predicted_accuracy_low), float(last.predicted_accuracy_high))
        rows.append([f"accuracy after round {int(last['round'])} (unpredictable: {span}%)", "%",
                     float("nan"), 100 * float(last.test_accuracy), float("nan"), "points", float("nan")])
    elif n and "predicted_accuracy" in rounds and rounds.predicted_accuracy.notna().any():
        last = rounds.iloc[-1]
        p, m = float(last.predicted_accuracy), float(last.test_accuracy)
        rows.append([f"accuracy after round {int(last['round'])}", "%", 100 * p, 100 * m, 100 * abs(p - m), "points",
                     p / m if m else float("nan")])
        target = pr.get("target_accuracy")
        if target is not None:
            reached = rounds[rounds.test_accuracy >= target]
            meas = float(reached["round"].iloc[0]) if len(reached) else float("nan")
            pred = pr.get("rounds_to_target")
            pred = float(pred) if pred is not None else float("nan")
            rows.append([f"rounds to {target:.0%}", "rounds", pred, meas,
                         abs(pred - meas) / meas if meas == meas and pred == pred else float("nan"), "relative",
                         pred / meas if meas == meas and pred == pred else float("nan")])
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    df.attrs["rounds_run"] = n          # what a target not reached was not reached in (summary_text)
    return df


def summary_text(df: pd.DataFrame) -> pd.DataFrame:
    """The summary in words and human units (for the console and the report)."""
    from edgeplan.units import fmt_si

    n = df.attrs.get("rounds_run")

    def val(x, unit, measured=False):
        if x != x:           # rounds to a target: the curve's plateau below it, or the run too short for it
            if unit != "rounds":
                return ""
            if not measured:
                return "unreachable"
            return f"not in {n}" if n else "not reached"
        if unit == "%":
            return f"{x:.1f}%"
        if unit == "rounds":
            return f"{x:.0f}"
        return fmt_si(x, unit, binary=False)

    rows = []
    for _, r in df.iterrows():
        if r.error != r.error:
            err = ""
        elif r.error_kind == "points":
            err = f"{r.error:.1f} points"
        else:
            err = f"{100 * r.error:.1f}%"
        ratio = "" if r.ratio != r.ratio else f"{r.ratio:.2f}x"
        rows.append({"quantity": r.quantity, "predicted": val(r.predicted, r.unit), "measured": val(r.measured, r.unit, True),
                     "error": err, "predicted / measured": ratio})
    return pd.DataFrame(rows, columns=["quantity", "predicted", "measured", "error", "predicted / measured"])


class Predictions:
    """What every round of a run is compared with, in both executors: the plan's round latency
    and bytes and, where the scenario names learning curves, its accuracy after the round."""

    def __init__(self, scn: Scenario, job: Job):
        from edgeplan.curves import curves_for
        self.plan, self.curve, table = job.plan, None, curves_for(scn)
        if table is not None:
            para = paradigms.get(job.plan.paradigm)
            self.curve, _ = table.find(job.plan.paradigm, para.configuration(job.cm, job.decisions))
        self.spr = float(job.plan.predicted.get("samples_per_round") or 0.0) or None

    def add(self, row: dict, r: int) -> dict:
        """Round r's row with the predictions beside the measurements."""
        row.update(predicted_round_latency_s=self.plan.predicted["round_latency_s"],
                   predicted_comm_bytes=self.plan.predicted["comm_bytes"])
        if self.curve is not None:
            p = self.curve.predict(r, self.spr)
            row.update(predicted_accuracy=p["value"], predicted_accuracy_low=p["low"],
                       predicted_accuracy_high=p["high"], predicted_accuracy_ceiling=p.get("ceiling"))
        return row


def run_extra(scn: Scenario, job: Job) -> dict:
    """What a run reports about its data, in both executors: the split it really got."""
    tr = scn.spec.training
    return {"split": job.split, "test_coverage": job.coverage, "client_state": tr.client_state,
            "split_kind": split_kind(tr.iid, tr.dirichlet_alpha)}


def wire_bytes(scn: Scenario, paradigm: str) -> int:
    """Bytes a value of the plan's traffic takes on the wire: pel's bits_per_parameter / 8 (the cost
    model's Q), else model.bytes_per_value; validation trains in float32 and sends float16, float32
    or float64 (transport.WIRE_DTYPES)."""
    if paradigm == "pel":
        q = scn.spec.paradigms.pel.bits_per_parameter
        if q / 8 not in WIRE_DTYPES:
            raise ScenarioError(f"{q} bits a parameter: validation sends blocks as float16, float32 or float64 (16, 32 "
                                "or 64 bits); other widths (quantised) are planned, not trained",
                                scn.source, path="paradigms.pel.bits_per_parameter")
        return int(q // 8)
    lb, classes = scn.spec.model.label_bytes, scn.spec.model.num_classes
    if lb not in LABEL_DTYPES or classes > 2 ** (8 * lb - (0 if lb == 1 else 1)):
        raise ScenarioError(f"{lb} bytes a label: validation sends labels as 1, 2, 4 or 8-byte integers, wide "
                            f"enough for the model's {classes:,} classes", scn.source, path="model.label_bytes")
    b = scn.spec.model.bytes_per_value
    if b not in WIRE_DTYPES:
        raise ScenarioError(f"{b} byte a value: validation sends the plan's traffic as float16, float32 or float64 "
                            "(2, 4 or 8 bytes a value); 1-byte (quantised) values are planned, not trained",
                            scn.source, path="model.bytes_per_value")
    return b


def check_plan(scn: Scenario) -> None:
    if not scn.spec.model.trainable:
        raise ScenarioError("validation trains a torch model: the scenario needs model.zoo, model.module or "
                            "model.export (a profile or a "
                            "measured workbook has no model to train)", scn.source, path="model")


def make_job(scn: Scenario, plan: Plan, seed: int | None = None) -> tuple[Job, CostModel, object]:
    """The training job of a plan: decoded and costed exactly as `evaluate` does (planner.evaluate),
    so a plan that does not fit the scenario is refused before any training."""
    from edgeplan.evaluation import decode_plan
    check_plan(scn)
    dec = decode_plan(scn, plan)
    cm, para, decisions = dec.cm, dec.paradigm, dec.decisions
    method = plan.solver.get("method")
    # the plan as the cost model costs it now: its predictions are what the run is compared with
    evaluated = para.to_plan(cm, decisions, dec.costs, method if isinstance(method, str) else "given", "evaluated", 0.0)
    tr = scn.spec.training
    wire_bytes(scn, plan.paradigm)            # a precision the wire can carry, else a clear refusal
    if plan.paradigm == "pel" and scn.spec.paradigms.pel.compute == "per_parameter" and cm.table.bbytes.sum() > 0:
        raise ScenarioError("pel with compute: per_parameter moves blocks of the flat parameter vector, which no "
                            "buffer belongs to: the model's batch-norm statistics would never reach the server's "
                            "model it tests; validate with compute: backprop (blocks of whole layers, their "
                            "statistics with them)", scn.source, path="paradigms.pel.compute")
    seed = tr.seed if seed is None else seed
    ds = load(tr.dataset, sample_shape(scn.spec.model), scn.spec.model.num_classes, seed, scn.base_dir,
              sample_dtype(scn.spec.model))
    devices = cm.devices if plan.paradigm != "dsgd" else [decisions["source"]]
    nodes = scn.nodes
    sizes = [int(nodes.loc[d, "samples"]) if nodes.loc[d, "samples"] == nodes.loc[d, "samples"]
             and nodes.loc[d, "samples"] is not None else len(ds.y_train) // len(devices) for d in devices]
    idx = split_across(ds.y_train, sizes, tr.iid, tr.dirichlet_alpha, seed)
    empty = [d for d, ix in zip(devices, idx) if len(ix) == 0]
    if empty:
        raise ScenarioError(f"device '{empty[0]}' gets no samples from the Dirichlet({tr.dirichlet_alpha:g}) split "
                            "(its classes ran out); raise training.dirichlet_alpha or lower the devices' samples",
                            scn.source, path="training.dirichlet_alpha")
    shards = {d: Shard(ds, ix, seed * 1000 + k) for k, (d, ix) in enumerate(zip(devices, idx))}
    split = split_summary(ds.y_train, devices, idx, sizes)
    trained = [shards[d].idx for d in trainers(plan, decisions, devices)]
    job = Job(cm, decisions, ds, shards, seed, split, class_coverage(ds, trained), evaluated)
    if scn.spec.model.zoo is None:        # a user's model: its cached profile may predate an edit
        model = job.model()               # built once for both checks (the engine builds its own parts)
        check_units(job, model)
        check_tokens(job, model)
    return job, cm, para


def trainers(plan: Plan, decisions: dict, devices: list[str]) -> list[str]:
    """The devices whose data trains: pel's workers with a block (the others sit the round out)."""
    if plan.paradigm == "pel":
        return active_workers(decisions)
    return devices


def class_coverage(ds, shards) -> float:
    """The share of test samples whose class the training shards hold at all (below 1 when the
    paradigm trains on one device's skewed data): the accuracy a model can reach at most."""
    held = np.unique(np.concatenate([ds.y_train.numpy()[ix] for ix in shards])) if len(shards) else []
    return float(np.isin(ds.y_test.numpy(), held).mean())


def run_inprocess(scn: Scenario, plan: Plan, rounds: int | None = None, out_dir: str | Path | None = None,
                  resume: bool = False, progress: bool = False, seed: int | None = None, on_round=None,
                  host_rate: float | None = None) -> RunResult:
    """Train in this process, one thread, metering every round. `on_round(row)` is called after
    each round; `host_rate` skips this host's calibration (a caller running many short runs)."""
    with one_torch_thread():
        return _run(scn, plan, rounds, out_dir, resume, progress, seed, on_round, host_rate)


def _run(scn, plan, rounds, out_dir, resume, progress, seed, on_round=None, host_rate=None) -> RunResult:
    """The in-process executor: rank 0 of a world of one, keeping its progress as the
    distributed one does (validation.checkpoints)."""
    job, cm, para = make_job(scn, plan, seed)
    plan = job.plan
    engine = ENGINES[plan.paradigm](job)
    rounds = rounds or scn.spec.training.rounds
    out = Path(out_dir) if out_dir else None
    record, start = Record(out), 0
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            start = record.resume(plan, 1, run_identity(job))
            if start:
                load_state(out, 0, start, engine, job.shards)
                host_rate = record.saved_host_rate or host_rate     # convert as the run did so far
        else:
            clear_states(out)
    if host_rate is None:
        host_rate = _calibrate(job, cm)
    record.host_rate = host_rate
    predictions = Predictions(scn, job)
    events = []
    with Bar(progress, rounds, done=start, text="training", width=44) as bar:    # closed on Ctrl-C too
        for r in range(start, rounds):
            meter = RoundMeter(cm, host_rate)
            t0 = time.perf_counter()
            losses = engine.play(Local(meter, wire_dtype(wire_bytes(scn, plan.paradigm))))
            wall = time.perf_counter() - t0
            row, nodes, events = engine.record(meter, losses)
            row["wall_s"] = wall
            predictions.add(row, r + 1)
            if out is not None:                  # the state first: a record never runs ahead of it
                save_state(out, 0, r + 1, plan, engine, job.shards)
            record.add(r + 1, row, nodes)
            bar.advance(text=f"round {r + 1}/{rounds}: loss {row['train_loss']:.3f}, acc {row['test_accuracy']:.3f}")
            if on_round is not None:
                on_round(record.rows[-1])
    rows, node_rows = record.rows, record.nodes
    return RunResult(plan, pd.DataFrame(rows), pd.DataFrame(node_rows), events, host_rate, "inprocess",
                     run_extra(scn, job))


def _calibrate(job: Job, cm: CostModel) -> float:
    """This host's rate in the cost model's effective FLOP-equivalents (FLOPs, memory traffic and
    per-call overheads, edgeplan.compute): a part that took t seconds here takes
    t x host_rate / rate(node) on a node, overheads included. Under a fork of torch's random
    state: it builds a seeded model and times as many steps as it takes, and a model with dropout
    would otherwise train on masks that depend on how long the timing took."""
    import torch
    from edgeplan.compute import effective_flops
    with torch.random.fork_rng():
        model = job.model()
        b = int(cm.scn.spec.training.batch_size)
        x, y = job.ds.x_train[:b], job.ds.y_train[:b]
        if len(x) < b:
            x, y = x.repeat(b // len(x) + 1, *[1] * (x.dim() - 1))[:b], y.repeat(b // len(y) + 1)[:b]
        return calibrate_host(model, x, y, effective_flops(cm.table, b))


def write_outputs(result: RunResult, out: Path) -> None:
    """JSON, CSV and plots beside the checkpoint in --out DIR."""
    from .report import write_report
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.rounds, out / "rounds.csv")
    write_csv(result.nodes, out / "nodes.csv")
    summ = result.summary()
    write_csv(summ, out / "summary.csv")
    doc = {"scenario": result.plan.scenario, "paradigm": result.plan.paradigm, "executor": result.executor,
           "transfer_times": "measured on rate-limited links" if result.transfers_measured else
           "modelled: the bytes that crossed (counted) at the allocated rates",
           "host_flops": result.host_rate, "predicted": result.plan.predicted,
           "summary": summ.to_dict("records"), "rounds": result.rounds.to_dict("records"),
           "final_accuracy": float(result.rounds.test_accuracy.iloc[-1]) if len(result.rounds) else None,
           **result.extra}
    from edgeplan.jsonio import write_json
    write_json(out / "summary.json", doc)
    write_report(result, out)
