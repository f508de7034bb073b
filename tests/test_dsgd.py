"""dsgd: the dynamic programme against brute force and the MILP, on random chains."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.dsgd_costs import dsgd as dsgd_cost
from edgeplan.scenario import from_data
from edgeplan.synthetic import random_profile

DSGD = paradigms.get("dsgd")


def chain(seed: int):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 5))
    L = int(rng.integers(2, 6))
    m = int(rng.choice([1, 2, 4]))
    names = ["dev"] + [f"n{k}" for k in range(1, K)]
    nodes = [{"name": "dev", "role": "device", "compute": float(10 ** rng.uniform(8, 10)), "power": 3.0,
              "tx_power": 0.5}]
    for k in range(1, K):
        nodes.append({"name": f"n{k}", "role": "server" if k == K - 1 else "fog",
                      "compute": float(10 ** rng.uniform(9, 12)), "power": 50.0, "tx_power": 1.0, "rx_power": 0.5})
    links = [{"from": names[k], "to": names[k + 1], "uplink": float(10 ** rng.uniform(6, 9)),
              "downlink": float(10 ** rng.uniform(6, 9)), "latency": float(rng.uniform(0, 0.02))} for k in range(K - 1)]
    data = {"name": f"chain-{seed}", "model": {"profile": str(random_profile(L, rng))},
            "training": {"batch_size": int(rng.integers(4, 64)), "local_iterations": int(rng.integers(1, 3))},
            "nodes": nodes, "links": links, "paradigms": {"dsgd": {"microbatches": m, "path": names}}}
    return CostModel(from_data(data)), names, m


def brute(cm: CostModel, path: list[str], m: int) -> float:
    L, K = cm.L, len(path)
    best = np.inf
    for s in range(1, min(K, L) + 1):
        for holders in itertools.combinations(range(K), s):
            for cuts in itertools.combinations(range(1, L), s - 1):
                bounds = [0, *cuts, L]
                stages = [(path[h], bounds[i] + 1, bounds[i + 1]) for i, h in enumerate(holders)]
                best = min(best, dsgd_cost(cm, stages, path, m, path[0]).round_latency)
    return best


@pytest.mark.parametrize("seed", range(60))
def test_dp_equals_brute_force_and_milp(seed):
    cm, path, m = chain(seed)
    want = brute(cm, path, m)
    dp = DSGD.solve(cm, "exact").predicted["round_latency_s"]
    milp = DSGD.solve(cm, "milp").predicted["round_latency_s"]
    assert dp == pytest.approx(want, rel=1e-9)
    assert milp == pytest.approx(want, rel=1e-6)


def test_more_microbatches_overlap_stages():
    """With zero latency, two equal stages pipelined in m micro-batches take (m+1)/(2m) of the
    unpipelined iteration (sum plus (m-1) x max, each item 1/m of its whole-batch time)."""
    cm, path, _ = chain(7)
    stages = DSGD.solvers["equal_flops"].fn(cm).decisions["stages"]
    one = dsgd_cost(cm, stages, path, 1).round_latency
    many = dsgd_cost(cm, stages, path, 8).round_latency
    assert many <= one * (1 + 1e-12) or any(cm.scn.links.latency > 0)


def test_equal_flops_baseline_is_never_better_than_dp():
    for seed in range(20):
        cm, _, _ = chain(100 + seed)
        assert DSGD.solve(cm).predicted["round_latency_s"] <= \
            DSGD.solve(cm, "equal_flops").predicted["round_latency_s"] * (1 + 1e-9)


def long_chain(seed: int):
    """Longer random chains than brute force reaches: the fast DP against the reference DP."""
    rng = np.random.default_rng(1000 + seed)
    K, L = int(rng.integers(2, 6)), int(rng.integers(5, 31))
    m = int(rng.choice([1, 2, 3, 16, 1_000_000]))
    names = ["dev"] + [f"n{k}" for k in range(1, K)]
    nodes = [{"name": "dev", "role": "device", "compute": float(10 ** rng.uniform(9, 11)), "power": 3.0}]
    nodes += [{"name": f"n{k}", "role": "server" if k == K - 1 else "fog", "compute": float(10 ** rng.uniform(9, 12)),
               "power": 50.0} for k in range(1, K)]
    links = [{"from": names[k], "to": names[k + 1], "uplink": float(10 ** rng.uniform(7, 10)),
              "downlink": float(10 ** rng.uniform(7, 10)), "latency": float(rng.choice([0.0, 1e-3]))}
             for k in range(K - 1)]
    data = {"name": f"long-{seed}", "model": {"profile": str(random_profile(L, rng))},
            "training": {"batch_size": int(rng.integers(4, 64))}, "nodes": nodes, "links": links,
            "paradigms": {"dsgd": {"microbatches": m, "path": names}}}
    return CostModel(from_data(data))


@pytest.mark.parametrize("seed", range(40))
def test_fast_dp_equals_reference_dp(seed):
    from edgeplan.solvers import dsgd_solvers as S
    cm = long_chain(seed)
    fast, ref = S.dp(cm), S.dp_reference(cm)
    assert fast.info["iteration_s"] == pytest.approx(ref.info["iteration_s"], rel=1e-9)
    # the claimed iteration is the cost model's
    plan = DSGD.to_plan(cm, fast.decisions, DSGD.cost(cm, fast.decisions), "exact", "optimal", 0.0)
    assert plan.predicted["round_latency_s"] == pytest.approx(cm.tau * fast.info["iteration_s"], rel=1e-9)


PIPEDREAM = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "profiles" / "pipedream"


@pytest.mark.skipif(not PIPEDREAM.is_dir(), reason="../shared/profiles/pipedream is not beside the repository")
@pytest.mark.parametrize("model, n, m", [("alexnet", 4, 16), ("gnmt", 4, 1_000_000), ("vgg16", 2, 1_000_000),
                                         ("gnmt", 8, 3)])
def test_pipedream_profiles_fast_dp_reference_and_milp_agree(model, n, m):
    """Real profiles (GNMT: a quarter of its units take 0 s, accepted); at a million micro-batches
    the scaled MILP's claimed optimum is the exact one (unscaled it claimed plans 15-364% worse)."""
    from edgeplan.solvers import dsgd_solvers as S
    from edgeplan.synthetic import pipedream_instance
    cm = CostModel(pipedream_instance(PIPEDREAM / f"{model}.csv", n, microbatches=m))
    fast = DSGD.solve(cm, "exact").predicted["round_latency_s"]
    assert cm.tau * S.dp_reference(cm).info["iteration_s"] == pytest.approx(fast, rel=1e-9)
    if n <= 4:
        milp = DSGD.solve(cm, "milp")
        assert milp.solver["status"] == "optimal"
        assert milp.predicted["round_latency_s"] == pytest.approx(fast, rel=1e-6)


def test_milp_claim_that_does_not_hold_is_not_called_optimal(monkeypatch):
    from edgeplan.solvers import dsgd_solvers as S
    cm, path, m = chain(3)
    real = S.milp_path
    monkeypatch.setattr(S, "milp_path", lambda tab: (real(tab)[0] * 0.5, real(tab)[1]))
    assert DSGD.solve(cm, "milp").solver["status"] == "feasible"


@pytest.mark.skipif(not PIPEDREAM.is_dir(), reason="../shared/profiles/pipedream is not beside the repository")
def test_pipedream_profile_written_as_a_scenario_file(tmp_path):
    """The benchmark's instances are scenario files a person can plan with the CLI."""
    from edgeplan.scenario import load_scenario
    from edgeplan.synthetic import pipedream_instance
    made = pipedream_instance(PIPEDREAM / "alexnet.csv", 2, out_dir=tmp_path / "new" / "folder")
    again = load_scenario(tmp_path / "new" / "folder" / "scenario.yaml")
    assert DSGD.solve(CostModel(again)).predicted["round_latency_s"] == \
        pytest.approx(DSGD.solve(CostModel(made)).predicted["round_latency_s"], rel=1e-12)
