"""Scenario variants for what-if analysis: set a dotted path to a value.

Paths address the scenario file: `channels.ap0.bandwidth`, `nodes.jetson.count` (a node group
by name), `links.rpi.spectral_efficiency` (the links from group rpi, or `links.3.latency` by
index), `training.batch_size`, `constraints.max_round_latency`, `paradigms.pel.granularity`.

A numeric change to a node, link or channel, or to training, constraints, objective or
paradigm settings, is applied to copies of the tables (the unit table and measured times are
shared with the base scenario): a sweep point costs microseconds, not a reload. A structural
change (`count`, names, roles, the model) rebuilds the scenario from its data, validated in full.
Both give the same scenario as writing the value into the file.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .scenario import Scenario, from_data
from .schema import ChannelSpec, LinkSpec, NodeSpec

FAST_NODE = {"compute", "memory", "power", "tx_power", "rx_power", "samples", "batch_size", "kappa",
             "cycles_per_flop", "frequency", "call_overhead", "memory_bandwidth"}
FAST_LINK = {"latency", "uplink", "downlink", "spectral_efficiency", "gain_db"}
FAST_CHANNEL = {"bandwidth", "noise_density"}
FAST_TOP = {"training", "constraints", "paradigms", "objective"}


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else f"; choose one of {', '.join(map(str, choices))}"


def resolve(scn: Scenario, path: str) -> list[tuple]:
    """The raw-data locations a dotted path sets (a link path may match several links)."""
    parts = path.split(".")
    raw = scn.raw
    where = f"--vary {path}"
    if parts == ["objective"]:
        return [("objective",)]
    if len(parts) < 2:
        raise ScenarioError(f"{where}: a path has at least two parts, e.g. channels.ap0.bandwidth")
    top = parts[0]
    if top in ("nodes", "channels", "links"):
        if len(parts) != 3:
            raise ScenarioError(f"{where}: use {top}.NAME.FIELD")
        items = raw.get(top) or []
        key, field = parts[1], parts[2]
        if key.isdigit():
            if int(key) >= len(items):
                raise ScenarioError(f"{where}: {top} has {len(items)} entries (0..{len(items) - 1})")
            idx = [int(key)]
        elif top == "links":
            idx = [i for i, lk in enumerate(items) if key in (lk.get("from"), f"{lk.get('from')}-{lk.get('to')}")]
            if not idx:
                raise ScenarioError(f"{where}: no link from '{key}'" + _suggest(key, [lk.get("from") for lk in items]))
        else:
            names = [x.get("name") for x in items]
            if key not in names:
                what = "node (group)" if top == "nodes" else "channel"
                raise ScenarioError(f"{where}: {what} '{key}' is not defined" + _suggest(key, names))
            idx = [names.index(key)]
        _check_field((top, idx[0], field), where)
        return [(top, i, field) for i in idx]
    if top not in raw and top not in ("training", "constraints", "paradigms", "objective", "model"):
        raise ScenarioError(f"{where}: '{top}' is not a part of a scenario" +
                            _suggest(top, ["nodes", "links", "channels", "training", "constraints", "paradigms",
                                           "model", "objective"]))
    _check_field(tuple(parts), where)
    return [tuple(parts)]


def _check_field(loc: tuple, where: str) -> None:
    """A path's last part must be a field of what it sets (a sweep over a misspelt field would
    otherwise plan nothing at every point); free-form parts (a model's kwargs) are not checked."""
    from .scenario import model_at
    from .schema import ScenarioSpec
    cls = model_at(ScenarioSpec, loc)
    if cls is None:
        return
    names = [f.alias or n for n, f in cls.model_fields.items()]
    if loc[-1] not in names and loc[-1] not in cls.model_fields:
        raise ScenarioError(f"{where}: unknown field '{loc[-1]}'" + _suggest(loc[-1], names))


def _set(raw: dict, loc: tuple, value) -> None:
    obj = raw
    for p in loc[:-1]:
        if isinstance(obj, list):
            obj = obj[p]
        else:
            obj = obj.setdefault(p, {})
    obj[loc[-1]] = value


def variant(scn: Scenario, changes: dict[str, object]) -> Scenario:
    """`scn` with each dotted path set to its value (strings with units are fine)."""
    raw = copy.deepcopy(scn.raw)
    locs = []
    for path, value in changes.items():
        for loc in resolve(scn, path):
            _set(raw, loc, value)
            locs.append(loc)
    fast = all(_is_fast(loc) for loc in locs)
    if not fast:
        v = from_data(raw, scn.source)
        for key in ("units", "times", "workbook"):
            if key in scn._cache and not any(loc[0] == "model" for loc in locs):
                v._cache[key] = scn._cache[key]
        return v
    return _patched(scn, raw, locs)


def _is_fast(loc: tuple) -> bool:
    top = loc[0]
    if top == "nodes":
        return loc[2] in FAST_NODE
    if top == "links":
        return loc[2] in FAST_LINK
    if top == "channels":
        return loc[2] in FAST_CHANNEL
    return top in FAST_TOP


def _validate(cls, data: dict, where: str):
    from pydantic import ValidationError
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(f"{where}{'.' + loc if loc else ''}: {err['msg'].removeprefix('Value error, ')}") from None


TABLE_SPECS = {"nodes": NodeSpec, "links": LinkSpec, "channels": ChannelSpec}


def _patched(scn: Scenario, raw: dict, locs: list[tuple]) -> Scenario:
    spec = scn.spec
    tables = {"nodes": scn.nodes, "links": scn.links, "channels": scn.channels}
    specs = {top: list(getattr(spec, top)) for top in TABLE_SPECS}
    copied: set[str] = set()
    topo_changed = False
    for loc in locs:
        top = loc[0]
        if top not in TABLE_SPECS:
            continue
        i, field = loc[1], loc[2]
        new = _validate(TABLE_SPECS[top], raw[top][i], f"{top}[{i}]")
        specs[top][i] = new
        if top not in copied:
            tables[top] = tables[top].copy()
            copied.add(top)
        t = tables[top]
        # the rows this entry expands to (a node group's members, a group's links; a channel by name)
        rows = t.index == new.name if top == "channels" else t.spec_index == i
        # a one-sided fixed rate fills the other side, so a link's rates are set together
        fields = [f for f in (field, "uplink", "downlink") if f in FAST_LINK] if top == "links" else [field]
        for f in fields:
            t.loc[rows, f] = getattr(new, f)
        topo_changed |= top == "links" and field == "latency"
    nodes, links, channels = tables["nodes"], tables["links"], tables["channels"]
    update = dict(specs)
    for top in {loc[0] for loc in locs if loc[0] in FAST_TOP}:
        field_cls = type(getattr(spec, top))
        if top == "objective":
            from .schema import ScenarioSpec
            update["objective"] = _validate(ScenarioSpec, {**_dump(spec), "objective": raw["objective"]},
                                            "objective").objective
        else:
            update[top] = _validate(field_cls, raw.get(top) or {}, top)
    new_spec = spec.model_copy(update=update)
    sha = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    v = Scenario(new_spec, raw, scn.source, sha, nodes, links, channels, scn.lines)
    for key, val in scn._cache.items():   # the model's tables; and paths unless latencies moved
        if key in ("units", "times", "workbook") or (not topo_changed and (key == "graph" or key[0] == "path")):
            v._cache[key] = val
    if any(loc[0] == "training" and loc[1] == "server" for loc in locs) or any(
            loc[:2] == ("paradigms", "dsgd") for loc in locs):
        from .scenario import _check_references
        _check_references(v)
    return v


def _dump(spec) -> dict:
    return spec.model_dump(by_alias=True)


def parse_values(text: str) -> list:
    """`V1,V2,...`, `start:stop:num` (linear) or `log:start:stop:num`; values may carry units
    (a range's ends are converted with the field's unit later, so `10 MHz:80 MHz:8` works)."""
    text = text.strip()
    if text.count(":") == 3 and "," not in text and not text.startswith("log:"):     # lin:0.8:0.95:4
        raise ScenarioError(f"range '{text}': '{text.split(':')[0]}:' is no kind of range; give start:stop:num "
                            "(linear) or log:start:stop:num")
    if text.startswith("log:") or (text.count(":") == 2 and "," not in text):
        log = text.startswith("log:")
        body = text[4:] if log else text
        a, b, n = body.split(":")
        try:
            num = int(n)
        except ValueError:
            raise ScenarioError(f"range '{text}': the last part is the number of values, got '{n}'") from None
        if num < 1:
            raise ScenarioError(f"range '{text}': needs at least one value")
        return [("range", a.strip(), b.strip(), num, log)]
    vals = [v.strip() for v in text.split(",") if v.strip()]
    if not vals:
        raise ScenarioError(f"no values in '{text}'; give V1,V2,... or start:stop:num")
    return [_number(v) for v in vals]


def _number(v: str):
    try:
        f = float(v)
        return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
    except ValueError:
        return v


def expand(scn: Scenario, path: str, values: list) -> list:
    """Turn range markers into concrete SI values using the field's own parsing."""
    out = []
    for v in values:
        if isinstance(v, tuple) and v[0] == "range":
            _, a, b, num, log = v
            lo, hi = si_value(scn, path, a), si_value(scn, path, b)
            if log and (lo <= 0 or hi <= 0):
                raise ScenarioError(f"--vary {path}: a log range needs positive ends")
            grid = np.geomspace(lo, hi, num) if log else np.linspace(lo, hi, num)
            integer = integer_field(path)
            out += [int(round(x)) for x in grid] if integer else [float(x) for x in grid]
        elif isinstance(v, str):
            words = path.split(".")[-1] in ("server", "dataset", "optimizer") or path == "objective" or \
                v.strip() == "auto"                  # fields that also take a word (junction, replicas)
            out.append(v if words else si_value(scn, path, v))
        else:
            out.append(v)
    return out


INTEGER_FIELDS = {"count", "samples", "batch_size", "local_iterations", "rounds", "microbatches", "granularity",
                  "bits_per_parameter", "min_cut", "max_cut", "junction", "replicas"}


def integer_field(path: str) -> bool:
    return path.split(".")[-1] in INTEGER_FIELDS


def si_value(scn: Scenario, path: str, value) -> float:
    """The SI number a value takes at `path` (by building the variant and reading it back)."""
    if isinstance(value, str):
        value = _number(value.strip())       # a bare number written on the command line is a number
    if isinstance(value, (int, float)):
        return float(value)
    v = variant(scn, {path: value})
    return float(read(v, path))


def read(scn: Scenario, path: str):
    """The current (SI) value at a dotted path."""
    locs = resolve(scn, path)
    top = locs[0][0]
    if top == "nodes":
        i, field = locs[0][1], locs[0][2]
        return getattr(scn.spec.nodes[i], field)
    if top == "links":
        i, field = locs[0][1], locs[0][2]
        return getattr(scn.spec.links[i], field)
    if top == "channels":
        i, field = locs[0][1], locs[0][2]
        return getattr(scn.spec.channels[i], field)
    obj = scn.spec
    for p in locs[0]:
        if obj is None:              # a part not set in the scenario (a zoo model has no kwargs)
            return None
        obj = obj.get(p) if isinstance(obj, dict) else getattr(obj, p, None)
    return obj


def grid(scn: Scenario, varies: list[tuple[str, list]]) -> pd.DataFrame:
    """The grid of variant values: one column per path, one row per point."""
    import itertools
    cols = [p for p, _ in varies]
    rows = list(itertools.product(*[expand(scn, p, vals) for p, vals in varies]))
    return pd.DataFrame(rows, columns=cols)
