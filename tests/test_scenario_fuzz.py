"""Mutated scenario files either load or raise ScenarioError: never another exception."""

from __future__ import annotations

import copy

import yaml
from edgeplan.errors import ScenarioError
from edgeplan.scenario import from_data, from_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import SCENARIOS
from .fuzzing import _paths

BASES = [yaml.safe_load((SCENARIOS / n).read_text()) for n in ("digits-small.yaml", "fpl-fog.yaml", "pel-shannon.yaml")]

GARBAGE = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(), max_size=3), st.just("-3 GHz"),
                    st.just("12 parsecs"), st.just({"x": 1}), st.just("1e400"))


def _mutate(data, path, op, value):
    data = copy.deepcopy(data)
    if not path:
        return value if op == "swap" else data
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    if op == "drop":
        if isinstance(parent, dict):
            parent.pop(key, None)
        else:
            parent.pop(key)
    elif op == "swap":
        parent[key] = value
    elif op == "garble":
        v = parent[key]
        parent[key] = (str(v) + "x") if not isinstance(v, str) else v[::-1] + "?"
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_load_or_raise_scenario_error(data):
    base = data.draw(st.sampled_from(BASES))
    paths = list(_paths(base))
    n = data.draw(st.integers(1, 3))
    mutated = base
    for _ in range(n):
        paths = list(_paths(mutated))
        path = data.draw(st.sampled_from(paths))
        op = data.draw(st.sampled_from(["drop", "swap", "garble"]))
        mutated = _mutate(mutated, path, op, data.draw(GARBAGE))
    try:
        if isinstance(mutated, dict):
            from_data(mutated, str(SCENARIOS / "mutated.yaml"))
        else:
            from_text(yaml.safe_dump(mutated), "mutated.yaml")
    except ScenarioError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_scenario_error(text):
    try:
        from_text(text, "t.yaml")
    except ScenarioError:
        pass
