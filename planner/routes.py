"""Routes between nodes as vectorised transfer coefficients (built by CostModel.routes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .graph import Hop, path_through, shortest_path


@dataclass
class Routes:
    """Vectorised transfer coefficients for a list of routes (one per device, typically).

    time(x bytes, share) = lat + 8 x (fixed + has_channel / channel_rate(share)).
    """
    src: list[str]
    dst: list[str]
    hops: list[list[Hop]]
    lat: np.ndarray          # s per message
    fix_up: np.ndarray       # s per bit on fixed hops, src -> dst
    fix_dn: np.ndarray       # s per bit on fixed hops, dst -> src
    has_ch: np.ndarray       # bool: the route has a channel hop
    bw: np.ndarray           # channel bandwidth (Hz), 0 without one
    eta: np.ndarray          # spectral efficiency, NaN for a Shannon link
    snr_up: np.ndarray       # p g / (N0 B) for the channel hop, sending towards dst
    snr_dn: np.ndarray
    channel: list[str | None]
    hop_rates: list[list[tuple[float | None, float | None]]]  # per hop: fixed rate up/down (None = channel)
    hop_a: np.ndarray | None = None     # (n, H) node index sending towards dst on hop h (-1: no hop)
    hop_b: np.ndarray | None = None     # (n, H) node index receiving towards dst
    hop_ru: np.ndarray | None = None    # (n, H) fixed rate towards dst (NaN: the channel hop)
    hop_rd: np.ndarray | None = None

    def rate(self, share, up: bool, pos=None) -> np.ndarray:
        """Channel rate (bit/s) of every route, or of routes `pos`, at `share`; inf off a channel."""
        at = slice(None) if pos is None else pos
        share = np.asarray(share, float)
        w = share * self.bw[at]
        snr = (self.snr_up if up else self.snr_dn)[at]
        eta = self.eta[at]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            shannon = np.where(share > 0, w * np.log2(1.0 + snr / np.maximum(share, 1e-300)), 0.0)
            r = np.where(np.isnan(eta), shannon, w * np.nan_to_num(eta))
        return np.where(self.has_ch[at], r, np.inf)

    def per_bit(self, share, up: bool) -> np.ndarray:
        """Seconds per bit along the route (fixed hops plus the channel hop)."""
        with np.errstate(divide="ignore"):
            ch = np.where(self.has_ch, 1.0 / self.rate(share, up), 0.0)
        return (self.fix_up if up else self.fix_dn) + ch

    def time_one(self, i: int, nbytes: float, share: float, up: bool) -> float:
        """Time of one message of nbytes on route i at the given share."""
        if nbytes <= 0:
            return 0.0
        ch = 0.0
        if self.has_ch[i]:
            ch = 1.0 / _one_rate(self, i, share, up) if share > 0 else np.inf
        fixed = self.fix_up[i] if up else self.fix_dn[i]
        return float(self.lat[i] + 8.0 * nbytes * (fixed + ch))

    def time(self, nbytes, share, up: bool) -> np.ndarray:
        nbytes = np.asarray(nbytes, float)
        with np.errstate(invalid="ignore"):   # 0 bytes at share 0: nothing is sent
            return np.where(nbytes > 0, self.lat + 8.0 * nbytes * self.per_bit(share, up), 0.0)



def _one_rate(routes: Routes, i: int, share: float, up: bool) -> float:
    w = share * routes.bw[i]
    if share <= 0:
        return 0.0
    if np.isnan(routes.eta[i]):
        snr = routes.snr_up[i] if up else routes.snr_dn[i]
        return float(w * np.log2(1.0 + snr / max(share, 1e-300)))
    return float(w * routes.eta[i])


def build_routes(cm, src: list[str], dst: list[str], concurrent: bool, via, allow_missing: bool,
                 fast: bool = True) -> Routes:
    """The routes of CostModel.routes (which caches them): hops, latencies, fixed-rate parts,
    channel figures and per-hop rates of each src[i] -> dst[i]."""
    if fast and via is None and not allow_missing and len(src) > 64:
        r = _device_routes(cm, src, dst, concurrent)
        if r is not None:
            return r
    scn = cm.scn
    hops, missing = [], []
    for i, (s, d) in enumerate(zip(src, dst)):
        h = path_through(scn, via[i]) if via is not None else ([] if s == d else shortest_path(scn, s, d))
        if h is None:
            if not allow_missing:
                raise scn.error(scn.node_path(s), f"'{s}' has no path to '{d}'")
            missing.append(i)
            h = []
        hops.append(h)
    load: dict = {}
    if concurrent:
        for h in hops:   # every route carries traffic both ways: count each direction
            for hop in h:
                for direction in (hop.forward, not hop.forward):
                    load[(hop.link, direction)] = load.get((hop.link, direction), 0) + 1
    n = len(src)
    lat, fu, fd = np.zeros(n), np.zeros(n), np.zeros(n)
    has, bw, eta = np.zeros(n, bool), np.zeros(n), np.full(n, np.nan)
    su, sd = np.zeros(n), np.zeros(n)
    chans, hop_rates = [], []
    links, tx, chtab = cm._link_rows(), cm._tx, cm._channels
    for i, h in enumerate(hops):
        ch, hr = None, []
        for hop in h:
            lk = links[hop.link]
            lat[i] += lk.latency
            if lk.channel is None or pd.isna(lk.channel):
                up_rate = (lk.uplink if hop.forward else lk.downlink) / max(1, load.get((hop.link, hop.forward), 1))
                dn_rate = (lk.downlink if hop.forward else lk.uplink) / max(1, load.get((hop.link, not hop.forward), 1))
                fu[i] += 1.0 / up_rate
                fd[i] += 1.0 / dn_rate
                hr.append((up_rate, dn_rate))
                continue
            ch = lk.channel
            has[i] = True
            B, n0 = chtab[ch]
            bw[i] = B
            hr.append((None, None))
            if lk.gain_db is not None and not pd.isna(lk.gain_db):
                g = 10.0 ** (float(lk.gain_db) / 10.0)
                su[i] = tx[hop.src] * g / (n0 * B)
                sd[i] = tx[hop.dst] * g / (n0 * B)
            else:
                eta[i] = float(lk.spectral_efficiency)
        chans.append(ch)
        hop_rates.append(hr)
    lat[missing] = np.inf
    H = max((len(h) for h in hops), default=0)
    ha, hb = np.full((n, H), -1), np.full((n, H), -1)
    hru, hrd = np.zeros((n, H)), np.zeros((n, H))
    for i, h in enumerate(hops):
        for k, hop in enumerate(h):
            ha[i, k], hb[i, k] = cm.idx[hop.src], cm.idx[hop.dst]
            ru, rd = hop_rates[i][k]
            hru[i, k] = np.nan if ru is None else ru
            hrd[i, k] = np.nan if rd is None else rd
    return Routes(list(src), list(dst), hops, lat, fu, fd, has, bw, eta, su, sd, chans, hop_rates, ha, hb, hru, hrd)


def _device_routes(cm, src: list[str], dst: list[str], concurrent: bool) -> Routes | None:
    """A fleet's routes at numpy speed: every source a device with one link, to one destination
    that is not a device. A device's route is its link to its access node x, then the backbone
    path from x, found once per access node; the same Routes as the general loop (the same sums
    in the same order), which takes over (None) wherever these conditions do not hold or a
    backbone hop is on a channel."""
    from .graph import graph
    scn = cm.scn
    d = dst[0]
    g = graph(scn)
    if any(x != d for x in dst) or d not in g or g.nodes[d]["role"] == "device":
        return None
    links = scn.links
    names = pd.Index(cm.names)
    a, b = names.get_indexer(links.src.to_numpy()), names.get_indexer(links.dst.to_numpy())
    is_dev = (scn.nodes.role.reindex(cm.names) == "device").to_numpy()
    N = len(cm.names)
    deg = np.bincount(a, minlength=N) + np.bincount(b, minlength=N)
    s = names.get_indexer(src)
    if (s < 0).any() or not is_dev[s].all() or (deg[s] != 1).any():
        return None
    link_of = np.full(N, -1)
    dev_end = np.where(is_dev[a], a, b)
    link_of[dev_end] = np.arange(len(links))
    k = link_of[s]
    fwd = a[k] == s                                  # the device is the link's src
    x = np.where(fwd, b[k], a[k])                    # its access node
    if is_dev[x].any():
        return None
    backbone = {}
    for xi in np.unique(x):
        name = cm.names[xi]
        hops = [] if name == d else shortest_path(scn, name, d)
        if hops is None:
            first = src[int(np.flatnonzero(x == xi)[0])]
            raise scn.error(scn.node_path(first), f"'{first}' has no path to '{d}'")
        backbone[xi] = hops
    chan = links.channel.to_numpy(object)
    on_ch = pd.notna(links.channel).to_numpy()
    if any(on_ch[h.link] for hops in backbone.values() for h in hops):
        return None
    n = len(src)
    num = lambda c: pd.to_numeric(links[c], errors="coerce").to_numpy(float) if c in links \
        else np.full(len(links), np.nan)  # noqa: E731
    lat_l, upl, dnl, gain, eff = (num(c) for c in ("latency", "uplink", "downlink", "gain_db",
                                                   "spectral_efficiency"))
    tx = np.array([cm._tx[nm] for nm in cm.names], float)
    # the device's own hop (carried by its route alone: a load of 1 either way)
    lat = 0.0 + lat_l[k]
    fu, fd = np.zeros(n), np.zeros(n)
    has = on_ch[k]
    fixed = ~has
    ru_dev = np.where(fwd, upl[k], dnl[k])
    rd_dev = np.where(fwd, dnl[k], upl[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        fu = np.where(fixed, fu + 1.0 / ru_dev, fu)
        fd = np.where(fixed, fd + 1.0 / rd_dev, fd)
    bw, eta = np.zeros(n), np.full(n, np.nan)
    su, sd = np.zeros(n), np.zeros(n)
    chs = chan[k]
    B = np.array([cm._channels[c][0] if h else 0.0 for c, h in zip(chs, has)]) if has.any() else np.zeros(n)
    n0 = np.array([cm._channels[c][1] if h else np.nan for c, h in zip(chs, has)]) if has.any() else np.zeros(n)
    bw = np.where(has, B, bw)
    gl = gain[k]
    shannon = has & ~np.isnan(gl)
    with np.errstate(divide="ignore", invalid="ignore"):
        gg = 10.0 ** (gl / 10.0)
        su = np.where(shannon, tx[s] * gg / (n0 * B), su)
        sd = np.where(shannon, tx[x] * gg / (n0 * B), sd)
    eta = np.where(has & ~shannon, eff[k], eta)
    # the backbone legs: a hop's load is the number of routes crossing it
    load: dict = {}
    counts = dict(zip(*np.unique(x, return_counts=True)))
    if concurrent:
        for xi, hops in backbone.items():
            for h in hops:
                load[h.link] = load.get(h.link, 0) + int(counts[xi])
    H = 1 + max((len(h) for h in backbone.values()), default=0)
    ha, hb = np.full((n, H), -1), np.full((n, H), -1)
    hru, hrd = np.zeros((n, H)), np.zeros((n, H))
    ha[:, 0], hb[:, 0] = s, x
    hru[:, 0] = np.where(has, np.nan, ru_dev)
    hrd[:, 0] = np.where(has, np.nan, rd_dev)
    legs = {}
    for xi, hops in backbone.items():
        sel = x == xi
        rates = []
        for j, h in enumerate(hops, start=1):
            m = max(1, load.get(h.link, 1))
            up_rate = (upl[h.link] if h.forward else dnl[h.link]) / m
            dn_rate = (dnl[h.link] if h.forward else upl[h.link]) / m
            lat[sel] += lat_l[h.link]
            fu[sel] += 1.0 / up_rate
            fd[sel] += 1.0 / dn_rate
            ha[sel, j], hb[sel, j] = cm.idx[h.src], cm.idx[h.dst]
            hru[sel, j], hrd[sel, j] = up_rate, dn_rate
            rates.append((up_rate, dn_rate))
        legs[xi] = (hops, rates)
    own = [(None, None) if h else (float(u), float(v)) for h, u, v in zip(has, ru_dev, rd_dev)]
    hops_all, rates_all = [], []
    for i in range(n):
        bh, br = legs[x[i]]
        hops_all.append([Hop(src[i], cm.names[x[i]], int(k[i]), bool(fwd[i]))] + bh)
        rates_all.append([own[i]] + br)
    channels = [c if h else None for c, h in zip(chs, has)]
    return Routes(list(src), list(dst), hops_all, lat, fu, fd, has.astype(bool), bw, eta, su, sd, channels,
                  rates_all, ha, hb, hru, hrd)
