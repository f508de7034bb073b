"""The network as a graph (derived from the scenario's tables): paths, reachability, channels.

Links are undirected edges; each keeps its `uplink` rate for src -> dst and `downlink` rate for
dst -> src. Paths are shortest-latency paths that never relay through another device.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from .errors import ScenarioError
from .scenario import SERVER_ROLES, Scenario


@dataclass(frozen=True)
class Hop:
    """One hop of a path, in the direction of travel."""
    src: str
    dst: str
    link: int            # row of scenario.links
    forward: bool        # True when travelling the link's src -> dst (its uplink direction)


def build_graph(scn: Scenario) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from((n, {"role": r}) for n, r in zip(scn.nodes.index, scn.nodes.role))
    lk = scn.links
    g.add_edges_from((a, b, {"link": k, "latency": float(t), "channel": c})
                     for k, a, b, t, c in zip(lk.index, lk.src, lk.dst, lk.latency, lk.channel))
    return g


def graph(scn: Scenario) -> nx.Graph:
    if "graph" not in scn._cache:
        scn._cache["graph"] = build_graph(scn)
    return scn._cache["graph"]


def _relay_view(scn: Scenario, src: str, dst: str) -> nx.Graph:
    """The graph without devices other than the two ends (devices do not relay traffic)."""
    g = graph(scn)
    keep = [n for n in g.nodes if g.nodes[n]["role"] != "device" or n in (src, dst)]
    return g.subgraph(keep)


def _weight(u, v, d) -> float:
    return d["latency"] + 1e-9      # a tiny per-hop weight breaks latency ties towards fewer hops


def _backbone_tree(scn: Scenario, target: str):
    """Shortest-latency distances and next hops towards `target` over the nodes that relay
    (servers, fog, cloud): one Dijkstra per target, shared by every device's query."""
    key = ("tree", target)
    if key not in scn._cache:
        g = graph(scn)
        relay = scn._cache.get("relay_view")
        if relay is None:
            relay = g.subgraph([n for n, r in zip(scn.nodes.index, scn.nodes.role) if r != "device"])
            scn._cache["relay_view"] = relay
        dist, paths = nx.single_source_dijkstra(relay, target, weight=_weight)
        scn._cache[key] = (dist, paths)
    return scn._cache[key]


def _hops(scn: Scenario, nodes: list[str]) -> list[Hop]:
    g = graph(scn)
    src = scn._cache.get("link_src")
    if src is None:
        src = scn._cache["link_src"] = scn.links.src.to_numpy()
    hops = []
    for u, v in zip(nodes[:-1], nodes[1:]):
        k = g.edges[u, v]["link"]
        hops.append(Hop(u, v, k, src[k] == u))
    return hops


def shortest_path(scn: Scenario, src: str, dst: str) -> list[Hop] | None:
    """Shortest-latency path src -> dst as hops, or None if dst is unreachable. Devices relay
    nothing: a path is the source's own link into the backbone (servers, fog, cloud), a
    shortest path there, and the destination's link out of it."""
    key = ("path", src, dst)
    if key in scn._cache:
        return scn._cache[key]
    g = graph(scn)
    if src not in g or dst not in g:
        return None
    role = g.nodes
    if src == dst:
        nodes = [src]
    elif role[dst]["role"] != "device":
        dist, paths = _backbone_tree(scn, dst)
        if role[src]["role"] != "device":
            nodes = paths[src][::-1] if src in paths else None
        else:   # the device's best neighbour into the backbone
            best, nodes = float("inf"), None
            for x, d in g[src].items():
                if x in dist and _weight(src, x, d) + dist[x] < best:
                    best, nodes = _weight(src, x, d) + dist[x], [src] + paths[x][::-1]
    else:
        rev = shortest_path(scn, dst, src) if role[src]["role"] != "device" else None
        if rev is not None or role[src]["role"] != "device":
            scn._cache[key] = None if rev is None else [Hop(h.dst, h.src, h.link, not h.forward) for h in rev[::-1]]
            return scn._cache[key]
        try:            # device to device (a dsgd path): through the backbone between them
            nodes = nx.shortest_path(_relay_view(scn, src, dst), src, dst, weight=_weight)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            nodes = None
    scn._cache[key] = None if nodes is None else _hops(scn, nodes)
    return scn._cache[key]


def path_through(scn: Scenario, nodes: list[str]) -> list[Hop]:
    """Hops along a given node sequence (consecutive nodes must be linked)."""
    g = graph(scn)
    hops = []
    for u, v in zip(nodes[:-1], nodes[1:]):
        if not g.has_edge(u, v):
            raise ValueError(f"no link between '{u}' and '{v}'")
        k = g.edges[u, v]["link"]
        hops.append(Hop(u, v, k, scn.links.loc[k, "src"] == u))
    return hops


def channel_members(scn: Scenario) -> dict[str, list[str]]:
    """Channel -> the devices whose access link is on it (they share its bandwidth)."""
    out: dict[str, list[str]] = {c: [] for c in scn.channels.index}
    lk = scn.links[scn.links.channel.notna()]
    is_dev = lk.src.map(scn.nodes.role).to_numpy() == "device"
    dev = np.where(is_dev, lk.src.to_numpy(), lk.dst.to_numpy())
    for ch, d in dict.fromkeys(zip(lk.channel, dev)):
        out[ch].append(d)
    return out


def default_server(scn: Scenario) -> str:
    """The server for one-server paradigms (fl, sl, psl): training.server, else the fastest
    node of role 'server' reachable from every device, else the fastest fog/cloud node."""
    if scn.spec.training.server:
        return scn.spec.training.server
    if "server" in scn._cache:
        return scn._cache["server"]
    scn._cache["server"] = _pick_server(scn)
    return scn._cache["server"]


def _pick_server(scn: Scenario) -> str:
    """Linear in the fleet: one backbone search per candidate, then each device's neighbours."""
    g = graph(scn)
    devices = scn.devices
    for roles in (("server",), SERVER_ROLES):
        cands = []
        for s in scn.servers:
            if scn.nodes.loc[s, "role"] not in roles:
                continue
            dist, _ = _backbone_tree(scn, s)
            if all(any(x in dist for x in g[d]) for d in devices):
                cands.append(s)
        if cands:
            comp = scn.nodes.compute.fillna(0.0)
            return max(cands, key=lambda s: (comp[s], -scn.servers.index(s)))
    raise scn.error(("nodes",), "no server is reachable from every device; set training.server or add links")


# ---------------------------------------------------------------- the model's unit chain

_ZOO_CACHE: dict = {}


def unit_table(scn: Scenario):
    """The scenario model's unit table (models.table.UnitTable), at its bytes_per_value.

    A zoo model is profiled on the meta device (no weights in memory) and cached in the process;
    a profile CSV or a measured workbook is read from disk.
    """
    if "units" in scn._cache:
        return scn._cache["units"]
    m = scn.spec.model
    if m.zoo is not None:
        key = (m.zoo, tuple(m.input_shape), m.num_classes)
        if key not in _ZOO_CACHE:
            from .profile_cache import cached_table

            def build():
                from edgeplan.models.profile import profile_zoo
                return profile_zoo(m.zoo, m.input_shape, m.num_classes)
            try:
                _ZOO_CACHE[key] = cached_table({"zoo": m.zoo, "input_shape": list(m.input_shape),
                                                "num_classes": m.num_classes}, build)
            except (ValueError, RuntimeError, TypeError, MemoryError) as e:
                # torch's messages run to kilobytes of C++ context: keep the first line
                why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise scn.error(("model", "input_shape"), f"zoo model '{m.zoo}' cannot take input_shape "
                                f"{list(m.input_shape)}: {why}") from None
        table = _ZOO_CACHE[key].scaled(m.bytes_per_value)
    elif m.module is not None or m.export is not None:
        from .profile_cache import cached_table, code_digest, user_code

        def build():
            from edgeplan.models.user import profile_user
            return profile_user(m, m.input_shape, scn.base_dir, m.bytes_per_value, scn.source)
        files = user_code(m.module, m.export, scn.base_dir)
        try:
            if files is None:
                table = build()
            else:
                table = cached_table({"module": m.module, "export": m.export, "kwargs": m.kwargs,
                                      "code": code_digest(files), "input_shape": list(m.input_shape),
                                      "num_classes": m.num_classes, "bytes_per_value": m.bytes_per_value,
                                      "input_dtype": m.input_dtype}, build)
        except ScenarioError:
            raise
        except Exception as e:
            from edgeplan.models.user import ModelError
            if not isinstance(e, ModelError):
                raise
            raise scn.error(("model", "module" if m.module else "export"), str(e)) from None
    elif m.profile.lower().endswith(".xlsx"):
        table, times = _workbook(scn)
    else:
        from edgeplan.models.profile_io import read_profile_csv
        table = read_profile_csv(scn.resolve(m.profile), m.bytes_per_value)
    scn._cache["units"] = table
    return table


def _workbook(scn: Scenario):
    import numpy as np
    from edgeplan.models.profile_io import read_workbook
    m = scn.spec.model
    if "workbook" not in scn._cache:
        input_bytes = float(np.prod(m.input_shape)) * m.bytes_per_value
        scn._cache["workbook"] = read_workbook(scn.resolve(m.profile), m.measured_batch_size or 128,
                                               input_bytes, m.bytes_per_value)
    return scn._cache["workbook"]


def measured_times(scn: Scenario):
    """Per-machine measured unit times (models.profile_io.MeasuredTimes), or None."""
    if "times" in scn._cache:
        return scn._cache["times"]
    m = scn.spec.model
    times = None
    if m.times is not None:
        from edgeplan.models.profile_io import read_times_csv
        times = read_times_csv(scn.resolve(m.times), unit_table(scn).names)
    elif m.profile is not None and m.profile.lower().endswith(".xlsx"):
        times = _workbook(scn)[1]
    for n in scn.nodes.index:
        machine = scn.nodes.loc[n, "measured"]
        if machine is None or pd.isna(machine):
            continue
        try:
            times.check_machine(machine)
        except ValueError as e:
            raise scn.error(scn.node_path(n) + ("measured",), str(e)) from None
    scn._cache["times"] = times
    return times
