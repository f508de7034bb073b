"""pel (PABA): the joint optimum against cvxpy and the other schemes; structural properties."""

from __future__ import annotations

import numpy as np
import pytest

from planner import paradigms
from planner.costs import CostModel
from planner.scenario import from_data
from planner.synthetic import pel_instance, random_profile

PEL = paradigms.get("pel")


@pytest.mark.parametrize("seed", range(12))
def test_joint_equals_cvxpy_and_beats_other_schemes(seed):
    rng = np.random.default_rng(seed)
    cm = CostModel(pel_instance(int(rng.integers(2, 7)), seed, shannon=bool(seed % 3 != 0), L=4))
    joint = PEL.solve(cm, "joint").predicted["round_latency_s"]
    cvx = PEL.solve(cm, "cvxpy").predicted["round_latency_s"]
    assert joint == pytest.approx(cvx, rel=1e-6)
    for m in ("equal", "bandwidth_aware", "parameter_aware"):
        assert joint <= PEL.solve(cm, m).predicted["round_latency_s"] * (1 + 1e-9), m


def _two(tmp_path, c1=1e9, c2=1e9, g1=-80, g2=-80, extra=""):
    prof = random_profile(3, np.random.default_rng(0))
    data = {"name": "two", "model": {"profile": str(prof)},
            "nodes": [{"name": "bs", "role": "server", "compute": 1e12, "power": 100, "tx_power": 1},
                      {"name": "w1", "role": "device", "compute": c1, "power": 2, "tx_power": 0.2},
                      {"name": "w2", "role": "device", "compute": c2, "power": 2, "tx_power": 0.2}],
            "links": [{"from": "w1", "to": "bs", "channel": "c", "gain_db": g1, "latency": 0.001},
                      {"from": "w2", "to": "bs", "channel": "c", "gain_db": g2, "latency": 0.001}],
            "channels": [{"name": "c", "bandwidth": 1e6, "noise_density": "-174 dBm/Hz"}]}
    if extra:
        data["paradigms"] = {"pel": extra}
    return CostModel(from_data(data))


def test_identical_workers_get_identical_allocations(tmp_path):
    df = PEL.solve(_two(tmp_path)).assignments_df
    assert df.loc["w1", "parameters"] == pytest.approx(df.loc["w2", "parameters"], rel=1e-9)
    assert df.loc["w1", "channel_share"] == pytest.approx(0.5, rel=1e-9)


def test_twice_the_compute_gets_more_parameters(tmp_path):
    df = PEL.solve(_two(tmp_path, c1=2e9, c2=1e9)).assignments_df
    assert df.loc["w1", "parameters"] > df.loc["w2", "parameters"]


def test_doubling_bandwidth_never_increases_latency():
    for seed in range(8):
        scn = pel_instance(8, seed, shannon=bool(seed % 2))
        data = scn.raw
        cm1 = CostModel(scn)
        data2 = {**data, "channels": [{**data["channels"][0], "bandwidth": 2 * data["channels"][0]["bandwidth"]}]}
        cm2 = CostModel(from_data(data2))
        for m in ("joint", "equal", "bandwidth_aware", "parameter_aware"):
            a = PEL.solve(cm1, m).predicted["round_latency_s"]
            b = PEL.solve(cm2, m).predicted["round_latency_s"]
            assert b <= a * (1 + 1e-9), m


def test_granularity_rounds_blocks_and_bounds_the_loss(tmp_path):
    cm = _two(tmp_path, c1=2e9, c2=1e9, extra={"granularity": 1000})
    p = PEL.solve(cm)
    df = p.assignments_df
    P = cm.table.total_params
    assert df.loc[["w1", "w2"], "parameters"].sum() == P
    rem = df.loc[["w1", "w2"], "parameters"] % 1000
    assert (rem == 0).sum() >= 1                      # at most the last block is a remainder
    d = p.paradigm_detail
    assert 0 <= d["rounding_loss_s"] <= d["rounding_loss_bound_s"]


def test_whole_layer_blocks(tmp_path):
    cm = _two(tmp_path, c1=2e9, c2=1e9, extra={"granularity": "layer"})
    p = PEL.solve(cm)
    layers = [int(x) for x in cm.table.params[1:] if x > 0]
    cuts = np.cumsum(layers)
    a, b = p.assignments_df.loc["w1", "parameters"], p.assignments_df.loc["w2", "parameters"]
    assert a + b == cm.table.total_params
    assert a in set(cuts) | {0}                      # w1's block ends on a layer boundary
    d = p.paradigm_detail
    assert d["granularity"] == "layer" and 0 <= d["rounding_loss_s"] <= d["rounding_loss_bound_s"]
    cont = PEL.solve(_two(tmp_path, c1=2e9, c2=1e9)).predicted["round_latency_s"]
    assert p.predicted["round_latency_s"] >= cont * (1 - 1e-9)


def test_worker_groups_train_one_block(tmp_path):
    cm = _two(tmp_path, c1=2e9, c2=1e9, extra={"groups": {"g": ["w1", "w2"]}})
    for m in ("joint", "cvxpy", "equal", "bandwidth_aware", "parameter_aware"):
        df = PEL.solve(cm, m).assignments_df
        assert df.loc["w1", "parameters"] == pytest.approx(df.loc["w2", "parameters"])
        assert df.loc["w1", "parameters"] == pytest.approx(cm.table.total_params)


def test_groups_joint_equals_cvxpy():
    for seed in range(3):
        scn = pel_instance(5, 40 + seed, shannon=False, L=3)
        data = dict(scn.raw)
        data["paradigms"] = {"pel": {"groups": {"a": ["w0", "w1"], "b": ["w2", "w3"]}}}
        cm = CostModel(from_data(data))
        j = PEL.solve(cm, "joint").predicted["round_latency_s"]
        c = PEL.solve(cm, "cvxpy").predicted["round_latency_s"]
        assert j == pytest.approx(c, rel=1e-6)


def test_separate_bandwidth(tmp_path):
    cm = _two(tmp_path, c1=2e9, c2=1e9, g1=-75, g2=-95, extra={"bandwidth": "separate"})
    p = PEL.solve(cm)
    df = p.assignments_df
    assert {"channel_share_down", "bandwidth_down_hz"} <= set(df.columns)
    assert df.channel_share.sum() == pytest.approx(1.0) and df.channel_share_down.sum() == pytest.approx(1.0)
    assert p.predicted["round_latency_s"] <= PEL.solve(cm, "equal").predicted["round_latency_s"]
    assert PEL.evaluate(cm, p).round_latency == pytest.approx(p.predicted["round_latency_s"], rel=1e-12)


def test_unreachable_budget_is_explained(tmp_path):
    from planner.errors import InfeasibleError
    cm = _two(tmp_path)
    best = PEL.solve(cm).predicted["round_latency_s"]
    data = dict(cm.scn.raw)
    data["constraints"] = {"max_round_latency": 0.5 * best}
    with pytest.raises(InfeasibleError, match=r"max_round_latency .* cannot be met: the least pel round is"):
        PEL.solve(CostModel(from_data(data)))
