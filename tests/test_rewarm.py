"""The distributed executor warms a node's layers again before its timed compute: nothing of
the training may change."""

import copy

import torch
from edgeplan.validation.rewarm import Rewarm
from torch import nn


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Dropout(0.5),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def test_a_rewarm_leaves_weights_gradients_statistics_and_random_state_as_they_were():
    model = _model()
    rewarm = Rewarm([model])
    x = torch.randn(8, 1, 8, 8)
    model(x).sum().backward()                      # mid-step: gradients held, statistics moved
    assert len(rewarm.shapes) == 6                 # every layer, by its input's shape
    before = copy.deepcopy(model.state_dict())
    grads = [p.grad.clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    rewarm()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert torch.equal(rng, torch.get_rng_state())
    assert len(rewarm.shapes) == 6                 # its own calls record nothing new
    # the step goes on exactly as without the warm-up
    twin = _model()
    twin.load_state_dict(before)
    for p, g in zip(twin.parameters(), grads):
        p.grad = g.clone()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(1)
    assert torch.equal(a, twin(x))


def test_copies_of_the_layers_are_not_warmed():
    model = _model()
    rewarm = Rewarm([model])
    copy.deepcopy(model)(torch.randn(2, 1, 8, 8))  # a copy carries the hook along
    with torch.no_grad():
        model(torch.randn(2, 1, 8, 8))             # the test of the model: no training
    assert rewarm.shapes == {}
    rewarm()                                       # nothing recorded: nothing to do


def test_a_users_own_layers_are_left_alone():
    """A user's layer may keep state of its own (a counter, a cache) that another call would move."""
    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x

    model = nn.Sequential(nn.Linear(3, 3), Counting())
    rewarm = Rewarm([model])
    model(torch.randn(4, 3))
    rewarm()
    assert model[1].calls == 1 and list(rewarm.shapes) == [model[0]]


def test_a_distributed_run_says_how_its_compute_was_timed():
    from types import SimpleNamespace

    import pandas as pd
    from edgeplan.reports import run_sentences
    rounds = pd.DataFrame({"round": [1], "test_accuracy": [0.5], "test_loss": [1.0], "train_loss": [2.0]})

    def said(executor):
        plan = SimpleNamespace(paradigm="dsgd", paradigm_detail={})
        return " ".join(run_sentences(SimpleNamespace(rounds=rounds, host_rate=1e11, executor=executor, extra={},
                                                      plan=plan)))
    assert "before each timed block the node ran its layers once more untimed" in said("distributed (shaped)")
    assert "untimed" not in said("in-process")
