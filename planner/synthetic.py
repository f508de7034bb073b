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
