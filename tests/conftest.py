"""Shared fixtures: paths, tiny scenarios written to tmp dirs, the ../shared folder when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHARED = Path(os.environ.get("EDGEPLAN_SHARED", ROOT.parent / "shared"))
WORKBOOKS = SHARED / "profiles" / "sfl-workflow"

os.environ.setdefault("OMP_NUM_THREADS", "1")
# the suite's profile cache is its own (shared by the processes it starts), not the user's
if "EDGEPLAN_CACHE_DIR" not in os.environ:
    import tempfile
    os.environ["EDGEPLAN_CACHE_DIR"] = tempfile.mkdtemp(prefix="edgeplan-test-cache-")


def shipped_scenarios() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


needs_shared = pytest.mark.skipif(not WORKBOOKS.is_dir(), reason="../shared/profiles is not beside the project")

TINY_PROFILE = """name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes
input,0,0,100,0,0,0
u1,1e6,2e6,200,300,10,40
u2,2e6,4e6,50,100,100,400
u3,1e5,2e5,40,40,20,80
"""

# a world without per-call overheads or memory traffic (call_overhead 0, memory_bandwidth beyond
# reach), so the hand computations of tests/test_costs_hand.py are FLOPs over rates
TINY_SCENARIO = """name: tiny
model: {{profile: tiny.csv}}
training: {{batch_size: 10, local_iterations: 2, rounds: 5}}
nodes:
  - {{name: srv, role: server, compute: 1e9, power: 100, tx_power: 2, rx_power: 1, call_overhead: 0, memory_bandwidth: 1e300}}
  - {{name: d0, role: device, compute: 1e8, power: 5, tx_power: 1, rx_power: 0.5, call_overhead: 0, memory_bandwidth: 1e300}}
  - {{name: d1, role: device, compute: 2e8, power: 4, tx_power: 1, rx_power: 0.5, call_overhead: 0, memory_bandwidth: 1e300}}
  {extra_nodes}
links:
  - {{from: d0, to: srv, channel: ch, spectral_efficiency: 2, latency: 0.01}}
  - {{from: d1, to: srv, channel: ch, spectral_efficiency: 4, latency: 0.02}}
  {extra_links}
channels:
  - {{name: ch, bandwidth: 1e6}}
{extra}
"""


@pytest.fixture
def tiny(tmp_path):
    """Write the tiny hand-computable scenario; returns a function(extra_nodes=, extra_links=, extra=)."""
    (tmp_path / "tiny.csv").write_text(TINY_PROFILE)

    def make(extra_nodes: str = "", extra_links: str = "", extra: str = "", name: str = "tiny.yaml") -> Path:
        p = tmp_path / name
        p.write_text(TINY_SCENARIO.format(extra_nodes=extra_nodes, extra_links=extra_links, extra=extra))
        return p
    return make


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def assert_transports_agree(path, plan, rounds: int = 2, framing: float = 0.01):
    """The same plan through both transports (one program per paradigm): the same seed gives the
    same losses, accuracy and bytes, bit for bit; the predicted bytes are what crossed the wire,
    the wire's headers under `framing` of them."""
    import numpy as np
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.distributed import run_distributed
    from edgeplan.validation.runner import run_inprocess
    a = run_inprocess(load_scenario(path), plan, rounds=rounds)
    b = run_distributed(str(path), plan, rounds=rounds, timeout=120)
    np.testing.assert_array_equal(a.rounds.comm_bytes, b.rounds.comm_bytes)
    np.testing.assert_array_equal(b.rounds.payload_bytes, b.rounds.comm_bytes)
    assert (b.rounds.framing_bytes < framing * b.rounds.payload_bytes).all(), \
        (b.rounds.framing_bytes / b.rounds.payload_bytes).max()
    np.testing.assert_array_equal(a.rounds.train_loss, b.rounds.train_loss)
    np.testing.assert_array_equal(a.rounds.test_accuracy, b.rounds.test_accuracy)
    np.testing.assert_array_equal(a.rounds.test_loss, b.rounds.test_loss)
    assert sorted(e["phase"] for e in a.events) == sorted(e["phase"] for e in b.events)
    # both report the same about their data (the split each device really got) and predictions
    assert {k: v for k, v in b.extra.items() if k != "framing_bytes"} == a.extra
    assert [c for c in b.rounds.columns if c.startswith("predicted")] == \
        [c for c in a.rounds.columns if c.startswith("predicted")]
    assert b.rounds.comm_bytes.iloc[-1] == pytest.approx(plan.predicted["comm_bytes"])
    return a, b
