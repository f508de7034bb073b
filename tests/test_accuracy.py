"""The algorithms as published (FedAvg resets client state, sl is exactly centralised SGD), splits
that honour what they say, and the tiny end-to-end run: calibrate, plan for a target, validate."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.planfile import Plan
from edgeplan.scenario import load_scenario
from edgeplan.validation.data import split_across, split_summary
from edgeplan.validation.engines import ENGINES, LOSS, Shard, train_centralized
from edgeplan.validation.meters import RoundMeter
from edgeplan.validation.runner import make_job
from edgeplan.validation.transport import Local

from .conftest import SCENARIOS, write

DIGITS = SCENARIOS / "digits-small.yaml"


def _job(name, scn=None):
    scn = scn or load_scenario(DIGITS)
    cm = CostModel(scn)
    plan = paradigms.get(name).solve(cm)
    job, cm, _ = make_job(scn, plan)
    return job, cm


def _run(engine, cm, rounds):
    for _ in range(rounds):
        engine.play(Local(RoundMeter(cm, 1e9)))


def test_sl_is_exactly_centralised_sgd_on_the_same_batches():
    """The client part travels with its optimizer state and the reference draws the devices'
    batches in sl's order: the partitioned run and plain SGD agree bit for bit."""
    torch.manual_seed(0)
    job, cm = _job("sl")
    engine = ENGINES["sl"](job)
    rounds, n = 3, len(engine.devices)
    _run(engine, cm, rounds)
    ref = job.model()
    opt = job.optimizer(ref.parameters())
    shards = {d: Shard(job.ds, s.idx, s.seed) for d, s in job.shards.items()}
    devices = list(job.shards)
    for k in range(rounds * n * cm.tau):
        dev = devices[(k // cm.tau) % n]
        x, y = shards[dev].next(job.batch(dev))
        opt.zero_grad(set_to_none=True)
        LOSS(ref(x), y).backward()
        opt.step()
    split = [p for m in (engine.head, engine.tail) for p in m.parameters()]
    for a, b in zip(ref.parameters(), split):
        assert torch.equal(a, b)


def test_dsgd_is_sgd_on_its_source_shard():
    """dsgd's pipeline (micro-batch losses scaled to the batch, one step per batch) trains the
    model exactly as SGD on its source device's batches, up to the order of float sums: its
    curve is that of centralised training on that device's data (calibration's run on it)."""
    job, cm = _job("dsgd")
    src = job.decisions["source"]
    job.decisions = {**job.decisions, "stages": [(src, 1, 2), ("edge", 3, cm.L)], "replicas": [[src], ["edge"]],
                     "microbatches": 4}              # the planned one runs on the edge whole
    engine = ENGINES["dsgd"](job)
    rounds = 3
    _run(engine, cm, rounds)
    ref = job.model()
    opt = job.optimizer(ref.parameters())
    shard = Shard(job.ds, job.shards[src].idx, job.shards[src].seed)
    for _ in range(rounds * cm.tau):
        x, y = shard.next(job.batch(src))
        opt.zero_grad(set_to_none=True)
        LOSS(ref(x), y).backward()
        opt.step()
    for a, b in zip(ref.parameters(), engine.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_pel_with_one_worker_is_sgd_on_its_data_with_a_fresh_optimizer_each_round():
    """pel's one active worker updates the whole model on its data, starting each round's block
    with a fresh optimizer: bit for bit SGD on its shard, momentum reset every round; the reference
    run on its data (calibration's) resets it too, where the pooled run keeps it."""
    from edgeplan.calibration import data_reference, pilots
    from edgeplan.validation.calibrate import reference_run
    from edgeplan.validation.engine import train_pooled
    scn = load_scenario(DIGITS)
    pilot = next(p for p in pilots(scn, ["pel"]) if p.configuration == "pel workers=1")
    job, cm, _ = make_job(scn, pilot.plan, 0)
    engine = ENGINES["pel"](job)
    dev, rounds = pilot.own_data[0][0], 3
    _run(engine, cm, rounds)
    ref = job.model()
    shard = Shard(job.ds, job.shards[dev].idx, job.shards[dev].seed)
    for _ in range(rounds):
        opt = job.optimizer(ref.parameters())
        for _ in range(cm.tau):
            x, y = shard.next(job.batch(dev))
            opt.zero_grad(set_to_none=True)
            LOSS(ref(x), y).backward()
            opt.step()
    for a, b in zip(ref.parameters(), engine.model.parameters()):
        assert torch.equal(a, b)
    own = reference_run(scn, pilot, 0, 3, name=data_reference(pilot.configuration))
    job2, _, _ = make_job(scn, pilot.plan, 0)
    fresh, kept = (train_pooled(job2, 3, devices=[dev], fresh_optimizer=f) for f in (True, False))
    assert list(own.accuracy) == [a for a, _ in fresh] != [a for a, _ in kept]


def test_sl_equals_train_centralized_accuracy():
    job, cm = _job("sl")
    engine = ENGINES["sl"](job)
    _run(engine, cm, 2)
    acc_split, loss_split = engine.evaluate()
    job2, _ = _job("sl")
    acc, loss, _ = train_centralized(job2, 2 * len(engine.devices) * cm.tau)
    assert acc == acc_split and loss == loss_split


def test_fl_is_fedavg_as_published():
    """fl (client_state: reset) equals a plain FedAvg loop: each client starts every round from
    the global model with a fresh optimizer, the server averages weighted by samples."""
    job, cm = _job("fl")
    engine = ENGINES["fl"](job)
    rounds = 3
    _run(engine, cm, rounds)
    model = job.model()
    shards = {d: Shard(job.ds, s.idx, s.seed) for d, s in job.shards.items()}
    w = torch.tensor(np.array([len(s.idx) for s in shards.values()], float) /
                     sum(len(s.idx) for s in shards.values()), dtype=torch.float32)
    for _ in range(rounds):
        states = []
        for dev, shard in shards.items():
            local = copy.deepcopy(model)
            opt = torch.optim.SGD(local.parameters(), lr=job.spec.training.learning_rate, momentum=0.9)
            for _ in range(cm.tau):
                x, y = shard.next(job.batch(dev))
                opt.zero_grad(set_to_none=True)
                LOSS(local(x), y).backward()
                opt.step()
            states.append(local.state_dict())
        avg = {k: sum(wi * s[k] for wi, s in zip(w, states)) for k in states[0]}
        model.load_state_dict(avg)
    for a, b in zip(model.parameters(), engine.rep.model(0).parameters()):
        assert torch.equal(a, b)


def test_client_state_keep_carries_momentum_across_rounds(tmp_path):
    text = DIGITS.read_text().replace("dataset: digits}", "dataset: digits, client_state: keep}")
    job, cm = _job("fl", load_scenario(write(tmp_path, text)))
    engine = ENGINES["fl"](job)
    _run(engine, cm, 1)
    before = engine.opt_dev[0]
    _run(engine, cm, 1)
    assert engine.opt_dev[0] is before and len(before.state) > 0
    job, cm = _job("fl")
    engine = ENGINES["fl"](job)
    _run(engine, cm, 1)
    first = engine.opt_dev[0]
    engine.begin_round()
    assert engine.opt_dev[0] is not first and len(engine.opt_dev[0].state) == 0


def test_dirichlet_split_is_drawn_as_asked():
    y = torch.as_tensor(np.repeat(np.arange(10), 144))
    shards = split_across(y, [150, 150, 150], iid=False, alpha=0.1, seed=0)
    rows = split_summary(y, ["a", "b", "c"], shards, [150, 150, 150])
    assert np.mean([r["largest_class_share"] for r in rows]) > 0.5     # skewed, as alpha 0.1 asks
    assert all(r["samples"] <= 150 for r in rows)
    iid = split_summary(y, ["a", "b", "c"], split_across(y, [150] * 3, iid=True, seed=0), [150] * 3)
    assert max(r["largest_class_share"] for r in iid) < 0.25


def test_coverage_counts_the_data_that_trains(tmp_path):
    """pel with one active worker trains on that worker's shard alone: its coverage (the share of
    test samples whose class the training data holds, which scales its curve's plateau) is that
    shard's, not every device's (it read 1.0 and bench_accuracy's pel curve was 19 points off)."""
    from edgeplan.calibration import pilots
    from edgeplan.validation.runner import class_coverage
    text = DIGITS.read_text().replace("dataset: digits}", "dataset: digits, iid: false, dirichlet_alpha: 0.1}")
    scn = load_scenario(write(tmp_path, text))
    one = next(p for p in pilots(scn, ["pel"]) if p.configuration == "pel workers=1")
    job, _, _ = make_job(scn, one.plan)
    (active,) = [d for d, k in zip(job.decisions["devices"], job.decisions["params"]) if k > 0]
    assert job.coverage == pytest.approx(class_coverage(job.ds, [job.shards[active].idx])) and job.coverage < 1
    fl, _, _ = make_job(scn, paradigms.get("fl").solve(CostModel(scn)))
    assert fl.coverage == pytest.approx(class_coverage(fl.ds, [s.idx for s in fl.shards.values()]))


def test_runs_report_the_split_they_got(tmp_path):
    from edgeplan.validation.runner import run_inprocess
    text = DIGITS.read_text().replace("dataset: digits}", "dataset: digits, iid: false, dirichlet_alpha: 0.1}")
    scn = load_scenario(write(tmp_path, text))
    plan = paradigms.get("fl").solve(CostModel(scn))
    res = run_inprocess(scn, plan, rounds=1)
    assert res.extra["split_kind"] == "Dirichlet(0.1)"
    assert len(res.extra["split"]) == 3 and max(r["largest_class_share"] for r in res.extra["split"]) > 0.4


def test_calibrate_plan_for_a_target_and_validate(tmp_path):
    """The tiny end-to-end run (seconds): curves from a pilot, a plan that predicts its accuracy
    and rounds to the target (round-tripping through JSON), validation comparing both."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    text = DIGITS.read_text().replace("dataset: digits}", "dataset: digits, convergence: curves.csv, "
                                      "target_accuracy: 0.8}") + "objective: time_to_target\n"
    scn_file = write(tmp_path, text)
    runner = CliRunner()
    r = runner.invoke(app, ["calibrate", str(scn_file), "-p", "fl", "-p", "sl", "--rounds", "4", "--seeds", "1",
                            "--out", str(tmp_path / "curves.csv")])
    assert r.exit_code == 0, r.output
    points = pd.read_csv(tmp_path / "curves.calibration" / "points.csv")
    assert (points.paradigm == "centralised").sum() == 40          # the reference run: twice the 20 rounds
    assert "Plateaus bounded by" in r.output and "to plan with them" not in r.output   # the scenario names them
    assert (tmp_path / "curves.calibration" / "curves.png").read_bytes()[:4] == b"\x89PNG"    # the picture
    from edgeplan.curves import read_table
    table = read_table(tmp_path / "curves.csv")        # IID devices: both follow the reference run's own curve
    assert {table.find(p, p)[0].accuracy.family for p in ("fl", "sl")} == {"reference"}
    r = runner.invoke(app, ["plan", str(scn_file), "-p", "sl", "--out", str(tmp_path / "sl.json")])
    assert r.exit_code == 0, r.output
    assert "accuracy after 20 rounds" in r.output
    plan = Plan.load(tmp_path / "sl.json")
    pr = plan.predicted
    assert 0 < pr["accuracy"]["value"] <= 1 and pr["accuracy"]["low"] <= pr["accuracy"]["value"]
    assert pr["accuracy"]["plateau"] <= pr["accuracy"]["ceiling"] <= 1     # the bound the plan was predicted under
    assert plan.objective["name"] == "time_to_target"
    assert Plan.from_dict(json.loads(plan.to_json())).predicted == pr
    r = runner.invoke(app, ["validate", str(scn_file), str(tmp_path / "sl.json"), "--rounds", "4",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    quantities = [row["quantity"] for row in doc["summary"]]
    assert "accuracy after round 4" in quantities and "rounds to 80%" in quantities
    assert all("predicted_accuracy" in row for row in doc["rounds"])
    assert all(row["predicted_accuracy_ceiling"] == pr["accuracy"]["ceiling"] for row in doc["rounds"])
    # too short a calibration says how many rounds it needs
    r = runner.invoke(app, ["calibrate", str(scn_file), "-p", "fl", "--rounds", "3", "--out", str(tmp_path / "c2.csv")])
    assert r.exit_code == 2 and "needs at least 4 measured rounds" in r.output
    assert not (tmp_path / "c2.csv").exists()
    # without the reference run a 4-round pilot's curves say little about round 20, and the console says so
    r = runner.invoke(app, ["calibrate", str(scn_file), "-p", "fl", "-p", "sl", "--rounds", "4", "--seeds", "1",
                            "--ceiling-rounds", "0", "--out", str(tmp_path / "c3.csv")])
    assert r.exit_code == 0 and "Plateaus not bounded" in r.output, r.output
    assert "a pilot of 4 rounds says little about the rest; lengthen it with --resume --rounds 8" in r.output
    assert f"to plan with them, set 'convergence: c3.csv' in {scn_file}'s training" in " ".join(r.output.split())


def test_validate_says_what_a_target_was_not_reached_in():
    """Rounds to a target the run did not reach read 'not in N' (N the rounds it ran; it read 'not
    reached' beside a prediction of more rounds than the run had), a target the curve never
    reaches 'unreachable'; the report keeps such a column right-aligned as numbers."""
    import pandas as pd
    from edgeplan.htmlreport import _align
    from edgeplan.validation.runner import SUMMARY_COLUMNS, summary_text
    df = pd.DataFrame([["rounds to 50%", "rounds", 10.0, float("nan"), float("nan"), "relative", float("nan")],
                       ["rounds to 90%", "rounds", float("nan"), 3.0, float("nan"), "relative", float("nan")]],
                      columns=SUMMARY_COLUMNS)
    df.attrs["rounds_run"] = 2
    text = summary_text(df)
    assert text.predicted.tolist() == ["10", "unreachable"] and text.measured.tolist() == ["not in 2", "3"]
    assert _align(text.measured) == "num" and _align(text.predicted) == "num"
    df.attrs.clear()                      # a summary from elsewhere, without the run's length
    assert summary_text(df).measured.tolist()[0] == "not reached"


def test_wide_band_note_lengthens_only_a_pilot_shorter_than_the_training():
    """A pilot as long as the training has nothing left to extrapolate: the note had advised
    `--resume --rounds 4` after a 4-round pilot of a 4-round training."""
    from edgeplan.cli_calibrate import wide_band_note
    assert "lengthen it with --resume --rounds 8 " in wide_band_note(2, 3, 4, 20)
    assert "--resume --rounds 20 " in wide_band_note(2, 3, 15, 20)          # never past the training
    whole = wide_band_note(6, 6, 4, 4)
    assert "--rounds" not in whole and "the pilot already spans the 4 rounds" in whole


def test_calibrate_imports_a_training_log(tmp_path):
    from edgeplan.cli import app
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    acc = 0.95 - 0.8 * np.exp(-np.arange(1, 11) / 3.0)
    log.write_text("round,accuracy\n" + "".join(f"{r},{a:.5f}\n" for r, a in zip(range(1, 11), acc)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--from-log", str(log),
                                 "--out", str(tmp_path / "curves.csv")])
    assert r.exit_code == 0, r.output
    from edgeplan.curves import read_table
    cv, _ = read_table(tmp_path / "curves.csv").find("fl", "fl")
    assert cv.accuracy.plateau == pytest.approx(0.95, abs=1e-3)
    assert "note:" not in r.output                       # a curve that follows its log
    log.write_text("round,accuracy\n" + "".join(f"{r},{0.9 - 0.2 * (r - 1):.2f}\n" for r in range(1, 6)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--from-log", str(log),
                                 "--out", str(tmp_path / "falling.csv")])
    assert r.exit_code == 0 and "note: fl's curve misses the last measured accuracy by 40 points" in \
        " ".join(r.output.split()), r.output
    # a configuration no pilot foresees (pel with several workers) is said to be so, not to miss a shape
    rows = [f"fl,fl,{r},{a:.5f}" for r, a in zip(range(1, 11), acc)] + \
        [f"pel,pel workers=3,{r},{0.9 - 0.08 * (r - 1):.2f}" for r in range(1, 11)]
    log.write_text("paradigm,configuration,round,accuracy\n" + "\n".join(rows) + "\n")
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "two.csv")])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "note: pel workers=3 is unpredictable" in said, r.output
    assert "pel workers=3's curve misses" not in said and "fl's curve misses" not in said
    log.write_text("round,accuracy\n1,95\n")
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--from-log", str(log),
                                 "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 2 and "log.csv:2: column 'accuracy': 95 is not in [0, 1]" in r.output


def test_calibration_resumes_and_lengthens_its_pilots_from_where_they_ended(tmp_path, monkeypatch):
    """`--resume` with more rounds goes on from each pilot's last state: the points equal those
    of a pilot run that long from the start, and nothing is trained twice (the centralised
    reference run neither)."""
    from edgeplan.validation import calibrate as cal
    from edgeplan.validation import engine
    from edgeplan.validation.calibrate import work_folder
    references = []
    train_pooled = engine.train_pooled
    monkeypatch.setattr(engine, "train_pooled", lambda *a, **k: references.append(a[1]) or train_pooled(*a, **k))

    def calibrate(*a, **k):
        curves, pts = cal.calibrate(*a, ceiling_rounds=3, **k)
        assert all(c.ceiling == c.ceiling for c in curves)           # every curve has its ceiling
        return curves, pts[pts.paradigm != "centralised"]
    scn = load_scenario(DIGITS)
    out = tmp_path / "curves.csv"
    calibrate(scn, ["fl", "sl"], 4, 1, out)
    assert references == [3]
    pilot = next(p for p in work_folder(out).iterdir() if p.name.startswith("sl"))
    assert sorted(f.name for f in pilot.glob("rank*.pt")) == ["rank0.pt"]       # the last state only
    first = pd.read_csv(pilot / "rounds.csv")
    _, lengthened = calibrate(scn, ["fl", "sl"], 6, 1, out, resume=True)
    went_on = pd.read_csv(pilot / "rounds.csv")
    assert len(went_on) == 6 and list(went_on.wall_s[:4]) == list(first.wall_s)    # rounds 1-4 not run again
    assert references == [3]
    _, straight = calibrate(scn, ["fl", "sl"], 6, 1, tmp_path / "straight.csv")
    key = ["configuration", "seed", "round"]
    a, b = (d.sort_values(key).reset_index(drop=True) for d in (lengthened, straight))
    assert list(a["round"]) == list(b["round"]) == [1, 2, 3, 4, 5, 6] * 2
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    np.testing.assert_array_equal(a.loss, b.loss)
    # a shorter --resume refits the first rounds without training
    curves, shorter = calibrate(scn, ["fl", "sl"], 5, 1, out, resume=True)
    assert shorter["round"].max() == 5 and all(c.rounds_measured == 5 for c in curves)


@pytest.mark.parametrize("text, says", [
    ("\ufeffround,accuracy\n1,0.2\n2,0.4\n3,0.5\n4,0.6\n5,0.65\n", None),     # a spreadsheet's CSV UTF-8
    ("round;accuracy\n1;0.2\n2;0.4\n", "log.csv:1: the log's columns are separated by semicolons"),
    ("round,accuracy\n1,20%\n", "log.csv:2: column 'accuracy': '20%' is not a number (give accuracy as a fraction"),
])
def test_training_logs_as_spreadsheets_write_them(tmp_path, text, says):
    """A log saved as 'CSV UTF-8' (a byte-order mark before 'round') was refused for lacking the
    round column."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    (tmp_path / "log.csv").write_text(text, encoding="utf-8")
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--from-log", str(tmp_path / "log.csv"),
                                 "--out", str(tmp_path / "c.csv")])
    if says is None:
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 2 and says in r.output, r.output


def test_what_if_on_a_paradigm_without_a_curve_says_so(tmp_path):
    """With a table of fl's curve only, capacity on psl probed 'inf' everywhere and advised
    widening the range, pareto said psl's curves level off below the target, and the sweep
    crowned fl at every point without a word about the five it could not rank."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    acc = 0.95 - 0.8 * np.exp(-np.arange(1, 11) / 3.0)
    log.write_text("round,accuracy\n" + "".join(f"{r},{a:.5f}\n" for r, a in zip(range(1, 11), acc)))
    run = CliRunner().invoke
    assert run(app, ["calibrate", str(DIGITS), "-p", "fl", "--from-log", str(log),
                     "--out", str(tmp_path / "curves.csv")]).exit_code == 0
    scn = tmp_path / "s.yaml"
    scn.write_text(DIGITS.read_text().replace("dataset: digits}", "dataset: digits, convergence: curves.csv, "
                                              "target_accuracy: 0.9}"))
    r = run(app, ["capacity", str(scn), "--target", "time_to_target_s=30", "--vary", "channels.wlan.bandwidth",
                  "-p", "psl"])
    assert r.exit_code == 2 and "curves.csv has no curve for 'psl' (it has fl" in " ".join(r.output.split()), r.output
    r = run(app, ["capacity", str(scn), "--target", "time_to_target_s=30", "--vary", "channels.wlan.bandwidth",
                  "-p", "fl"])
    assert r.exit_code == 0, r.output
    r = run(app, ["pareto", str(scn), "-p", "psl", "--to-target"])
    assert r.exit_code == 2 and "no curve for 'psl'" in r.output, r.output
    r = run(app, ["sweep", str(scn), "--vary", "channels.wlan.bandwidth=5MHz,50MHz", "-p", "fl", "-p", "psl"])
    assert r.exit_code == 0 and "not ranked, no curve in training.convergence: psl" in r.output, r.output
    r = run(app, ["compare", str(scn), "-p", "fl", "-p", "psl", "--html", str(tmp_path / "c.html")])
    page = (tmp_path / "c.html").read_text()
    assert r.exit_code == 0 and "no curve" in r.output and "no curve" in page, r.output
    assert "not ranked, no curve in training.convergence: psl" in page and "rounds to 90% (band)" in page
    assert run(app, ["calibrate", str(DIGITS), "-p", "psl", "--from-log", str(log),
                     "--out", str(tmp_path / "psl.csv")]).exit_code == 0
    scn.write_text(scn.read_text().replace("convergence: curves.csv", "convergence: psl.csv"))
    r = run(app, ["pareto", str(scn), "-p", "psl", "--points", "3"])          # its columns name the target
    assert r.exit_code == 0 and "time to 90%" in r.output and r.output.count("to 90%") == 2, r.output


def test_calibrate_from_python(tmp_path):
    """Learning curves had no Python API: a notebook had to shell out to `edgeplan calibrate`."""
    import edgeplan
    from edgeplan.errors import PlanError
    curves = edgeplan.calibrate(DIGITS, tmp_path / "curves.csv", "fl", rounds=4, seeds=1)
    assert [c.configuration for c in curves] == ["fl"] and (tmp_path / "curves.csv").exists()
    p = curves[0].predict(20)
    assert 0 <= p["low"] <= p["value"] <= p["high"] <= 1
    for bad in ({"seeds": 0}, {"rounds": 0}, {"rounds": 2.5}):
        with pytest.raises(PlanError):
            edgeplan.calibrate(DIGITS, tmp_path / "c2.csv", "fl", **bad)


def test_a_training_log_may_carry_the_run_on_dsgds_data(tmp_path):
    """Rows of paradigm 'centralised', configuration "centralised on dsgd's data": dsgd's curve
    follows them (the console says so), and the pooled bound is not taken from them."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    rounds = np.arange(1, 13)
    own = 0.7 - 0.6 * np.exp(-rounds / 3.0)                      # one device's data carries it to 70%
    log.write_text("paradigm,configuration,round,accuracy\n"
                   + "".join(f"dsgd,dsgd,{r},{a:.5f}\n" for r, a in zip(rounds[:5], own[:5]))
                   + "".join(f"centralised,centralised on dsgd's data,{r},{a:.5f}\n" for r, a in zip(rounds, own)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "dsgd is SGD on one device's data: its curve is that of the centralised run" in said
    assert "Plateaus bounded" not in said and "pilot ended" not in said
    from edgeplan.curves import read_table
    cv, _ = read_table(tmp_path / "c.csv").find("dsgd", "dsgd")
    assert cv.accuracy.plateau == pytest.approx(0.7, abs=0.01)
    # a pilot whose draws ran behind the run's: its curve stays the run's, and the console says why
    behind = np.r_[own[:4], 0.1]
    log.write_text("paradigm,configuration,round,accuracy\n"
                   + "".join(f"dsgd,dsgd,{r},{a:.5f}\n" for r, a in zip(rounds[:5], behind))
                   + "".join(f"centralised,centralised on dsgd's data,{r},{a:.5f}\n" for r, a in zip(rounds, own)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "d.csv")])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "note: dsgd's pilot ended 10% where the run on its data, the same SGD, stood at" in said, said
    cv, _ = read_table(tmp_path / "d.csv").find("dsgd", "dsgd")
    assert cv.predict(12)["value"] == pytest.approx(own[-1], abs=0.03)


def test_calibrate_says_pel_with_several_workers_is_unpredictable(tmp_path):
    """Its first rounds can look like one worker's and it may stall later (bench_accuracy on seeds
    3-5 and 6-8: 21-25% predicted, 61-68% measured): its curve is unpredictable, an envelope from
    chance to the top, and calibrate says why; one worker's is a curve."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    rounds = np.arange(1, 7)
    rise = 0.9 - 0.8 * np.exp(-rounds / 4.0)
    log.write_text("paradigm,configuration,round,accuracy\n"
                   + "".join(f"pel,pel workers=2,{r},{a:.5f}\n" for r, a in zip(rounds, rise))
                   + "".join(f"pel,pel workers=1,{r},{a:.5f}\n" for r, a in zip(rounds, rise)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "note: pel workers=2 is unpredictable: each worker trains its block against stale values of the rest of " \
        "the model" in said, said
    assert "pel workers=2 - - unpredictable (7-100)" in said and "pel workers=1 unpredictable" not in said
    from edgeplan.curves import read_table
    table = read_table(tmp_path / "c.csv")
    several, _ = table.find("pel", "pel workers=2")
    one, _ = table.find("pel", "pel workers=1")
    assert several.unpredictable and not one.unpredictable
    p = several.predict(20)
    assert p["value"] is None and (p["low"], p["high"]) == (pytest.approx(0.07), 1.0) and p["unpredictable"]
    assert several.rounds_to(0.5) == {"rounds": None, "fastest": None, "slowest": None}
    assert one.predict(20)["value"] == pytest.approx(0.9, abs=0.02)


def test_a_training_log_may_carry_a_centralised_reference_run(tmp_path):
    """A user's log with rows of paradigm 'centralised' (the model trained on the pooled data):
    they bound the plateau, and the console says by what."""
    from edgeplan.cli import app
    from edgeplan.curves import read_table
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    rounds = np.arange(1, 7)
    pilot = 0.99 - 0.8 * rounds ** -0.4                     # still rising: alone it heads for 99%
    ref = [0.6, 0.8, 0.9, 0.92, 0.93, 0.92]
    log.write_text("paradigm,round,accuracy\n" + "".join(f"fl,{r},{a:.5f}\n" for r, a in zip(rounds, pilot))
                   + "".join(f"centralised,{r},{a}\n" for r, a in zip(rounds, ref)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    assert "Plateaus bounded by 92.3%" in " ".join(r.output.split())
    assert "plot: " in r.output and (tmp_path / "c.calibration" / "curves.png").exists()
    cv, _ = read_table(tmp_path / "c.csv").find("fl", "fl")
    assert cv.accuracy.plateau <= 0.9234 and cv.ceiling == pytest.approx(0.923333, abs=1e-5)
    log.write_text("paradigm,round,accuracy\n" + "".join(f"centralised,{r},{a}\n" for r, a in zip(rounds, ref)))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "e.csv")])
    assert r.exit_code == 2 and "log.csv: the log holds only rows of paradigm 'centralised'" in r.output, r.output
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--ceiling-rounds", "-1",
                                 "--out", str(tmp_path / "d.csv")])
    assert r.exit_code == 2 and "--ceiling-rounds -1: give a number of rounds, or 0 to skip" in r.output
    assert not (tmp_path / "d.csv").exists()


def test_a_calibration_without_a_reference_run_says_its_plateaus_are_not_bounded(tmp_path):
    from edgeplan.cli import app
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "dsgd", "--rounds", "4", "--seeds", "1",
                                 "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    assert "Plateaus not bounded: no centralised reference run (--ceiling-rounds 0, or dsgd alone" in \
        " ".join(r.output.split())
    assert "dsgd is SGD on one device's data: its curve is that of the centralised run on that device's samples" in \
        " ".join(r.output.split())
    points = pd.read_csv(tmp_path / "c.calibration" / "points.csv")
    assert set(points.paradigm) == {"dsgd", "centralised"}
    own = points[points.paradigm == "centralised"]            # on dsgd's shard, twice the 20 rounds
    assert set(own.configuration) == {"centralised on dsgd's data"} and len(own) == 40
    assert (own.samples / own["round"]).eq(points[points.paradigm == "dsgd"].samples.iloc[0]).all()
    assert (tmp_path / "c.calibration" / "centralised-on-pi-0-seed0.pt").exists()     # the source device's run
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "dsgd", "--rounds", "4", "--seeds", "1",
                                 "--ceiling-rounds", "0", "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0 and "follows the centralised run" not in r.output, r.output
    assert set(pd.read_csv(tmp_path / "c.calibration" / "points.csv").paradigm) == {"dsgd"}


def test_pel_with_one_active_worker_follows_a_reference_run_on_that_workers_data(tmp_path):
    """pel with one active worker trains the whole model on its data alone: the reference run of
    its own pools only that worker's samples (as many a round as the pilot's); with more workers
    (stale replicas, another algorithm) there is none."""
    from edgeplan.validation.calibrate import calibrate
    scn = load_scenario(DIGITS)
    curves, pts = calibrate(scn, ["pel"], 4, 1, tmp_path / "curves.csv", ceiling_rounds=4)
    own = pts[pts.configuration == "centralised on pel workers=1's data"]
    one = pts[pts.configuration == "pel workers=1"]
    assert len(own) == 4 and len(one) == 4
    pooled = pts[pts.configuration == "centralised"]        # every device's data, though pel's pilot carried it
    assert (pooled.samples / pooled["round"]).eq(3 * one.samples.iloc[0]).all()
    assert (own.samples / own["round"]).eq(one.samples.iloc[0]).all()
    assert not pts.configuration.str.contains("centralised on pel workers=[23]", regex=True).any()
    follows = {c.configuration: c.meta.get("follows") for c in curves}
    assert follows["pel workers=1"] == "centralised on pel workers=1's data" and follows["pel workers=2"] is None


def test_a_log_of_fpl_on_iid_devices_gives_a_curve_between_its_groups_runs_and_the_pooled_one(tmp_path):
    """Imported with its reference runs, fpl's log on digits-small's IID devices: the curve heads
    for its groups' runs weighted by the junction's private share (28% at 2), the pooled run by the
    rest, and calibrate says so."""
    from edgeplan.calibration import private_share
    from edgeplan.cli import app
    from edgeplan.curves import read_table
    from typer.testing import CliRunner
    rows = []
    for seed in (0, 1):
        for r in range(1, 11):
            rows += [("centralised", "centralised", seed, r, 0.97 - 0.8 * np.exp(-r / 2)),
                     ("centralised", "centralised on fpl j=2 groups=2's data", seed, r, 0.90 - 0.8 * np.exp(-r / 2))]
        rows += [("fpl", "fpl j=2 groups=2", seed, r, 0.94 - 0.8 * np.exp(-r / 4)) for r in range(1, 6)]
    pd.DataFrame(rows, columns=["paradigm", "configuration", "seed", "round", "accuracy"]).to_csv(
        tmp_path / "log.csv", index=False)
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(tmp_path / "log.csv"),
                                 "--out", str(tmp_path / "curves.csv")])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "junction slot (28% of the parameters) to itself" in said and "beside the run on the pooled data" in said
    w = private_share(CostModel(load_scenario(DIGITS)), 2)
    cv, _ = read_table(tmp_path / "curves.csv").find("fpl", "fpl j=2 groups=2")
    assert cv.accuracy.plateau == pytest.approx(w * 0.90 + (1 - w) * 0.97, abs=0.005)     # the runs' levels
    assert (tmp_path / "curves.calibration" / "curves.png").exists()


def test_fpl_groups_that_keep_parameters_apart_follow_runs_on_each_groups_data(tmp_path):
    """fpl's groups keep their branch and junction slot to themselves: from the junction at 2 on
    digits' CNN (28% of the parameters; 0.4% at 1) each group's model learns those from its own
    data, and the curve follows the mean of a centralised run on each group's data. The runs are
    trained once per group and shared by the junctions that group the devices alike."""
    from edgeplan.calibration import GROUPS_APART, pilots, private_share, private_shares
    from edgeplan.validation import engine
    from edgeplan.validation.calibrate import calibrate
    scn = load_scenario(DIGITS)
    cm = CostModel(scn)
    todo = {p.configuration: p for p in pilots(scn, ["fpl", "dsgd", "sl"])}
    assert private_share(cm, 1) < GROUPS_APART <= private_share(cm, 2) < private_share(cm, 4) < 1.0
    assert todo["fpl j=1 groups=2"].own_data == [] and todo["sl"].own_data == []
    assert sorted(map(sorted, todo["fpl j=2 groups=2"].own_data)) == [["phone"], ["pi-0", "pi-1"]]
    assert todo["dsgd"].own_data == [["pi-0"]]                 # its source device

    curves, pts = calibrate(scn, ["fpl"], 4, 1, tmp_path / "curves.csv", ceiling_rounds=4)
    follows = {c.configuration: c.meta.get("follows") for c in curves}
    assert follows["fpl j=1 groups=2"] is None
    assert follows["fpl j=2 groups=2"] == "centralised on fpl j=2 groups=2's data"
    # digits-small's devices are IID: the curve follows its groups' runs beside the pooled one
    assert private_shares(cm, list(todo)) == {c: private_share(cm, int(c.split()[1][2:])) for c in todo if c.startswith("fpl")}
    private = {c.configuration: c.meta.get("private") for c in curves}
    assert private["fpl j=2 groups=2"] == pytest.approx(private_share(cm, 2)) and private["fpl j=1 groups=2"] is None
    states = sorted(f.name for f in (tmp_path / "curves.calibration").glob("centralised-on-*"))
    assert states == ["centralised-on-phone-seed0.pt", "centralised-on-pi-0+pi-1-seed0.pt"]   # one per group
    own = pts[pts.configuration == "centralised on fpl j=3 groups=2's data"].sort_values("round")
    job, _, _ = make_job(scn, todo["fpl j=3 groups=2"].plan, 0)
    runs = [engine.train_pooled(job, 4, devices=g) for g in (["pi-0", "pi-1"], ["phone"])]
    np.testing.assert_allclose(own.accuracy, np.mean([[a for a, _ in r] for r in runs], axis=0))


def test_a_resumed_calibration_of_another_paradigm_adds_its_curves_to_the_table(tmp_path):
    """`-p sl --resume` after a calibration of fl: the table holds both, fl not trained again."""
    from edgeplan.curves import read_table
    from edgeplan.validation.calibrate import calibrate
    scn = load_scenario(DIGITS)
    out = tmp_path / "curves.csv"
    _, first = calibrate(scn, ["fl"], 4, 1, out, ceiling_rounds=0)
    curves, both = calibrate(scn, ["sl"], 4, 1, out, resume=True, ceiling_rounds=0)
    assert sorted(c.configuration for c in curves) == ["fl", "sl"]
    assert sorted(k[1] for k in read_table(out).curves) == ["fl", "sl"]
    np.testing.assert_array_equal(both[both.configuration == "fl"].accuracy, first.accuracy)
    _, bounded = calibrate(scn, ["sl"], 4, 1, out, resume=True, ceiling_rounds=3)
    _, unbounded = calibrate(scn, ["sl"], 4, 1, out, resume=True, ceiling_rounds=0)  # the run kept, not used
    assert (bounded.paradigm == "centralised").sum() == 3 and "centralised" not in set(unbounded.paradigm)
    _, fresh = calibrate(scn, ["sl"], 4, 1, out, ceiling_rounds=0)        # without --resume: sl alone
    assert set(fresh.configuration) == {"sl"}
    calibrate(scn, ["dsgd"], 4, 1, out, ceiling_rounds=4)
    curves, pts = calibrate(scn, ["sl"], 4, 1, out, resume=True, ceiling_rounds=4)   # dsgd's run on its data stays
    assert set(pts.configuration) == {"dsgd", "sl", "centralised", "centralised on dsgd's data"}
    assert {c.configuration: c.meta.get("follows") for c in curves}["dsgd"] == "centralised on dsgd's data"
    curves, pts = calibrate(scn, ["dsgd"], 4, 1, out, resume=True, ceiling_rounds=4)  # and sl's pooled one
    assert (pts.configuration == "centralised").sum() == 4 and all(c.ceiling == c.ceiling for c in curves)


def test_a_reference_run_below_a_pilot_is_pointed_out(tmp_path):
    """A reference run too short to level off holds every plateau down: the console says so."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    log = tmp_path / "log.csv"
    rounds = np.arange(1, 7)
    log.write_text("paradigm,round,accuracy\n" + "".join(f"fl,{r},{0.6 + 0.05 * r:.2f}\n" for r in rounds)
                   + "".join(f"centralised,{r},0.5\n" for r in rounds))
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    assert "note: fl measured 90.0% in its pilot, above the 50.0% the centralised reference run levels off at" in \
        " ".join(r.output.split())


def test_a_model_that_does_not_learn_from_the_data_is_named(tmp_path):
    """Inputs that tell nothing about the label (all zeros here; unscaled features in a user's
    case): the reference run stays at the most common class's share and every curve only fits
    that. calibrate says so and what to try, where it said nothing and planned on the flat curves."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    rng = np.random.default_rng(0)                 # the command prints a note; Python gets a warning

    def labels(n):
        return np.where(rng.random(n) < 0.7, 0, rng.integers(1, 10, n))
    np.savez(tmp_path / "flat.npz", x_train=np.zeros((600, 64), np.float32), y_train=labels(600),
             x_test=np.zeros((200, 64), np.float32), y_test=labels(200))
    scn = tmp_path / "s.yaml"
    scn.write_text(DIGITS.read_text().replace("dataset: digits}", "dataset: 'npz:flat.npz'}")
                   .replace("samples: 500", "samples: 200").replace("samples: 437", "samples: 200"))
    r = CliRunner().invoke(app, ["calibrate", str(scn), "-p", "fl", "--rounds", "4", "--seeds", "1",
                                 "--ceiling-rounds", "4", "--out", str(tmp_path / "c.csv")])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "no better than always answering the test set's most common class" in said, said
    assert "scale the inputs" in said
    r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "-p", "fl", "--rounds", "4", "--seeds", "1",
                                 "--ceiling-rounds", "4", "--out", str(tmp_path / "d.csv")])
    assert r.exit_code == 0 and "most common class" not in r.output, r.output
    import edgeplan
    with pytest.warns(UserWarning, match="does not learn from this data"):
        edgeplan.calibrate(scn, tmp_path / "p.csv", "fl", rounds=4, seeds=1, ceiling_rounds=4)


def test_calibrate_resumes_after_the_scenario_names_its_curves(tmp_path):
    """calibrate's own advice (set 'convergence:' and a target in the scenario) changed the file, and
    the --resume --rounds K it also advises was then refused: 'rank0.pt belongs to another plan'.
    Now the pilots go on; with other training settings --resume says what differs (exit 2)."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn = tmp_path / "s.yaml"
    scn.write_text(DIGITS.read_text())
    args = ["calibrate", str(scn), "-p", "sl", "--seeds", "1", "--ceiling-rounds", "4", "--out", str(tmp_path / "c.csv")]
    assert CliRunner().invoke(app, args + ["--rounds", "4"]).exit_code == 0
    scn.write_text(scn.read_text().replace("dataset: digits}", "dataset: digits, convergence: c.csv, "
                                                                "target_accuracy: 0.9}"))
    r = CliRunner().invoke(app, args + ["--rounds", "6", "--resume"])
    assert r.exit_code == 0 and "sl " in r.output and "(round 6)" in r.output, r.output
    scn.write_text(scn.read_text().replace("learning_rate: 0.05", "learning_rate: 0.1"))
    r = CliRunner().invoke(app, args + ["--rounds", "8", "--resume"])
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "--resume: c.csv was calibrated for a different training" in said, said
    assert "lr=0.05" in said and "lr=0.1" in said and "drop --resume to calibrate afresh" in said


def test_compare_says_when_the_first_two_are_not_told_apart():
    """A 5-round pilot's bands run to 'never': dsgd first at 1.2 s and sl second at 17 s may be the
    other way round, and compare said nothing of it. Bands that do not overlap say nothing."""
    from edgeplan.tables import close_call
    rows = pd.DataFrame({"paradigm": ["sl", "dsgd", "fl"], "time_to_target_s": [16.6, 1.19, np.nan],
                         "round_latency_s": [3.33, 0.085, 4.5], "rounds_to_target_fastest": [3, 7, None],
                         "rounds_to_target_slowest": [None, None, None]})
    said = close_call(rows)
    assert said.startswith("dsgd and sl, first and second to the target, are not told apart") and \
        "(595 ms-never and 9.99 s-never)" in said, said
    rows["rounds_to_target_slowest"] = [6, 20, None]              # dsgd by round 20 (1.7 s): before sl's 10 s
    assert close_call(rows) == ""
    assert close_call(rows.iloc[:1]) == "" and close_call(rows.drop(columns="rounds_to_target_fastest")) == ""


def test_shipped_curves_belong_to_their_scenario_and_rank_by_time_to_target():
    """scenarios/digits-target ships the curves calibrate fitted on it: they must still match it
    (a change to digits-small's training or to the fingerprint calls for calibrating again, with
    the command in its first lines), and compare ranks by the time to its target."""
    import edgeplan
    from edgeplan.curves import check_fingerprint, read_table
    scn = edgeplan.load(SCENARIOS / "digits-target.yaml")
    table = read_table(SCENARIOS / "digits-target.curves.csv")
    check_fingerprint(scn, table)
    best = edgeplan.compare(scn)
    assert set(best.paradigm) == {"fl", "sl", "psl", "dsgd", "fpl", "pel"}
    times = best.time_to_target_s.to_numpy(float)
    assert np.all(np.isfinite(times)) and np.all(np.diff(times) >= 0)        # ranked by it


def test_compare_figure_puts_the_paradigms_on_the_same_training():
    """The report's third bar chart was bytes per round beside time and energy to the target: dsgd
    moves one device's batches a round where fl moves every device's model. Bytes are now counted
    to the target (rounds x bytes a round), or per epoch without one, as time and energy are."""
    import edgeplan
    from edgeplan.htmlreport import compare_bars
    scn = edgeplan.load(SCENARIOS / "digits-target.yaml")
    best = edgeplan.compare(scn)
    (t, time), (e, energy), (b, moved) = compare_bars(best, scn)
    assert (t, e, b) == ("time to 90% accuracy (s)", "energy to 90% accuracy (J)", "bytes to 90% accuracy")
    row = best.set_index("paradigm").loc["fl"]
    assert moved["fl"] == pytest.approx(row.comm_bytes * row.rounds_to_target)
    assert time["fl"] == pytest.approx(row.time_to_target_s)
    plain = edgeplan.load(SCENARIOS / "digits-small.yaml")
    best = edgeplan.compare(plain)
    labels = [label for label, _ in compare_bars(best, plain)]
    assert labels == ["time per epoch (s)", "energy per epoch (J)", "bytes per epoch"]
    row = best.set_index("paradigm").loc["dsgd"]
    assert compare_bars(best, plain)[2][1]["dsgd"] == pytest.approx(row.comm_bytes * row.epoch_samples
                                                                    / row.samples_per_round)


def test_runs_say_how_the_paradigm_trained():
    """The optimizer state across rounds (training.client_state) and what pel's workers hold outside
    their block are said in words, from the plan as evaluated against the scenario."""
    from edgeplan.reports import what_trained
    cm = CostModel(load_scenario(DIGITS))
    plans = {n: paradigms.get(n).solve(cm, "equal" if n == "pel" else None) for n in ("fl", "sl", "fpl", "pel", "dsgd")}
    assert "fresh optimizer state (training.client_state: reset, FedAvg as published)" in what_trained(plans["fl"], "reset")
    assert "kept its optimizer state from round to round" in what_trained(plans["fl"], "keep")
    assert "the junction and trunk keep theirs" in what_trained(plans["fpl"], "reset")
    assert "passed from device to device with its optimizer state" in what_trained(plans["sl"], "reset")
    assert "beside a replica holding the rest at its initial weights" in what_trained(plans["pel"], "reset")
    assert what_trained(plans["dsgd"], "reset") == ""


def test_pareto_points_to_the_target_front_when_the_scenario_has_one():
    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn = str(SCENARIOS / "digits-target.yaml")
    r = CliRunner().invoke(app, ["pareto", scn, "-p", "psl", "--points", "3"])
    assert r.exit_code == 0 and "--to-target traces the front of the time and energy to reach it" in \
        " ".join(r.output.split()), r.output
    r = CliRunner().invoke(app, ["pareto", scn, "-p", "psl", "--points", "3", "--to-target"])
    assert r.exit_code == 0 and "time-energy to target front" in r.output and "--to-target traces" not in r.output


def test_calibrate_interrupted_says_what_it_kept_and_resume_goes_on(tmp_path, monkeypatch):
    """Ctrl-C in the second pilot: exit 130, the checkpoints named, and --resume finishes without
    training the first pilot again."""
    from edgeplan.cli import app
    from edgeplan.validation import runner
    from typer.testing import CliRunner
    real, calls = runner.run_inprocess, []

    def stopped_once(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(runner, "run_inprocess", stopped_once)
    out = tmp_path / "curves.csv"
    args = ["calibrate", str(DIGITS), "-p", "fl", "--rounds", "4", "--seeds", "2", "--ceiling-rounds", "3",
            "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 130 and not out.exists(), r.output
    said = " ".join(r.output.split())
    assert f"interrupted: the rounds trained so far are checkpointed in {tmp_path / 'curves.calibration'}; the " \
        "same command with --resume goes on from there" in said, said
    first = tmp_path / "curves.calibration" / "fl-seed0" / "rounds.csv"
    before = pd.read_csv(first)
    r = CliRunner().invoke(app, args + ["--resume"])
    assert r.exit_code == 0 and out.exists(), r.output
    assert len(calls) == 3 and list(pd.read_csv(first).wall_s) == list(before.wall_s)     # seed 0 not again


def test_calibrate_says_when_fl_would_run_past_the_end_of_a_short_centralised_run(tmp_path):
    """fl's curve is the centralised run's own at fl's pace; beyond that run's last round it holds
    the run's last level, which a run cut short sets too low: calibrate says how long a run it needs."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    rounds = np.arange(1, 31)
    central = 0.97 - 0.87 * np.exp(-rounds / 6.0)

    def calibrate(ref_rounds):
        log = tmp_path / f"log{ref_rounds}.csv"
        log.write_text("paradigm,configuration,round,accuracy\n"
                       + "".join(f"fl,fl,{r},{a:.5f}\n" for r, a in zip(rounds[:6], central[:6]))
                       + "".join(f"centralised,centralised,{r},{a:.5f}\n"
                                 for r, a in zip(rounds[:ref_rounds], central[:ref_rounds])))
        r = CliRunner().invoke(app, ["calibrate", str(DIGITS), "--from-log", str(log),
                                     "--out", str(tmp_path / f"c{ref_rounds}.csv")])
        assert r.exit_code == 0, r.output
        return " ".join(r.output.split())
    short = calibrate(8)               # fl at the run's pace needs its 20 rounds (training.rounds)
    assert "fl follows the centralised run's measured curve at a pace fitted to its pilot (fit 'reference')" in short
    assert "note: by round 20 fl would be past the end of the centralised run, whose last level the curve then " \
        "holds: lengthen that run (a log of its first 20 rounds or more)" in short, short
    assert "past the end" not in calibrate(30)
