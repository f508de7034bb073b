"""Every bad input the reliability review found, at its smallest: a clear error (file, field, fix),
exit code 2 (3 where the problem is infeasible), never an internal error, a hang or a blow-up.
A quick sample of the fuzzer runs here too (benchmarks/bench_fuzz.py runs 10,000)."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from edgeplan.cli import app
from typer.testing import CliRunner

from .conftest import SCENARIOS, TINY_PROFILE
from .fuzzing import Tally, option_cases, plan_cases, run_cli, scenario_cases

DIGITS = SCENARIOS / "digits-small.yaml"


def _cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r.exit_code, r.output


def _scenario(tmp_path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _digits(**training):
    data = yaml.safe_load(DIGITS.read_text())
    data["training"].update(training)
    return data


# ---------------------------------------------------------------- scenario files

@pytest.mark.parametrize("text, message", [
    ("name: x\nmodel: " + "[" * 500 + "]" * 500 + "\n", "nested more than 64 levels deep"),
    ("a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]\n" for k in range(1, 10)),
     "expands to more than 1,000,000 values through YAML aliases"),
    ('name: "\\ud800"\nmodel: {zoo: mlp}\nnodes: []\n', "a lone surrogate"),
])
def test_malformed_yaml(tmp_path, text, message):
    code, out = _cli("check", _scenario(tmp_path, text))
    assert code == 2 and message in out, out


@pytest.mark.parametrize("shape, message", [
    ([1, 2, 2], "zoo model 'fpl_cnn' cannot take input_shape [1, 2, 2]: fpl_cnn needs inputs of at least 4x4"),
    ([], "model.input_shape: must not be empty"),
    ([1, 1, 8, 8], "model.input_shape: "),
    ([1, 8, 2 ** 63], "model.input_shape[2]: "),
])
def test_input_shapes_a_model_cannot_take(tmp_path, shape, message):
    data = yaml.safe_load(DIGITS.read_text())
    data["model"]["input_shape"] = shape
    code, out = _cli("check", _scenario(tmp_path, yaml.safe_dump(data)))
    assert code == 2 and message in out, out


@pytest.mark.parametrize("where, value, message", [
    (("nodes", 0, "power"), "5000 dBm", "'5000 dBm' is far too large"),
    (("links", 0, "gain_db"), 1e100, "links[0].gain_db: 1e+100 is too large: at most 400"),
    (("training", "local_iterations"), 2 ** 63, "training.local_iterations: 9223372036854775808 is too large"),
    (("nodes", 1, "count"), "3", "nodes[1].count: expected an int"),
    (("nodes", 1, "rx_power"), "1e-400 W", "'1e-400 W' is too small to be represented"),
    (("nodes", 0, "power"), "9" * 1_000_000, "nodes[0].power: '99999999999"),
])
def test_values_out_of_reason(tmp_path, where, value, message):
    data = yaml.safe_load(DIGITS.read_text())
    if where[0] == "links" and where[2] == "gain_db":
        data["links"][0].pop("spectral_efficiency")
        data["channels"][0]["noise_density"] = "-174 dBm/Hz"
    obj = data
    for k in where[:-1]:
        obj = obj[k]
    obj[where[-1]] = value
    code, out = _cli("check", _scenario(tmp_path, yaml.safe_dump(data, width=10 ** 7)))
    assert code == 2 and message in out, out
    assert len(out) < 600                                    # a rejected value is never echoed whole


def test_a_dsgd_path_across_a_missing_link(tmp_path):
    data = yaml.safe_load((SCENARIOS / "dsgd-chain.yaml").read_text())
    data["paradigms"]["dsgd"]["path"] = ["phone", "edge"]
    code, out = _cli("check", _scenario(tmp_path, yaml.safe_dump(data)))
    assert code == 2 and "paradigms.dsgd.path[1]: no link joins 'phone' and 'edge'" in out, out


def test_sl_with_no_finite_cut_is_infeasible_not_a_crash(tmp_path):
    (tmp_path / "huge.csv").write_text(TINY_PROFILE.replace("u2,2e6,4e6,50,100,100,400", "u2,2e6,4e6,50,100,100,1e308"))
    text = ("name: h\nmodel: {profile: huge.csv}\nnodes:\n  - {name: s, role: server, compute: 1e9, power: 1}\n"
            "  - {name: d, role: device, compute: 1e8, power: 1}\nlinks:\n  - {from: d, to: s, uplink: 1e6}\n"
            "paradigms: {sl: {min_cut: 2, max_cut: 3}}\n")
    code, out = _cli("plan", _scenario(tmp_path, text), "-p", "sl")
    assert code == 3 and "no cut in 2..3 gives a finite sl round" in out, out


def test_a_pickle_is_not_a_data_set(tmp_path):
    import pickle
    (tmp_path / "x.npz").write_bytes(pickle.dumps({"x": 1}))
    data = _digits(dataset=f"npz:{tmp_path / 'x.npz'}")
    scn = _scenario(tmp_path, yaml.safe_dump(data))
    code, out = _cli("plan", scn, "-p", "fl", "--out", tmp_path / "p.json")
    assert code == 0, out
    code, out = _cli("validate", scn, tmp_path / "p.json", "--rounds", "1")
    assert code == 2 and "not an NPZ file of arrays" in out, out


# ---------------------------------------------------------------- plan files

@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    d = tmp_path_factory.mktemp("plans")
    out = {}
    for p in ("psl", "fl"):
        code, text = _cli("plan", DIGITS, "-p", p, "--out", d / f"{p}.json")
        assert code == 0, text
        out[p] = json.loads((d / f"{p}.json").read_text())
    return out


def _plan_file(tmp_path, data) -> Path:
    p = tmp_path / "p.json"
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def _edit(plan, fn):
    d = copy.deepcopy(plan)
    fn(d)
    return d


def _row(d, key, value, i=0):
    d["assignments"][i][key] = value


@pytest.mark.parametrize("make, message", [
    (lambda p: b"\xff\xfe" + json.dumps(p["psl"]).encode(), "not a text file (byte 0 is not UTF-8)"),
    (lambda p: "[" * 100_000 + "]" * 100_000, "nested far too deeply"),
    (lambda p: _edit(p["psl"], lambda d: d.update(predicted=5)), "predicted: must be an object, got 5"),
    (lambda p: _edit(p["psl"], lambda d: d.update(solver="exact")), "solver: must be an object, got 'exact'"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "cut", "2")), "cut must be an integer, got '2'"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "cut", None)), "cut must be an integer, got None"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "cut", [1, 2])), "cut must be an integer, got [1, 2]"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "cut", True)), "cut must be an integer, got True"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "cut", -1)), "cut -1 out of range: the model has 6 units"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "channel_share", "abc")),
     "channel_share must be a finite number, got 'abc'"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "channel_share", -0.1)), "channel_share -0.1 out of range [0, 1]"),
    (lambda p: _edit(p["psl"], lambda d: _row(d, "channel_share", 0)), "its round never ends"),
    (lambda p: _edit(p["psl"], lambda d: d.update(paradigm="fl")),
     "has 'cut', which fl plans do not have (a sl decision: is this a sl plan?)"),
    (lambda p: _edit(p["psl"], lambda d: d["paradigm_detail"].update(server="pi-0")),
     "paradigm_detail.server: 'pi-0' is a device"),
    (lambda p: _edit(p["fl"], lambda d: d.update(scenario="psl-hetero")),
     "the plan was made for scenario 'psl-hetero', not 'digits-small'"),
])
@pytest.mark.parametrize("command", ["evaluate", "validate"])
def test_corrupted_plans(tmp_path, plans, make, message, command):
    f = _plan_file(tmp_path, make(plans))
    args = [command, DIGITS, f] + (["--rounds", "1"] if command == "validate" else [])
    code, out = _cli(*args)
    assert code == 2 and message in out, out


def test_a_plan_saved_with_a_byte_order_mark_is_read(tmp_path, plans):
    """An editor that saves UTF-8 with a BOM (Notepad) made a hand-edited plan 'not valid JSON'."""
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(plans["psl"]).encode())
    code, out = _cli("evaluate", DIGITS, f)
    assert code == 0, out


def test_a_folder_is_not_a_plan(tmp_path):
    code, out = _cli("evaluate", DIGITS, tmp_path)
    assert code == 2 and "is a directory, not a plan file" in out


# ---------------------------------------------------------------- the fuzzer, a quick sample

def test_fuzzed_scenarios_and_plans_never_raise_internal_errors():
    tmp = Path(tempfile.mkdtemp(prefix="edgeplan-fuzz-"))
    t = Tally()
    for k, (base, f) in enumerate(scenario_cases(60, 7, tmp)):
        code, out, s = run_cli(["check", str(f)])
        t.add(f"check {base.name} #{k}", code, out, s)
        if code == 0 and base.name == "digits-small.yaml":
            code, out, s = run_cli(["plan", str(f), "-p", "psl"])
            t.add(f"plan {base.name} #{k}", code, out, s)
    plan = tmp / "psl.json"
    run_cli(["plan", str(DIGITS), "-p", "psl", "--out", str(plan)])
    for k, (scn, f) in enumerate(plan_cases(60, 8, [(DIGITS, plan)], tmp)):
        code, out, s = run_cli(["evaluate", str(scn), str(f)])
        t.add(f"evaluate #{k}", code, out, s)
    assert not t.internal, t.internal[:3]
    assert not t.slow, t.slow


def test_odd_option_values_never_raise_internal_errors(tmp_path):
    """Every planning command with one option set to a negative, zero, huge, infinite or
    non-numeric value (bench_fuzz adds the commands that train): a capacity search over nan
    ends, an input shape of -1, a million Pareto points were internal errors or blow-ups."""
    t = Tally()
    for args in option_cases(tmp_path, train=False):
        code, out, s = run_cli(args)
        t.add(" ".join(args), code, out, s)
    assert t.runs > 150 and t.ok and t.bad_input
    assert not t.internal, t.internal[:3]
    assert not t.slow, t.slow


@pytest.mark.parametrize("detail, message", [
    ({"path": ["edge", "edge"]}, "visits a node twice"),
    ({"path": ["edge"], "source": "pi-0"}, "the data's source 'pi-0' is not on the path"),
])
def test_dsgd_plans_with_impossible_paths(tmp_path, detail, message):
    code, text = _cli("plan", DIGITS, "-p", "dsgd", "--out", tmp_path / "d.json")
    assert code == 0, text
    d = json.loads((tmp_path / "d.json").read_text())
    d["paradigm_detail"].update(detail)
    code, out = _cli("evaluate", DIGITS, _plan_file(tmp_path, d))
    assert code == 2 and message in out, out


def test_tables_a_spreadsheet_saved_with_a_byte_order_mark_are_read(tmp_path):
    """A curve table or a unit profile opened and saved as 'CSV UTF-8' gains a BOM before its first
    column, which read as a missing 'paradigm' (or 'name') column."""
    import numpy as np
    from edgeplan.convergence import Curve, Fit
    from edgeplan.curves import read_table, write_table
    from edgeplan.models.profile_io import read_profile_csv
    from edgeplan.scenario import load_scenario
    scn = load_scenario(DIGITS)
    write_table(tmp_path / "c.csv", [Curve("fl", "fl", 768.0, Fit("exp", np.array([0.97, 0.9, 3.0]),
                                                                   np.zeros((3, 3)), 0.01), None, 6, 2, 0.9)], scn)
    profile = SCENARIOS / "profiles" / "vgg19_cifar.csv"
    for src, read in ((tmp_path / "c.csv", read_table), (profile, read_profile_csv)):
        bom = tmp_path / f"bom-{src.name}"
        bom.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
        table = read(bom)
        assert len(table.curves if read is read_table else table.df) > 0
