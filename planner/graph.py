"""The network as a graph (derived from the scenario's tables): paths, reachability, channels.

Links are undirected edges; each keeps its `uplink` rate for src -> dst and `downlink` rate for
dst -> src. Paths are shortest-latency paths that never relay through another device.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import pandas as pd

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
    for name, r in scn.nodes.iterrows():
        g.add_node(name, role=r.role)
    for k, r in scn.links.iterrows():
        g.add_edge(r.src, r.dst, link=k, latency=float(r.latency), channel=r.channel)
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


def shortest_path(scn: Scenario, src: str, dst: str) -> list[Hop] | None:
    """Shortest-latency path src -> dst as hops, or None if dst is unreachable."""
    key = ("path", src, dst)
    if key in scn._cache:
        return scn._cache[key]
    view = _relay_view(scn, src, dst)
    try:
        # a tiny per-hop weight breaks latency ties towards fewer hops
        nodes = nx.shortest_path(view, src, dst, weight=lambda u, v, d: d["latency"] + 1e-9)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        scn._cache[key] = None
        return None
    hops = []
    for u, v in zip(nodes[:-1], nodes[1:]):
        k = view.edges[u, v]["link"]
        hops.append(Hop(u, v, k, scn.links.loc[k, "src"] == u))
    scn._cache[key] = hops
    return hops


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


def check_reachability(scn: Scenario) -> None:
    """Every device reaches at least one server, fog or cloud node through the links (one
    search from all servers over the non-device nodes; devices do not relay)."""
    g = graph(scn)
    reach, stack = set(scn.servers), list(scn.servers)
    while stack:
        u = stack.pop()
        for v in g.neighbors(u):
            if v not in reach and g.nodes[v]["role"] != "device":
                reach.add(v)
                stack.append(v)
    for d in scn.devices:
        if not any(v in reach for v in g.neighbors(d)):
            nb = list(graph(scn).neighbors(d))
            hint = (f"it links only to {', '.join(nb)}" if nb else "it has no link")
            raise scn.error(scn.node_path(d), f"device '{d}' reaches no server ({hint}); add a link "
                            f"from it to a node with role {', '.join(SERVER_ROLES)}")


def channel_members(scn: Scenario) -> dict[str, list[str]]:
    """Channel -> the devices whose access link is on it (they share its bandwidth)."""
    out: dict[str, list[str]] = {c: [] for c in scn.channels.index}
    for _, r in scn.links.iterrows():
        if r.channel is not None and not pd.isna(r.channel):
            dev = r.src if scn.nodes.loc[r.src, "role"] == "device" else r.dst
            if dev not in out[r.channel]:
                out[r.channel].append(dev)
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
    for roles in (("server",), SERVER_ROLES):
        cands = [s for s in scn.servers if scn.nodes.loc[s, "role"] in roles
                 and all(shortest_path(scn, d, s) is not None for d in scn.devices)]
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
            from edgeplan.models.profile import profile_zoo
            try:
                _ZOO_CACHE[key] = profile_zoo(m.zoo, m.input_shape, m.num_classes)
            except (ValueError, RuntimeError, TypeError, MemoryError) as e:
                # torch's messages run to kilobytes of C++ context: keep the first line
                why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise scn.error(("model", "input_shape"), f"zoo model '{m.zoo}' cannot take input_shape "
                                f"{list(m.input_shape)}: {why}") from None
        table = _ZOO_CACHE[key].scaled(m.bytes_per_value)
    elif m.module is not None or m.export is not None:
        from edgeplan.models.user import ModelError, profile_user
        try:
            table = profile_user(m, m.input_shape, scn.base_dir, m.bytes_per_value, scn.source)
        except ModelError as e:
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
