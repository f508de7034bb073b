"""Scenario files: YAML/JSON -> validated spec -> node, link and channel tables.

Errors name the file, the YAML line, the field path and the fix, e.g.
"psl.yaml:14: links[3].from: node 'jetsn' is not defined; did you mean 'jetson'?".
YAML is read with the safe loader only (planner.yaml_lines): a scenario file is data and can never
run code.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from .errors import ScenarioError
from .schema import LinkSpec, NodeSpec, ScenarioSpec
from .units import plural
from .yaml_lines import fmt_path, read_yaml

SERVER_ROLES = ("server", "fog", "cloud")


# what people call a link's data rate, answered with the fields that set it
_LINK_RATE_WORDS = {"bandwidth", "rate", "speed", "throughput", "bitrate", "capacity", "data_rate"}


def _suggest(word: str, choices, fallback: bool = False) -> str:
    """'; did you mean ...?' for a close match; with `fallback`, else the defined names (up to ten)."""
    names = list(dict.fromkeys(str(c) for c in choices))
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if fallback and names:
        return "; defined: " + ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
    return ""


# ---------------------------------------------------------------- the loaded scenario

@dataclass
class Scenario:
    """A validated scenario: the spec, and its expanded tables (nodes, links, channels).

    Tables are pandas DataFrames indexed by name; the graph is derived from them on demand
    (planner.graph). `raw` is the file's data, kept so what-if variants can be derived.
    """
    spec: ScenarioSpec
    raw: dict
    source: str | None
    sha256: str
    nodes: pd.DataFrame
    links: pd.DataFrame
    channels: pd.DataFrame
    lines: dict = field(default_factory=dict, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        """One line a notebook can read (the dataclass's own repr printed every spec and table)."""
        return (f"Scenario({self.name}: {role_counts(self.nodes.role)}, {plural(len(self.links), 'link')}, "
                f"model {_model_name(self.spec.model)}; from {self.source or 'data'})")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def base_dir(self) -> Path:
        return Path(self.source).resolve().parent if self.source else Path.cwd()

    @property
    def devices(self) -> list[str]:
        if "devices" not in self._cache:
            self._cache["devices"] = list(self.nodes.index[self.nodes.role == "device"])
        return self._cache["devices"]

    @property
    def servers(self) -> list[str]:
        if "servers" not in self._cache:
            self._cache["servers"] = list(self.nodes.index[self.nodes.role.isin(SERVER_ROLES)])
        return self._cache["servers"]

    def error(self, path: tuple, message: str) -> ScenarioError:
        """A ScenarioError located at `path` (or its nearest parent that has a line)."""
        return ScenarioError(message, self.source, _line_of(self.lines, path), fmt_path(path) or None)

    def node_path(self, name: str) -> tuple:
        return ("nodes", int(self.nodes.loc[name, "spec_index"]))

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.base_dir / p


def role_counts(roles: pd.Series, always: str = "") -> str:
    """'3 devices, 2 fog nodes, 1 cloud node' (roles in the schema's order; `always` even at 0)."""
    n = roles.value_counts()
    return ", ".join(plural(int(n.get(r, 0)), {"fog": "fog node", "cloud": "cloud node"}.get(r, r))
                     for r in ("device", "server", "fog", "cloud") if n.get(r, 0) or r == always)


def _model_name(m) -> str:
    return m.zoo or m.module or m.export or (f"profile {m.profile}" if m.profile else "?")


def _line_of(lines: dict, path: tuple) -> int | None:
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and expand a scenario file. Raises ScenarioError on any bad input."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file; check the path", file) from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, not a scenario file", file) from None
    except UnicodeDecodeError:
        raise ScenarioError("not a text file (YAML or JSON expected)", file) from None
    return from_text(text, file)


def from_text(text: str, file: str | None = None) -> Scenario:
    data, lines = read_yaml(text, file)
    if data is None or (isinstance(data, str) and not data.strip()):
        raise ScenarioError("the file is empty; a scenario needs at least 'name', 'model' and 'nodes'", file)
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario is a mapping of fields (name, model, nodes, ...), "
                            f"not a {type(data).__name__}", file, 1)
    return from_data(data, file, lines=lines, text_sha=hashlib.sha256(text.encode()).hexdigest())


def from_data(data: dict, file: str | None = None, lines: dict | None = None,
              text_sha: str | None = None) -> Scenario:
    lines = lines or {}
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as e:
        raise _translate(e, data, lines, file) from None
    base_dir = Path(file).resolve().parent if file else Path.cwd()
    nodes, links, channels, digests = _tables(spec, lines, file, base_dir)
    sha = text_sha or hashlib.sha256(yaml.safe_dump(data, sort_keys=True).encode()).hexdigest()
    if digests:         # a plan is for the scenario's tables too
        sha = hashlib.sha256((sha + "".join(digests)).encode()).hexdigest()
    scn = Scenario(spec, data, file, sha, nodes, links, channels, lines)
    _check_references(scn)
    _check_reachability(scn)         # on the tables: graph.py builds on this module, not the reverse
    return scn


# ---------------------------------------------------------------- pydantic error translation

def model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class whose field `loc[-1]` failed (for suggestions)."""
    cls: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return None
        if cls is ScenarioSpec and part in ("nodes", "links"):   # entries: a node (link) or a table
            cls = NodeSpec if part == "nodes" else LinkSpec
            continue
        f = cls.model_fields.get(part) or next(
            (v for v in cls.model_fields.values() if v.alias == part), None)
        if f is None:
            return None
        ann = f.annotation
        args = getattr(ann, "__args__", None)
        if args:  # list[NodeSpec], Optional[...], Union[...]
            ann = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), ann)
        cls = ann
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


class _Short:
    """A value whose repr is cut to about 60 characters (a 1 MB value is not echoed back)."""

    def __init__(self, v):
        self.v = v

    def __repr__(self) -> str:
        r = repr(self.v)
        return r if len(r) <= 60 else r[:57] + "..."


def _translate(e: ValidationError, data, lines: dict, file) -> ScenarioError:
    err = e.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "int", "float"))))
    # a node or link entry is tagged 'entry' (or 'table' for a table file) by the discriminated union
    loc = tuple(p for i, p in enumerate(loc) if not (p in ("entry", "table") and i == 2 and loc[0] in ("nodes", "links")))
    # pydantic adds union-member tags (e.g. 'literal['latency','energy']', 'Weights'); keep real fields
    known = [p for p in loc if isinstance(p, int) or not p[:1].isupper()]
    loc = tuple(known) or tuple(str(p)[:40] for p in err["loc"][-1:]) or ("(the file)",)
    typ, msg = err["type"], err["msg"]
    err["input"] = _Short(err.get("input"))           # a rejected value is echoed cut short, never whole
    if typ == "extra_forbidden":
        cls = model_at(ScenarioSpec, loc)
        allowed = [f.alias or n for n, f in cls.model_fields.items()] if cls else []
        message = f"unknown field '{loc[-1]}'" + (_suggest(loc[-1], allowed) or
                                                  (f"; allowed: {', '.join(allowed)}" if allowed else ""))
        if cls is LinkSpec and str(loc[-1]) in _LINK_RATE_WORDS:
            message += ("; a link's data rate is 'uplink: 10 Mbit/s' (and 'downlink', else the same), or a "
                        "radio link's 'channel' (channels[].bandwidth) with its 'spectral_efficiency'")
    elif typ == "missing":
        message = f"required field '{loc[-1]}' is missing"
        if loc[-1] == "power":
            message += "; give the node's power while computing, e.g. 'power: 10 W'"
    elif typ.startswith("literal_error"):
        message = f"{err['input']!r} is not allowed; use one of {err['ctx']['expected']}"
    elif typ in ("value_error", "assertion_error"):
        message = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif typ == "less_than_equal":
        message = f"{err['input']!r} is too large: at most {err['ctx'].get('le')}"
    elif typ in ("greater_than", "greater_than_equal"):
        message = f"must be positive, got {err['input']!r}" if typ == "greater_than" else \
            f"must be at least {err['ctx'].get('ge')}, got {err['input']!r}"
    elif typ == "too_short":
        message = "must not be empty"
    elif typ == "string_pattern_mismatch":
        message = f"{err['input']!r}: use letters, digits and _ . : - only"
    elif typ.endswith("_type") or typ.endswith("_parsing"):
        expected = typ.split("_")[0]
        message = f"expected {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {err['input']!r}"
    else:
        message = msg
    return ScenarioError(message, file, _line_of(lines, loc), fmt_path(loc) or None)


# ---------------------------------------------------------------- tables

NODE_COLUMNS = ["role", "group", "spec_index", "compute", "memory", "power", "tx_power", "rx_power",
                "samples", "data_source", "batch_size", "measured", "kappa", "cycles_per_flop", "frequency",
                "call_overhead", "memory_bandwidth"]


def _tables(spec: ScenarioSpec, lines: dict, file, base_dir: Path):
    from . import fleet_tables
    from .schema import TableRef
    rows, members, where, frames, digests = [], {}, {}, [], []
    for i, n in enumerate(spec.nodes):
        if isinstance(n, TableRef):
            path = _table_path(base_dir, n.table)
            frames.append(fleet_tables.nodes(fleet_tables.read(path, file), path, i))
            digests.append(_digest(path))
            continue
        names = [n.name] if n.count is None else [f"{n.name}-{k}" for k in range(n.count)]
        if n.name in members:
            j = where[n.name]
            raise ScenarioError(f"node '{n.name}' is defined twice (also nodes[{j}]); names must be unique",
                                file, _line_of(lines, ("nodes", i, "name")), f"nodes[{i}].name")
        members[n.name] = names
        where[n.name] = i
        for name in names:
            rows.append(_node_row(n, name, i))
    parts = ([pd.DataFrame(rows)] if rows else []) + frames
    nodes = (pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0])
    # names as plain objects: pandas' Arrow strings iterate and `isin` 10x slower on large fleets
    nodes = nodes.astype({c: object for c in ("name", "role", "group") if c in nodes}).set_index("name")
    if "table_row" not in nodes.columns:
        nodes["table_row"] = None
    dup = nodes.index[nodes.index.duplicated()]
    if len(dup):
        i = int(nodes.loc[dup[0], "spec_index"].iloc[-1])
        raise ScenarioError(f"node name '{dup[0]}' is defined twice (a group's member and a node share it, or "
                            "a table repeats it)", file, _line_of(lines, ("nodes", i, "name")), f"nodes[{i}]")

    link_rows, link_frames = [], []
    names = None
    for i, lk in enumerate(spec.links):
        if isinstance(lk, TableRef):
            path = _table_path(base_dir, lk.table)
            t = fleet_tables.links(fleet_tables.read(path, file), path, i)
            for col in ("src", "dst"):
                bad = ~t[col].isin(nodes.index)
                if bad.any():
                    r = int(np.flatnonzero(bad.to_numpy())[0])
                    raise ScenarioError(f"row {r + 1}: node '{t[col].iloc[r]}' is not defined (a table's links "
                                        "name nodes, not groups)", str(path), r + 2)
            same = (t.src == t.dst).to_numpy()
            if same.any():
                r = int(np.flatnonzero(same)[0])
                raise ScenarioError(f"row {r + 1}: a link from '{t.src.iloc[r]}' to itself", str(path), r + 2)
            link_frames.append(t)
            digests.append(_digest(path))
            continue
        ends = []
        for end, key in ((lk.from_, "from"), (lk.to, "to")):
            if end in members:
                ends.append(members[end])
            elif end in nodes.index:
                ends.append([end])
            else:
                names = names or list(members) + [m for ms in members.values() for m in ms if m not in members]
                raise ScenarioError(f"node '{end}' is not defined" + _suggest(end, names, fallback=True),
                                    file, _line_of(lines, ("links", i, key)), f"links[{i}].{key}")
        for a in ends[0]:
            for b in ends[1]:
                if a == b:
                    raise ScenarioError(f"a link from '{a}' to itself; link two different nodes",
                                        file, _line_of(lines, ("links", i)), f"links[{i}]")
                link_rows.append(dict(src=a, dst=b, channel=lk.channel,
                                      spectral_efficiency=lk.spectral_efficiency, gain_db=lk.gain_db,
                                      uplink=lk.uplink, downlink=lk.downlink, latency=lk.latency,
                                      spec_index=i))
    cols = ["src", "dst", "channel", "spectral_efficiency", "gain_db", "uplink", "downlink", "latency", "spec_index"]
    lparts = [pd.DataFrame(link_rows, columns=cols)] + [f[cols] for f in link_frames]
    links = pd.concat(lparts, ignore_index=True) if len(lparts) > 1 else lparts[0]
    links = links.astype({"src": object, "dst": object})
    links["channel"] = _none_for_nan(links["channel"])
    nodes["measured"] = _none_for_nan(nodes["measured"])
    nodes["data_source"] = _none_for_nan(nodes["data_source"])
    # one link per pair of nodes (a group link expands to many pairs, each once)
    a, b = links.src.to_numpy(str), links.dst.to_numpy(str)
    pair = pd.Series(np.where(a < b, a, b)).str.cat(pd.Series(np.where(a < b, b, a)), sep="\x00")
    dup = pair.duplicated(keep=False).to_numpy()
    if dup.any():
        first = pd.DataFrame({"pair": pair[dup], "spec": links.spec_index.to_numpy()[dup]})
        for _, g in first.groupby("pair", sort=False):
            if g.spec.nunique() > 1 or len(g) > 1:
                k = g.index[-1]
                r = links.loc[k]
                j = int(g.spec.iloc[0])
                raise ScenarioError(f"a second link between '{r.src}' and '{r.dst}' (also links[{j}]); "
                                    f"keep one", file, _line_of(lines, ("links", int(r.spec_index))),
                                    f"links[{int(r.spec_index)}]")

    ch_rows = []
    for i, c in enumerate(spec.channels):
        if any(r["name"] == c.name for r in ch_rows):
            raise ScenarioError(f"channel '{c.name}' is defined twice", file,
                                _line_of(lines, ("channels", i, "name")), f"channels[{i}].name")
        ch_rows.append(dict(name=c.name, bandwidth=c.bandwidth, noise_density=c.noise_density, spec_index=i))
    channels = pd.DataFrame(ch_rows, columns=["name", "bandwidth", "noise_density", "spec_index"]).set_index("name")
    return nodes, links, channels, digests


def _table_path(base_dir: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else base_dir / p


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _none_for_nan(col: pd.Series) -> pd.Series:
    """Optional text columns hold None (not NaN) where a field was left out."""
    return col.astype(object).where(col.notna(), None)


def _node_row(n: NodeSpec, name: str, i: int) -> dict:
    return dict(name=name, role=n.role, group=n.name, spec_index=i, compute=n.compute, memory=n.memory,
                power=n.power, tx_power=n.tx_power, rx_power=n.rx_power, samples=n.samples,
                data_source=n.data_source, batch_size=n.batch_size, measured=n.measured, kappa=n.kappa,
                cycles_per_flop=n.cycles_per_flop, frequency=n.frequency, call_overhead=n.call_overhead,
                memory_bandwidth=n.memory_bandwidth)


# ---------------------------------------------------------------- cross references

def _check_references(scn: Scenario) -> None:
    spec, nodes = scn.spec, scn.nodes
    names = nodes.index.append(pd.Index(nodes.group.unique()))
    if not scn.devices:
        raise scn.error(("nodes",), "no node has role 'device'; a scenario trains on devices' data")
    if not scn.servers:
        raise scn.error(("nodes",), "no node has role 'server', 'fog' or 'cloud'; add one for the devices to reach")

    lk = scn.links
    on = lk.channel.notna().to_numpy()
    if on.any():
        role = nodes.role
        known = lk.channel.isin(scn.channels.index).to_numpy()
        rs, rd = lk.src.map(role).to_numpy(), lk.dst.map(role).to_numpy()
        one_device = (rs == "device") != (rd == "device")
        shannon = lk.gain_db.notna().to_numpy() & on
        noise = lk.channel.map(scn.channels.noise_density).notna().to_numpy() if len(scn.channels) else \
            np.zeros(len(lk), bool)
        tx = nodes.tx_power.notna()
        tx_ok = lk.src.map(tx).fillna(False).to_numpy(bool) & lk.dst.map(tx).fillna(False).to_numpy(bool)
        for k in np.flatnonzero(on & (~known | ~one_device | (shannon & (~noise | ~tx_ok)))):
            r = lk.iloc[k]
            i = int(r.spec_index)
            if not known[k]:
                raise scn.error(("links", i, "channel"), f"channel '{r.channel}' is not defined"
                                + (_suggest(r.channel, scn.channels.index) or "; add it under 'channels'"))
            if not one_device[k]:
                raise scn.error(("links", i, "channel"),
                                "a link on a shared channel joins a device to a server, fog or cloud node "
                                "(shares are given per device); use a fixed-rate link here")
            if not noise[k]:
                ci = int(scn.channels.loc[r.channel, "spec_index"])
                raise scn.error(("channels", ci), f"link with 'gain_db' on channel '{r.channel}' needs the "
                                "channel's 'noise_density' (e.g. '-174 dBm/Hz')")
            end = r.src if not tx.get(r.src, False) else r.dst
            raise scn.error(scn.node_path(end), f"node '{end}' sends on a Shannon link "
                            f"(links[{i}] has 'gain_db'): give its 'tx_power', e.g. '0.2 W'")

    m = spec.model
    if m.zoo is not None:
        from edgeplan.models.registry import ZOO_MODELS
        if m.zoo not in ZOO_MODELS:
            raise scn.error(("model", "zoo"), f"unknown zoo model '{m.zoo}'" +
                            (_suggest(m.zoo, ZOO_MODELS) or f"; available: {', '.join(ZOO_MODELS)}"))
    for key in ("profile", "times"):
        rel = getattr(m, key)
        if rel is not None and not scn.resolve(rel).is_file():
            raise scn.error(("model", key), f"file '{rel}' not found (relative paths are relative to "
                            f"the scenario file: {scn.resolve(rel)})")
    measured = list(nodes.index[nodes.measured.notna().to_numpy()][:1])
    if measured and m.times is None and not (m.profile or "").lower().endswith(".xlsx"):
        n = measured[0]
        raise scn.error(scn.node_path(n) + ("measured",), "nodes with 'measured' need measured times: "
                        "set model.times (a times CSV) or model.profile to a measured .xlsx workbook")

    tr = spec.training
    if spec.objective in ("time_to_target", "energy_to_target"):
        if tr.target_accuracy is None:
            raise scn.error(("objective",), f"objective '{spec.objective}' needs training.target_accuracy "
                            "(e.g. 0.95)")
        if tr.convergence is None:
            raise scn.error(("objective",), f"objective '{spec.objective}' needs training.convergence: learning "
                            "curves from `edgeplan calibrate SCENARIO --out curves.csv`")
    if spec.training.server is not None:
        _need_node(scn, ("training", "server"), spec.training.server, names, SERVER_ROLES)
    psl = spec.paradigms.psl
    for i, s in enumerate(psl.servers or []):
        _need_node(scn, ("paradigms", "psl", "servers", i), s, names, SERVER_ROLES)
    for key in ("sl", "psl"):
        p = getattr(spec.paradigms, key)
        if p.min_cut is not None and p.max_cut is not None and p.min_cut > p.max_cut:
            raise scn.error(("paradigms", key, "min_cut"), f"min_cut {p.min_cut} exceeds max_cut {p.max_cut}")
    d = spec.paradigms.dsgd
    for i, n in enumerate(d.path or []):
        _need_node(scn, ("paradigms", "dsgd", "path", i), n, list(nodes.index), None)
    linked = {frozenset((a, b)) for a, b in zip(scn.links.src, scn.links.dst)}
    for i, (a, b) in enumerate(zip(d.path or [], (d.path or [])[1:])):
        if frozenset((a, b)) not in linked:
            raise scn.error(("paradigms", "dsgd", "path", i + 1), f"no link joins '{a}' and '{b}': consecutive nodes "
                            "of the path must be linked (or leave the path out and let the planner choose)")
    if d.source is not None:
        _need_node(scn, ("paradigms", "dsgd", "source"), d.source, list(nodes.index), ("device",))
    f = spec.paradigms.fpl
    if f.trunk != "auto":
        _need_node(scn, ("paradigms", "fpl", "trunk"), f.trunk, list(nodes.index), SERVER_ROLES)
    for g, ws in (spec.paradigms.pel.groups or {}).items():
        for i, w in enumerate(ws):
            _need_node(scn, ("paradigms", "pel", "groups", g, i), w, list(nodes.index), ("device",))


def _check_reachability(scn: Scenario) -> None:
    """Every device reaches at least one server, fog or cloud node through the links (one
    search from all servers over the non-device nodes; devices do not relay)."""
    lk, role = scn.links, scn.nodes.role
    dev_s = (lk.src.map(role) == "device").to_numpy()
    dev_d = (lk.dst.map(role) == "device").to_numpy()
    adj: dict[str, list[str]] = {}
    relay = ~dev_s & ~dev_d
    for a, b in zip(lk.src.to_numpy()[relay], lk.dst.to_numpy()[relay]):
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    reach, stack = set(scn.servers), list(scn.servers)
    while stack:
        for v in adj.get(stack.pop(), ()):
            if v not in reach:
                reach.add(v)
                stack.append(v)
    ok = set(lk.src.to_numpy()[dev_s & lk.dst.isin(reach).to_numpy()]) | \
        set(lk.dst.to_numpy()[dev_d & lk.src.isin(reach).to_numpy()])
    for d in scn.devices:
        if d not in ok:
            nb = sorted(set(lk.dst[lk.src == d]) | set(lk.src[lk.dst == d]))
            hint = (f"it links only to {', '.join(nb)}" if nb else "it has no link")
            raise scn.error(scn.node_path(d), f"device '{d}' reaches no server ({hint}); add a link "
                            f"from it to a node with role {', '.join(SERVER_ROLES)}")


def _need_node(scn: Scenario, path: tuple, name: str, names, roles) -> None:
    if name not in scn.nodes.index:
        raise scn.error(path, f"node '{name}' is not defined" + _suggest(name, names, fallback=True))
    if roles and scn.nodes.loc[name, "role"] not in roles:
        raise scn.error(path, f"node '{name}' has role '{scn.nodes.loc[name, 'role']}'; "
                        f"it must be one of {', '.join(roles)}")
