"""The model zoo and the profiler: FLOPs, bytes, parameters, cut-able boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from edgeplan.errors import ScenarioError
from edgeplan.models.profile import profile_model, profile_zoo, split_at, trace_units
from edgeplan.models.profile_io import read_profile_csv, write_profile_csv
from edgeplan.models.registry import ZOO_MODELS
from edgeplan.models.zoo import build
from torch import nn

SMALL = {"fpl_cnn": (1, 28, 28), "lenet5": (1, 8, 8), "mlp": (1, 8, 8), "vgg11": (3, 32, 32), "vgg16": (3, 32, 32),
         "vgg19": (1, 8, 8), "resnet18": (3, 32, 32), "mobilenetv2": (3, 32, 32),
         "cnn1d": (1, 1, 40)}


def test_conv_and_linear_flops_match_formulas():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(),
                      nn.Flatten(), nn.Linear(4 * 16 * 16, 10))
    t = profile_model(m, (3, 16, 16))
    conv1 = 2 * 8 * 16 * 16 * 3 * 9
    conv2 = 2 * 4 * 16 * 16 * 8 * 9
    lin = 2 * 4 * 16 * 16 * 10
    assert list(t.fwd[1:]) == [conv1, conv2, lin]
    # the first unit computes no input gradient (its input is data): backward = weight gradient only
    assert list(t.bwd[1:]) == [conv1, 2 * conv2, 2 * lin]
    assert t.total_params == sum(p.numel() for p in m.parameters())
    assert list(t.out[1:]) == [8 * 16 * 16 * 4, 4 * 16 * 16 * 4, 10 * 4]
    assert t.out[0] == 3 * 16 * 16 * 4


class _PoolThenDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1)
        return self.head(self.drop(x))


class _TiedLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.mid, self.out = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.inp(x.flatten(1)))
        return self.out(torch.relu(self.mid(torch.relu(self.mid(h)))))      # one layer used twice


def test_a_layer_used_twice_is_never_cut_apart():
    """A cut between two uses of one layer would put its weights on both sides (training apart,
    counted twice): the units between the uses are one."""
    m = _TiedLayer()
    t = profile_model(m, (1, 8, 8))
    assert t.names == ["input", "inp", "mid", "out"]
    assert t.total_params == sum(p.numel() for p in m.parameters())
    ug = trace_units(m, (1, 8, 8))
    x = torch.randn(3, 1, 8, 8)
    h = x
    for u in ug.units:
        h = u(h)
    torch.testing.assert_close(h, m(x))


class _ViewBySize(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 64, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1).reshape(x.shape[0], -1))


def test_shape_queries_and_views_join_the_unit_before():
    t = profile_model(_ViewBySize(), (1, 8, 8))
    assert t.names == ["input", "conv", "fc"] and t.kinds == ["input", "Conv2d+relu", "Linear"]


def test_a_unit_is_named_by_its_work_not_a_dropout_beside_it():
    """The pooling function does the unit's work: the unit was named 'drop' after the Dropout."""
    t = profile_model(_PoolThenDropout(), (1, 8, 8))
    assert t.names == ["input", "conv", "adaptive_avg_pool2d", "head"]
    assert t.kinds[2] == "adaptive_avg_pool2d"


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_total_parameters_equal_numel(name):
    torch.manual_seed(0)
    m = build(name, SMALL[name], 10)
    t = profile_model(m, SMALL[name])
    assert t.total_params == sum(p.numel() for p in m.parameters())
    assert t.pbytes.sum() == 4 * t.total_params


@pytest.mark.parametrize("name, gmac", [("vgg16", 15.5), ("resnet18", 1.8), ("mobilenetv2", 0.3)])
def test_published_totals_at_224(name, gmac):
    t = profile_zoo(name, (3, 224, 224), 1000)
    assert t.fwd.sum() / 2e9 == pytest.approx(gmac, rel=0.03)
    # backward is measured, not assumed: about twice the forward, but not exactly
    assert 1.8 < t.bwd.sum() / t.fwd.sum() < 2.05


def test_resnet18_units_are_its_blocks():
    t = profile_zoo("resnet18", (3, 224, 224), 1000)
    assert t.names == ["input", "stem.0", "stem.3"] + [f"layers.{i}" for i in range(8)] + ["avgpool", "fc"]
    assert all(k.startswith("Block") for k in t.kinds[3:11])


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_every_cut_preserves_output_and_bytes(name):
    torch.manual_seed(0)
    shape = SMALL[name]
    m = build(name, shape, 10).eval()
    ug = trace_units(m, shape)
    t = profile_model(m, shape)
    assert len(ug.units) == t.L
    x = torch.randn(3, *shape)
    with torch.no_grad():
        want = m(x)
        for c in range(1, t.L):
            head, tail = split_at(ug, c)
            h = head(x)
            assert isinstance(h, torch.Tensor)
            assert h[0].numel() * h.element_size() == t.out[c]
            torch.testing.assert_close(tail(h), want, rtol=1e-5, atol=1e-5)


def test_fp16_scaling_halves_bytes_not_flops():
    t4 = profile_zoo("lenet5", (1, 8, 8), 10)
    t2 = t4.scaled(2)
    assert np.allclose(t2.out, t4.out / 2) and np.allclose(t2.pbytes, t4.pbytes / 2)
    assert np.array_equal(t2.fwd, t4.fwd)


def test_profile_csv_round_trip(tmp_path):
    t = profile_zoo("resnet18", (3, 32, 32), 10)
    write_profile_csv(t, tmp_path / "p.csv")
    r = read_profile_csv(tmp_path / "p.csv")
    assert r.names == t.names
    for a, b in [(r.fwd, t.fwd), (r.bwd, t.bwd), (r.out, t.out), (r.act, t.act), (r.pbytes, t.pbytes)]:
        np.testing.assert_allclose(a, b, rtol=1e-9)
    assert (r.params == t.params).all()


def test_profile_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params\ninput,0,0,4,0,0\n")
    with pytest.raises(ScenarioError, match=r"bad\.csv:1: header lacks column\(s\) param_bytes"):
        read_profile_csv(p)
    p.write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes\ninput,0,0,4,0,0,0\n"
                 "u1,1e6,x,4,4,1,4\n")
    with pytest.raises(ScenarioError, match=r"bad\.csv:3: column 'bwd_flops': 'x' is not a number"):
        read_profile_csv(p)
    p.write_text("name,fwd_flops,bwd_flops,out_bytes,act_bytes,params,param_bytes\nu1,0,0,4,0,0,0\n")
    with pytest.raises(ScenarioError, match=r"bad\.csv:2: the first row must be named 'input'"):
        read_profile_csv(p)


def test_gemm_k_is_the_reduction_length():
    """gemm_k: a convolution's in_channels/groups x kernel size, a linear layer's inputs, 0 for
    pooling; it survives a CSV round trip, and a short reduction is charged more per FLOP."""
    from edgeplan.compute import SHORT_K, gemm_work
    t = profile_zoo("vgg11", [3, 32, 32], 10)
    kinds = t.kinds
    assert t.gemm_k[1] == 27                                  # 3 channels x 3 x 3
    assert t.gemm_k[kinds.index("MaxPool2d")] == 0
    assert t.gemm_k[-1] == 512                                # the classifier's inputs
    fwd, bwd = gemm_work(t)
    assert fwd[1] == pytest.approx(t.fwd[1] * (1 + SHORT_K / 27))
    assert fwd[-1] / t.fwd[-1] < fwd[1] / t.fwd[1]


def test_gemm_k_round_trips_and_is_optional(tmp_path):
    t = profile_zoo("fpl_cnn", [1, 8, 8], 10)
    assert t.gemm_k[1] == 25                                  # 1 channel x 5 x 5
    write_profile_csv(t, tmp_path / "p.csv")
    back = read_profile_csv(tmp_path / "p.csv")
    assert np.allclose(back.gemm_k, t.gemm_k)
    from edgeplan.compute import gemm_work
    plain = t.df.drop(columns=["gemm_k"])
    from edgeplan.models.table import UnitTable
    fwd, _ = gemm_work(UnitTable(plain, t.model, t.input_shape, 4, t.kinds))
    assert np.array_equal(fwd, t.fwd)                         # without the column: FLOPs as they are


def test_measure_units_in_training_order_handles_a_unit_without_parameters():
    """Timed as training runs them (forward sweep, backward sweep); a first unit without
    parameters (its output needs no gradient) is timed forward only."""
    model = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10))
    t = profile_model(model, [1, 8, 8], measure=True, measure_batch=4, measure_repeats=2)
    assert (t.df.fwd_time_s.iloc[1:] > 0).all()
    assert t.df.bwd_time_s.iloc[1] == 0 and (t.df.bwd_time_s.iloc[2:] > 0).all()


def test_profile_table_reads_at_80_columns():
    """Long unit and kind names fold at a readable width and every number column stays whole,
    also with --measure's time column (it was cropped, and names folded two letters a line)."""
    from edgeplan.models.profile_io import host_times
    from edgeplan.tables import make_table, profile_view
    from rich.console import Console
    t = profile_zoo("mobilenetv2", [3, 32, 32], 10, measure=True, measure_batch=2, measure_repeats=1)
    for times, sheet in ((None, None), (host_times(t, "this-host", 2), "this-host")):
        headers, rows, _ = profile_view(t, times, sheet)
        console = Console(width=80, record=True)
        console.print(make_table("mobilenetv2", headers, rows, left=("unit", "kind"), whole=("unit",)))
        lines = console.export_text().splitlines()
        assert all(len(line) <= 80 for line in lines)
        rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
        assert lines[rule - 1].split()[-1] == headers[-1]               # the last header is whole
        if times is None:         # unit names whole where the table fits so; else broken before a '.'
            assert all(any(line.split()[1:2] == [r[1]] for line in lines) for r in rows[:-1])
        else:
            assert not any(line.split()[:1] == ["."] for line in lines)
        assert "Conv2d+" in lines[rule + 2] and "BatchNorm2d+" in lines[rule + 3]   # kinds fold after a '+'
        assert lines[-1].split()[-1] == rows[-1][-1].split()[-1]         # the last column is not cropped
    from edgeplan.tables import _fold
    assert _fold("bandwidth_aware", 12) == "bandwidth_\naware" and _fold("phone/downlink", 12) == "phone/\ndownlink"
