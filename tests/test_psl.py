"""psl: the exact algorithm against brute force and the MILP; hand-made cases; infeasibility."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from edgeplan import costs as C
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import InfeasibleError
from edgeplan.scenario import load_scenario
from edgeplan.solvers.psl_milp import solve_milp
from edgeplan.synthetic import psl_instance
from scipy.optimize import brentq

from .conftest import write

PSL = paradigms.get("psl")


def brute_force(cm: CostModel) -> float:
    """min over all cut combinations of the min-max round, shares optimised per combination.

    Independent of the solvers: for fixed cuts, each device's round is A_i + K_i / beta_i on a
    spectral channel; A_i and K_i are read off the cost model at two shares, and the least T
    with sum_i K_i / (T - A_i) = 1 is found by brentq."""
    devs = cm.devices
    n, L = len(devs), cm.L
    R = cm.routes(devs, [cm.server()] * n)
    d, s = cm.ix(devs), np.full(n, cm.idx[cm.server()])
    b = cm.batch[d]
    alpha = np.full(n, 1.0 / n)
    best = np.inf
    for cuts in itertools.product(range(1, L), repeat=n):
        c = np.array(cuts)
        mem = cm.kopt * cm.Wt[c] + b * cm.A[c]
        if np.any(mem > cm.memory[d]):
            continue
        t1 = C.psl_terms(cm, R, d, s, b, c, np.ones(n), alpha)["T"]
        th = C.psl_terms(cm, R, d, s, b, c, np.full(n, 0.5), alpha)["T"]
        K = th - t1
        A = t1 - K
        t3 = C.psl_terms(cm, R, d, s, b, c, np.full(n, 0.25), alpha)["T"]
        assert np.allclose(t3, A + 4 * K, rtol=1e-9)  # the model really is A + K / beta
        lo = float(np.max(A))
        f = lambda T, K=K, A=A: float(np.sum(K / (T - A))) - 1.0  # noqa: E731
        hi = lo + float(np.sum(K)) + 1.0
        T = brentq(f, lo + 1e-15 * max(lo, 1), hi, xtol=1e-15, rtol=1e-14, maxiter=500)
        best = min(best, T)
    return best


@pytest.mark.parametrize("seed", range(200))
def test_exact_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    scn = psl_instance(int(rng.integers(1, 4)), int(rng.integers(2, 6)), seed, memory=bool(seed % 3 == 0))
    cm = CostModel(scn)
    want = brute_force(cm)
    if not np.isfinite(want):
        with pytest.raises(InfeasibleError):
            PSL.solve(cm, "exact")
        return
    got = PSL.solve(cm, "exact").predicted["round_latency_s"]
    assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("seed", range(200))
def test_exact_equals_milp(seed):
    rng = np.random.default_rng(1000 + seed)
    scn = psl_instance(int(rng.integers(1, 4)), int(rng.integers(2, 6)), 1000 + seed, shannon=bool(seed % 4 == 0))
    cm = CostModel(scn)
    exact = PSL.solve(cm, "exact").predicted["round_latency_s"]
    sol = solve_milp(cm)
    milp = PSL.cost(cm, sol.decisions).round_latency
    assert milp == pytest.approx(exact, rel=1e-6)


def test_exact_is_never_worse_than_baselines():
    for seed in range(20):
        cm = CostModel(psl_instance(6, 8, seed))
        best = PSL.solve(cm, "exact").predicted["round_latency_s"]
        for m in ("uniform", "common", "percut", "alternating"):
            assert best <= PSL.solve(cm, m).predicted["round_latency_s"] * (1 + 1e-9), m


HAND = """name: hand
model: {{profile: hand.csv}}
training: {{batch_size: 10, local_iterations: 1}}
nodes:
  - {{name: srv, role: server, compute: 1e12, power: 100}}
  - {{name: a, role: device, compute: {ca}, power: 5, tx_power: 1{mem_a}}}
  - {{name: b, role: device, compute: {cb}, power: 5, tx_power: 1}}
links:
  - {{from: a, to: srv, channel: ch, spectral_efficiency: {ea}, latency: 0.001}}
  - {{from: b, to: srv, channel: ch, spectral_efficiency: {eb}, latency: 0.001}}
channels:
  - {{name: ch, bandwidth: 1e6}}
{extra}"""

HAND_PROFILE = """name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes
input,0,0,1000,0,0,0
u1,1e6,2e6,800,1000,100,400
u2,1e6,2e6,400,100000,100,400
u3,1e6,2e6,100,100000,100,400
u4,1e6,2e6,10,10,10,40
"""


def _hand(tmp_path, ca=1e9, cb=1e9, ea=4, eb=4, mem_a="", extra=""):
    (tmp_path / "hand.csv").write_text(HAND_PROFILE)
    return CostModel(load_scenario(write(tmp_path, HAND.format(ca=ca, cb=cb, ea=ea, eb=eb, mem_a=mem_a, extra=extra))))


def _cut_share(p):
    df = p.assignments_df
    return df.loc["a", "cut"], df.loc["b", "cut"], df.loc["a", "channel_share"], df.loc["b", "channel_share"]


def test_slow_device_gets_an_earlier_cut(tmp_path):
    cm = _hand(tmp_path, ca=2e7, cb=2e10)
    ca, cb, _, _ = _cut_share(PSL.solve(cm))
    assert ca < cb


def test_poor_link_gets_a_larger_share(tmp_path):
    cm = _hand(tmp_path, ea=1, eb=8)
    ca, cb, sa, sb = _cut_share(PSL.solve(cm))
    assert ca == cb and sa > sb


def test_memory_starved_device_gets_a_cut_that_fits(tmp_path):
    # a: 3 x 400 B weights + 10 x 1000 B activations at cut 1 = 11.2 kB; cut 2 needs 1 MB more
    free = PSL.solve(_hand(tmp_path, ca=1e10, cb=1e10))
    cm = _hand(tmp_path, ca=1e10, cb=1e10, mem_a=", memory: 20 kB")
    ca, _, _, _ = _cut_share(PSL.solve(cm))
    assert ca == 1 and _cut_share(free)[0] > 1
    p = PSL.solve(cm)
    assert p.assignments_df.loc["a", "memory_bytes"] <= 20e3


def test_memory_starved_device_with_no_cut_is_explained(tmp_path):
    cm = _hand(tmp_path, mem_a=", memory: 5 kB")
    with pytest.raises(InfeasibleError, match=r"a: no cut fits 4\.88 KiB; the smallest needs 10\.9 KiB"):
        PSL.solve(cm)


def test_unreachable_deadline_names_the_channel_and_the_shares(tmp_path):
    best = PSL.solve(_hand(tmp_path, ca=1e11, cb=1e11)).predicted["round_latency_s"]
    cm = _hand(tmp_path, ca=1e11, cb=1e11, extra=f"constraints: {{max_round_latency: {0.6 * best}}}")
    with pytest.raises(InfeasibleError, match=r"max_round_latency [0-9.]+ ms needs channel shares summing to [1-9]\.[0-9]+ "
                                              r"on 'ch' \(the least psl round is [0-9.]+ ms\)"):
        PSL.solve(cm)


def test_deadline_below_a_devices_compute_names_the_device(tmp_path):
    cm = _hand(tmp_path, ca=1e8, cb=1e10, extra="constraints: {max_round_latency: 0.2 s}")
    with pytest.raises(InfeasibleError, match=r"max_round_latency 200 ms: a cannot finish a round in time with any "
                                              r"cut, even with the whole channel"):
        PSL.solve(cm)


def test_energy_budget_is_respected_by_exact_and_milp(tmp_path):
    free = PSL.solve(_hand(tmp_path, ca=2e9, cb=2e9))
    assert free.assignments_df.loc["a", "energy_j"] > 0.3     # unconstrained, both take cut 3
    cm = _hand(tmp_path, ca=2e9, cb=2e9, extra="constraints: {max_device_energy: 0.3 J}")
    plans = [PSL.solve(cm, m) for m in ("exact", "milp")]
    for p in plans:
        assert p.feasible, p.predicted["violations"]
        assert (p.assignments_df.loc[["a", "b"], "energy_j"] <= 0.3 * (1 + 1e-9)).all()
        assert p.predicted["round_latency_s"] > free.predicted["round_latency_s"]
    assert plans[0].predicted["round_latency_s"] == pytest.approx(plans[1].predicted["round_latency_s"], rel=1e-6)


def test_energy_budget_no_device_can_meet_is_explained(tmp_path):
    cm = _hand(tmp_path, ca=1e9, cb=3e8, extra="constraints: {max_device_energy: 1 J}")
    with pytest.raises(InfeasibleError, match=r"b: no cut keeps its round energy within max_device_energy 1 J"):
        PSL.solve(cm)


def test_energy_objective_uses_the_milp(tmp_path):
    cm = _hand(tmp_path, ca=1e8, cb=1e9, extra="objective: energy\nconstraints: {max_round_latency: 3 s}")
    p = PSL.solve(cm)
    lat = PSL.solve(_hand(tmp_path, ca=1e8, cb=1e9, extra="constraints: {max_round_latency: 3 s}"))
    assert p.feasible and p.predicted["round_latency_s"] <= 3.0
    assert p.predicted["energy_j"] <= lat.predicted["energy_j"] * (1 + 1e-9)


def test_several_servers_and_server_shares(tmp_path):
    (tmp_path / "hand.csv").write_text(HAND_PROFILE)
    text = HAND.format(ca=1e8, cb=1e8, ea=4, eb=4, mem_a="", extra="paradigms: {psl: {servers: [srv, srv2], server_shares: true}}")
    text = text.replace("nodes:\n", "nodes:\n  - {name: srv2, role: server, compute: 1e9, power: 50}\n")
    text = text.replace("links:\n", "links:\n  - {from: a, to: srv2, uplink: 1e9, latency: 0.001}\n")
    cm = CostModel(load_scenario(write(tmp_path, text)))
    p = PSL.solve(cm, "milp")
    assert p.feasible
    df = p.assignments_df
    assert {"server", "server_share"} <= set(df.columns)
    assert PSL.evaluate(cm, p).round_latency == pytest.approx(p.predicted["round_latency_s"], rel=1e-12)


def test_replan_lists_only_changes_one_can_see(tmp_path):
    """Two jetsons leave psl-hetero: the diff listed every device's unchanged '1.6% -> 1.6%' and the
    round latency twice (the bisection's and the plan's)."""
    import re

    import yaml
    from edgeplan.replan import diff_plans

    from .conftest import SCENARIOS
    src = SCENARIOS / "psl-hetero.yaml"
    old = paradigms.get("psl").solve(CostModel(load_scenario(src)))
    data = yaml.safe_load(src.read_text())
    next(n for n in data["nodes"] if n["name"] == "jetson")["count"] = 2
    (tmp_path / "less.yaml").write_text(yaml.safe_dump(data))
    new = paradigms.get("psl").solve(CostModel(load_scenario(tmp_path / "less.yaml")))
    lines = diff_plans(old, new)
    assert lines[:2] == ["removed jetson-2", "removed jetson-3"]
    assert sum("round latency" in line for line in lines) == 1
    shares = [re.search(r"share (\S+) -> (\S+)$", line) for line in lines]
    assert any(shares) and all(m.group(1) != m.group(2) for m in shares if m)
