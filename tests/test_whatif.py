"""What-if: sweeps, engines, capacity search, Pareto fronts, the HTML report in a browser."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import PlanError, ScenarioError
from edgeplan.scenario import from_data, load_scenario
from edgeplan.variants import parse_values, variant
from edgeplan.whatif import capacity, pareto, sweep

from .conftest import SCENARIOS

HETERO = SCENARIOS / "psl-hetero.yaml"


def test_sweep_over_one_value_equals_a_single_plan(tmp_path):
    scn = load_scenario(HETERO)
    res = sweep(scn, [("channels.ap0.bandwidth", ["30 MHz"]), ("nodes.rpi3.compute", ["3 GFLOPS"])], workers=1)
    data = yaml.safe_load(HETERO.read_text())
    data["channels"][0]["bandwidth"] = "30 MHz"
    data["nodes"][3]["compute"] = "3 GFLOPS"
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data))
    cm = CostModel(load_scenario(path))
    for name in paradigms.NAMES:
        para = paradigms.get(name)
        want = para.solve(cm, para.fastest or para.default).predicted["round_latency_s"]
        got = res.table[(res.table.paradigm == name) & (res.table.method == (para.fastest or para.default))]
        assert got.round_latency_s.iloc[0] == pytest.approx(want, rel=1e-12), name
    assert res.table["channels.ap0.bandwidth"].iloc[0] == 30e6


def test_fast_variant_equals_a_reload():
    scn = load_scenario(HETERO)
    for changes in ({"channels.ap0.bandwidth": "55 MHz"}, {"links.rpi4.spectral_efficiency": 3.3},
                    {"nodes.jetson.power": "12 W", "training.local_iterations": 3},
                    {"constraints.max_round_latency": "90 s"}, {"nodes.phone.count": 3}):
        fast = variant(scn, changes)
        data = yaml.safe_load(HETERO.read_text())
        for path, v in changes.items():
            parts = path.split(".")
            if parts[0] == "nodes":
                next(n for n in data["nodes"] if n["name"] == parts[1])[parts[2]] = v
            elif parts[0] == "links":
                for lk in data["links"]:
                    if lk["from"] == parts[1]:
                        lk[parts[2]] = v
            elif parts[0] == "channels":
                data["channels"][0][parts[2]] = v
            else:
                data.setdefault(parts[0], {})[parts[1]] = v
        slow = from_data(data, str(HETERO))
        a = paradigms.get("psl").solve(CostModel(fast)).predicted
        b = paradigms.get("psl").solve(CostModel(slow)).predicted
        assert a == b, changes


def test_bad_path_is_explained():
    scn = load_scenario(HETERO)
    with pytest.raises(ScenarioError, match=r"--vary channels\.ap1\.bandwidth: channel 'ap1' is not defined; did you "
                                            r"mean 'ap0'\?"):
        sweep(scn, [("channels.ap1.bandwidth", [1e6])], workers=1)
    with pytest.raises(ScenarioError, match=r"--vary nodes\.jetsn\.compute: node \(group\) 'jetsn' is not defined"):
        variant(scn, {"nodes.jetsn.compute": 1e9})


def test_ranges_parse_with_units():
    scn = load_scenario(HETERO)
    from edgeplan.variants import expand
    assert expand(scn, "channels.ap0.bandwidth", parse_values("10 MHz:30 MHz:3")) == [10e6, 20e6, 30e6]
    assert expand(scn, "channels.ap0.bandwidth", parse_values("log:1e6:1e8:3")) == pytest.approx([1e6, 1e7, 1e8])
    assert expand(scn, "nodes.jetson.count", parse_values("1:10:4")) == [1, 4, 7, 10]
    with pytest.raises(ScenarioError, match=r"range 'lin:0.8:0.95:4': 'lin:' is no kind of range; give "
                                            r"start:stop:num \(linear\) or log:start:stop:num"):
        parse_values("lin:0.8:0.95:4")


def test_ray_engine_gives_the_same_table():
    pytest.importorskip("ray")
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    varies = [("channels.wlan.bandwidth", [2e6, 5e6, 2e7]), ("nodes.pi.compute", [1e9, 4e9])]
    a = sweep(scn, varies, ["psl", "pel", "fl"], workers=2, engine="process")
    b = sweep(scn, varies, ["psl", "pel", "fl"], workers=2, engine="ray")
    pd.testing.assert_frame_equal(a.table, b.table)


def test_process_pool_and_serial_give_the_same_table():
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    varies = [("channels.wlan.bandwidth", [2e6, 5e6, 2e7, 5e7]), ("nodes.pi.compute", [1e9, 4e9])]
    a = sweep(scn, varies, ["psl", "sl"], workers=1)
    b = sweep(scn, varies, ["psl", "sl"], workers=2, chunk=1)
    pd.testing.assert_frame_equal(a.table, b.table)


ONE = """name: one
model: {{profile: p.csv}}
training: {{batch_size: 10, local_iterations: 2}}
nodes:
  - {{name: s, role: server, compute: 1e12, power: 10, call_overhead: 0, memory_bandwidth: 1e300}}
  - {{name: d, role: device, count: 2, compute: 1e9, power: 1, tx_power: 0.1, call_overhead: 0, memory_bandwidth: 1e300}}
links:
  - {{from: d, to: s, channel: c, spectral_efficiency: 2, latency: 0.01}}
channels:
  - {{name: c, bandwidth: 1e6}}
{extra}"""


def _one(tmp_path, extra=""):
    (tmp_path / "p.csv").write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes\n"
                                    "input,0,0,100,0,0,0\nu1,1e6,2e6,1000,0,1000,4000\nu2,1e6,2e6,10,0,250,1000\n")
    p = tmp_path / "one.yaml"
    p.write_text(ONE.format(extra=extra))
    return load_scenario(p)


def test_capacity_finds_the_hand_computed_bandwidth(tmp_path):
    scn = _one(tmp_path)
    comp = 2 * (10 * 6e6 + 4 * 1250) / 1e9       # tau (b F(L) + the update, 4 FLOPs per parameter) / f
    W = 5000.0                                    # model bytes, up and down
    target = 0.5
    # fl, two devices on the channel (half each): comp + 2 (lat + 8 W / (B eta / 2)) = target
    want = 16 * W / (target - comp - 2 * 0.01)
    res = capacity(scn, ("round_latency_s", target), "channels.c.bandwidth", "fl")
    assert res.monotone and res.direction == "least"
    assert res.value == pytest.approx(want, rel=2e-4)


def test_capacity_most_devices(tmp_path):
    scn = load_scenario(HETERO)
    res = capacity(scn, ("round_latency_s", 60.0), "nodes.jetson.count", "psl")
    assert res.direction == "most" and isinstance(res.value, int)
    ok = paradigms.get("psl").solve(CostModel(variant(scn, {"nodes.jetson.count": res.value})))
    too_many = paradigms.get("psl").solve(CostModel(variant(scn, {"nodes.jetson.count": res.value + 1})))
    assert ok.predicted["round_latency_s"] <= 60 < too_many.predicted["round_latency_s"]


def test_capacity_says_when_not_monotone(tmp_path):
    # pipelining: more micro-batches overlap the stages, but every micro-batch message pays the
    # link latency: the round falls, then rises again with the number of micro-batches
    scn = load_scenario(SCENARIOS / "dsgd-chain.yaml")
    res = capacity(scn, ("round_latency_s", 0.6), "paradigms.dsgd.microbatches", "dsgd", lo=1, hi=64)
    assert not res.monotone and res.value is None
    assert "is not monotone in paradigms.dsgd.microbatches" in res.message


def test_capacity_over_an_unset_field_asks_for_the_range():
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    with pytest.raises(PlanError, match="paradigms.sl.min_cut is not set.*--lo and --hi"):
        capacity(scn, ("round_latency_s", 1.0), "paradigms.sl.min_cut", "sl")
    res = capacity(scn, ("round_latency_s", 5.0), "paradigms.sl.min_cut", "sl", lo=0, hi=5)
    assert res.direction == "most" and res.value == 2      # a cut past unit 2 puts conv2 on the devices


def test_capacity_range_may_be_written_either_way_and_cross_zero():
    """--lo 1e9 --hi 1e6 used to report 'the most bandwidth' (the direction came from the range's
    order); a range through zero (a gain in dB) ended in an internal error (geometric probes)."""
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    up = capacity(scn, ("round_latency_s", 2.0), "channels.wlan.bandwidth", "fl", lo=1e6, hi=1e9)
    down = capacity(scn, ("round_latency_s", 2.0), "channels.wlan.bandwidth", "fl", lo=1e9, hi=1e6)
    assert up.direction == down.direction == "least" and down.value == pytest.approx(up.value)
    res = capacity(load_scenario(SCENARIOS / "pel-shannon.yaml"), ("round_latency_s", 0.5),
                   "links.mid-phone.gain_db", "pel", lo=-10, hi=10)
    assert list(res.probes["links.mid-phone.gain_db"]) == pytest.approx(np.linspace(-10, 10, 9))


def test_capacity_default_range_for_decibels_and_values_not_positive():
    """A gain of -90 dB searched by default over -90/100 .. -90 x 100 (-0.9 .. -9000) ran into the
    schema's -400 dB; decibels are already logarithmic: 20 dB either side, the linear factor of 100."""
    scn = load_scenario(SCENARIOS / "pel-shannon.yaml")
    res = capacity(scn, ("round_latency_s", 0.5), "links.mid-phone.gain_db", "pel")
    assert list(res.probes["links.mid-phone.gain_db"]) == pytest.approx(np.linspace(-110, -70, 9))
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["nodes"][1]["rx_power"] = "0 W"
    with pytest.raises(PlanError, match=r"is 0 in the scenario: there is no default range.*--lo and --hi"):
        capacity(from_data(data, "s.yaml"), ("energy_j", 1.0), "nodes.pi.rx_power", "fl")


@pytest.mark.parametrize("path, says", [
    ("links.0.bandwidth", "unknown field 'bandwidth'; choose one of from, to, channel"),
    ("nodes.pi.compte", "unknown field 'compte'; did you mean 'compute'?"),
    ("training.batchsize", "unknown field 'batchsize'; did you mean 'batch_size'?"),
    ("paradigms.pel.granularty", "unknown field 'granularty'; did you mean 'granularity'?")])
def test_a_path_to_a_field_that_does_not_exist_is_refused_before_planning(path, says):
    """A misspelt field used to plan nothing at every point of a sweep (an empty table, exit 0)
    and to end a capacity search in an internal error."""
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    with pytest.raises(ScenarioError, match=f"--vary {path}: " + says.replace("?", r"\?")):
        sweep(scn, [(path, [1, 2])], ["fl"], workers=1)
    with pytest.raises(ScenarioError, match=says.replace("?", r"\?")):
        capacity(scn, ("round_latency_s", 1.0), path, "fl")
    with pytest.raises(PlanError, match="model.kwargs.width is not set.*--lo and --hi"):
        capacity(scn, ("round_latency_s", 1.0), "model.kwargs.width", "fl")   # a zoo model has no kwargs


def test_sweep_cli_says_when_points_are_invalid(tmp_path):
    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn = str(SCENARIOS / "digits-small.yaml")
    r = CliRunner().invoke(app, ["sweep", scn, "--vary", "channels.wlan.bandwidth=-1,-2", "-p", "fl",
                                 "--methods", "optimal", "--workers", "1", "--out", str(tmp_path / "sw")])
    assert r.exit_code == 2, r.output
    assert "every point of the sweep is invalid: channels[0].bandwidth: must be positive, got -1; " in r.output
    assert not (tmp_path / "sw").exists()
    r = CliRunner().invoke(app, ["sweep", scn, "--vary", "channels.wlan.bandwidth=-1,5e6", "-p", "fl",
                                 "--methods", "optimal", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "1 of 2 plans skipped, their point is invalid: channels[0].bandwidth: must be positive" in r.output


@pytest.mark.parametrize("scenario, name", [("psl-hetero", "psl"), ("fpl-fog", "fpl"), ("digits-small", "sl")])
def test_pareto_points_are_feasible_and_non_dominated(scenario, name):
    front = pareto(load_scenario(SCENARIOS / f"{scenario}.yaml"), name, points=8)
    # one point where the least-latency plan is also the least-energy one (fpl-fog, digits-small sl)
    assert len(front) >= (2 if name == "psl" else 1)
    assert front.feasible.all()
    for i, a in front.iterrows():
        for j, b in front.iterrows():
            if i != j:
                dominates = (b.round_latency_s <= a.round_latency_s and b.energy_j <= a.energy_j and
                             (b.round_latency_s < a.round_latency_s or b.energy_j < a.energy_j))
                assert not dominates
    assert np.all(np.diff(front.round_latency_s) > 0) and np.all(np.diff(front.energy_j) < 0)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.parametrize("command", ["compare", "sweep", "capacity", "pareto", "validate"])
def test_html_report_renders_in_headless_chromium(tmp_path, command):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium (Debian: apt-get install chromium)")
    scn = SCENARIOS / "digits-small.yaml"
    cli = [sys.executable, "-m", "edgeplan.cli"]
    if command == "compare":
        args, page = ["compare", scn, "--html", tmp_path / "r.html"], tmp_path / "r.html"
    elif command == "sweep":
        args, page = ["sweep", scn, "--vary", "channels.wlan.bandwidth=2MHz,10MHz", "-p", "psl,fl", "--out", tmp_path], \
            tmp_path / "report.html"
    elif command == "capacity":
        args, page = ["capacity", scn, "--target", "round_latency_s=3", "--vary", "channels.wlan.bandwidth",
                      "--html", tmp_path / "r.html"], tmp_path / "r.html"
    elif command == "pareto":
        args, page = ["pareto", scn, "-p", "psl", "--points", "4", "--out", tmp_path], tmp_path / "report.html"
    else:
        plan = tmp_path / "p.json"
        subprocess.run(cli + ["plan", scn, "-p", "psl", "--out", plan], check=True, capture_output=True)
        args, page = ["validate", scn, plan, "--rounds", "2", "--out", tmp_path / "v"], tmp_path / "v" / "report.html"
    r = subprocess.run(cli + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    import re
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    rows = int(re.search(r'data-tables="(\d+)"', dom).group(1))
    assert images >= 1 and loaded == images
    assert rows >= 1
    # every table fits a 1280-pixel window, and speaks in words and units, not raw names or 1e+08
    assert int(re.search(r'data-too-wide="(\d+)"', dom).group(1)) == 0
    cells = " ".join(re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", dom, flags=re.S))
    assert not re.search(r"\de[+-]\d\d", cells), cells[:500]
    assert "round_latency_s" not in cells and "energy_j" not in cells
    if command == "validate":         # what it trained on and reached, as the console says it
        assert "data split IID: pi-0 500 (10 classes" in dom and "this host calibrated at" in dom


def test_sweep_over_replicas_auto_shows_epoch_times(tmp_path):
    """A field that also takes a word (replicas: 1, 2, auto) sweeps, plots on a categorical axis
    and writes parquet; the winners' column shows the time per epoch its label names (it showed
    the objective per sample under that label)."""
    scn = load_scenario(SCENARIOS / "dsgd-replicas.yaml")
    res = sweep(scn, [("paradigms.dsgd.replicas", parse_values("1,2,auto"))], ["dsgd", "fl"], workers=1)
    w = res.winners_shown()
    assert list(w["paradigms.dsgd.replicas"]) == [1, 2, "auto"]
    assert (w.paradigm == "dsgd").all()
    np.testing.assert_allclose(w[res.ranking].astype(float), w.epoch_time_s.astype(float))
    assert float(w[res.ranking].iloc[2]) < float(w[res.ranking].iloc[0])      # replicas pay here
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "sweep", str(SCENARIOS / "dsgd-replicas.yaml"),
                        "-p", "dsgd", "-p", "fl", "--vary", "paradigms.dsgd.replicas=1,auto", "--out",
                        str(tmp_path / "sw")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "2 paradigms" in r.stdout
    assert pd.read_parquet(tmp_path / "sw" / "sweep.parquet")["paradigms.dsgd.replicas"].tolist().count("auto") == 4


def test_a_ray_address_where_nothing_answers_is_refused_at_once():
    """ray.init retried for minutes, printing its own connection warnings."""
    pytest.importorskip("ray")
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    with pytest.raises(PlanError, match=r"--address 127.0.0.1:1: no Ray cluster answers there .*ray start --head"):
        sweep(scn, [("training.batch_size", [8])], ["sl"], engine="ray", address="127.0.0.1:1")
    with pytest.raises(PlanError, match="--address nohost: give HOST:PORT"):
        sweep(scn, [("training.batch_size", [8])], ["sl"], engine="ray", address="nohost")


def test_sweep_winners_of_a_grid_read_at_80_columns_with_units():
    """Two varied paths beside 'time to the target accuracy (s)' made the table wider than 80
    columns and the figure column was cut off; the per-epoch figures had no unit."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["sweep", str(HETERO), "-p", "psl", "--methods", "optimal", "--workers", "1",
                                 "--vary", "channels.ap0.bandwidth=2e7,4e7", "--vary", "nodes.rpi3.compute=1e9,1e10"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("channels.ap0.bandwidth"))
    import re
    assert lines[head].split()[-1] == "time/epoch" and all(len(line) <= 80 for line in lines[head:head + 6])
    assert all(re.search(r"\d s$", line) for line in lines[head + 2:head + 6]), lines[head:head + 6]


def test_report_tables_right_align_quantities_written_in_units():
    """validate's predicted/measured table and compare's rounds to target were strings, so they
    sat left beside right-aligned numbers; names and words stay left."""
    from edgeplan.htmlreport import _align
    assert _align(pd.Series(["2.59 s", "1.8%", "0.98x"])) == "num"
    assert _align(pd.Series(["12 (10-never)", "no curve", "never"])) == "num"
    assert _align(pd.Series([1.5, 2.0])) == "num" and _align(pd.Series([True, False])) == "text"
    assert _align(pd.Series(["phone", "pi-0"])) == "text" and _align(pd.Series(["no curve"])) == "text"
    assert _align(pd.Series(["5G-ap", "3rd-floor"])) == "text" and _align(pd.Series(["12", "7"])) == "num"


def test_pareto_console_shows_what_the_scenario_has(tmp_path):
    """The front's table had a time-to-target column, blank, where the scenario has no curves, and a
    front of one point without a word on why there was nothing else."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["pareto", str(SCENARIOS / "digits-small.yaml"), "-p", "psl", "--points", "3"])
    assert r.exit_code == 0 and "time to" not in r.output and "least energy" in r.output, r.output
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["links"] = [{"from": "pi", "to": "edge", "uplink": "10 Mbit/s"}, {"from": "phone", "to": "edge",
                                                                             "uplink": "10 Mbit/s"}]
    for k in (1, 2):                                # every device alike, on fixed-rate links
        data["nodes"][k].update(compute="8 GFLOPS", power="3 W", tx_power="0.6 W", rx_power="0.3 W")
    data.pop("channels")
    (tmp_path / "alike.yaml").write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(app, ["pareto", str(tmp_path / "alike.yaml"), "-p", "psl", "--points", "3"])
    assert r.exit_code == 0 and "one point: the least-latency plan also takes the least energy here, nothing to " \
        "trade" in " ".join(r.output.split()), r.output


def test_report_notes_set_commands_in_code_type_and_escape_the_rest(tmp_path):
    """Notes quote commands as the console does, in backticks: the page showed the backticks."""
    from edgeplan.htmlreport import Report
    Report("t").text("times: `--executor distributed --shaped` <b>x</b>").write(tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<code>--executor distributed --shaped</code> &lt;b&gt;x&lt;/b&gt;" in page and "`" not in page


def test_an_interrupted_sweep_keeps_the_points_planned(monkeypatch):
    """Ctrl-C (or SIGTERM) half-way: still an interruption, carrying the points planned so far."""
    import edgeplan.whatif as W
    real, calls = W._chunk, []

    def then_interrupted(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt("signal 15")
        return real(job)
    monkeypatch.setattr(W, "_chunk", then_interrupted)
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    from edgeplan.whatif import SweepInterrupted
    with pytest.raises(KeyboardInterrupt) as stop:      # still an interruption to the caller
        sweep(scn, [("channels.wlan.bandwidth", parse_values("log:1MHz:100MHz:8"))], ["psl"], "optimal",
              engine="serial", chunk=2)
    assert isinstance(stop.value, SweepInterrupted)
    res = stop.value.result
    assert res.interrupted and (res.points, res.points_done) == (8, 4)
    assert res.table["channels.wlan.bandwidth"].nunique() == 4 and set(res.table.paradigm) == {"psl"}


def test_sweep_resume_plans_only_what_the_table_lacks(tmp_path, monkeypatch):
    """--resume takes the points in --out's sweep.csv (values read back exactly, the grid's floats)
    and plans the rest: the same table as one uninterrupted sweep."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    args = ["sweep", str(SCENARIOS / "digits-small.yaml"), "--vary", "channels.wlan.bandwidth=log:1MHz:100MHz:9",
            "--vary", "training.batch_size=16,32", "-p", "psl,fl", "--workers", "1"]
    r = CliRunner().invoke(app, args + ["--out", str(tmp_path / "whole")])
    assert r.exit_code == 0, r.output
    whole = pd.read_csv(tmp_path / "whole" / "sweep.csv")
    part = tmp_path / "part"
    part.mkdir()
    bw = sorted(whole["channels.wlan.bandwidth"].unique())
    cut = whole[whole["channels.wlan.bandwidth"].isin(bw[:4]) & ~((whole["channels.wlan.bandwidth"] == bw[3]) &
                                                                 (whole.paradigm == "fl"))]
    cut.to_csv(part / "sweep.csv", index=False)           # 6 whole points, 2 without fl
    import edgeplan.whatif as W
    planned = []
    real = W.plan_point
    monkeypatch.setattr(W, "plan_point", lambda s, v, *a: planned.append(v) or real(s, v, *a))
    r = CliRunner().invoke(app, args + ["--out", str(part), "--resume"])
    assert r.exit_code == 0, r.output
    assert "took 6 of the 18 points" in r.output and len(planned) == 12 + 1      # + a taken one, checked
    again = pd.read_csv(part / "sweep.csv")
    key = ["channels.wlan.bandwidth", "training.batch_size", "paradigm", "method"]
    pd.testing.assert_frame_equal(again.sort_values(key).reset_index(drop=True)[whole.columns],
                                  whole.sort_values(key).reset_index(drop=True), check_exact=False, rtol=1e-12)
    other = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "digits-small.yaml"), "--vary",
                                     "channels.wlan.bandwidth=1MHz", "-p", "psl", "--out", str(part), "--resume"])
    assert other.exit_code == 2 and "varies channels.wlan.bandwidth, training.batch_size, this sweep " \
        "channels.wlan.bandwidth; use another --out" in " ".join(other.output.split()), other.output
    assert CliRunner().invoke(app, args + ["--resume"]).exit_code == 2          # nowhere to resume from
    # a table planned from another scenario (or with other --methods) is refused, not mixed in
    edited = tmp_path / "edited.yaml"
    edited.write_text((SCENARIOS / "digits-small.yaml").read_text().replace("compute: 8 GFLOPS", "compute: 3 GFLOPS"))
    assert edited.read_text() != (SCENARIOS / "digits-small.yaml").read_text()
    r = CliRunner().invoke(app, [args[0], str(edited)] + args[2:] + ["--out", str(part), "--resume"])
    assert r.exit_code == 2 and "planned from another scenario" in r.output, r.output
    r = CliRunner().invoke(app, args + ["--methods", "optimal", "--out", str(part), "--resume"])
    assert r.exit_code == 2 and "--methods differs?" in " ".join(r.output.split()), r.output


def test_a_fault_at_one_point_of_a_sweep_is_recorded_and_the_rest_planned(tmp_path, monkeypatch):
    """An unexpected exception at one point ended the whole sweep, every planned point lost: it
    is now that point's row (status error, what and where), the note says so, and the exit is 1
    after the outputs are written."""
    import dataclasses

    from edgeplan.cli import app
    from typer.testing import CliRunner
    psl = paradigms.get("psl")
    best = psl.fastest or psl.default
    real = psl.solvers[best].fn

    def fails_on_narrow_channels(cm):
        if next(c for c in cm.scn.spec.channels if c.name == "wlan").bandwidth < 2e6:
            raise ZeroDivisionError("float division by zero")
        return real(cm)
    monkeypatch.setitem(psl.solvers, best, dataclasses.replace(psl.solvers[best], fn=fails_on_narrow_channels))
    r = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "digits-small.yaml"), "--vary",
                                 "channels.wlan.bandwidth=1MHz,5MHz,10MHz", "-p", "psl", "--methods", "optimal",
                                 "--workers", "1", "--out", str(tmp_path)])
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())
    assert "note: 1 of 3 plans failed, the other points are planned: internal error: ZeroDivisionError: float " \
        "division by zero (at test_whatif.py:" in said and "please report it" in said, said
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert list(table.status) == ["error", "optimal", "optimal"] and (tmp_path / "report.html").exists()
