"""Each paradigm on the tiny scenario (two devices, three units): latency, energy and bytes
computed by hand here, independently of planner.costs, must match to 1e-9 relative.

Tiny scenario (tests/conftest.py): F = [0, 3e6, 9e6, 9.3e6] FLOP per sample (prefix),
Wt = [0, 40, 440, 520] bytes, out = [100, 200, 50, 40], A = [0, 300, 400, 440], label 8 bytes,
batch 10, 2 local iterations, SGD (3x weights; its update 4 FLOPs per parameter per step, the
nodes here having no call overhead and unbounded memory bandwidth). Server 1 GFLOP/s, 100 W, tx 2 W, rx 1 W;
d0 0.1 GFLOP/s, 5 W, tx 1 W, rx 0.5 W, eta 2, 10 ms; d1 0.2 GFLOP/s, 4 W, eta 4, 20 ms;
one 1 MHz channel.
"""

from __future__ import annotations

import numpy as np
import pytest
from edgeplan import api, compute
from edgeplan import costs as C
from edgeplan import pel_costs as PC
from edgeplan.costs import CostModel
from edgeplan.dsgd_costs import dsgd as dsgd_cost
from edgeplan.errors import ScenarioError
from edgeplan.scenario import load_scenario

F = [0.0, 3e6, 9e6, 9.3e6]
WT = [0.0, 40.0, 440.0, 520.0]
OUT = [100.0, 200.0, 50.0, 40.0]
ACT = [0.0, 300.0, 400.0, 440.0]
PARAMS = [0, 10, 100, 20]
LABEL, B, TAU = 8.0, 10.0, 2
FS, PS, TXS, RXS = 1e9, 100.0, 2.0, 1.0
DEV = {"d0": dict(f=1e8, p=5.0, tx=1.0, rx=0.5, eta=2.0, lat=0.01),
       "d1": dict(f=2e8, p=4.0, tx=1.0, rx=0.5, eta=4.0, lat=0.02)}
BW = 1e6
REL = 1e-9
PP = np.cumsum(PARAMS)


def upd(f, lo, hi):
    """One optimizer step over units lo+1..hi on a node of f FLOP/s."""
    return compute.UPDATE_FLOPS * (PP[hi] - PP[lo]) / f


def rate(d, share):
    return share * BW * DEV[d]["eta"]


def t(d, nbytes, share):
    return DEV[d]["lat"] + 8 * nbytes / rate(d, share) if nbytes > 0 else 0.0


def radio(d, up, dn, share):
    """Energy of the device and the server for `up` bytes up and `dn` down on d's link."""
    tu, td = 8 * up / rate(d, share), 8 * dn / rate(d, share)
    return DEV[d]["tx"] * tu + DEV[d]["rx"] * td + RXS * tu + TXS * td


@pytest.fixture
def cm(tiny):
    return CostModel(load_scenario(tiny()))


def close(a, b):
    assert a == pytest.approx(b, rel=REL)


def test_fl(cm):
    share = {"d0": 0.5, "d1": 0.5}
    T = {d: TAU * (B * F[3] / v["f"] + upd(v["f"], 0, 3)) + 2 * t(d, WT[3], share[d]) for d, v in DEV.items()}
    E = sum(v["p"] * TAU * (B * F[3] / v["f"] + upd(v["f"], 0, 3)) + radio(d, WT[3], WT[3], share[d])
            for d, v in DEV.items())
    c = C.fl(cm, [0.5, 0.5])
    close(c.round_latency, max(T.values()))
    close(c.energy, E)
    assert c.comm_bytes == 2 * 2 * WT[3]
    close(c.training_latency, 5 * max(T.values()))
    assert c.critical_node == "d0"


def test_sl(cm):
    cut = 1
    order = ["d0", "d1"]
    hand = 2 * WT[cut]             # the client part with SGD's momentum, handed on
    contrib, E = {}, 0.0
    for k, d in enumerate(order):
        nxt = order[(k + 1) % 2]
        dev, srv = B * F[cut] / DEV[d]["f"] + upd(DEV[d]["f"], 0, cut), B * (F[3] - F[cut]) / FS + upd(FS, cut, 3)
        it = dev + t(d, B * (OUT[cut] + LABEL), 1) + srv + t(d, B * OUT[cut], 1)
        contrib[d] = TAU * it + t(d, hand, 1) + t(nxt, hand, 1)
        up = TAU * B * (OUT[cut] + LABEL) + hand
        dn = TAU * B * OUT[cut] + hand
        E += DEV[d]["p"] * TAU * dev + radio(d, up, dn, 1)
        E += PS * TAU * srv
    c = C.sl(cm, cut)
    close(c.round_latency, sum(contrib.values()))
    close(c.energy, E)
    assert c.comm_bytes == pytest.approx(2 * (TAU * B * (2 * OUT[cut] + LABEL) + 2 * hand))
    # memory: device 3 Wt(c) + b A(c)
    assert c.nodes.loc["d0", "memory_bytes"] == 3 * WT[cut] + B * ACT[cut]


def test_psl(cm):
    cuts = {"d0": 1, "d1": 2}
    share = {"d0": 0.3, "d1": 0.7}
    alpha = 0.5
    T, E, nbytes = {}, 0.0, 0.0
    for d, c in cuts.items():
        dev, srv = B * F[c] / DEV[d]["f"] + upd(DEV[d]["f"], 0, c), B * (F[3] - F[c]) / FS + upd(FS, c, 3)
        it = dev + t(d, B * (OUT[c] + LABEL), share[d]) + srv / alpha + t(d, B * OUT[c], share[d])
        T[d] = TAU * it + t(d, WT[c], share[d]) * 2
        up, dn = TAU * B * (OUT[c] + LABEL) + WT[c], TAU * B * OUT[c] + WT[c]
        E += DEV[d]["p"] * TAU * dev + PS * TAU * srv + radio(d, up, dn, share[d])
        nbytes += up + dn
    c = C.psl(cm, [1, 2], [0.3, 0.7])
    close(c.round_latency, max(T.values()))
    close(c.energy, E)
    close(c.comm_bytes, nbytes)
    close(c.device_energy, E - sum(PS * TAU * (B * (F[3] - F[k]) / FS + upd(FS, k, 3)) for k in cuts.values())
          - sum(RXS * 8 * (TAU * B * (OUT[k] + LABEL) + WT[k]) / rate(d, share[d])
                + TXS * 8 * (TAU * B * OUT[k] + WT[k]) / rate(d, share[d]) for d, k in cuts.items()))
    # server memory: one server-side part per device
    srv = sum(3 * (WT[3] - WT[k]) + B * (ACT[3] - ACT[k]) for k in cuts.values())
    assert c.nodes.loc["srv", "memory_bytes"] == pytest.approx(srv)
    # the critical phase of the critical device is its largest
    ph = c.phases.loc[c.critical_node]
    assert c.critical_phase == ph.idxmax()


def test_psl_energy_helper_agrees_with_ledger(cm):
    R = cm.routes(cm.devices, ["srv", "srv"])
    d, s = cm.ix(cm.devices), np.array([0, 0])
    tot, own = C.psl_energy(cm, R, d, s, cm.batch[d], np.array([1, 2]), np.array([0.3, 0.7]))
    c = C.psl(cm, [1, 2], [0.3, 0.7])
    close(tot.sum(), c.energy)
    close(own.sum(), c.device_energy)


@pytest.mark.parametrize("m", [1, 2])
def test_dsgd(cm, m):
    mb = B / m
    items = [mb * F[1] / DEV["d0"]["f"], t("d0", mb * (OUT[1] + LABEL), 1), t("d0", mb * OUT[1], 1),
             mb * (F[3] - F[1]) / FS]
    it = sum(items) + (m - 1) * max(items)
    E = (DEV["d0"]["p"] * TAU * B * F[1] / DEV["d0"]["f"] + PS * TAU * B * (F[3] - F[1]) / FS
         + m * TAU * radio("d0", mb * (OUT[1] + LABEL), mb * OUT[1], 1))
    c = dsgd_cost(cm, [("d0", 1, 1), ("srv", 2, 3)], ["d0", "srv"], m)
    close(c.round_latency, TAU * it)
    close(c.energy, E)
    close(c.comm_bytes, TAU * B * (2 * OUT[1] + LABEL))
    assert c.nodes.loc["srv", "memory_bytes"] == pytest.approx(3 * (WT[3] - WT[1]) + B * (ACT[3] - ACT[1]))


@pytest.mark.parametrize("groups", [{"d0": "a", "d1": "a"}, {"d0": "a", "d1": "b"}])
def test_fpl(cm, groups):
    j, share, alpha = 2, {"d0": 0.5, "d1": 0.5}, 0.5
    together = groups["d0"] == groups["d1"]
    T, E = {}, 0.0
    for d in DEV:
        dev, srv = B * F[j] / DEV[d]["f"] + upd(DEV[d]["f"], 0, j), B * (F[3] - F[j]) / FS + upd(FS, j, 3)
        it = dev + t(d, B * (OUT[j] + LABEL), share[d]) + srv / alpha + t(d, B * OUT[j], share[d])
        sync = 2 * t(d, WT[j], share[d]) if together else 0.0
        T[d] = TAU * it + sync
        w = WT[j] if together else 0.0
        E += (DEV[d]["p"] * TAU * dev + PS * TAU * srv
              + radio(d, TAU * B * (OUT[j] + LABEL) + w, TAU * B * OUT[j] + w, share[d]))
    c = C.fpl(cm, j, groups, "srv", [0.5, 0.5])
    close(c.round_latency, max(T.values()))
    close(c.energy, E)
    G = len(set(groups.values()))
    extra = (G - 1) * 4 * PARAMS[3]
    assert c.nodes.loc["srv", "memory_bytes"] == pytest.approx(3 * (WT[3] - WT[j] + extra) + 2 * B * (ACT[3] - ACT[j]))


def test_pel(tiny):
    cm = CostModel(load_scenario(tiny(extra="paradigms: {pel: {compute: per_parameter}}")))
    P, Q = sum(PARAMS), 32
    Lk = {"d0": 60.0, "d1": 70.0}
    share = {"d0": 0.4, "d1": 0.6}
    T, E = {}, 0.0
    for d, L in Lk.items():
        x = L * Q / 8
        tpp = B * TAU * F[3] / DEV[d]["f"] / P      # c / f with c the model's training FLOPs per parameter
        T[d] = t(d, x, share[d]) + L * tpp + t(d, x, share[d])
        E += DEV[d]["p"] * L * tpp + radio(d, x, x, share[d])
    c = PC.pel(cm, [60, 70], [0.4, 0.6])
    close(c.round_latency, max(T.values()))
    close(c.energy, E)
    assert c.comm_bytes == 2 * P * Q / 8


def test_pel_with_given_flops_per_parameter(tiny):
    cm = CostModel(load_scenario(tiny(extra="paradigms: {pel: {compute: per_parameter, flops_per_parameter: 2.0e4}}")))
    c = PC.pel(cm, [60, 70], [0.5, 0.5])
    x = 60 * 32 / 8
    close(c.phases.loc["d0", "compute"], 60 * 2e4 / 1e8)
    close(c.nodes.loc["d0", "latency_s"], 2 * t("d0", x, 0.5) + 60 * 2e4 / 1e8)


def test_pel_backprop(cm):
    """d0 holds units 1-2, d1 unit 3. Per iteration a worker runs the whole forward, the input
    gradients above its block (taken as the forward FLOPs of a unit with parameters), the full
    backward inside it, only the weight gradients of its first unit, and 4 FLOPs per parameter of
    update; it moves its block's parameters (4 bytes each) down and up."""
    FWD, BWD = [0.0, 1e6, 2e6, 1e5], [0.0, 2e6, 4e6, 2e5]
    fw = sum(FWD)
    it0 = B * (fw + FWD[3] + BWD[2] + (BWD[1] - 0.0)) / 1e8 + 4 * (PARAMS[1] + PARAMS[2]) / 1e8
    it1 = B * (fw + (BWD[3] - FWD[3])) / 2e8 + 4 * PARAMS[3] / 2e8
    x0, x1 = 4 * (PARAMS[1] + PARAMS[2]), 4 * PARAMS[3]
    share = [0.7, 0.3]
    T0 = TAU * it0 + 2 * t("d0", x0, share[0])
    T1 = TAU * it1 + 2 * t("d1", x1, share[1])
    c = PC.pel(cm, None, share, blocks=[[1, 2], [3, 3]])
    close(c.phases.loc["d0", "compute"], TAU * it0)
    close(c.phases.loc["d1", "compute"], TAU * it1)
    close(c.round_latency, max(T0, T1))
    assert c.comm_bytes == 2 * (x0 + x1)
    # a worker without a block does nothing and its samples do not count
    idle = PC.pel(cm, None, [1.0, 0.0], blocks=[[1, 3], None])
    assert idle.nodes.loc["d1", "energy_j"] == 0 and idle.samples == TAU * B


def test_pel_backprop_whole_model_download(cm, tiny):
    """`download: model`: each active worker downloads the whole model (4 bytes a parameter) and
    uploads its block; compute as with block downloads; the solver plans the same round it costs."""
    block = PC.pel(cm, None, [0.7, 0.3], blocks=[[1, 2], [3, 3]])
    cm = CostModel(load_scenario(tiny(extra="paradigms: {pel: {download: model}}", name="whole.yaml")))
    whole, x0, x1 = 4 * sum(PARAMS), 4 * (PARAMS[1] + PARAMS[2]), 4 * PARAMS[3]
    c = PC.pel(cm, None, [0.7, 0.3], blocks=[[1, 2], [3, 3]])
    assert c.comm_bytes == x0 + x1 + 2 * whole
    for d, x, share in (("d0", x0, 0.7), ("d1", x1, 0.3)):
        close(c.phases.loc[d, "download"], t(d, whole, share))
        close(c.phases.loc[d, "upload"], t(d, x, share))
    idle = PC.pel(cm, None, [1.0, 0.0], blocks=[[1, 3], None])
    assert idle.comm_bytes == 2 * whole and idle.nodes.loc["d1", "energy_j"] == 0
    plan = api.plan(cm.scn, "pel")
    assert api.evaluate(cm.scn, plan).round_latency == pytest.approx(plan.round_latency, rel=1e-9)
    from edgeplan import paradigms
    assert paradigms.get("pel").configuration(cm, {"devices": ["d0", "d1"], "params": [110, 20]}) == "pel workers=2 download=model"
    assert block.comm_bytes == 2 * (x0 + x1)


def test_pel_whole_model_download_needs_backprop(tiny):
    with pytest.raises(ScenarioError, match="download: model is planned with compute: backprop"):
        load_scenario(tiny(extra="paradigms: {pel: {compute: per_parameter, download: model}}"))


def test_memory_violation_and_constraints_are_reported(tiny):
    path = tiny(extra="constraints: {max_round_latency: 0.5 s, max_device_energy: 1 J}")
    path.write_text(path.read_text().replace("compute: 1e8, power: 5,", "compute: 1e8, power: 5, memory: 500,"))
    cm = CostModel(load_scenario(path))
    c = C.psl(cm, [2, 1], [0.5, 0.5])
    assert not c.feasible
    joined = "; ".join(c.violations)
    assert "d0: needs" in joined and "of memory, has 500 B" in joined
    assert "exceeds max_round_latency 500 ms" in joined
    assert "per round exceeds max_device_energy 1 J" in joined


def test_shannon_rate(tmp_path):
    (tmp_path / "p.csv").write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes\n"
                                    "input,0,0,100,0,0,0\nu1,1e6,2e6,1000,0,10,40\n")
    (tmp_path / "s.yaml").write_text("""name: sh
model: {profile: p.csv}
training: {batch_size: 1, local_iterations: 1}
nodes:
  - {name: s, role: server, compute: 1e9, power: 1, tx_power: 1}
  - {name: d, role: device, compute: 1e9, power: 1, tx_power: 0.1}
links:
  - {from: d, to: s, channel: c, gain_db: -80}
channels:
  - {name: c, bandwidth: 1e6, noise_density: -174 dBm/Hz}
""")
    cm = CostModel(load_scenario(tmp_path / "s.yaml"))
    R = cm.routes(["d"], ["s"])
    n0 = 10 ** ((-174 - 30) / 10)
    want_up = 0.5 * 1e6 * np.log2(1 + 0.1 * 1e-8 / (n0 * 0.5 * 1e6))
    want_dn = 0.5 * 1e6 * np.log2(1 + 1.0 * 1e-8 / (n0 * 0.5 * 1e6))
    close(R.rate(np.array([0.5]), True)[0], want_up)
    close(R.rate(np.array([0.5]), False)[0], want_dn)


def test_multi_hop_and_shared_fixed_link(tmp_path):
    """Two devices behind a fog node share its fixed link to the cloud: each gets half its rate."""
    (tmp_path / "p.csv").write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes\n"
                                    "input,0,0,100,0,0,0\nu1,1e6,2e6,1000,0,10,40\nu2,1e6,2e6,10,0,10,40\n")
    (tmp_path / "s.yaml").write_text("""name: hop
model: {profile: p.csv}
training: {batch_size: 1, local_iterations: 1}
nodes:
  - {name: cloud, role: cloud, compute: 1e12, power: 0}
  - {name: fog, role: fog, compute: 1e9, power: 0}
  - {name: d, role: device, count: 2, compute: 1e9, power: 0}
links:
  - {from: d, to: fog, uplink: 8e6, downlink: 8e6, latency: 0.001}
  - {from: fog, to: cloud, uplink: 8e6, downlink: 4e6, latency: 0.01}
""")
    cm = CostModel(load_scenario(tmp_path / "s.yaml"))
    R = cm.routes(["d-0", "d-1"], ["cloud", "cloud"])
    close(R.lat[0], 0.011)
    close(R.fix_up[0], 1 / 8e6 + 2 / 8e6)
    close(R.fix_dn[0], 1 / 8e6 + 2 / 4e6)
    alone = cm.routes(["d-0"], ["cloud"], concurrent=False)
    close(alone.fix_up[0], 1 / 8e6 + 1 / 8e6)


def test_small_layers_pay_per_call_and_per_byte(tiny):
    """A device with a call overhead and a memory bandwidth: every unit pays the overhead on its
    forward and its backward call, its input and output cross memory once forward and twice
    backward per sample, its parameters once forward and twice backward per call; each step pays
    the optimizer's fixed part and its pass over the parameters."""
    path = tiny()
    path.write_text(path.read_text().replace("call_overhead: 0, memory_bandwidth: 1e300}}\n  - {name: d1",
                                             "call_overhead: 1 ms, memory_bandwidth: 8 Mbit/s}}\n  - {name: d1")
                    .replace("call_overhead: 0, memory_bandwidth: 1e300}\n  - {name: d1",
                             "call_overhead: 1 ms, memory_bandwidth: 8 Mbit/s}\n  - {name: d1"))
    cm = CostModel(load_scenario(path))
    bw = 1e6                                                   # 8 Mbit/s = 1 MB/s
    io = sum(OUT[k - 1] + OUT[k] for k in (1, 2, 3))
    per_sample = F[3] / 1e8 + 3 * io / bw
    per_call = 3 * 2 * 1e-3 + 3 * WT[3] / bw
    step = compute.STEP_CALLS * 1e-3 + PP[3] * (compute.UPDATE_FLOPS / 1e8 + compute.UPDATE_BYTES / bw)
    c = C.fl(cm, [0.5, 0.5])
    close(c.phases.loc["d0", "device"], TAU * (B * per_sample + per_call + step))
    close(c.phases.loc["d1", "device"], TAU * (B * F[3] / 2e8 + upd(2e8, 0, 3)))  # d1 keeps the plain FLOP model


def test_one_device_syncs_with_nobody(tiny):
    """fl, sl and psl with a single device move no model (nobody to average with or hand on to),
    as fpl's branch group of one: the same computation costs the same."""
    path = tiny()
    text = path.read_text()
    text = text[:text.index("  - {name: d1")] + text[text.index("links:"):]
    text = text.replace("  - {from: d1, to: srv, channel: ch, spectral_efficiency: 4, latency: 0.02}\n", "")
    path.write_text(text)
    cm = CostModel(load_scenario(path))
    act = TAU * B * (OUT[1] + LABEL) + TAU * B * OUT[1]
    for c in (C.sl(cm, 1), C.psl(cm, [1], [1.0]), C.fpl(cm, 1, {"d0": "g"}, "srv", [1.0])):
        assert c.comm_bytes == pytest.approx(act), c.paradigm
    assert C.fl(cm, [1.0]).comm_bytes == 0
    close(C.sl(cm, 1).round_latency, C.psl(cm, [1], [1.0], alpha=[1.0]).round_latency)
