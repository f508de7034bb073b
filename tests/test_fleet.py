"""Fleets as tables: nodes and links from CSV or Parquet files, checked column by column, errors
naming the file, the row and the column; the same plan as the fleet written out in YAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import ScenarioError
from edgeplan.scenario import from_data, load_scenario
from edgeplan.synthetic import write_fleet

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _as_yaml(path: Path) -> dict:
    """The same fleet with every table row written out as a YAML node and link."""
    data = yaml.safe_load(path.read_text())
    base = path.parent
    nodes = pd.read_csv(base / data["nodes"][1]["table"])
    links = pd.read_csv(base / data["links"][0]["table"])
    data["nodes"] = data["nodes"][:1] + [
        {"name": r["name"], "role": r.role, "compute": f"{r['compute [GFLOPS]']} GFLOPS", "memory": f"{r['memory [GiB]']} GiB",
         "power": float(r["power [W]"]), "tx_power": float(r["tx_power [W]"]), "rx_power": float(r["rx_power [W]"]),
         "samples": int(r.samples)} for _, r in nodes.iterrows()]
    data["links"] = [{"from": r["from"], "to": r.to, "channel": r.channel,
                      "spectral_efficiency": float(r.spectral_efficiency), "latency": f"{r['latency [ms]']} ms"}
                     for _, r in links.iterrows()]
    return data


@pytest.mark.parametrize("parquet", [False, True])
def test_a_table_fleet_plans_as_the_same_fleet_in_yaml(tmp_path, parquet):
    path = write_fleet(60, tmp_path, seed=3, parquet=parquet)
    scn = load_scenario(path)
    assert len(scn.devices) == 60
    inline = from_data(_as_yaml(write_fleet(60, tmp_path / "csv", seed=3)), str(tmp_path / "csv" / "x.yaml"))
    for name in ("psl", "fl", "pel"):
        a = paradigms.get(name).solve(CostModel(scn)).predicted
        b = paradigms.get(name).solve(CostModel(inline)).predicted
        assert a["round_latency_s"] == pytest.approx(b["round_latency_s"], rel=1e-12)
        assert a["energy_j"] == pytest.approx(b["energy_j"], rel=1e-12)


def test_the_shipped_fleet_loads():
    scn = load_scenario(SCENARIOS / "fleet-1000.yaml")
    assert len(scn.devices) == 1000 and set(scn.channels.index) == {f"cell-{c}" for c in range(4)}


def test_a_changed_table_changes_the_scenario_fingerprint(tmp_path):
    path = write_fleet(5, tmp_path)
    before = load_scenario(path).sha256
    csv = tmp_path / "fleet-5" / "devices.csv"
    csv.write_text(csv.read_text().replace(",8,", ",16,", 1))
    assert load_scenario(path).sha256 != before


def _broken(tmp_path, table: str, text: str) -> str:
    path = write_fleet(5, tmp_path)
    (tmp_path / "fleet-5" / table).write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    return str(e.value)


@pytest.mark.parametrize("table, text, says", [
    ("devices.csv", "name,role,computee,power\nd0,device,1e9,2\n", "devices.csv:1: column 'computee' is not a field of a node; did you mean 'compute'?"),
    ("devices.csv", "name,role,compute [GFLOPZ],power\nd0,device,1,2\n", "devices.csv:1: column 'compute': header unit [GFLOPZ]"),
    ("devices.csv", "name,role,compute,power\nd0,device,1e9,2\nd1,device,fast,2\n", "devices.csv:3: column 'compute', row 2"),
    ("devices.csv", "name,role,compute,power\nd0,device,1e9,2\nd1,device,-5,2\n", "devices.csv:3: column 'compute', row 2: '-5' is not a positive number"),
    ("devices.csv", "name,role,compute,power\nd0,robot,1e9,2\n", "devices.csv:2: row 1: column 'role': must be one of device, server, fog, cloud"),
    ("devices.csv", "name,role,compute\nd0,device,1e9\n", "devices.csv:1: a node table needs a 'power' column"),
    ("devices.csv", "name,role,power\nd0,device,2\n", "devices.csv:2: row 1: give 'compute'"),
    ("devices.csv", "name,role,compute,power,samples\nd0,device,1e9,2,1.5\n", "row 1: '1.5' is not a positive whole number"),
    ("devices.csv", "name,role,compute,power\nedge,device,1e9,2\n", "node name 'edge' is defined twice"),
    ("links.csv", "from,to,channel,spectral_efficiency\nghost,edge,cell-0,2\n", "links.csv:2: row 1: node 'ghost' is not defined"),
    ("links.csv", "from,to,channel\nphone-1,edge,cell-0\n", "links.csv:2: row 1: a link on a channel needs exactly one of"),
    ("links.csv", "from,to,uplink [Mbit/s]\nrpi4-0,edge,10\nrpi4-0,edge,20\n", "a second link between 'rpi4-0' and 'edge'"),
    ("devices.csv", "name;role;compute;power\nd0;device;1e9;2\n", "devices.csv:1: the table's columns are separated by semicolons: write it with commas"),
])
def test_bad_tables_name_the_file_row_and_column(tmp_path, table, text, says):
    assert says in _broken(tmp_path, table, text)


def test_missing_table_file_and_cli_exit_code(tmp_path):
    path = write_fleet(5, tmp_path)
    (tmp_path / "fleet-5" / "links.csv").unlink()
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "check", str(path)], capture_output=True, text=True)
    assert r.returncode == 2 and "links.csv' not found" in r.stderr


def test_header_units_and_cell_units_agree(tmp_path):
    path = write_fleet(4, tmp_path, seed=1)
    a = load_scenario(path)
    csv = tmp_path / "fleet-4" / "devices.csv"
    df = pd.read_csv(csv)
    df["compute [GFLOPS]"] = [f"{v * 1e9} FLOPS" for v in df["compute [GFLOPS]"]]
    df = df.rename(columns={"compute [GFLOPS]": "compute"})
    df.to_csv(csv, index=False)
    b = load_scenario(path)
    assert list(a.nodes.compute) == pytest.approx(list(b.nodes.compute), rel=1e-12)


def _route_fields(r) -> list:
    hops = [[(h.src, h.dst, h.link, h.forward) for h in x] for x in r.hops]
    rates = [[tuple(float("nan") if v is None else float(v) for v in t) for t in h] for h in r.hop_rates]
    arrays = [getattr(r, f) for f in ("lat", "fix_up", "fix_dn", "has_ch", "bw", "eta", "snr_up", "snr_dn",
                                      "hop_a", "hop_b", "hop_ru", "hop_rd")]
    return [r.src, r.dst, r.channel, hops, rates, *arrays]


@pytest.mark.parametrize("name", ["fleet-1000", "fpl-fog", "pel-shannon", "psl-hetero", "dsgd-chain", "digits-small"])
def test_fleet_routes_fast_path_equals_the_general_one(name):
    """A fleet's routes built at numpy speed (devices of one link to one destination, backbone
    legs once per access node) are the general loop's, bit for bit: Shannon and spectral
    channels, fixed-rate device links, multi-hop backbones, shared hops with and without
    concurrency."""
    import numpy as np
    from edgeplan.routes import _device_routes, build_routes
    cm = CostModel(load_scenario(SCENARIOS / f"{name}.yaml"))
    checked = 0
    for srv in cm.scn.servers:
        for conc in (True, False):
            dst = [srv] * len(cm.devices)
            fast = _device_routes(cm, cm.devices, dst, conc)
            if fast is None:
                continue
            slow = build_routes(cm, cm.devices, dst, conc, None, False, fast=False)
            for a, b in zip(_route_fields(fast), _route_fields(slow)):
                if isinstance(a, np.ndarray):
                    assert np.array_equal(a, b, equal_nan=True)
                elif isinstance(a, list) and a and isinstance(a[0], list) and a[0] and isinstance(a[0][0], tuple) \
                        and isinstance(a[0][0][0], float):
                    assert all(np.array_equal(np.array(x, float), np.array(y, float), equal_nan=True)
                               for x, y in zip(a, b))
                else:
                    assert a == b
            checked += 1
    assert checked >= 2


def _ledger_by_loop(cm, transfers):
    """The energy ledger's transfer times as a plain loop over transfers and hops (the reference)."""
    import numpy as np
    V = len(cm.names)
    tx, rx, up_b, dn_b = np.zeros(V), np.zeros(V), np.zeros(V), np.zeros(V)
    for R, i, ub, db, share in transfers:
        up_b[cm.idx[R.src[i]]] += ub
        dn_b[cm.idx[R.src[i]]] += db
        for hop, (ru, rd) in zip(R.hops[i], R.hop_rates[i]):
            for nbytes, up in ((ub, True), (db, False)):
                if nbytes <= 0:
                    continue
                if ru is None:
                    w = share * R.bw[i]
                    snr = R.snr_up[i] if up else R.snr_dn[i]
                    r = 0.0 if share <= 0 else (w * np.log2(1.0 + snr / max(share, 1e-300)) if np.isnan(R.eta[i])
                                                else w * R.eta[i])
                else:
                    r = ru if up else rd
                t = 8.0 * nbytes / r if r > 0 else np.inf
                a, b = (hop.src, hop.dst) if up else (hop.dst, hop.src)
                tx[cm.idx[a]] += t
                rx[cm.idx[b]] += t
    return tx, rx, up_b, dn_b


@pytest.mark.parametrize("name", ["fpl-fog", "pel-shannon", "psl-hetero", "fleet-1000"])
def test_transfer_ledger_equals_the_loop_over_hops(name):
    """The vectorised ledger adds the same terms in the same order as a loop over transfers,
    hops and directions: equal to the last bit, shares of 0 and bytes of 0 included."""
    import numpy as np
    cm = CostModel(load_scenario(SCENARIOS / f"{name}.yaml"))
    rng = np.random.default_rng(0)
    transfers = []
    for srv in cm.scn.servers:
        R = cm.routes(cm.devices, [srv] * len(cm.devices))
        for i in range(len(cm.devices)):
            ub, db = rng.choice([0.0, 1e3, 7.7e6]), rng.choice([0.0, 5e5])
            transfers.append((R, i, ub, db, float(rng.choice([0.0, 0.05, 0.3, 1.0]))))
    for got, want in zip(cm.transfer_ledger(transfers), _ledger_by_loop(cm, transfers)):
        assert np.array_equal(got, want)
