"""dsgd with replicated stages (PipeDream's data parallelism inside a stage): the exact DP
against brute force over every grouping, the cost model by hand, and the plan file's rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.dsgd_costs import dsgd as dsgd_cost
from edgeplan.errors import PlanError
from edgeplan.scenario import from_data
from edgeplan.synthetic import random_profile

DSGD = paradigms.get("dsgd")


def chain(seed: int, replicas="auto"):
    """A device, then runs of identical servers (two kinds), on links of random speed."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 6))
    L = int(rng.integers(2, 6))
    m = int(rng.choice([1, 2, 4, 1_000]))
    kinds = [float(10 ** rng.uniform(9, 11)) for _ in range(2)]
    run = [int(rng.integers(0, 2)) for _ in range(K - 1)]
    names = ["dev"] + [f"n{k}" for k in range(1, K)]
    nodes = [{"name": "dev", "role": "device", "compute": float(10 ** rng.uniform(8, 10)), "power": 3.0,
              "tx_power": 0.5}]
    for k in range(1, K):
        nodes.append({"name": f"n{k}", "role": "server" if k == K - 1 else "fog", "compute": kinds[run[k - 1]],
                      "power": 50.0, "tx_power": 1.0, "rx_power": 0.5})
    links = [{"from": names[k], "to": names[k + 1], "uplink": float(10 ** rng.uniform(6, 10)),
              "downlink": float(10 ** rng.uniform(6, 10)), "latency": float(rng.choice([0.0, 0.002]))}
             for k in range(K - 1)]
    data = {"name": f"rchain-{seed}", "model": {"profile": str(random_profile(L, rng))},
            "training": {"batch_size": int(rng.integers(4, 64)), "local_iterations": int(rng.integers(1, 3))},
            "nodes": nodes, "links": links,
            "paradigms": {"dsgd": {"microbatches": m, "path": names, "replicas": replicas}}}
    return CostModel(from_data(data)), names, m


def _same(cm, a: str, b: str) -> bool:
    i, j = cm.idx[a], cm.idx[b]
    return np.array_equal(cm.S[i], cm.S[j]) and np.array_equal(cm.C[i], cm.C[j])


def _groupings(cm, path, rmax):
    """Every sequence of disjoint runs of consecutive identical path nodes, in path order."""
    def rec(p):
        yield []
        for f in range(p, len(path)):
            for e in range(f, min(len(path), f + rmax)):
                if e > f and not _same(cm, path[f], path[e]):
                    break
                for rest in rec(e + 1):
                    yield [path[f:e + 1]] + rest
    return [g for g in rec(0) if g]


def brute(cm, path, m, rmax=10 ** 6):
    L, best = cm.L, np.inf
    for groups in _groupings(cm, path, rmax):
        s = len(groups)
        if s > L:
            continue
        for cuts in itertools.combinations(range(1, L), s - 1):
            bounds = [0, *cuts, L]
            stages = [(g[0], bounds[i] + 1, bounds[i + 1]) for i, g in enumerate(groups)]
            best = min(best, dsgd_cost(cm, stages, path, m, path[0], groups).round_latency)
    return best


def test_some_chains_replicate():
    """The brute-force check below means something: replication wins on some of its chains."""
    wins = 0
    for seed in range(40):
        cm, _, _ = chain(seed)
        d = DSGD.solvers["exact"].fn(cm).decisions
        wins += any(len(g) > 1 for g in d["replicas"])
    assert wins >= 3, wins


@pytest.mark.parametrize("seed", range(40))
def test_dp_with_replicas_equals_brute_force(seed):
    cm, path, m = chain(seed)
    want = brute(cm, path, m)
    plan = DSGD.solve(cm, "exact")
    assert plan.predicted["round_latency_s"] == pytest.approx(want, rel=1e-9)
    assert cm.tau * plan.solver.get("iteration_s", plan.predicted["round_latency_s"] / cm.tau) == \
        pytest.approx(plan.predicted["round_latency_s"], rel=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_replicas_bounded_and_straight_pipeline_unchanged(seed):
    cm2, path, m = chain(seed, replicas=2)
    assert DSGD.solve(cm2, "exact").predicted["round_latency_s"] == pytest.approx(brute(cm2, path, m, 2), rel=1e-9)
    cm1, _, _ = chain(seed, replicas=1)
    straight = DSGD.solve(cm1, "exact")
    rows = [a for a in straight.assignments if "stage" in a]
    assert len({a["stage"] for a in rows}) == len(rows)
    assert straight.predicted["round_latency_s"] == pytest.approx(DSGD.solve(cm1, "milp").predicted["round_latency_s"],
                                                                  rel=1e-6)
    assert DSGD.solve(chain(seed)[0], "exact").predicted["round_latency_s"] <= \
        straight.predicted["round_latency_s"] * (1 + 1e-12)


def _two_servers(replicas, latency=0.0):
    nodes = [{"name": "dev", "role": "device", "compute": "10 GFLOPS", "power": "3 W"}] + \
        [{"name": f"s{k}", "role": "server", "compute": "100 GFLOPS", "power": "50 W"} for k in (1, 2)]
    links = [{"from": "dev", "to": "s1", "uplink": "100 Mbit/s", "downlink": "100 Mbit/s", "latency": latency},
             {"from": "s1", "to": "s2", "uplink": "1 Gbit/s", "downlink": "500 Mbit/s", "latency": latency}]
    rng = np.random.default_rng(5)
    data = {"name": "two", "model": {"profile": str(random_profile(3, rng))},
            "training": {"batch_size": 32}, "nodes": nodes, "links": links,
            "paradigms": {"dsgd": {"microbatches": 4, "path": ["dev", "s1", "s2"], "replicas": replicas}}}
    return CostModel(from_data(data))


def test_replicated_stage_by_hand():
    """Units 1..3 on s1 and s2, two replicas: each computes half of a micro-batch; the input
    reaches s1 whole, half goes on to s2; the loss stays; the weights are all-reduced over
    s1-s2 once per iteration, one way and back."""
    cm = _two_servers(2)
    m, mb = 4, 32 / 4
    c = dsgd_cost(cm, [("s1", 1, 3)], ["dev", "s1", "s2"], m, "dev", [["s1", "s2"]])
    comp = cm.span(cm.idx["s1"], 0, 3, mb / 2, update=False)
    x_in = mb * (cm.out[0] + cm.label)
    up1 = 8 * x_in / 100e6                                  # dev -> s1, whole micro-batch
    up2 = 8 * x_in / 2 / 1e9                                # s1 -> s2, half of it
    w = cm.Wt[3]
    sync = 8 * w / 1e9 + 8 * w / 500e6
    items = [comp, up1, up2]
    assert c.round_latency == pytest.approx(cm.tau * (sum(items) + sync + (m - 1) * max(items)), rel=1e-12)


def test_plan_rows_of_replicas_round_trip(tmp_path):
    cm = _two_servers("auto")
    plan = DSGD.solve(cm, "exact")
    rows = [a for a in plan.assignments if "stage" in a]
    again = DSGD.decode(cm, plan)
    assert DSGD.cost(cm, again).round_latency == pytest.approx(plan.predicted["round_latency_s"], rel=1e-12)
    assert len(rows) == sum(len(g) for g in again["replicas"])


def test_replicas_must_be_consecutive_and_alike():
    cm = _two_servers("auto")
    with pytest.raises(PlanError, match="consecutive"):
        dsgd_cost(cm, [("dev", 1, 3)], ["dev", "s1", "s2"], 4, "dev", [["dev", "s2"]])


def test_milp_does_not_claim_replicated_plans():
    cm = _two_servers("auto")
    with pytest.raises(PlanError, match="does not apply"):
        DSGD.solve(cm, "milp")


# ---------------------------------------------------------------- trained for real
def _replica_scenario(tmp_path):
    import yaml
    nodes = [{"name": "dev", "role": "device", "compute": "8 GFLOPS", "power": "3 W", "samples": 600}] + \
        [{"name": f"s{k}", "role": "server", "compute": "50 GFLOPS", "power": "50 W"} for k in (1, 2, 3)]
    names = ["dev", "s1", "s2", "s3"]
    links = [{"from": a, "to": b, "uplink": "200 Mbit/s", "downlink": "200 Mbit/s", "latency": "1 ms"}
             for a, b in zip(names, names[1:])]
    data = {"name": "replicas", "model": {"zoo": "fpl_cnn", "input_shape": [1, 8, 8], "num_classes": 10},
            "training": {"batch_size": 30, "local_iterations": 2, "dataset": "digits", "optimizer": "sgd",
                         "learning_rate": 0.05},
            "nodes": nodes, "links": links, "paradigms": {"dsgd": {"microbatches": 2, "path": names,
                                                                   "replicas": "auto"}}}
    path = tmp_path / "replicas.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _plan(cm, replicas):
    L = cm.L
    d = {"stages": [("dev", 1, 2), ("s1", 3, L)], "replicas": [["dev"], replicas], "path": ["dev", "s1", "s2", "s3"],
         "microbatches": 2, "source": "dev"}
    return DSGD.to_plan(cm, d, DSGD.cost(cm, d), "exact", "optimal", 0.0)


def test_replicated_stage_trains_as_the_straight_one(tmp_path):
    """Three replicas, each a third of every micro-batch, summing their gradients: the same
    training as one node (up to the order of float sums; the CNN has no batch statistics), with
    the bytes the cost model predicts."""
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.runner import run_inprocess
    scn = load_scenario(_replica_scenario(tmp_path))
    cm = CostModel(scn)
    rep, one = _plan(cm, ["s1", "s2", "s3"]), _plan(cm, ["s1"])
    assert rep.predicted["comm_bytes"] > one.predicted["comm_bytes"]
    a, b = run_inprocess(scn, rep, rounds=2), run_inprocess(scn, one, rounds=2)
    np.testing.assert_allclose(a.rounds.train_loss, b.rounds.train_loss, rtol=1e-5)
    np.testing.assert_allclose(a.rounds.test_loss, b.rounds.test_loss, rtol=1e-4)
    assert a.rounds.comm_bytes.iloc[0] == pytest.approx(rep.predicted["comm_bytes"])


def test_replicated_stage_distributed_agrees_with_inprocess(tmp_path):
    from edgeplan.scenario import load_scenario

    from .conftest import assert_transports_agree
    path = _replica_scenario(tmp_path)
    assert_transports_agree(path, _plan(CostModel(load_scenario(path)), ["s1", "s2", "s3"]))


def test_shipped_scenario_replicates_and_beats_the_straight_pipeline():
    from pathlib import Path

    from edgeplan.scenario import load_scenario
    path = Path(__file__).resolve().parents[1] / "scenarios" / "dsgd-replicas.yaml"
    scn = load_scenario(path)
    rep = DSGD.solve(CostModel(scn), "exact")
    scn.spec.paradigms.dsgd.replicas = 1
    straight = DSGD.solve(CostModel(scn), "exact")
    stages = [a["stage"] for a in rep.assignments if "stage" in a]
    assert len(stages) > len(set(stages))
    assert rep.predicted["round_latency_s"] < straight.predicted["round_latency_s"]


def test_micro_batch_smaller_than_the_replicas_is_refused(tmp_path):
    import yaml
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.runner import run_inprocess
    path = _replica_scenario(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["training"]["batch_size"] = 4                 # micro-batches of 2 for three replicas
    path.write_text(yaml.safe_dump(data))
    scn = load_scenario(path)
    with pytest.raises(PlanError, match="cannot feed a stage of 3 replicas"):
        run_inprocess(scn, _plan(CostModel(scn), ["s1", "s2", "s3"]), rounds=1)


def test_planner_never_plans_more_replicas_than_a_micro_batch_has_samples(tmp_path):
    """The bound the DP gets (its use is tested against brute force with replicas: 2 above)."""
    import yaml
    from edgeplan.scenario import load_scenario
    from edgeplan.solvers.dsgd_solvers import max_replicas
    path = _replica_scenario(tmp_path)
    for batch, m, want in ((5, 2, 2), (30, 4, 6), (30, 1, 30), (3, 3, 1), (1, 16, 10 ** 6)):
        data = yaml.safe_load(path.read_text())
        data["training"]["batch_size"] = batch          # torch.chunk: 3 + 2; 8 + 8 + 8 + 6; 30; 1 + 1 + 1;
        #                                                 and in fractions (PipeDream: a minibatch is a sample)
        data["paradigms"]["dsgd"]["microbatches"] = m
        path.write_text(yaml.safe_dump(data))
        assert max_replicas(CostModel(load_scenario(path))) == want


def test_replan_names_the_stages_that_moved():
    from pathlib import Path

    from edgeplan.replan import diff_plans
    from edgeplan.scenario import load_scenario
    scn = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "dsgd-replicas.yaml")
    rep = DSGD.solve(CostModel(scn), "exact")
    scn.spec.paradigms.dsgd.replicas = 1
    straight = DSGD.solve(CostModel(scn), "exact")
    lines = diff_plans(rep, straight)
    assert any(ln.startswith("stages: gpu-0+gpu-1 units") and " -> gpu-0 units" in ln for ln in lines), lines


def _walk(ch, m):
    """The former search: every step of the least sum, from the top down to the bottleneck."""
    free = ch.minsum()
    s_free, mx, _ = free
    best = s_free + (m - 1) * mx
    cap = mx * (1 - 1e-9)
    while True:
        r = ch.minsum(cap)
        if r is None:
            return best
        s, M, st = r
        best = min(best, s + (m - 1) * M)
        cap = M * (1 - 1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_branch_and_bound_equals_walking_every_step(seed):
    """Medium chains with replicas (beyond brute force): the search over caps against the walk."""
    from edgeplan.solvers import dsgd_solvers as S
    from edgeplan.solvers.dsgd_chain import Chain
    rng = np.random.default_rng(500 + seed)
    K, L = int(rng.integers(4, 7)), int(rng.integers(10, 25))
    names = ["dev"] + [f"n{k}" for k in range(1, K)]
    speed = float(10 ** rng.uniform(9, 11))
    nodes = [{"name": "dev", "role": "device", "compute": float(10 ** rng.uniform(8, 10)), "power": 3.0}] + \
        [{"name": f"n{k}", "role": "server", "compute": speed, "power": 50.0} for k in range(1, K)]
    links = [{"from": a, "to": b, "uplink": float(10 ** rng.uniform(7, 10)), "downlink": float(10 ** rng.uniform(7, 10)),
              "latency": float(rng.choice([0.0, 1e-3]))} for a, b in zip(names, names[1:])]
    m = int(rng.choice([2, 8, 64, 10 ** 6]))
    data = {"name": f"bb-{seed}", "model": {"profile": str(random_profile(L, rng))}, "training": {"batch_size": 64},
            "nodes": nodes, "links": links,
            "paradigms": {"dsgd": {"microbatches": m, "path": names, "replicas": "auto"}}}
    cm = CostModel(from_data(data))
    tab = S.PathTables(cm, names, m)
    ch = Chain(tab.P, tab.fwd, tab.bwd, tab.groups(S.max_replicas(cm)), cm.Wt)
    assert ch.best(m)[0] == pytest.approx(_walk(ch, m), rel=1e-9)


def test_validation_compares_every_stage_replica_and_hop(tmp_path):
    """dsgd's phase table: each replica's compute, each hop and each link of a group, predicted by
    the cost model under the names validation meters them (transfers in-process are the
    modelled times, so they agree exactly)."""
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.runner import run_inprocess
    scn = load_scenario(_replica_scenario(tmp_path))
    res = run_inprocess(scn, _plan(CostModel(scn), ["s1", "s2", "s3"]), rounds=1)
    ph = res.phases(scn).set_index("phase")
    assert {"stage0.0", "stage1.0", "stage1.1", "stage1.2", "fwd1", "bwd1", "sc1.0", "sc1.1", "sb1.0", "sb1.1",
            "sync1.0", "sync1.1"} == set(ph.index)
    tr = ph[ph.how == "modelled"]
    assert len(tr) == 8
    np.testing.assert_allclose(tr.predicted_s, tr.measured_s, rtol=1e-9)
    assert (ph.loc[["stage1.0", "stage1.1", "stage1.2"], "measured_s"] > 0).all()
    # what a person reads (the console's sentence and report.html): the codes in words
    assert ph.loc["stage1.2", "what"] == "stage 2 compute (replica 3)"
    assert ph.loc["fwd1", "what"] == "activations into stage 2"
    assert ph.loc["sync1.1", "what"] == "stage 2 replicas' gradient sum, link 2"


def test_smallest_micro_batch_is_torch_chunks():
    """The planner's bound and validation's check share one count: torch.chunk's, exactly."""
    import torch
    from edgeplan.dsgd_costs import smallest_microbatch
    for b in range(1, 80):
        for m in range(1, 20):
            assert smallest_microbatch(b, m) == min(len(c) for c in torch.chunk(torch.empty(b), m)), (b, m)
