"""Warm a node's layers again before its timed compute, after it waited for the network.

On a KVM guest a training step right after the process waited runs slower than back to back
(benchmarks/bench_validation.py `restart_slowdown`: the digits CNN's step 1.1-1.35x, about a
millisecond more whatever the batch), and the distributed executor converts host seconds to node
seconds at host_rate / rate(node), about 75x for digits-small's boards: an effect of this host,
not of the node's compute. Running the same layers forward and backward on two samples, the loss
and one step of the run's optimizer just before the timed block takes most of it away (the
digits CNN's device part: 1.09x -> 1.01-1.03x; reading the weights, or a torch op on another
layer, did not help; shaped links at batch 32, median round latency error: sl 21-26% -> 6%, psl
22-25% -> 9-10%, fpl 19-24% -> 9-11%). Nothing of the training changes: the layers' gradients,
buffers (batch norm's statistics) and torch's random state are put back, and the warm-up is not
timed.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn


class Rewarm:
    """Records each leaf layer's inputs' shapes on its first training call (the loss too, when given);
    `()` runs every recorded layer forward and backward on two zero samples of those shapes, and
    one step of the run's optimizer on a throwaway tensor, leaving no trace."""

    def __init__(self, modules, make_optimizer=None):
        self.shapes: dict[nn.Module, list] = {}
        self.quiet = False
        # torch's own layers only: a user's layer may keep state of its own a second call would move
        leaves = weakref.WeakSet(m for top in modules for m in top.modules() if not any(True for _ in m.children())
                                 and type(m).__module__.startswith("torch.nn."))

        def record(module, args):
            # training calls only (the test of the whole model runs without gradients), and only the
            # layers given (a copy of a layer carries the hook along)
            if not self.quiet and torch.is_grad_enabled() and module in leaves and module not in self.shapes and args \
                    and all(torch.is_tensor(a) and a.dim() >= 1 for a in args):
                self.shapes[module] = [(tuple(a.shape[1:]), a.dtype) for a in args]
        for m in leaves:
            m.register_forward_pre_hook(record)
        self.spare = torch.zeros(8, requires_grad=True)
        try:
            self.opt = make_optimizer([self.spare]) if make_optimizer else None
        except Exception:
            self.opt = None

    def __call__(self) -> None:
        if not self.shapes:
            return
        self.quiet = True
        try:
            with torch.random.fork_rng(devices=[]), torch.enable_grad():
                for m in list(self.shapes):
                    if not self._warm(m):
                        del self.shapes[m]            # a layer that cannot take zeros: left cold
                if self.opt is not None:
                    self.spare.grad = torch.zeros_like(self.spare)
                    self.opt.step()
        finally:
            self.quiet = False

    def _warm(self, m: nn.Module) -> bool:
        params = list(m.parameters(recurse=False))
        grads = [p.grad for p in params]
        # the warm-up runs on copies of the buffers and the layer gets its own tensors back,
        # untouched: restoring them in place bumped their version, and a batch norm's backward
        # still to come (a device's part waits for its gradient) refused its saved statistics
        buffers = {name: b for name, b in m.named_buffers(recurse=False)}
        try:
            for name, b in buffers.items():
                setattr(m, name, b.clone())
            for p in params:
                p.grad = None
            xs = []
            for shape, dtype in self.shapes[m]:
                x = torch.zeros((2, *shape), dtype=dtype)
                if x.is_floating_point():
                    x = x.requires_grad_().clone()    # (not a leaf: in-place layers may write it)
                xs.append(x)
            y = m(*xs)
            if torch.is_tensor(y) and y.requires_grad:
                y.sum().backward()
            return True
        except Exception:
            return False
        finally:
            for name, b in buffers.items():
                setattr(m, name, b)
            for p, g in zip(params, grads):
                p.grad = g
