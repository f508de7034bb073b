"""fpl: the MILP against brute force; trunk placement behaviour; capacity; re-planning."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from edgeplan import costs as C
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import InfeasibleError
from edgeplan.planfile import Plan
from edgeplan.replan import replan
from edgeplan.scenario import from_data, load_scenario
from edgeplan.solvers.fpl_solvers import groupings, junctions, trunk_candidates
from edgeplan.solvers.shares import minmax_time
from edgeplan.synthetic import fpl_instance

from .conftest import SCENARIOS

FPL = paradigms.get("fpl")


def brute(cm: CostModel) -> float:
    """Every junction x grouping x trunk; min-max shares by scipy's brentq on each channel."""
    best = np.inf
    for j, g, t in itertools.product(junctions(cm), groupings(cm), trunk_candidates(cm)):
        from edgeplan.solvers.fpl_solvers import FplCase
        case = FplCase(cm, j, t, g)
        if not case.fits:
            continue
        T, share = minmax_time(case.R, case.A, case.U, case.D)
        c = C.fpl(cm, j, g, t, share)
        if c.feasible:
            best = min(best, c.round_latency)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_milp_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    scn = fpl_instance(int(rng.integers(2, 7)), int(rng.integers(1, 4)), seed, sources=int(rng.integers(1, 3)),
                       zoo=None, L=int(rng.integers(2, 5)))
    data = dict(scn.raw)
    data["paradigms"] = {"fpl": {"groups": "auto" if seed % 2 else "data_source"}}
    cm = CostModel(from_data(data))
    want = brute(cm)
    got = FPL.solve(cm, "milp").predicted["round_latency_s"]
    ex = FPL.solve(cm, "exact").predicted["round_latency_s"]
    assert got == pytest.approx(want, rel=1e-6)
    assert ex == pytest.approx(want, rel=1e-6)


TOPO = """name: place
model: {{zoo: fpl_cnn, input_shape: [1, 28, 28], num_classes: 47}}
training: {{batch_size: 32, local_iterations: 2}}
nodes:
  - {{name: cam, role: device, count: 4, compute: 3 GFLOPS, power: 2 W, tx_power: 0.3 W, memory: 1 GiB, data_source: s}}
  - {{name: near, role: fog, compute: {near}, power: 30 W, memory: {near_mem}}}
  - {{name: far, role: cloud, compute: 10 TFLOPS, power: 400 W, memory: 256 GiB}}
links:
  - {{from: cam, to: near, channel: w, spectral_efficiency: 4, latency: 2 ms}}
  - {{from: near, to: far, uplink: {wan}, downlink: {wan}, latency: {wan_lat}}}
channels:
  - {{name: w, bandwidth: 40 MHz}}
"""


def _topo(near="500 GFLOPS", near_mem="8 GiB", wan="10 Mbit/s", wan_lat="80 ms"):
    import yaml
    return CostModel(from_data(yaml.safe_load(TOPO.format(near=near, near_mem=near_mem, wan=wan, wan_lat=wan_lat))))


def test_trunk_next_to_the_data_when_links_are_slow():
    assert FPL.solve(_topo()).paradigm_detail["trunk"] == "near"


def test_trunk_far_away_when_the_near_node_is_slow():
    assert FPL.solve(_topo(near="0.5 GFLOPS", wan="10 Gbit/s", wan_lat="1 ms")).paradigm_detail["trunk"] == "far"


def test_fog_node_over_capacity_is_not_chosen():
    p = FPL.solve(_topo(near_mem="100 KiB"))
    assert p.paradigm_detail["trunk"] == "far"
    for m in ("exact", "milp"):
        assert FPL.solve(_topo(near_mem="100 KiB"), m).paradigm_detail["trunk"] == "far"


def test_no_trunk_fits_is_explained():
    import yaml
    data = yaml.safe_load(TOPO.format(near="1 TFLOPS", near_mem="100 KiB", wan="1 Gbit/s", wan_lat="5 ms"))
    data["nodes"][2]["memory"] = "100 KiB"
    with pytest.raises(InfeasibleError, match=r"the trunk needs .* of memory, the node has 100 KiB"):
        FPL.solve(CostModel(from_data(data)))


def test_junction_extra_parameters_are_reported():
    p = FPL.solve(CostModel(load_scenario(SCENARIOS / "fpl-fog.yaml")), "last_layer")
    d = p.paradigm_detail
    cm = CostModel(load_scenario(SCENARIOS / "fpl-fog.yaml"))
    assert d["groups"] == 2
    assert d["junction_extra_params"] == cm.table.params[-1]


def test_compare_note_reads_as_words():
    """compare's note said 'branches hold units 1-1' and 'takes 2 branch(es)'."""
    from edgeplan.comparison import plan_note
    from edgeplan.tables import unit_span
    from edgeplan.units import plural
    assert (unit_span(1, 1), unit_span(1, 5)) == ("unit 1", "units 1-5")
    assert (plural(1, "branch"), plural(2, "branch"), plural(3, "device")) == ("1 branch", "2 branches", "3 devices")
    p = FPL.solve(CostModel(load_scenario(SCENARIOS / "fpl-fog.yaml")), "last_layer")
    note = plan_note(p)
    assert "2 branches" in note and "branch(es)" not in note and "units 1-1," not in note
    # the junction layer by its unit and its module's name (a Sequential's module "6" read as a unit)
    j = p.paradigm_detail["junction"]
    assert f"the junction layer (unit {j + 1}, module {p.paradigm_detail['junction_unit']})" in note
    one = FPL.solve(CostModel(load_scenario(SCENARIOS / "dsgd-replicas.yaml")))    # one branch group: nothing joins
    assert one.paradigm_detail["groups"] == 1
    assert "one branch group" in plan_note(one) and "joins" not in plan_note(one)
    from edgeplan.cli import app
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["plan", str(SCENARIOS / "fpl-fog.yaml"), "-p", "fpl"])
    assert r.exit_code == 0 and "joins 2 branches" in " ".join(r.output.split()) and "detail:" not in r.output


def test_replan_after_removing_a_device_changes_only_what_it_must(tmp_path):
    import yaml
    path = SCENARIOS / "fpl-fog.yaml"
    old = FPL.solve(CostModel(load_scenario(path)))
    data = yaml.safe_load(path.read_text())
    data["nodes"][1]["count"] = 5                       # cam-b-5 leaves (the trunk stays optimal)
    cm = CostModel(from_data(data, str(path)))
    new, changes = replan(cm, FPL, Plan.from_dict(old.to_dict()))
    assert "removed cam-b-5" in changes
    assert new.paradigm_detail["junction"] == old.paradigm_detail["junction"]
    assert new.paradigm_detail["trunk"] == old.paradigm_detail["trunk"]
    # only site B's devices (who share cam-b-5's channel) see their shares change
    moved = {c.split(":")[0] for c in changes if "channel share" in c}
    assert moved and all(n.startswith("cam-b-") for n in moved)
    assert not any(c.startswith("cam-a-") and "group" in c for c in changes)


def test_replan_cli_prints_changes(tmp_path):
    import subprocess
    import sys

    import yaml
    src = SCENARIOS / "fpl-fog.yaml"
    old = tmp_path / "old.json"
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "plan", src, "-p", "fpl", "--out", old],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(src.read_text())
    data["nodes"][1]["count"] = 7                       # cam-b-6 joins
    new_scn = tmp_path / "fpl-fog.yaml"
    new_scn.write_text(yaml.safe_dump(data))
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "plan", new_scn, "-p", "fpl", "--from", old],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "what changed" in r.stdout and "added cam-b-6" in r.stdout


def _with_trunk_shares(scn):
    data = dict(scn.raw)
    data["paradigms"] = {"fpl": {"server_shares": True}}
    return CostModel(from_data(data, scn.source))


def _cvxpy_round(case) -> float:
    """The same case's least round with trunk and channel shares free, by Clarabel."""
    import cvxpy as cp
    from edgeplan.solvers.shares import channel_positions
    R, n, K = case.R, len(case.A0), case.K
    al, be, T = cp.Variable(n, pos=True), cp.Variable(n, pos=True), cp.Variable()
    cons = [case.A0[i] + case.trunk_c[i] * cp.inv_pos(al[i]) + (K[i] * cp.inv_pos(be[i]) if K[i] > 0 else 0) <= T
            for i in range(n)]
    cons += [cp.sum(al) <= 1] + [cp.sum(be[pos]) <= 1 for pos in channel_positions(R).values()]
    cp.Problem(cp.Minimize(T), cons).solve(solver="CLARABEL")
    return float(T.value)


@pytest.mark.parametrize("seed", range(10))
def test_trunk_shares_match_a_convex_solver_and_never_lose(seed):
    from edgeplan.solvers.fpl_solvers import FplCase
    rng = np.random.default_rng(100 + seed)
    scn = fpl_instance(int(rng.integers(2, 7)), int(rng.integers(1, 4)), seed, zoo=None, L=int(rng.integers(2, 5)))
    equal = FPL.solve(CostModel(scn), "exact").predicted["round_latency_s"]
    cm = _with_trunk_shares(scn)
    ex = FPL.solve(cm, "exact")
    mi = FPL.solve(cm, "milp")
    T = ex.predicted["round_latency_s"]
    assert T <= equal * (1 + 1e-9)
    assert mi.predicted["round_latency_s"] == pytest.approx(T, rel=1e-6)
    d = FPL.decode(cm, ex)
    assert d["alpha"] is not None and d["alpha"].sum() == pytest.approx(1.0)
    case = FplCase(cm, d["junction"], d["trunk"], d["groups"])
    assert case.allocate()[0] == pytest.approx(_cvxpy_round(case), rel=1e-6)
    # the plan's own prediction is what evaluate says of it (alpha travels in the plan)
    back = Plan.from_dict(json.loads(ex.to_json()))
    assert FPL.evaluate(cm, back).round_latency == pytest.approx(T, rel=1e-12)


def test_more_trunk_work_gets_a_larger_trunk_share():
    data = load_scenario(SCENARIOS / "digits-small.yaml").raw
    data = {**data, "paradigms": {"fpl": {"server_shares": True, "junction": 1}}}
    data["nodes"] = [dict(n) for n in data["nodes"]]
    data["nodes"][1]["samples"] = 500
    cm = CostModel(from_data(data))
    d = FPL.decode(cm, FPL.solve(cm, "exact"))
    # equal batches: the two Pi boards share everything and get equal trunk shares; the
    # phone computes its branch 4x faster, so it has more slack and needs less of the trunk
    a = dict(zip(d["devices"], d["alpha"]))
    assert a["pi-0"] == pytest.approx(a["pi-1"], rel=1e-9)
    assert a["phone"] < a["pi-0"]
