"""Data: the packaged sets, user files (IDX, NPZ) made here, and splits across devices."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from edgeplan.errors import ScenarioError
from edgeplan.validation.data import load, read_idx, split_across


def _idx(path, arr: np.ndarray, gz: bool = False):
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = head + arr.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    rng = np.random.default_rng(0)
    _idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 255, (50, 28, 28), dtype=np.uint8), gz)
    _idx(tmp_path / "train-labels-idx1-ubyte", rng.integers(0, 10, 50).astype(np.uint8), gz)
    _idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), gz)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 20).astype(np.uint8), gz)
    ds = load(f"idx:{tmp_path}", (1, 14, 14), 10)
    assert ds.x_train.shape == (50, 1, 14, 14) and ds.x_test.shape == (20, 1, 14, 14)
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0
    assert ds.y_train.dtype.is_floating_point is False


def test_idx_bad_magic(tmp_path):
    (tmp_path / "x").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ScenarioError, match=r"x: not an IDX file \(bad magic number\)"):
        read_idx(tmp_path / "x")


def test_npz_with_and_without_split(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", x_train=rng.random((40, 8, 8)), y_train=rng.integers(0, 3, 40),
             x_test=rng.random((10, 8, 8)), y_test=rng.integers(0, 3, 10))
    ds = load(f"npz:{tmp_path / 'a.npz'}", (3, 8, 8), 3)
    assert ds.x_train.shape == (40, 3, 8, 8)
    np.savez(tmp_path / "b.npz", x=rng.random((100, 16)), y=np.repeat(np.arange(4), 25))
    ds = load(f"npz:{tmp_path / 'b.npz'}", (1, 1, 16), 4)
    assert len(ds.y_train) == 80 and len(ds.y_test) == 20
    np.savez(tmp_path / "c.npz", images=rng.random((4, 2)))
    with pytest.raises(ScenarioError, match=r"NPZ needs arrays x_train, y_train, x_test, y_test \(or x, y\)"):
        load(f"npz:{tmp_path / 'c.npz'}", (1, 1, 2), 2)


def test_npz_of_bytes_is_scaled_like_idx(tmp_path):
    """keras' mnist.npz holds uint8 pixels 0..255: they trained as 0..255 (a first loss of 17 on
    digits) where the same images as IDX were scaled to [0, 1]."""
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (30, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "u8.npz", x_train=px, y_train=np.arange(30) % 3, x_test=px[:6], y_test=np.arange(6) % 3)
    ds = load(f"npz:{tmp_path / 'u8.npz'}", (1, 8, 8), 3)
    np.testing.assert_allclose(ds.x_train[:, 0].numpy(), px / 255.0, rtol=1e-6)
    np.savez(tmp_path / "f.npz", x=px.astype(np.float32), y=np.arange(30) % 3)       # floats: as they are
    assert float(load(f"npz:{tmp_path / 'f.npz'}", (1, 8, 8), 3).x_train.max()) > 1.0


def test_channels_last_images_are_turned_channels_first(tmp_path):
    """keras' CIFAR-10 is (N, 32, 32, 3): it was refused with 'data has 32 channels'."""
    rng = np.random.default_rng(0)
    x = rng.random((20, 8, 8, 3)).astype(np.float32)
    np.savez(tmp_path / "cl.npz", x_train=x, y_train=np.arange(20) % 2, x_test=x[:4], y_test=np.arange(4) % 2)
    ds = load(f"npz:{tmp_path / 'cl.npz'}", (3, 8, 8), 2)
    np.testing.assert_array_equal(ds.x_train.numpy(), x.transpose(0, 3, 1, 2))
    np.savez(tmp_path / "c5.npz", x=rng.random((20, 5, 8, 8)), y=np.arange(20) % 2)
    with pytest.raises(ScenarioError, match=r"the data's samples have 5 channels \(\[5, 8, 8\], channels first\) "
                                            r"and model.input_shape \[3, 8, 8\] takes 3"):
        load(f"npz:{tmp_path / 'c5.npz'}", (3, 8, 8), 2)


_X, _Y = np.random.default_rng(0).random((40, 8, 8)), np.arange(40) % 4


@pytest.mark.parametrize("change, says", [
    ({"y_train": _Y - 1}, "y_train holds -1: labels are class indices 0, 1, 2, ..."),
    ({"y_train": _Y + 0.5}, "y_train holds 0.5: labels are class indices"),
    ({"y_train": _Y[:35]}, "x_train has 40 samples, y_train 35 labels"),
    ({"x_test": _X[:0], "y_test": _Y[:0]}, "x_test is empty: give at least one sample"),
    ({"x_train": np.where(np.arange(40)[:, None, None] == 3, np.nan, _X)}, r"x_train holds NaN or infinite values \(sample 3\)"),
    ({"x_train": _X.reshape(-1)}, r"x_train must hold one sample per row.*it has shape \(2560,\)"),
    ({"x_train": _X.reshape(40, 1, 1, 8, 8)}, r"x_train must hold .* it has shape \(40, 1, 1, 8, 8\)"),
    ({"x_train": np.array(["a"] * 40)}, "x_train holds <U1 values, not numbers"),
    ({"y_train": np.stack([_Y, _Y], 1)}, r"y_train must hold one label per sample \(shape \(N,\)\)"),
])
def test_npz_arrays_that_cannot_be_trained_on_say_why(tmp_path, change, says):
    """Each was an internal error or, worse, trained on (labels cut to integers, NaN samples)."""
    arrays = {"x_train": _X, "y_train": _Y, "x_test": _X[:10], "y_test": _Y[:10], **change}
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ScenarioError, match=r"d\.npz: training\.dataset: " + says):
        load(f"npz:{tmp_path / 'd.npz'}", (1, 8, 8), 4)


def test_npz_of_a_few_samples_splits_plainly_or_says_it_is_too_few(tmp_path):
    np.savez(tmp_path / "few.npz", x=_X[:8], y=np.array([0, 0, 1, 1, 2, 2, 3, 9]))    # class 9 once: not stratified
    ds = load(f"npz:{tmp_path / 'few.npz'}", (1, 8, 8), 10)
    assert len(ds.y_train) + len(ds.y_test) == 8
    np.savez(tmp_path / "tiny.npz", x=_X[:3], y=_Y[:3])
    with pytest.raises(ScenarioError, match="x and y hold 3 samples, too few to hold a fifth out for testing"):
        load(f"npz:{tmp_path / 'tiny.npz'}", (1, 8, 8), 4)


def test_packaged_sets():
    d = load("digits", (1, 8, 8), 10)
    assert len(d.y_train) + len(d.y_test) == 1797 and d.x_train.shape[1:] == (1, 8, 8)
    big = load("digits", (3, 32, 32), 10)
    assert big.x_train.shape[1:] == (3, 32, 32)
    m = load("mnist1d", (1, 1, 40), 10)
    assert len(m.y_train) == 4000 and m.x_train.shape[1:] == (1, 1, 40)
    with pytest.raises(ScenarioError, match=r"dataset 'digits' has 10 classes but model.num_classes is 5"):
        load("digits", (1, 8, 8), 5)
    with pytest.raises(ScenarioError, match=r"unknown dataset 'cifar'; use digits, mnist1d, idx:DIR or npz:FILE"):
        load("cifar", (1, 8, 8), 10)


def test_split_sizes_iid_and_dirichlet():
    d = load("digits", (1, 8, 8), 10)
    shards = split_across(d.y_train, [300, 200, 100], iid=True, seed=1)
    assert [len(s) for s in shards] == [300, 200, 100]
    assert len(set(np.concatenate(shards))) == 600              # disjoint
    skew = split_across(d.y_train, [300, 300], iid=False, alpha=0.1, seed=1)
    counts = [np.bincount(d.y_train.numpy()[s], minlength=10) for s in skew]
    assert max(c.max() / c.sum() for c in counts) > 0.3           # Dirichlet(0.1) concentrates classes
    assert len(set(np.concatenate(skew))) == sum(len(s) for s in skew)


def test_check_reads_a_users_data_file(tmp_path):
    """`check` reads npz:/idx: data at once, so a bad file is found before planning and training."""
    from edgeplan.cli import app
    from typer.testing import CliRunner

    from .conftest import SCENARIOS
    scn = tmp_path / "s.yaml"
    scn.write_text((SCENARIOS / "digits-small.yaml").read_text().replace("dataset: digits", "dataset: 'npz:d.npz'"))
    np.savez(tmp_path / "d.npz", x_train=_X, y_train=_Y, x_test=_X[:10], y_test=_Y[:10])
    r = CliRunner().invoke(app, ["check", str(scn)])
    assert r.exit_code == 0 and "data: npz:d.npz: 40 training and 10 test samples, 4 classes" in r.output, r.output
    np.savez(tmp_path / "d.npz", x_train=_X, y_train=_Y - 1, x_test=_X[:10], y_test=_Y[:10])
    r = CliRunner().invoke(app, ["check", str(scn)])
    assert r.exit_code == 2 and "d.npz: training.dataset: y_train holds -1" in r.output, r.output
