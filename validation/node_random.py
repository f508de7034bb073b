"""Each node's own random stream, so that a model with dropout trains on the same masks in both
transports.

In process every node's work drew from one torch random state, in the order the program visits
the nodes; distributed, each process drew from its own. Now the work a transport times as a node's
(`tx.compute(node, ...)`) draws from that node's stream, seeded by the run's seed and the node's
name and carried on only by that node's work, which is the same sequence of calls in either
transport. Draws outside a node's work (none in the engines today) keep torch's global state.
"""

from __future__ import annotations

import contextlib
import zlib

import torch


class NodeStreams:
    """Per node, the torch random state its work left (fresh ones seeded on first use)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.states: dict[str, torch.Tensor] = {}

    def _fresh(self, node: str) -> torch.Tensor:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + zlib.crc32(node.encode())) % 2**63)
        return g.get_state()

    @contextlib.contextmanager
    def use(self, node: str):
        """Run a block on `node`'s stream; the global state outside it is left as it was."""
        outer = torch.get_rng_state()
        torch.set_rng_state(self.states[node] if node in self.states else self._fresh(node))
        try:
            yield
        finally:
            self.states[node] = torch.get_rng_state()
            torch.set_rng_state(outer)


class OnNodeStreams:
    """A transport whose `compute` blocks run on the node's stream; everything else passes through."""

    def __init__(self, tx, streams: NodeStreams):
        self._tx, self._streams = tx, streams

    def __getattr__(self, name):
        return getattr(self._tx, name)

    @contextlib.contextmanager
    def compute(self, node: str, *args, **kwargs):
        with self._streams.use(node), self._tx.compute(node, *args, **kwargs):
            yield
