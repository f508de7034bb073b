"""pel (PABA): the joint optimum against cvxpy and the other schemes; structural properties."""

from __future__ import annotations

import numpy as np
import pytest
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.scenario import from_data, load_scenario
from edgeplan.synthetic import pel_instance, random_profile

from .conftest import ROOT, SCENARIOS

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
    data["paradigms"] = {"pel": {"compute": "per_parameter", **(extra or {})}}
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
        data["paradigms"] = {"pel": {"compute": "per_parameter", "groups": {"a": ["w0", "w1"], "b": ["w2", "w3"]}}}
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
    from edgeplan.errors import InfeasibleError
    cm = _two(tmp_path)
    best = PEL.solve(cm).predicted["round_latency_s"]
    data = dict(cm.scn.raw)
    data["constraints"] = {"max_round_latency": 0.5 * best}
    with pytest.raises(InfeasibleError, match=r"max_round_latency .* cannot be met: the least pel round is"):
        PEL.solve(CostModel(from_data(data)))


# ---------------------------------------------------------------- compute: backprop


def _brute_force(cm):
    """Every cover of the layers by contiguous ranges, every assignment of the ranges to distinct
    workers, the min-max shares for each: the least round."""
    import itertools

    from edgeplan.solvers.pel_layers import LayerInstance
    from edgeplan.solvers.shares import minmax_time
    inst = LayerInstance(cm)
    M, n = inst.M, len(inst.devices)
    best = np.inf
    for cuts in itertools.product((False, True), repeat=M - 1):
        edges = [0] + [k + 1 for k, c in enumerate(cuts) if c] + [M]
        ranges = [(edges[k], edges[k + 1] - 1) for k in range(len(edges) - 1)]
        if len(ranges) > n:
            continue
        for who in itertools.permutations(range(n), len(ranges)):
            A, U, D = np.zeros(n), np.zeros(n), np.zeros(n)
            for k, (i, j) in zip(who, ranges):
                A[k], U[k], D[k] = inst.A[k, i, j], inst.U[k, i, j], inst.D[k, i, j]
            try:
                T, _ = minmax_time(inst.R, A, U, D)
            except RuntimeError:
                continue
            best = min(best, T)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_backprop_joint_equals_brute_force_and_the_milp(seed):
    rng = np.random.default_rng(seed)
    cm = CostModel(pel_instance(int(rng.integers(2, 4)), 100 + seed, shannon=bool(seed % 2), L=4, compute="backprop"))
    joint = PEL.solve(cm, "joint")
    bf = _brute_force(cm)
    assert joint.predicted["round_latency_s"] == pytest.approx(bf, rel=1e-7)
    assert PEL.solve(cm, "milp").predicted["round_latency_s"] == pytest.approx(bf, rel=1e-6)
    heur = PEL.solve(cm, "heuristic")
    assert heur.predicted["round_latency_s"] >= bf * (1 - 1e-7)
    assert heur.paradigm_detail["lower_bound_s"] <= bf * (1 + 1e-7)
    for scheme in ("equal", "bandwidth_aware", "parameter_aware"):
        assert PEL.solve(cm, scheme).predicted["round_latency_s"] >= bf * (1 - 1e-7)


def test_backprop_identical_devices_form_one_kind():
    from edgeplan.scenario import load_scenario
    from edgeplan.solvers.pel_layers import CoverDP, LayerInstance
    inst = LayerInstance(CostModel(load_scenario(ROOT / "scenarios" / "psl-hetero.yaml")))
    assert inst.kinds == 4 and CoverDP.fits(inst)        # jetson, rpi4, rpi3, phone


def test_backprop_idle_workers_do_nothing_and_do_not_count():
    from edgeplan.scenario import load_scenario
    cm = CostModel(load_scenario(ROOT / "scenarios" / "digits-small.yaml"))
    p = PEL.solve(cm, "joint")
    idle = [a for a in p.assignments if a.get("role") == "device" and a.get("units") is None]
    active = [a for a in p.assignments if a.get("role") == "device" and a.get("units") is not None]
    assert idle and active
    assert all(a["up_bytes"] == 0 and a["down_bytes"] == 0 and a["energy_j"] == 0 for a in idle)
    b = cm.scn.spec.training.batch_size * cm.tau
    assert p.predicted["samples_per_round"] == b * len(active)
    assert p.paradigm_detail["active_workers"] == len(active)


def test_backprop_compute_depends_on_where_the_block_starts():
    from edgeplan.pel_costs import backprop_model
    from edgeplan.scenario import load_scenario
    cm = CostModel(load_scenario(ROOT / "scenarios" / "digits-small.yaml"))
    bp = backprop_model(cm)
    v, b, L = cm.idx["pi-0"], 32, cm.L
    top = bp.iteration(v, b, L, L)
    bottom = bp.iteration(v, b, 1, L)
    assert bottom > top > b * bp.fw[v]                  # a lower start runs a longer backward
    assert bp.iteration(v, b, 0, 0) == 0.0              # no block, no compute


def test_backprop_engine_stops_the_backward_at_the_block():
    import torch
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.engines import ENGINES
    from edgeplan.validation.runner import make_job
    scn = load_scenario(ROOT / "scenarios" / "digits-small.yaml")
    cm = CostModel(scn)
    plan = PEL.solve(cm, "equal")
    job, cm, _ = make_job(scn, plan)
    e = ENGINES["pel"](job)
    blocks = e.blocks()
    k = next(k for k in e.active if blocks[k][0] > 1)
    first, last = blocks[k]
    before = [p.detach().clone() for u in e.replicas[k] for p in u.parameters()]
    new, _ = e.work(k, e.download(blocks[k]), blocks[k])
    after = [p for u in e.replicas[k] for p in u.parameters()]
    below = [p for u in e.replicas[k][:first - 1] for p in u.parameters()]
    assert all(p.grad is None for p in below)           # nothing below the block had a gradient
    changed = [not torch.equal(a, b) for a, b in zip(before, after)]
    n_below = len(below)
    n_block = sum(1 for u in e.replicas[k][first - 1:last] for _ in u.parameters())
    assert not any(changed[:n_below]) and not any(changed[n_below + n_block:])
    assert any(changed[n_below:n_below + n_block])


def test_backprop_plan_of_another_compute_model_is_refused():
    from edgeplan.errors import PlanError
    from edgeplan.scenario import load_scenario
    cm = CostModel(load_scenario(ROOT / "scenarios" / "digits-small.yaml"))
    p = PEL.solve(cm, "joint")
    for a in p.assignments:
        a.pop("units", None)
    with pytest.raises(PlanError, match="made for compute: per_parameter"):
        PEL.evaluate(cm, p)


def test_backprop_settings_that_belong_to_paba_are_refused(tmp_path):
    from edgeplan.errors import ScenarioError
    from edgeplan.scenario import load_scenario
    text = (ROOT / "scenarios" / "digits-small.yaml").read_text() + "paradigms:\n  pel: {flops_per_parameter: 1e4}\n"
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError, match="paradigms.pel: flops_per_parameter belongs to compute: per_parameter"):
        load_scenario(tmp_path / "s.yaml")


@pytest.mark.parametrize("seed", range(4))
def test_backprop_milp_keeps_only_the_cheapest_groups_per_channel_and_loses_nothing(seed, monkeypatch):
    """Many workers on several channels: the MILP keeps, per channel and range, the M cheapest
    workers (a cover has at most M ranges); the optimum is the one over every worker."""
    import tempfile

    from edgeplan.solvers import pel_layers as PL
    from edgeplan.synthetic import write_fleet
    path = write_fleet(24 + 4 * seed, tempfile.mkdtemp(), seed=seed)
    cm = CostModel(load_scenario(path))
    pruned = PL.milp(cm)
    everything = lambda gc, M, channel: [(g, i, j) for g in range(gc.shape[0]) for i in range(M)  # noqa: E731
                                         for j in range(i, M) if np.isfinite(gc[g, i, j])]
    monkeypatch.setattr(PL, "_candidates", everything)
    full = PL.milp(cm)
    assert pruned.info["round_latency_s"] == pytest.approx(full.info["round_latency_s"], rel=1e-7)


def test_share_root_finder_agrees_with_bisection():
    """The water-filling's per-worker root (regula falsi, warm-started) lands where 52 bisection
    steps on log2(beta) do, for lambdas across the range the channel search visits."""
    from edgeplan.solvers.pel_solvers import PelInstance, _log2_share, _Sub
    from edgeplan.synthetic import pel_instance
    inst = PelInstance(CostModel(pel_instance(200, seed=7, shannon=True)))
    idx = np.arange(len(inst.devices))
    sub = _Sub(inst, idx)
    w = np.linspace(0.5, 3.0, len(idx))
    x0 = None
    for lam in np.exp(np.linspace(-5, 25, 9)):
        lo, hi = np.full(len(idx), -60.0), np.zeros(len(idx))
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            a, da = sub.a_da(2.0 ** mid)
            big = -w * da > lam * a * a
            lo, hi = np.where(big, mid, lo), np.where(big, hi, mid)
        want = 0.5 * (lo + hi)
        got = _log2_share(sub, w, lam, x0=x0)
        inside = (want > -59.9) & (want < -1e-9)
        assert np.allclose(got[inside], want[inside], atol=1e-9)
        x0 = got


@pytest.mark.parametrize("shannon", [True, False])
def test_water_filling_meets_its_optimality_conditions(shannon):
    """At any T the channel's shares sum to 1 and every worker with a share strictly inside
    (0, 1) has the same marginal value w h'(beta) (h = 1/a), none above it at share 1: the KKT
    conditions of max sum w/a(beta), whatever path the multiplier search took (Newton on it,
    warm-started across calls with different T)."""
    from edgeplan.solvers.pel_solvers import PelInstance, _equal_T, allocate
    from edgeplan.synthetic import pel_instance
    inst = PelInstance(CostModel(pel_instance(300, seed=3, shannon=shannon)))
    T0 = _equal_T(inst)
    for T in (T0, 0.4 * T0, 0.9 * T0, 3 * T0):        # jumps as Newton's first steps make
        beta = allocate(inst, T)
        w = T - inst.lat
        for pos in inst.channels.values():
            on = pos[w[pos] > 0]
            assert beta[on].sum() == pytest.approx(1.0, abs=1e-12)
            with np.errstate(divide="ignore", invalid="ignore"):
                marg = -w[on] * inst.da(beta)[on] / inst.a(beta)[on] ** 2
            inner = (beta[on] > 1e-9) & (beta[on] < 1 - 1e-9)
            assert inner.sum() >= 2
            lam = np.median(marg[inner])
            assert np.allclose(marg[inner], lam, rtol=1e-8)
            assert (marg[beta[on] >= 1 - 1e-9] >= lam * (1 - 1e-8)).all()


def test_compare_says_what_several_pel_workers_do_to_learning():
    """Several workers train blocks beside stale replicas (issue 14's design): compare says so
    beside its round figures, which alone would rank it first."""
    import edgeplan
    best = edgeplan.compare(edgeplan.load(SCENARIOS / "pel-shannon.yaml")).set_index("paradigm")
    assert "workers each update a block of the model beside a replica that is stale elsewhere" in best.loc["pel", "note"]


def test_whole_model_download_trains_each_block_against_the_current_model(tmp_path):
    """`download: model`: a worker takes the whole global model into its replica (not only its
    block), only its block changes, and the bytes a round moves are the plan's exactly."""
    import edgeplan
    import torch
    import yaml
    from edgeplan.validation.engines import ENGINES
    from edgeplan.validation.runner import make_job, run_inprocess
    spec = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    spec.setdefault("paradigms", {})["pel"] = {"download": "model"}
    path = tmp_path / "whole.yaml"
    path.write_text(yaml.safe_dump(spec))
    scn = load_scenario(path)
    plan = PEL.solve(CostModel(scn), "equal")
    job, _, _ = make_job(scn, plan)
    e = ENGINES["pel"](job)
    with torch.no_grad():                       # the global model moves on: a replica must follow it
        for p in e.model.parameters():
            p.add_(0.1)
    blocks = e.blocks()
    k = next(k for k in e.active if blocks[k][0] > 1)
    first, last = blocks[k]
    e.work(k, e.download(blocks[k]), blocks[k])
    glob = [p for u in e.glob for p in u.parameters()]
    rep = [p for u in e.replicas[k] for p in u.parameters()]
    inside = {id(p) for u in e.replicas[k][first - 1:last] for p in u.parameters()}
    assert all(torch.equal(g, r) for g, r in zip(glob, rep) if id(r) not in inside)
    assert not all(torch.equal(g, r) for g, r in zip(glob, rep) if id(r) in inside)
    res = run_inprocess(scn, plan, rounds=2, out_dir=tmp_path / "run")
    assert (res.rounds.comm_bytes == plan.predicted["comm_bytes"]).all()
    whole = 4 * sum(p.numel() for p in e.model.parameters())
    assert plan.predicted["comm_bytes"] > whole * len(e.active)      # every active worker the whole model
    assert plan.paradigm_detail["download"] == "model"
    from edgeplan.reports import run_sentences
    assert "training: 3 workers each downloaded the whole current model and updated their block" in \
        " ".join(run_sentences(res))
    many = yaml.safe_load((SCENARIOS / "pel-shannon.yaml").read_text())
    for download, says in (("model", "update a block of the current model"),
                           ("block", "(its initial weights; paradigms.pel.download: model sends the whole model)")):
        many["paradigms"]["pel"] = {"compute": "backprop", "download": download}
        (tmp_path / "many.yaml").write_text(yaml.safe_dump(many))
        best = edgeplan.compare(edgeplan.load(tmp_path / "many.yaml"), ["pel"]).set_index("paradigm")
        assert says in best.loc["pel", "note"]


def test_whole_model_download_with_one_local_step_is_block_parallel_sgd(tmp_path):
    """With `download: model` and one local iteration, a pel round is one SGD step on the whole
    model in which each block's gradient comes from its worker's batch, all at the same (current)
    model: what PABA's cascade of block updates means for a DNN. With block downloads the
    gradients are taken at each worker's stale replica instead, and the round differs."""
    import copy

    import torch
    import yaml
    from edgeplan.validation.engine import LOSS
    from edgeplan.validation.engines import ENGINES
    from edgeplan.validation.partition import flat_params
    from edgeplan.validation.runner import make_job
    rounds = {}
    for download in ("model", "block"):
        spec = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
        spec["training"]["local_iterations"] = 1
        spec.setdefault("paradigms", {})["pel"] = {"download": download}
        path = tmp_path / f"{download}.yaml"
        path.write_text(yaml.safe_dump(spec))
        scn = load_scenario(path)
        job, _, _ = make_job(scn, PEL.solve(CostModel(scn), "equal"), 0)
        e = ENGINES["pel"](job)
        # the equal plan's workers are each a group of one: group and worker indices agree below
        for _ in range(2):                  # a round first, so the replicas' stale parts lag behind
            shards = copy.deepcopy(job.shards)
            start = flat_params(e.glob_seq).clone()
            blocks = e.blocks()
            expect = start.clone()
            for k in e.active:              # the gradient at the current model on worker k's batch
                whole = copy.deepcopy(e.glob_seq)
                whole.zero_grad()
                x, y = shards[e.devices[k]].next(job.batch(e.devices[k]))
                LOSS(whole(x), y).backward()
                first, last = blocks[k]
                below = sum(p.numel() for u in e.glob[:first - 1] for p in u.parameters())
                grads = torch.cat([p.grad.reshape(-1) for u in whole[first - 1:last] for p in u.parameters()])
                expect[below:below + len(grads)] -= job.spec.training.learning_rate * grads
            new = {k: e.work(k, e.download(blocks[k]), blocks[k])[0] for k in e.active}
            e.cascade(blocks, new)
            e.round_no += 1
        rounds[download] = (flat_params(e.glob_seq), expect)
    got, expect = rounds["model"]
    torch.testing.assert_close(got, expect, rtol=1e-5, atol=1e-6)
    got, expect = rounds["block"]
    assert not torch.allclose(got, expect, rtol=1e-5, atol=1e-6)


def test_the_phase_table_leaves_out_workers_that_sat_the_round_out():
    from edgeplan.validation.runner import run_inprocess
    scn = load_scenario(ROOT / "scenarios" / "digits-small.yaml")
    p = PEL.solve(CostModel(scn), "joint")
    idle = {a["node"] for a in p.assignments if a.get("role") == "device" and a.get("units") is None}
    active = {a["node"] for a in p.assignments if a.get("role") == "device" and a.get("units") is not None}
    assert idle and active
    ph = run_inprocess(scn, p, rounds=1).phases(scn)
    assert set(ph.device) & idle == set() and active <= set(ph.device)
    assert ph.measured_s.notna().all()          # every row left has something to compare


def test_an_inaccurate_cvxpy_solution_says_so_in_its_status_without_a_library_warning():
    """Clarabel stops short on this instance: the plan's status says "feasible"; cvxpy's own
    UserWarning had reached a Python user's console as well."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = paradigms.get("pel").solve(CostModel(pel_instance(100, seed=100, shannon=False)), "cvxpy")
    assert plan.solver["status"] == "feasible"
    assert not [w for w in caught if "inaccurate" in str(w.message)], [str(w.message) for w in caught]
