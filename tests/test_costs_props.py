"""Invariants of the cost model on random scenarios (hypothesis), and plan files round-tripping."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.evaluation import evaluate_plan
from edgeplan.planfile import Plan
from edgeplan.scenario import from_data, load_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import SCENARIOS

_TMP = Path(tempfile.mkdtemp(prefix="edgeplan-props-"))


@st.composite
def scenarios(draw):
    L = draw(st.integers(2, 5))
    rows = ["name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes", f"input,0,0,{draw(st.integers(10, 10**5))},0,0,0"]
    for k in range(L):
        f = draw(st.floats(1e3, 1e9))
        p = draw(st.integers(1, 10**6))
        rows.append(f"u{k},{f},{f * draw(st.floats(1.0, 3.0))},{draw(st.integers(1, 10**6))},"
                    f"{draw(st.integers(0, 10**6))},{p},{4 * p}")
    prof = _TMP / f"p{abs(hash(tuple(rows)))}.csv"
    prof.write_text("\n".join(rows) + "\n")
    n = draw(st.integers(1, 4))
    shannon = draw(st.booleans())
    nodes = [{"name": "srv", "role": "server", "compute": draw(st.floats(1e9, 1e13)), "power": draw(st.floats(1, 300)),
              "tx_power": draw(st.floats(0.1, 5)), "rx_power": draw(st.floats(0, 2))}]
    links = []
    for i in range(n):
        nodes.append({"name": f"d{i}", "role": "device", "compute": draw(st.floats(1e8, 1e11)),
                      "power": draw(st.floats(0.5, 20)), "tx_power": draw(st.floats(0.05, 2)),
                      "rx_power": draw(st.floats(0, 1)), "data_source": draw(st.sampled_from(["a", "b"]))})
        lk = {"from": f"d{i}", "to": "srv", "channel": "ch", "latency": draw(st.floats(0, 0.05))}
        if shannon:
            lk["gain_db"] = draw(st.floats(-110, -60))
        else:
            lk["spectral_efficiency"] = draw(st.floats(0.5, 8))
        links.append(lk)
    ch = {"name": "ch", "bandwidth": draw(st.floats(1e5, 1e8))}
    if shannon:
        ch["noise_density"] = "-174 dBm/Hz"
    return {"name": "rand", "model": {"profile": str(prof)},
            "training": {"batch_size": draw(st.integers(1, 64)), "local_iterations": draw(st.integers(1, 4)),
                         "rounds": 3},
            "nodes": nodes, "links": links, "channels": [ch]}


def _scaled(data: dict, k: float) -> dict:
    d = copy.deepcopy(data)
    d["channels"][0]["bandwidth"] *= k
    return d


def _baseline_plans(cm):
    out = []
    for name in paradigms.NAMES:
        para = paradigms.get(name)
        m = para.baselines()[0]
        out.append((para, para.solvers[m].fn(cm).decisions))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.floats(1.01, 100))
def test_more_bandwidth_never_slower_and_bytes_do_not_depend_on_rates(data, k):
    cm = CostModel(from_data(data))
    cm2 = CostModel(from_data(_scaled(data, k)))
    for para, dec in _baseline_plans(cm):
        a, b = para.cost(cm, dec), para.cost(cm2, dec)
        assert b.round_latency <= a.round_latency * (1 + 1e-12), para.name
        assert b.comm_bytes == pytest.approx(a.comm_bytes, rel=1e-12), para.name
        assert a.round_latency > 0 and a.energy > 0, para.name
        assert a.device_energy >= 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.floats(1.01, 100))
def test_optimum_with_more_bandwidth_is_never_slower(data, k):
    cm = CostModel(from_data(data))
    cm2 = CostModel(from_data(_scaled(data, k)))
    for name in ("fl", "psl", "pel"):
        para = paradigms.get(name)
        a = para.solve(cm).predicted["round_latency_s"]
        b = para.solve(cm2).predicted["round_latency_s"]
        assert b <= a * (1 + 1e-7), name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fl_bytes_are_twice_devices_times_model(data):
    cm = CostModel(from_data(data))
    c = paradigms.get("fl").solve(cm)
    n = len(cm.devices)
    expect = 2 * n * cm.table.pbytes.sum() if n > 1 else 0.0     # a lone device has nobody to average with
    assert c.predicted["comm_bytes"] == pytest.approx(expect, rel=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(paradigms.NAMES))
def test_plan_survives_json_round_trip(data, name):
    cm = CostModel(from_data(data))
    p = paradigms.get(name).solve(cm)
    path = _TMP / f"plan-{name}.json"
    p.save(path)
    q = Plan.load(path)
    assert q.to_dict() == p.to_dict()
    assert q == p


@pytest.mark.parametrize("scenario", ["digits-small", "psl-hetero", "fpl-fog"])
@pytest.mark.parametrize("name", paradigms.NAMES)
def test_evaluate_of_written_plan_equals_its_prediction(tmp_path, scenario, name):
    scn = load_scenario(SCENARIOS / f"{scenario}.yaml")
    cm = CostModel(scn)
    p = paradigms.get(name).solve(cm)
    p.save(tmp_path / "p.json")
    costs, fresh = evaluate_plan(load_scenario(SCENARIOS / f"{scenario}.yaml"), Plan.load(tmp_path / "p.json"))
    for key in ("round_latency_s", "energy_j", "device_energy_j", "comm_bytes"):
        assert fresh.predicted[key] == pytest.approx(p.predicted[key], rel=1e-12, abs=0), key
    assert fresh.objective["value"] == pytest.approx(p.objective["value"], rel=1e-12)
    assert costs.round_latency == pytest.approx(p.predicted["round_latency_s"], rel=1e-12)


def test_evaluate_rejects_plans_that_do_not_fit(tmp_path):
    from edgeplan.errors import PlanError
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    p = paradigms.get("psl").solve(CostModel(scn))
    d = p.to_dict()
    bad = copy.deepcopy(d)
    bad["assignments"][0]["node"] = "ghost"
    with pytest.raises(PlanError, match=r"plan names node 'ghost', which the scenario does not define"):
        evaluate_plan(scn, Plan.from_dict(bad))
    bad = copy.deepcopy(d)
    bad["assignments"][0]["cut"] = 99
    with pytest.raises(PlanError, match=r"cut 99 out of range: the model has 6 units, so a cut is an integer in 0\.\.6"):
        evaluate_plan(scn, Plan.from_dict(bad))
    bad = copy.deepcopy(d)
    for a in bad["assignments"]:
        if a.get("role") == "device":
            a["channel_share"] = 0.9
    with pytest.raises(PlanError, match=r"channel 'wlan': shares of pi-0, pi-1, phone sum to 2\.7 > 1"):
        evaluate_plan(scn, Plan.from_dict(bad))
    bad = copy.deepcopy(d)
    bad["assignments"][0]["channel_share"] = 1.5
    with pytest.raises(PlanError, match=r"assignment of 'pi-0': channel_share 1\.5 out of range \[0, 1\]"):
        evaluate_plan(scn, Plan.from_dict(bad))


def test_plan_views_and_repr():
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    p = paradigms.get("psl").solve(CostModel(scn))
    df = p.assignments_df
    assert set(scn.devices) <= set(df.index)
    assert {"cut", "channel_share", "round_latency_s", "energy_j", "memory_bytes"} <= set(df.columns)
    assert "psl by exact" in repr(p)
    assert np.isclose(df.loc[scn.devices, "channel_share"].sum(), 1.0)
