"""Random scenarios for cross-checks and benchmarks (seeded, reproducible).

`random_profile` writes a unit table with VGG-like shape (activations shrinking, parameters
growing along the chain); `psl_instance` and `pel_instance` build scenarios of N devices under
one channel with heterogeneous compute and links, in the style of the psl and pel sections of
the cost model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .errors import ScenarioError
from .scenario import Scenario, from_data

_DIR = Path(tempfile.mkdtemp(prefix="edgeplan-synth-"))


def random_profile(L: int, rng: np.random.Generator, name: str | None = None) -> Path:
    rows = ["name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes",
            f"input,0,0,{3 * 32 * 32 * 4},0,0,0"]
    out = 64 * 32 * 32 * 4.0
    for k in range(L):
        f = float(rng.uniform(5e6, 2e8))
        p = int(rng.integers(1_000, 2_000_000)) * (1 + 4 * k // L)
        out = max(40.0, out * float(rng.uniform(0.55, 1.05)))
        rows.append(f"u{k},{f:.6g},{f * rng.uniform(1.8, 2.2):.6g},{out:.0f},{out * rng.uniform(1, 2):.0f},{p},{4 * p}")
    path = _DIR / (name or f"prof-{L}-{rng.integers(1 << 62)}.csv")
    path.write_text("\n".join(rows) + "\n")
    return path


def psl_instance(N: int, L: int, seed: int = 0, shannon: bool = False, memory: bool = False,
                 channels: int = 1) -> Scenario:
    rng = np.random.default_rng(seed)
    prof = random_profile(L, rng)
    nodes = [{"name": "srv", "role": "server", "compute": float(rng.uniform(2e12, 2e13)), "power": 250.0,
              "tx_power": 1.0, "rx_power": 0.5}]
    links, chans = [], []
    for c in range(channels):
        ch = {"name": f"ch{c}", "bandwidth": float(rng.uniform(2e7, 1.6e8))}
        if shannon:
            ch["noise_density"] = "-174 dBm/Hz"
        chans.append(ch)
    for i in range(N):
        node = {"name": f"d{i}", "role": "device", "compute": float(10 ** rng.uniform(9, 11)),
                "power": float(rng.uniform(2, 15)), "tx_power": float(rng.uniform(0.1, 1.0)),
                "rx_power": float(rng.uniform(0.05, 0.5))}
        if memory:
            node["memory"] = float(rng.uniform(2e6, 6e8))
        nodes.append(node)
        lk = {"from": f"d{i}", "to": "srv", "channel": f"ch{i % channels}", "latency": float(rng.uniform(1e-3, 2e-2))}
        if shannon:
            lk["gain_db"] = float(rng.uniform(-105, -70))
        else:
            lk["spectral_efficiency"] = float(rng.uniform(1, 6))
        links.append(lk)
    data = {"name": f"psl-{N}x{L}-{seed}", "model": {"profile": str(prof)},
            "training": {"batch_size": int(rng.integers(8, 65)), "local_iterations": int(rng.integers(1, 6))},
            "nodes": nodes, "links": links, "channels": chans}
    return from_data(data, str(_DIR / "synthetic.yaml"))


def pel_instance(K: int, seed: int = 0, shannon: bool = True, L: int = 10,
                 compute: str = "per_parameter") -> Scenario:
    rng = np.random.default_rng(seed)
    prof = random_profile(L, rng)
    nodes = [{"name": "bs", "role": "server", "compute": 1e13, "power": 300.0, "tx_power": float(rng.uniform(0.5, 5))}]
    links = []
    for k in range(K):
        nodes.append({"name": f"w{k}", "role": "device", "compute": float(10 ** rng.uniform(9, 10.7)),
                      "power": float(rng.uniform(1, 8)), "tx_power": float(rng.uniform(0.05, 0.4))})
        lk = {"from": f"w{k}", "to": "bs", "channel": "cell", "latency": float(rng.uniform(0, 1e-2))}
        if shannon:
            lk["gain_db"] = float(rng.uniform(-110, -70))
        else:
            lk["spectral_efficiency"] = float(rng.uniform(0.5, 6))
        links.append(lk)
    ch = {"name": "cell", "bandwidth": float(rng.uniform(5e6, 4e7))}
    if shannon:
        ch["noise_density"] = "-174 dBm/Hz"
    data = {"name": f"pel-{K}-{seed}", "model": {"profile": str(prof)},
            "training": {"batch_size": 32, "local_iterations": 1}, "nodes": nodes, "links": links,
            "channels": [ch], "paradigms": {"pel": {"compute": compute}}}
    return from_data(data, str(_DIR / "synthetic.yaml"))


def fpl_instance(D: int, F: int, seed: int = 0, sources: int = 2, zoo: str | None = "fpl_cnn",
                 L: int = 5) -> Scenario:
    """D IoT devices spread over F fog nodes (one Wi-Fi channel per fog), the fog nodes on a ring
    of metro links and each with a WAN link to one cloud; `sources` data sources."""
    rng = np.random.default_rng(seed)
    model = {"zoo": zoo, "input_shape": [1, 28, 28], "num_classes": 47} if zoo else \
        {"profile": str(random_profile(L, rng))}
    nodes = [{"name": "cloud", "role": "cloud", "compute": 2e13, "power": 400.0, "memory": 2.0 ** 38}]
    links, chans = [], []
    for f in range(F):
        nodes.append({"name": f"fog{f}", "role": "fog", "compute": float(10 ** rng.uniform(10.5, 12)),
                      "power": 30.0, "tx_power": 1.0, "rx_power": 0.5, "memory": float(2.0 ** rng.uniform(27, 33))})
        rate = float(10 ** rng.uniform(7, 9))
        links.append({"from": f"fog{f}", "to": "cloud", "uplink": rate, "downlink": rate,
                      "latency": float(rng.uniform(0.01, 0.06))})
        if F > 1 and (f < F - 1 or F > 2):
            links.append({"from": f"fog{f}", "to": f"fog{(f + 1) % F}", "uplink": 1e9, "downlink": 1e9, "latency": 0.002})
        chans.append({"name": f"wifi{f}", "bandwidth": float(rng.uniform(1e7, 4e7))})
    for d in range(D):
        f = d % F
        nodes.append({"name": f"dev{d}", "role": "device", "compute": float(10 ** rng.uniform(9, 10.5)),
                      "power": float(rng.uniform(1, 4)), "tx_power": 0.3, "rx_power": 0.2,
                      "memory": float(2.0 ** 29), "data_source": f"src{d % sources}"})
        links.append({"from": f"dev{d}", "to": f"fog{f}", "channel": f"wifi{f}",
                      "spectral_efficiency": float(rng.uniform(1, 5)), "latency": 0.002})
    data = {"name": f"fpl-{D}x{F}-{seed}", "model": model, "training": {"batch_size": 32, "local_iterations": 2},
            "nodes": nodes, "links": links, "channels": chans}
    return from_data(data, str(_DIR / "synthetic.yaml"))


def pipedream_instance(csv_path: str | Path, n: int, microbatches: int = 16, link_rate: float = 1.25e9,
                       out_dir: str | Path | None = None) -> Scenario:
    """A straight pipeline over n identical nodes for one of PipeDream's profiles
    (../shared/profiles/pipedream/*.csv: a unit per profiled node, fwd_s and bwd_s per
    minibatch, cut_act_bytes crossing a cut after the unit).

    One "sample" is PipeDream's minibatch (batch_size 1), so every node's measured time per unit
    is the profiled one (a times CSV, machine `pipedream-gpu`; units of 0 s stay 0 s), a cut
    carries `cut_act_bytes` forward and back (no labels), and the links run at `link_rate`
    bytes/s both ways (default 10 Gbit/s) with no latency: PipeDream's own straight-pipeline
    setting. The input row's bytes are the first unit's cut bytes (PipeDream drops the input).
    The per-unit FLOPs are the profiled seconds x 1e12 (a 1 TFLOP/s node) for reference."""
    import pandas as pd
    src = Path(csv_path)
    need = ("fwd_s", "bwd_s", "cut_act_bytes", "out_act_bytes", "param_bytes")
    try:
        d = pd.read_csv(src)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ScenarioError(f"not a profile CSV ({str(e).splitlines()[0]}); give one of PipeDream's "
                            f"profiles as unit rows with columns {', '.join(need)}", str(src)) from None
    missing = [c for c in need if c not in d.columns]
    if missing:
        raise ScenarioError(f"not one of PipeDream's profiles as unit rows: no column {', '.join(missing)} "
                            f"(needs {', '.join(need)})", str(src))
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix=f"edgeplan-{src.stem}-", dir=_DIR))
    out.mkdir(parents=True, exist_ok=True)
    names = [f"u{i}" for i in range(len(d))]
    prof = pd.DataFrame({"name": ["input"] + names,
                         "fwd_flops": [0.0] + list(d.fwd_s * 1e12), "bwd_flops": [0.0] + list(d.bwd_s * 1e12),
                         "out_bytes": [float(d.cut_act_bytes.iloc[0])] + list(d.cut_act_bytes.astype(float)),
                         "act_bytes": [0.0] + list(d.out_act_bytes.astype(float)),
                         "params": [0] + list((d.param_bytes // 4).astype(int)),
                         "param_bytes": [0] + list(d.param_bytes.astype(int))})
    prof.to_csv(out / "profile.csv", index=False, float_format="%.10g")
    pd.DataFrame({"machine": "pipedream-gpu", "unit": names, "fwd_s": d.fwd_s, "bwd_s": d.bwd_s,
                  "update_s": 0.0, "batch_size": 1}).to_csv(out / "times.csv", index=False, float_format="%.10g")
    nodes = [{"name": f"gpu{k}", "role": "device" if k == 0 else "server", "measured": "pipedream-gpu",
              "power": 250.0, "tx_power": 1.0, "rx_power": 1.0, "memory": 2.0 ** 40} for k in range(n)]
    links = [{"from": f"gpu{k}", "to": f"gpu{k + 1}", "uplink": 8 * link_rate, "downlink": 8 * link_rate,
              "latency": 0.0} for k in range(n - 1)]
    data = {"name": f"pipedream-{src.stem}-n{n}", "model": {"profile": "profile.csv", "times": "times.csv", "label_bytes": 0},
            "training": {"batch_size": 1, "local_iterations": 1}, "nodes": nodes, "links": links,
            "paradigms": {"dsgd": {"microbatches": microbatches, "path": [f"gpu{k}" for k in range(n)]}}}
    import yaml
    (out / "scenario.yaml").write_text(f"# PipeDream's {src.stem} profile as a straight pipeline over {n} "
                                       "identical nodes (edgeplan.synthetic.pipedream_instance)\n" +
                                       yaml.safe_dump(data, sort_keys=False))
    return from_data(data, str(out / "scenario.yaml"))


def write_fleet(n: int, folder: str | Path, seed: int = 0, name: str | None = None,
                parquet: bool = False) -> Path:
    """A fleet of n heterogeneous devices (phones, Raspberry Pis, Jetsons) on four Wi-Fi cells
    around one edge server, written as a scenario with its nodes and links as tables
    (`{table: ...}`), the shape of the shipped scenarios/fleet-1000.yaml. Returns the scenario."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = np.array(["phone", "rpi4", "jetson"])
    kind = kinds[rng.choice(3, size=n, p=[0.5, 0.3, 0.2])]
    gflops = {"phone": (8, 25), "rpi4": (3, 8), "jetson": (60, 200)}
    watts = {"phone": (2, 4), "rpi4": (4, 6), "jetson": (8, 15)}
    lo = np.array([gflops[k][0] for k in kind]), np.array([gflops[k][1] for k in kind])
    pw = np.array([watts[k][0] for k in kind]), np.array([watts[k][1] for k in kind])
    names = np.char.add(np.char.add(kind.astype(str), "-"), np.arange(n).astype(str))
    nodes = pd.DataFrame({"name": names, "role": "device",
                          "compute [GFLOPS]": np.round(rng.uniform(*lo), 2),
                          "memory [GiB]": np.where(kind == "rpi4", 4, 8),
                          "power [W]": np.round(rng.uniform(*pw), 2), "tx_power [W]": 0.3, "rx_power [W]": 0.15,
                          "samples": rng.integers(200, 2000, size=n)})
    links = pd.DataFrame({"from": names, "to": "edge", "channel": np.char.add("cell-", (np.arange(n) % 4).astype(str)),
                          "spectral_efficiency": np.round(rng.uniform(1.0, 6.0, size=n), 2),
                          "latency [ms]": np.round(rng.uniform(2, 20, size=n), 1)})
    stem = name or f"fleet-{n}"
    ext = "parquet" if parquet else "csv"
    tables = folder / stem
    tables.mkdir(exist_ok=True)
    if parquet:
        nodes.to_parquet(tables / f"devices.{ext}", index=False)
        links.to_parquet(tables / f"links.{ext}", index=False)
    else:
        nodes.to_csv(tables / f"devices.{ext}", index=False)
        links.to_csv(tables / f"links.{ext}", index=False)
    text = f"""# {n} devices of three kinds on four Wi-Fi cells around one edge server: the devices and
# their links are tables ({stem}/devices.{ext}, {stem}/links.{ext}), generated by
# edgeplan.synthetic.write_fleet({n}, seed={seed}).
name: {stem}
description: a generated fleet of {n} devices given as tables
model: {{zoo: lenet5, input_shape: [1, 28, 28], num_classes: 10}}
training: {{batch_size: 32, local_iterations: 2, rounds: 100}}
nodes:
  - {{name: edge, role: server, compute: 4 TFLOPS, power: 250 W, tx_power: 2 W, memory: 64 GiB}}
  - {{table: {stem}/devices.{ext}}}
links:
  - {{table: {stem}/links.{ext}}}
channels:
""" + "".join(f"  - {{name: cell-{c}, bandwidth: 80 MHz}}\n" for c in range(4))
    path = folder / f"{stem}.yaml"
    path.write_text(text)
    return path
