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

    def rate(self, share, up: bool) -> np.ndarray:
        share = np.asarray(share, float)
        w = share * self.bw
        snr = self.snr_up if up else self.snr_dn
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            shannon = np.where(share > 0, w * np.log2(1.0 + snr / np.maximum(share, 1e-300)), 0.0)
            r = np.where(np.isnan(self.eta), shannon, w * np.nan_to_num(self.eta))
        return np.where(self.has_ch, r, np.inf)

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


def build_routes(cm, src: list[str], dst: list[str], concurrent: bool, via, allow_missing: bool) -> Routes:
    """The routes of CostModel.routes (which caches them): hops, latencies, fixed-rate parts,
    channel figures and per-hop rates of each src[i] -> dst[i]."""
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
