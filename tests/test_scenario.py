"""Scenario files: shipped examples load; every kind of bad input gets its own located message."""

from __future__ import annotations

import re

import pytest
import yaml
from edgeplan.errors import ScenarioError
from edgeplan.graph import build_graph, channel_members, shortest_path
from edgeplan.scenario import load_scenario

from .conftest import SCENARIOS, shipped_scenarios, write

BASE = """name: t
model: {zoo: mlp, input_shape: [1, 8, 8], num_classes: 10}
nodes:
  - {name: edge, role: server, compute: 1 TFLOPS, power: 100 W}
  - {name: jetson, role: device, count: 2, compute: 50 GFLOPS, power: 10 W, tx_power: 0.5 W}
links:
  - {from: jetson, to: edge, channel: ap0, spectral_efficiency: 4, latency: 2 ms}
channels:
  - {name: ap0, bandwidth: 20 MHz}
"""


def test_at_least_five_shipped_scenarios():
    assert len(shipped_scenarios()) >= 5


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_shipped_scenario_loads_and_graph_matches_file(path):
    scn = load_scenario(path)
    raw = yaml.safe_load(path.read_text())

    def rows(entry):            # a table entry holds one node (link) per row
        import pandas as pd
        return len(pd.read_csv(path.parent / entry["table"]))
    expected_nodes = sum(rows(n) if "table" in n else n.get("count", 1) for n in raw["nodes"])
    assert len(scn.nodes) == expected_nodes
    sizes = {n["name"]: n.get("count", 1) for n in raw["nodes"] if "table" not in n}   # a member (gpu-0): 1
    expected_links = sum(rows(lk) if "table" in lk else sizes.get(lk["from"], 1) * sizes.get(lk["to"], 1)
                         for lk in raw.get("links", []))
    g = build_graph(scn)
    assert g.number_of_nodes() == expected_nodes
    assert g.number_of_edges() == expected_links == len(scn.links)
    for d in scn.devices:
        assert any(shortest_path(scn, d, s) is not None for s in scn.servers)
    # every shipped file says what it models in a leading comment
    assert path.read_text().lstrip().startswith("#")


def test_count_expands_groups_and_links_apply_to_members(tmp_path):
    scn = load_scenario(write(tmp_path, BASE))
    assert scn.devices == ["jetson-0", "jetson-1"]
    assert sorted(scn.links.src) == ["jetson-0", "jetson-1"]
    assert channel_members(scn) == {"ap0": ["jetson-0", "jetson-1"]}
    assert scn.nodes.loc["jetson-1", "compute"] == pytest.approx(50e9)
    assert scn.channels.loc["ap0", "bandwidth"] == pytest.approx(20e6)
    assert scn.links.latency.iloc[0] == pytest.approx(0.002)


def test_units_convert_to_si(tmp_path):
    text = BASE.replace("power: 10 W", "power: 800 mW, memory: 4 GiB").replace("20 MHz", "0.02 GHz")
    scn = load_scenario(write(tmp_path, text))
    assert scn.nodes.loc["jetson-0", "power"] == pytest.approx(0.8)
    assert scn.nodes.loc["jetson-0", "memory"] == 4 * 2**30
    assert scn.channels.loc["ap0", "bandwidth"] == pytest.approx(2e7)


def _err(tmp_path, text) -> ScenarioError:
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    return e.value


def test_unknown_field(tmp_path):
    e = _err(tmp_path, BASE.replace("compute: 50 GFLOPS", "comptue: 50 GFLOPS"))
    assert re.search(r"s\.yaml:5: nodes\[1\]\.comptue: unknown field 'comptue'; did you mean 'compute'\?", str(e))
    assert e.line == 5


def test_a_links_bandwidth_is_answered_with_the_fields_that_set_its_rate(tmp_path):
    e = _err(tmp_path, BASE.replace("channel: ap0, spectral_efficiency: 4", "bandwidth: 10 Mbps"))
    assert "links[0].bandwidth: unknown field 'bandwidth'" in str(e)
    assert "a link's data rate is 'uplink: 10 Mbit/s' (and 'downlink', else the same)" in str(e)


def test_undefined_node_with_suggestion(tmp_path):
    text = BASE + "  # x\n"
    text = text.replace("links:\n", "links:\n  - {from: jetsn, to: edge, channel: ap0, spectral_efficiency: 4}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:7: links\[0\]\.from: node 'jetsn' is not defined; did you mean 'jetson'\?"):
        load_scenario(write(tmp_path, text))


def test_non_positive_quantity(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:5: nodes\[1\]\.compute: must be positive, got '-50 GFLOPS'"):
        load_scenario(write(tmp_path, BASE.replace("compute: 50 GFLOPS", "compute: -50 GFLOPS")))


def test_unit_that_does_not_parse(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:9: channels\[0\]\.bandwidth: unit 'MHZZ' does not parse as a "
                                            r"frequency; use e\.g\. '20 MHz'"):
        load_scenario(write(tmp_path, BASE.replace("20 MHz", "20 MHZZ")))


def test_device_that_reaches_no_server(tmp_path):
    text = BASE.replace("  - {name: jetson,", "  - {name: lonely, role: device, compute: 1 GFLOPS, power: 1 W}\n"
                        "  - {name: jetson,")
    with pytest.raises(ScenarioError, match=r"s\.yaml:5: nodes\[1\]: device 'lonely' reaches no server \(it has no "
                                            r"link\); add a link from it to a node with role server, fog, cloud"):
        load_scenario(write(tmp_path, text))


def test_model_with_both_zoo_and_profile(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: model: give exactly one of 'zoo' \(a model name\), 'module' "
                                            r".* or 'profile' \(a unit table file\), not zoo, profile"):
        load_scenario(write(tmp_path, BASE.replace("zoo: mlp,", "zoo: mlp, profile: p.csv,")))


def test_link_on_undefined_channel(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:7: links\[0\]\.channel: channel 'ap1' is not defined; did you "
                                            r"mean 'ap0'\?"):
        load_scenario(write(tmp_path, BASE.replace("channel: ap0", "channel: ap1")))


def test_empty_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml: the file is empty; a scenario needs at least 'name', 'model' "
                                            r"and 'nodes'"):
        load_scenario(write(tmp_path, "  \n# nothing\n"))


def test_file_that_is_not_yaml(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: not valid YAML: expected ',' or '}', but got ':'"):
        load_scenario(write(tmp_path, "name: x\nnodes: [\n  {a: 1\n: :\n"))


def test_yaml_tags_cannot_run_code(tmp_path):
    text = "name: !!python/object/apply:os.system ['echo pwned > /tmp/pwned']\n"
    with pytest.raises(ScenarioError, match=r"s\.yaml:1: .*scenario files are plain data"):
        load_scenario(write(tmp_path, text))


def test_duplicate_key(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: key 'name' appears twice \(also on line 1\)"):
        load_scenario(write(tmp_path, BASE.replace("model:", "name: u\nmodel:", 1)))


def test_missing_file():
    with pytest.raises(ScenarioError, match=r"nope\.yaml: no such file"):
        load_scenario(SCENARIOS / "nope.yaml")


def test_count_is_bounded(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:5: nodes\[1\]\.count: 1000000 is too large: at most 10000"):
        load_scenario(write(tmp_path, BASE.replace("count: 2", "count: 1000000")))


def test_error_is_a_value_error(tmp_path):
    assert isinstance(_err(tmp_path, "name: [unclosed"), ValueError)


def test_scenario_repr_is_one_readable_line():
    """A notebook printed every spec field and three DataFrames for a Scenario."""
    from edgeplan.scenario import load_scenario
    r = repr(load_scenario(SCENARIOS / "fpl-fog.yaml"))
    assert "\n" not in r and r.startswith("Scenario(fpl-fog: 12 devices, 2 fog nodes, 1 cloud node, 15 links, "
                                          "model fpl_cnn; from "), r


def test_pipedream_instance_refuses_a_file_that_is_not_a_profile(tmp_path):
    from edgeplan.errors import ScenarioError
    from edgeplan.synthetic import pipedream_instance
    bad = tmp_path / "LICENSE.txt"
    bad.write_text("Copyright\n\na, b, c\n")
    with pytest.raises(ScenarioError, match="LICENSE.txt: not (a profile CSV|one of PipeDream's profiles)"):
        pipedream_instance(bad, 4, out_dir=tmp_path / "a")
    other = tmp_path / "p.csv"
    other.write_text("name,fwd_flops\nu0,1\n")
    with pytest.raises(ScenarioError, match="no column fwd_s, bwd_s, cut_act_bytes, out_act_bytes, param_bytes"):
        pipedream_instance(other, 4, out_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
