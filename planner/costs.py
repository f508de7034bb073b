"""The cost model of shared/spec/cost-model.md, once, for every paradigm.

Solvers optimise these functions, `edgeplan evaluate` applies them, and validation compares
its measurements with them. Everything is SI (s, bytes, bit/s, W, J) and vectorised over
devices with numpy, so solvers can call them in loops.

Conventions beyond the spec's text (all stated in the README's cost-model notes):
- A message pays its path's latency once; a message of 0 bytes is not sent.
- sl runs devices in turn, so each device has its channel to itself while it sends (share 1);
  every parallel paradigm gives devices shares of a channel that sum to at most 1.
- A fixed-rate hop crossed by k concurrent flows of a parallel paradigm (for example the
  fog -> cloud link under several devices) gives each flow rate/k.
- A node with `kappa` spends kappa * f^3 watts while computing (E = kappa f^2 cycles with
  cycles = f * t), instead of `power`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from .cost_result import Costs
from .graph import default_server, measured_times, unit_table
from .routes import Routes, build_routes
from .scenario import Scenario
from .units import fmt_si

K_OPT = {"sgd": 3, "adam": 4}
# copies of the weights an optimizer keeps as state (SGD's momentum; Adam's two moments): sl hands
# them on with the client part, so that the devices in turn train as one model (exactly SGD)
K_STATE = {"sgd": 1, "adam": 2}


# ---------------------------------------------------------------- the cost model

class CostModel:
    """A scenario's numbers, precomputed once: per-node compute prefix sums, powers, batches,
    the unit table's prefix sums, and routes on demand."""

    def __init__(self, scn: Scenario):
        self.scn = scn
        self.table = unit_table(scn)
        t = self.table
        self.L = t.L
        self.out, self.Wt, self.Wp, self.A = t.out, t.Wt, t.Wp, t.A
        self.pbytes = t.pbytes
        self.label = float(scn.spec.model.label_bytes)
        tr = scn.spec.training
        self.tau = tr.local_iterations
        self.rounds = tr.rounds
        self.kopt = K_OPT[tr.optimizer]
        self.kstate = K_STATE[tr.optimizer]
        # memory of units' weights: their parameters k_opt times (weights, gradients, optimizer
        # state), their buffers once
        self.Wm = self.Wt + (self.kopt - 1) * self.Wp
        nodes = scn.nodes
        self.names = list(nodes.index)
        self.idx = {n: i for i, n in enumerate(self.names)}
        self.role = nodes.role.to_numpy()
        self.batch = nodes.batch_size.fillna(tr.batch_size).to_numpy(float)
        self.memory = nodes.memory.astype(float).fillna(np.inf).to_numpy()
        self.tx_power = nodes.tx_power.astype(float).fillna(0.0).to_numpy()
        self.rx_power = nodes.rx_power.astype(float).fillna(0.0).to_numpy()
        kappa = nodes.kappa.astype(float).to_numpy()
        freq = nodes.frequency.astype(float).to_numpy()
        self.compute_power = np.where(np.isnan(kappa), nodes.power.astype(float).to_numpy(),
                                      np.nan_to_num(kappa) * np.nan_to_num(freq) ** 3)
        measured = nodes.measured.notna().to_numpy() & (nodes.measured.astype(str) != "None").to_numpy()
        self.nominal = np.where(measured, np.nan, nodes.compute.astype(float).to_numpy())
        self.S = self._compute_prefix()
        dev = self.role == "device"
        held = nodes.samples.astype(float).to_numpy()[dev]
        # every device's data once (a device without `samples` counts one round's batches)
        self.epoch_samples = float(np.where(np.isnan(held), self.tau * self.batch[dev], held).sum())
        obj = scn.spec.objective
        # the objective of one round: time (energy) to a target is rounds x round latency (energy),
        # and the rounds depend only on the learning configuration, which the paradigm enumerates
        self.to_target = obj in ("time_to_target", "energy_to_target")
        self.objective = {"time_to_target": "latency", "energy_to_target": "energy"}.get(obj, obj) \
            if isinstance(obj, str) else obj
        self._routes: dict = {}
        self.memo: dict = {}          # solvers' per-scenario intermediate results (same inputs, same output)
        self._links = None
        self._tx = dict(zip(self.names, nodes.tx_power.tolist()))
        self._channels = {c: (float(r.bandwidth), float(r.noise_density) if r.noise_density is not None
                              and r.noise_density == r.noise_density else float("nan"))
                          for c, r in scn.channels.iterrows()}

    def _link_rows(self) -> list:
        """The links table as a list of rows (attribute access without pandas indexing)."""
        if self._links is None:
            self._links = list(self.scn.links.itertuples(index=False))
        return self._links

    def without_channel(self) -> set[str]:
        """Devices none of whose links is on a shared channel: a channel share means nothing
        for them, so plans leave it out (and read it as 1 where a plan gives none)."""
        if getattr(self, "_no_channel", None) is None:
            lk = self.scn.links
            ch = pd.notna(lk.channel).to_numpy()
            on = set(lk.src.to_numpy()[ch].tolist()) | set(lk.dst.to_numpy()[ch].tolist())
            self._no_channel = {d for d in self.devices if d not in on}
        return self._no_channel

    def _compute_prefix(self) -> np.ndarray:
        """S[v, c]: seconds per sample for node v to train units 1..c (forward + backward, and the
        update where measured); with C[v, c], the seconds per call, U[v, c] the update per step,
        K[v] the optimizer's fixed seconds per step and Pn[c] the parameters (edgeplan.compute)."""
        u = self.unit_times
        self.C = np.cumsum(u["call_fwd"] + u["call_bwd"], axis=1)
        self.U = np.cumsum(u["upd_step"], axis=1)
        self.K = u["step"]
        self.Pn = np.cumsum(self.table.params)
        return np.cumsum(u["fwd"] + u["bwd"] + u["upd"], axis=1)

    def span(self, v, lo, hi, n, update: bool = True):
        """Seconds for node(s) v to train units lo+1..hi once (forward and backward) on n samples
        in one call each: n per-sample seconds plus the units' per-call seconds, and with `update`
        the optimizer step on their parameters (none if they have none)."""
        t = n * (self.S[v, hi] - self.S[v, lo]) + (self.C[v, hi] - self.C[v, lo])
        return t + self.update(v, lo, hi) if update else t

    def update(self, v, lo, hi):
        """Seconds of node(s) v's optimizer step on units lo+1..hi (FLOP-rate nodes; measured
        nodes' updates are in their per-sample times)."""
        has = (self.Pn[hi] - self.Pn[lo]) > 0
        return (self.U[v, hi] - self.U[v, lo]) + np.where(has, self.K[v], 0.0)

    @cached_property
    def unit_times(self) -> dict[str, np.ndarray]:
        """Per node and unit (arrays V x (L+1), column 0 the input): forward, backward and its
        input-gradient part, and update seconds per sample; `call_fwd`, `call_bwd` the seconds
        every call pays (overhead, parameter traffic); `upd_step` the update seconds per step; and
        per node (V) `step`, the optimizer's fixed seconds per step."""
        from .compute import flop_node_times, node_figures
        scn, t = self.scn, self.table
        V, L = len(self.names), self.L
        fwd, bwd, bin_, upd, ustep, cf, cb = (np.zeros((V, L + 1)) for _ in range(7))
        step = np.zeros(V)
        in_share = np.divide(t.bwd_in, t.bwd, out=np.where(t.params > 0, 0.5, 1.0), where=t.bwd > 0)
        in_share[:2] = 0.0
        times = None
        measured = scn.nodes.measured.to_numpy()
        f, o, bw = node_figures(scn.nodes)
        by_figures = np.array([m is None or (isinstance(m, float) and np.isnan(m)) for m in measured], bool)
        per_machine: dict = {}
        for v in np.flatnonzero(~by_figures):
            machine = measured[v]
            if machine not in per_machine:
                times = times or measured_times(scn)
                d = times.df[times.df.machine == machine]
                bs = d.batch_size.to_numpy(float)
                per_machine[machine] = (d.fwd_s.to_numpy() / bs, d.bwd_s.to_numpy() / bs, d.update_s.to_numpy() / bs)
            fwd[v, 1:], bwd[v, 1:], upd[v, 1:] = per_machine[machine]
        if by_figures.any():
            if t.F[-1] <= 0:
                n = self.names[int(np.flatnonzero(by_figures)[0])]
                raise scn.error(scn.node_path(n), f"node '{n}' has no measured times ('measured: MACHINE') and "
                                "the model's profile has no FLOP counts (a measured workbook)")
            ix = np.flatnonzero(by_figures)        # every node given by figures at once
            u = flop_node_times(t, f[ix], o[ix], bw[ix])
            fwd[ix], bwd[ix], cf[ix], cb[ix], ustep[ix] = u["fwd"], u["bwd"], u["call_fwd"], u["call_bwd"], u["upd_step"]
            step[ix] = u["step"]
        bin_[:] = bwd * in_share
        return {"fwd": fwd, "bwd": bwd, "bwd_in": bin_, "upd": upd, "upd_step": ustep, "call_fwd": cf,
                "call_bwd": cb, "step": step}

    # ------------------------------------------------------------ helpers

    @property
    def devices(self) -> list[str]:
        return self.scn.devices

    def ix(self, names) -> np.ndarray:
        return np.array([self.idx[n] for n in names], dtype=int)

    def grad_out(self, c):
        """Bytes per sample of the gradient sent back across cut c: none at c = 0 (the device
        holds no units, so the input needs no gradient)."""
        return np.where(np.asarray(c) > 0, self.out[c], 0.0)

    def flops_rate(self, v: int) -> float:
        """Node v's rate in the effective FLOP-equivalents of edgeplan.compute: its compute for a
        node given by figures, else its measured times' (at its batch)."""
        from .compute import effective_flops
        if not np.isnan(self.nominal[v]):
            return float(self.nominal[v])
        b = self.batch[v]
        sec = b * self.S[v, -1] + self.C[v, -1] + float(self.update(v, 0, self.L))
        return float(effective_flops(self.table, b) * b / sec) if sec > 0 else np.inf

    def server(self) -> str:
        return default_server(self.scn)

    def routes(self, src: list[str], dst: list[str], concurrent: bool = True,
               via: list[list[str]] | None = None, allow_missing: bool = False) -> Routes:
        """Routes src[i] -> dst[i] (shortest-latency, or along `via[i]`); with `concurrent`, a
        fixed hop crossed by k of these routes in one direction gives each rate/k. With
        `allow_missing`, a pair without a path gets an infinite latency instead of an error."""
        key = (tuple(src), tuple(dst), concurrent, None if via is None else tuple(map(tuple, via)), allow_missing)
        if key in self._routes:
            return self._routes[key]
        r = build_routes(self, src, dst, concurrent, via, allow_missing)
        self._routes[key] = r
        return r

    def channel_groups(self, devices: list[str], routes: Routes) -> dict[str, np.ndarray]:
        """Channel -> positions (in `devices`) of the devices sharing it."""
        out: dict[str, list[int]] = {}
        for i, ch in enumerate(routes.channel):
            if ch is not None:
                out.setdefault(ch, []).append(i)
        return {c: np.array(v, int) for c, v in out.items()}

    def equal_shares(self, devices: list[str], routes: Routes) -> np.ndarray:
        share = np.ones(len(devices))
        for _, pos in self.channel_groups(devices, routes).items():
            share[pos] = 1.0 / len(pos)
        return share

    def route_energy(self, R: Routes, up_bytes, dn_bytes, share) -> tuple[np.ndarray, np.ndarray]:
        """Radio energy of sending up_bytes towards dst and dn_bytes back, per route: (all nodes
        on the route, the route's source alone). Vectorised; agrees with `finish`'s ledger."""
        ub = np.asarray(up_bytes, float)
        db = np.asarray(dn_bytes, float)
        cu = R.rate(share, True)
        cd = R.rate(share, False)
        tot = np.zeros(np.broadcast(ub, db, cu).shape)
        src = np.zeros_like(tot)
        for h in range(R.hop_a.shape[1]):
            a, b = R.hop_a[:, h], R.hop_b[:, h]
            on = a >= 0
            ru = np.where(np.isnan(R.hop_ru[:, h]), cu, R.hop_ru[:, h])
            rd = np.where(np.isnan(R.hop_rd[:, h]), cd, R.hop_rd[:, h])
            with np.errstate(divide="ignore", invalid="ignore"):
                tu = np.where(on & (ub > 0), 8.0 * ub / ru, 0.0)
                td = np.where(on & (db > 0), 8.0 * db / rd, 0.0)
            aa, bb = np.where(on, a, 0), np.where(on, b, 0)
            tot = tot + tu * (self.tx_power[aa] + self.rx_power[bb]) + td * (self.tx_power[bb] + self.rx_power[aa])
            if h == 0:
                src = src + tu * self.tx_power[aa] + td * self.rx_power[aa]
        return tot, src

    # ------------------------------------------------------------ finishing a round

    def transfer_ledger(self, transfers: list):
        """Per node: seconds sending and receiving, bytes up and down, of `transfers`
        ((routes, position, up_bytes, down_bytes, share) per route, bytes per round), each hop
        at its rate in the direction of travel (channel hops at the route's share)."""
        V = len(self.names)
        tx, rx, up_b, dn_b = np.zeros(V), np.zeros(V), np.zeros(V), np.zeros(V)
        k = 0
        while k < len(transfers):                 # runs of transfers on one Routes, in order
            j = k
            while j < len(transfers) and transfers[j][0] is transfers[k][0]:
                j += 1
            _ledger_segment(self, transfers[k][0], transfers[k:j], tx, rx, up_b, dn_b)
            k = j
        return tx, rx, up_b, dn_b

    def finish(self, paradigm: str, round_latency: float, dev_names: list[str], T: np.ndarray,
               phases: dict[str, np.ndarray], compute_s: dict[str, float], transfers: list,
               memory: dict[str, float], extra_violations: list[str] | None = None,
               sequential: bool = False, active=None) -> Costs:
        """Energy, bytes, memory checks, constraints and the critical path of one round.

        `transfers`: (routes, position, up_bytes, down_bytes, share) per route, bytes per round.
        """
        T = np.asarray(T, float)
        stuck = [f"{dev_names[i]}: its round never ends ({next((p for p, v in phases.items() if not np.isfinite(np.asarray(v)[i])), 'a phase')} takes forever: no rate for what it must send, or overflowing figures)"
                 for i in np.flatnonzero(~np.isfinite(T))[:3]]
        V = len(self.names)
        comp = np.zeros(V)
        for n, s in compute_s.items():
            comp[self.idx[n]] += s
        tx, rx, up_b, dn_b = self.transfer_ledger(transfers)
        energy = comp * self.compute_power + tx * self.tx_power + rx * self.rx_power
        mem = np.zeros(V)
        for n, m in memory.items():
            mem[self.idx[n]] = m
        lat = np.zeros(V)
        dev_ix = self.ix(dev_names)
        lat[dev_ix] = T
        cols = {"role": self.role, "latency_s": lat, "compute_s": comp, "tx_s": tx, "rx_s": rx,
                "energy_j": energy, "up_bytes": up_b, "down_bytes": dn_b, "memory_bytes": mem}
        dev_mask = self.role == "device"
        # the critical device: the one whose round is longest (for sl: the largest contribution)
        k = int(np.argmax(T)) if len(T) else 0
        crit = dev_names[k] if dev_names else ""
        names = list(phases)
        crit_phase = names[int(np.argmax([np.asarray(phases[p])[k] for p in names]))] if names else ""
        viol = stuck + list(extra_violations or [])
        over = mem > self.memory
        for v in np.flatnonzero(over):
            viol.append(f"{self.names[v]}: needs {fmt_si(mem[v], 'B', True)} of memory, has "
                        f"{fmt_si(self.memory[v], 'B', True)}")
        c = self.scn.spec.constraints
        if c.max_round_latency is not None and round_latency > c.max_round_latency * (1 + 1e-9):
            viol.append(f"round latency {fmt_si(round_latency, 's')} exceeds max_round_latency "
                        f"{fmt_si(c.max_round_latency, 's')}")
        if c.max_device_energy is not None:
            for v in np.flatnonzero(dev_mask & (energy > c.max_device_energy * (1 + 1e-9))):
                viol.append(f"{self.names[v]}: {fmt_si(energy[v], 'J')} per round exceeds max_device_energy "
                            f"{fmt_si(c.max_device_energy, 'J')}")
        total_e = float(energy.sum())
        if c.max_round_energy is not None and total_e > c.max_round_energy * (1 + 1e-9):
            viol.append(f"round energy {fmt_si(total_e, 'J')} exceeds max_round_energy "
                        f"{fmt_si(c.max_round_energy, 'J')}")
        # training samples of a round: every device's local iterations (only active ones: pel's idle workers)
        samples = float(self.tau * self.batch[dev_ix if active is None else dev_ix[np.asarray(active, bool)]].sum())
        return Costs(paradigm, float(round_latency), total_e, float(energy[dev_mask].sum()),
                     float(up_b.sum() + dn_b.sum()), cols, list(self.names), crit, crit_phase, self.rounds, viol,
                     {p: np.asarray(v) for p, v in phases.items()}, list(dev_names), samples, self.epoch_samples)


def _ledger_segment(cm: CostModel, R: Routes, seg: list, tx, rx, up_b, dn_b) -> None:
    """Transfers of one Routes, vectorised over (transfer, hop, direction) in the order a loop
    over them would take, so every sum adds the same terms in the same order."""
    pos = np.array([t[1] for t in seg], int)
    ub = np.array([t[2] for t in seg], float)
    db = np.array([t[3] for t in seg], float)
    share = np.array([t[4] for t in seg], float)
    src = cm.ix([R.src[i] for i in pos])
    np.add.at(up_b, src, ub)
    np.add.at(dn_b, src, db)
    if R.hop_a is None or R.hop_a.shape[1] == 0:
        return
    ha, hb = R.hop_a[pos], R.hop_b[pos]                       # (m, H)
    rates = []                                             # a hop's fixed rate, NaN: the channel's
    for up in (True, False):
        fixed = (R.hop_ru if up else R.hop_rd)[pos]
        rates.append(np.where(np.isnan(fixed), R.rate(share, up, pos)[:, None], fixed))
    r = np.stack(rates, axis=2)                            # (m, H, 2): towards dst, back
    nbytes = np.stack([np.broadcast_to(ub[:, None], ha.shape), np.broadcast_to(db[:, None], ha.shape)], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(r > 0, 8.0 * nbytes / r, np.inf)
    sender = np.stack([ha, hb], axis=2)
    receiver = np.stack([hb, ha], axis=2)
    keep = (sender >= 0) & (nbytes > 0)
    np.add.at(tx, sender[keep], t[keep])
    np.add.at(rx, receiver[keep], t[keep])


# ---------------------------------------------------------------- checks shared by paradigms

def _check_shares(cm: CostModel, devices: list[str], routes: Routes, share: np.ndarray) -> None:
    from .errors import PlanError
    share = np.asarray(share, float)
    if share.shape != (len(devices),):
        raise PlanError(f"expected {len(devices)} channel shares, got {share.shape}")
    bad = np.flatnonzero(~(share >= 0) | (share > 1 + 1e-9))
    if len(bad):
        i = bad[0]
        raise PlanError(f"{devices[i]}: channel_share {share[i]:g} must be in [0, 1]")
    for ch, pos in cm.channel_groups(devices, routes).items():
        tot = float(share[pos].sum())
        if tot > 1 + 1e-6:
            raise PlanError(f"channel '{ch}': shares of {', '.join(devices[p] for p in pos[:4])}"
                            f"{', ...' if len(pos) > 4 else ''} sum to {tot:.4g} > 1")


def _check_cuts(cm: CostModel, cuts, lo: int = 0, hi: int | None = None, what: str = "cut") -> np.ndarray:
    from .errors import PlanError
    c = np.asarray(cuts)
    hi = cm.L if hi is None else hi
    if c.size and (not np.all(np.equal(np.mod(c, 1), 0)) or c.min() < lo or c.max() > hi):
        raise PlanError(f"{what} {c[(c < lo) | (c > hi) | (np.mod(c, 1) != 0)][0]} out of range: the model has "
                        f"{cm.L} units, so a {what} is an integer in {lo}..{hi}")
    return c.astype(int)


def _alpha(alpha, servers_ix: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Server compute shares: equal among the devices of each server unless given."""
    from .errors import PlanError
    n = len(servers_ix)
    if alpha is None:
        a = np.ones(n)
        for s in np.unique(servers_ix):
            pos = servers_ix == s
            a[pos] = 1.0 / pos.sum()
        return a, []
    a = np.asarray(alpha, float)
    if a.shape != (n,) or np.any(~(a > 0)) or np.any(a > 1 + 1e-9):
        raise PlanError("server_share must be in (0, 1] for every device")
    viol = []
    for s in np.unique(servers_ix):
        tot = float(a[servers_ix == s].sum())
        if tot > 1 + 1e-6:
            raise PlanError(f"server '{names[s]}': server shares sum to {tot:.4g} > 1")
    return a, viol


# ---------------------------------------------------------------- the six paradigms

def shared(n: int) -> float:
    """1 when several devices share what they train (so it is averaged or handed on each round),
    0 for a single device: it has nobody to synchronise with, whatever the paradigm (fpl's branch
    group of one likewise)."""
    return 1.0 if n > 1 else 0.0


def fl(cm: CostModel, share=None, server: str | None = None, devices: list[str] | None = None) -> Costs:
    """Federated averaging: every device trains the whole model, then sends and receives it."""
    devs = devices or cm.devices
    srv = server or cm.server()
    R = cm.routes(devs, [srv] * len(devs))
    share = cm.equal_shares(devs, R) if share is None else np.asarray(share, float)
    _check_shares(cm, devs, R, share)
    d, L, W = cm.ix(devs), cm.L, cm.Wt[cm.L] * shared(len(devs))
    b = cm.batch[d]
    comp = cm.tau * cm.span(d, 0, L, b)
    t_dn = R.time(np.full(len(devs), W), share, False)
    t_up = R.time(np.full(len(devs), W), share, True)
    T = comp + t_dn + t_up
    mem = {n: cm.Wm[L] + b[i] * cm.A[L] for i, n in enumerate(devs)}
    transfers = [(R, i, W, W, share[i]) for i in range(len(devs))]
    return cm.finish("fl", float(T.max()), devs, T, {"device": comp, "downlink": t_dn, "uplink": t_up},
                     dict(zip(devs, comp)), transfers, mem)


def sl(cm: CostModel, cut: int, server: str | None = None, devices: list[str] | None = None) -> Costs:
    """Vanilla split learning: one cut, devices in turn, the client part (weights and optimizer
    state) handed on via the server."""
    devs = devices or cm.devices
    srv = server or cm.server()
    c = int(_check_cuts(cm, [cut])[0])
    R = cm.routes(devs, [srv] * len(devs), concurrent=False)
    n = len(devs)
    share = np.ones(n)  # in turn: each device has its channel to itself while it sends
    d, s, L = cm.ix(devs), cm.idx[srv], cm.L
    b = cm.batch[d]
    dev_it = cm.span(d, 0, c, b)
    srv_it = cm.span(s, c, L, b)
    up_x, dn_x = b * (cm.out[c] + cm.label), b * cm.grad_out(c)
    t_up, t_dn = R.time(up_x, share, True), R.time(dn_x, share, False)
    W = np.full(n, (cm.Wt[c] + cm.kstate * cm.Wp[c]) * shared(n))    # the client part, its optimizer state
    hand_up = R.time(W, share, True)
    nxt = np.roll(np.arange(n), -1)
    hand_dn = R.time(W, share, False)[nxt]
    contrib = cm.tau * (dev_it + t_up + srv_it + t_dn) + hand_up + hand_dn
    phases = {"device": cm.tau * dev_it, "uplink": cm.tau * t_up, "server": cm.tau * srv_it,
              "downlink": cm.tau * t_dn, "handoff": hand_up + hand_dn}
    compute = dict(zip(devs, cm.tau * dev_it))
    compute[srv] = compute.get(srv, 0.0) + float(cm.tau * srv_it.sum())
    # device i uploads its weights; the next device downloads them
    transfers = [(R, i, cm.tau * up_x[i] + W[i], cm.tau * dn_x[i] + W[i], 1.0) for i in range(n)]
    mem = {nm: cm.Wm[c] + b[i] * cm.A[c] for i, nm in enumerate(devs)}
    mem[srv] = (cm.Wm[L] - cm.Wm[c]) + float(b.max()) * (cm.A[L] - cm.A[c])
    return cm.finish("sl", float(contrib.sum()), devs, contrib, phases, compute, transfers, mem,
                     sequential=True)


def psl(cm: CostModel, cuts, share=None, alpha=None, server: str | list[str] | None = None,
        devices: list[str] | None = None) -> Costs:
    """Parallel split learning (EdgeSplit): a cut per device, all devices at once."""
    devs = devices or cm.devices
    n = len(devs)
    servers = [server or cm.server()] * n if not isinstance(server, list) else list(server)
    c = _check_cuts(cm, cuts)
    if c.shape != (n,):
        from .errors import PlanError
        raise PlanError(f"expected {n} cuts (one per device), got {c.size}")
    R = cm.routes(devs, servers)
    share = cm.equal_shares(devs, R) if share is None else np.asarray(share, float)
    _check_shares(cm, devs, R, share)
    d, s, L = cm.ix(devs), cm.ix(servers), cm.L
    a, _ = _alpha(alpha, s, cm.names)
    b = cm.batch[d]
    t = psl_terms(cm, R, d, s, b, c, share, a)
    T = t["T"]
    phases = {k: t[k] for k in ("device", "uplink", "server", "downlink", "sync")}
    compute = dict(zip(devs, t["device"]))
    srv_busy = cm.tau * cm.span(s, c, L, b)
    for srv_name, busy in zip(servers, srv_busy.tolist()):
        compute[srv_name] = compute.get(srv_name, 0.0) + busy
    Wc = cm.Wt[c] * shared(n)
    up_x = cm.tau * b * (cm.out[c] + cm.label) + Wc
    dn_x = cm.tau * b * cm.grad_out(c) + Wc
    transfers = [(R, i, u, v, h) for i, (u, v, h) in enumerate(zip(up_x.tolist(), dn_x.tolist(), share.tolist()))]
    mem = dict(zip(devs, (cm.Wm[c] + b * cm.A[c]).tolist()))
    srv_mem = (cm.Wm[L] - cm.Wm[c]) + b * (cm.A[L] - cm.A[c])
    for srv_name, m_ in zip(servers, srv_mem.tolist()):
        mem[srv_name] = mem.get(srv_name, 0.0) + m_
    return cm.finish("psl", float(T.max()), devs, T, phases, compute, transfers, mem)


def psl_terms(cm: CostModel, R: Routes, d, s, b, c, share, alpha) -> dict[str, np.ndarray]:
    """psl's per-device round time and its phases (used by the solvers too)."""
    L, tau = cm.L, cm.tau
    dev_it = cm.span(d, 0, c, b)
    srv_it = cm.span(s, c, L, b) / alpha
    t_up = R.time(b * (cm.out[c] + cm.label), share, True)
    t_dn = R.time(b * cm.grad_out(c), share, False)
    Wc = cm.Wt[c] * shared(len(np.atleast_1d(d)))
    sync = R.time(Wc, share, True) + R.time(Wc, share, False)
    T = tau * (dev_it + t_up + srv_it + t_dn) + sync
    return {"T": T, "device": tau * dev_it, "uplink": tau * t_up, "server": tau * srv_it,
            "downlink": tau * t_dn, "sync": sync}


def psl_energy(cm: CostModel, R: Routes, d, s, b, c, share) -> tuple[np.ndarray, np.ndarray]:
    """psl's round energy attributable to each device (its compute, the server's compute for its
    part, the radio on its route) and the device's own part."""
    L, tau = cm.L, cm.tau
    e_dev = cm.compute_power[d] * tau * cm.span(d, 0, c, b)
    e_srv = cm.compute_power[s] * tau * cm.span(s, c, L, b)
    W = cm.Wt[c] * shared(len(np.atleast_1d(d)))
    ub = tau * b * (cm.out[c] + cm.label) + W
    db = tau * b * cm.grad_out(c) + W
    tot, own = cm.route_energy(R, ub, db, share)
    return e_dev + e_srv + tot, e_dev + own


def fpl(cm: CostModel, junction: int, groups: dict[str, str], trunk: str, share=None, alpha=None,
        devices: list[str] | None = None) -> Costs:
    """Flexible parallel learning: per-group branches (units 1..j) joined by a junction
    (unit j+1 with one input slot per branch) into a trunk (j+1..L) on `trunk`."""
    from .errors import PlanError
    devs = devices or cm.devices
    n = len(devs)
    j = int(_check_cuts(cm, [junction], 0, cm.L - 1, "junction")[0])
    missing = [x for x in devs if x not in groups]
    if missing:
        raise PlanError(f"device '{missing[0]}' is in no branch group")
    if trunk not in cm.idx or cm.role[cm.idx[trunk]] == "device":
        raise PlanError(f"trunk node '{trunk}' must be a server, fog or cloud node of the scenario")
    G = len({groups[x] for x in devs})
    R = cm.routes(devs, [trunk] * n)
    share = cm.equal_shares(devs, R) if share is None else np.asarray(share, float)
    _check_shares(cm, devs, R, share)
    d, t, L = cm.ix(devs), cm.idx[trunk], cm.L
    a = np.full(n, 1.0 / n) if alpha is None else np.asarray(alpha, float)
    if np.any(~(a > 0)) or a.sum() > 1 + 1e-6:
        raise PlanError("trunk shares must be positive and sum to at most 1")
    b = cm.batch[d]
    sizes = pd.Series([groups[x] for x in devs]).value_counts()
    multi = np.array([sizes[groups[x]] > 1 for x in devs])
    dev_it = cm.span(d, 0, j, b)
    trunk_it = cm.span(t, j, L, b) / a
    t_up = R.time(b * (cm.out[j] + cm.label), share, True)
    t_dn = R.time(b * cm.grad_out(j), share, False)
    Wj = np.where(multi, cm.Wt[j], 0.0)   # a group of one has nothing to average
    sync = R.time(Wj, share, True) + R.time(Wj, share, False)
    T = cm.tau * (dev_it + t_up + trunk_it + t_dn) + sync
    phases = {"device": cm.tau * dev_it, "uplink": cm.tau * t_up, "trunk": cm.tau * trunk_it,
              "downlink": cm.tau * t_dn, "sync": sync}
    compute = dict(zip(devs, cm.tau * dev_it))
    compute[trunk] = compute.get(trunk, 0.0) + float((cm.tau * cm.span(t, j, L, b)).sum())
    transfers = [(R, i, cm.tau * b[i] * (cm.out[j] + cm.label) + Wj[i], cm.tau * b[i] * cm.grad_out(j) + Wj[i], share[i])
                 for i in range(n)]
    mem = {nm: cm.Wm[j] + b[i] * cm.A[j] for i, nm in enumerate(devs)}
    mem[trunk] = mem.get(trunk, 0.0) + (cm.Wm[L] - cm.Wm[j] + cm.kopt * junction_extra_bytes(cm, j, G)) \
        + float(b.sum()) * (cm.A[L] - cm.A[j])
    return cm.finish("fpl", float(T.max()), devs, T, phases, compute, transfers, mem)


def junction_extra_bytes(cm: CostModel, j: int, groups: int) -> float:
    """Parameter bytes the junction adds: unit j+1 widened to one input slot per branch."""
    return float((groups - 1) * cm.pbytes[j + 1]) if j + 1 <= cm.L else 0.0


# pel's cost lives in its own module (two compute models); importable from here as before
