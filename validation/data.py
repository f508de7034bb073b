"""Data sets that need no download, loaders for files the user brings, and splits across devices.

- `digits`: scikit-learn's 8x8 handwritten digits (1 797 images, in the package), resized to
  the model's input shape where needed; 80/20 stratified split.
- `mnist1d`: mnist1d's `make_dataset` (generated locally, 4 000 / 1 000 samples of length 40).
- `idx:DIR`: MNIST/EMNIST IDX files in DIR (train-images*, train-labels*, t10k-images*,
  t10k-labels* or test-*; optionally .gz).
- `npz:FILE`: arrays x_train, y_train, x_test, y_test (or x, y, split 80/20 here).
"""

from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from edgeplan.errors import ScenarioError


@dataclass
class Dataset:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load(spec: str, input_shape, num_classes: int, seed: int = 0, base_dir: Path | None = None,
         dtype: torch.dtype = torch.float32) -> Dataset:
    """Load `spec` (digits | mnist1d | idx:DIR | npz:FILE), samples shaped to `input_shape` (the
    model's sample shape: models.registry.sample_shape) and of `dtype` (int64: token indices, from
    a user's file only)."""
    base_dir = Path(base_dir or ".")
    tokens = not dtype.is_floating_point
    if tokens and not spec.startswith(("idx:", "npz:")):
        raise ScenarioError(f"dataset '{spec}' holds pixel values, not token indices: a model of token indices "
                            "(model.input_dtype int64) needs a file of whole numbers from 0 (npz:FILE or idx:DIR)", path="training.dataset")
    if spec == "digits":
        x, y = _digits()
        ds = _split(x, y, seed, "digits")
    elif spec == "mnist1d":
        ds = _mnist1d(seed)
    elif spec.startswith("idx:"):
        ds = _idx(_resolve(spec[4:], base_dir), tokens)
    elif spec.startswith("npz:"):
        ds = _npz(_resolve(spec[4:], base_dir), seed, tokens)
    else:
        raise ScenarioError(f"unknown dataset '{spec}'; use digits, mnist1d, idx:DIR or npz:FILE",
                            path="training.dataset")
    if ds.num_classes > num_classes:
        raise ScenarioError(f"dataset '{spec}' has {ds.num_classes} classes but model.num_classes is {num_classes}",
                            path="model.num_classes")
    return Dataset(_shape_to(ds.x_train, input_shape), ds.y_train, _shape_to(ds.x_test, input_shape), ds.y_test,
                   ds.name)


def _resolve(p: str, base: Path) -> Path:
    path = Path(p)
    return path if path.is_absolute() else base / path


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(d.target, dtype=torch.int64)


def _split(x: torch.Tensor, y: torch.Tensor, seed: int, name: str, test: float = 0.2,
           where: Path | None = None) -> Dataset:
    """A fifth held out for testing, stratified by class (plainly where a class has one sample)."""
    from sklearn.model_selection import train_test_split
    if len(y) < 5:
        raise ScenarioError(f"x and y hold {len(y)} samples, too few to hold a fifth out for testing; give more, "
                            "or x_train, y_train, x_test, y_test", str(where), path="training.dataset")
    idx = np.arange(len(y))
    counts = np.bincount(y.numpy())
    strata = y.numpy() if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(idx, test_size=test, stratify=strata, random_state=seed)
    return Dataset(x[tr], y[tr], x[te], y[te], name)


@functools.lru_cache(maxsize=8)        # generating takes 2 s: a calibration loads it per pilot and seed
def _mnist1d(seed: int) -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset
    args = get_dataset_args()
    args.seed = 42 + seed
    d = make_dataset(args)   # generated here; never get_dataset (it downloads)
    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32).reshape(len(a), 1, 1, -1)  # noqa: E731
    return Dataset(f(d["x"]), torch.tensor(d["y"], dtype=torch.int64), f(d["x_test"]),
                   torch.tensor(d["y_test"], dtype=torch.int64), "mnist1d")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic (0, 0, dtype, ndim), big-endian dims, data."""
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    with _open(path) as f:
        head = f.read(4)
        if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] not in types:
            raise ScenarioError("not an IDX file (bad magic number)", str(path))
        ndim = head[3]
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=types[head[2]])
    if data.size != int(np.prod(dims)):
        raise ScenarioError(f"IDX file holds {data.size} values, its header says {dims}", str(path))
    return data.reshape(dims)


def _idx(folder: Path, tokens: bool = False) -> Dataset:
    if not folder.is_dir():
        raise ScenarioError("IDX folder not found", str(folder), path="training.dataset")

    def find(*prefixes):
        for p in sorted(folder.iterdir()):
            if any(p.name.startswith(x) for x in prefixes):
                return p
        raise ScenarioError(f"no file starting with {' or '.join(prefixes)}", str(folder), path="training.dataset")

    a = _checked(folder, tokens, x_train=read_idx(find("train-images")), y_train=read_idx(find("train-labels")),
                 x_test=read_idx(find("t10k-images", "test-images")), y_test=read_idx(find("t10k-labels", "test-labels")))
    t = lambda v: v.unsqueeze(1)  # noqa: E731     (a channel axis; _checked took bytes to [0, 1])
    return Dataset(t(a["x_train"]), a["y_train"], t(a["x_test"]), a["y_test"], folder.name)


def _checked(path: Path, tokens: bool = False, **arrays: np.ndarray) -> dict[str, torch.Tensor]:
    """A user's arrays as tensors, or a ScenarioError naming the file, the array and the fix:
    samples of numbers (finite), at most C x H x W each; labels whole class indices 0..C-1, one
    per sample; no empty array. Samples stored as bytes (uint8) are pixels: scaled to [0, 1];
    with `tokens`, samples are token indices: whole numbers from 0, kept as int64."""
    out, where = {}, str(path)
    for name, a in arrays.items():
        a = np.asarray(a)
        label = name.startswith("y")
        if a.size == 0 or a.ndim == 0:
            raise ScenarioError(f"{name} is empty: give at least one sample", where, path="training.dataset")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise ScenarioError(f"{name} holds {a.dtype} values, not numbers", where, path="training.dataset")
        if label:
            if a.ndim != 1:
                raise ScenarioError(f"{name} must hold one label per sample (shape (N,)), it has shape {a.shape}",
                                    where, path="training.dataset")
            a = a.astype(np.float64)
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)) or a.min() < 0:
                bad = a[~np.isfinite(a) | (a != np.round(a)) | (a < 0)][0]
                raise ScenarioError(f"{name} holds {bad:g}: labels are class indices 0, 1, 2, ...", where,
                                    path="training.dataset")
            out[name] = torch.tensor(a, dtype=torch.int64)
        else:
            if not 2 <= a.ndim <= 4:
                raise ScenarioError(f"{name} must hold one sample per row, each of at most C x H x W values "
                                    f"(shape (N, ...) of 2 to 4 axes), it has shape {a.shape}", where,
                                    path="training.dataset")
            if tokens:
                out[name] = torch.from_numpy(np.ascontiguousarray(_token_indices(a, name, where)))
                continue
            # bytes (IDX images, keras' mnist.npz) are pixels 0..255: to [0, 1], as the built-in data sets are
            a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
            if not np.all(np.isfinite(a)):
                k = int(np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).any(1))[0])
                raise ScenarioError(f"{name} holds NaN or infinite values (sample {k})", where,
                                    path="training.dataset")
            out[name] = torch.from_numpy(np.ascontiguousarray(a))
    for x, y in (("x_train", "y_train"), ("x_test", "y_test"), ("x", "y")):
        if x in out and len(out[x]) != len(out[y]):
            raise ScenarioError(f"{x} has {len(out[x])} samples, {y} {len(out[y])} labels", where,
                                path="training.dataset")
    return out


def _token_indices(a: np.ndarray, name: str, where: str) -> np.ndarray:
    """Samples of token indices (model.input_dtype int64) as int64: whole numbers from 0."""
    f = a.astype(np.float64)
    bad = ~np.isfinite(f) | (f != np.round(f)) | (f < 0)
    if bad.any():
        k = int(np.flatnonzero(bad.reshape(len(a), -1).any(1))[0])
        raise ScenarioError(f"{name} holds {f[bad][0]:g} in sample {k}: model.input_dtype int64 takes token "
                            "indices, whole numbers from 0", where, path="training.dataset")
    return f.astype(np.int64)


def _npz(path: Path, seed: int, tokens: bool = False) -> Dataset:
    if not path.is_file():
        raise ScenarioError("NPZ file not found", str(path), path="training.dataset")
    try:
        d = np.load(path, allow_pickle=False)        # data, never code: pickled objects are refused
    except (ValueError, OSError, EOFError) as e:
        raise ScenarioError(f"not an NPZ file of arrays ({str(e).splitlines()[0][:120]})", str(path),
                            path="training.dataset") from None
    if not hasattr(d, "files"):
        raise ScenarioError("a .npy array, not an NPZ archive of x_train, y_train, x_test, y_test", str(path),
                            path="training.dataset")
    if {"x_train", "y_train", "x_test", "y_test"} <= set(d.files):
        a = _checked(path, tokens, **{k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")})
        return Dataset(a["x_train"], a["y_train"], a["x_test"], a["y_test"], path.stem)
    if {"x", "y"} <= set(d.files):
        a = _checked(path, tokens, x=d["x"], y=d["y"])
        return _split(a["x"], a["y"], seed, path.stem, where=path)
    raise ScenarioError(f"NPZ needs arrays x_train, y_train, x_test, y_test (or x, y); it has {d.files}", str(path))


def _shape_to(x: torch.Tensor, shape) -> torch.Tensor:
    """Give samples the model's sample shape: C,H,W (a zoo model's, or a user's of three axes) adds
    a channel axis, resizes and repeats channels; any other shape takes the samples' values as
    they are, reshaped (mnist1d's 40 values to [1, 40] for a Conv1d, digits' 8x8 to [64])."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or not x.is_floating_point():     # token indices are never resized
        n = int(np.prod(shape))
        if x[0].numel() != n:
            got = list(x.shape[1:])
            bare = got[next((i for i, d in enumerate(got) if d != 1), len(got) - 1):]       # leading ones dropped
            raise ScenarioError(f"the data's samples hold {x[0].numel():,} values ({got}) and model.input_shape "
                                f"{list(shape)} holds {n:,}: set model.input_shape to a shape of {x[0].numel():,} "
                                f"values, such as {bare} or {got}", path="model.input_shape")
        return x.reshape(len(x), *shape).contiguous()
    c, h, w = shape
    if x.dim() == 2:
        x = x.reshape(len(x), 1, 1, -1)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[1] != c and x.shape[-1] == c and c in (1, 3, 4):      # channels last (N, H, W, C): keras' CIFAR
        x = x.permute(0, 3, 1, 2)
    if x.shape[2:] != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    if x.shape[1] != c:
        if x.shape[1] != 1:
            raise ScenarioError(f"the data's samples have {x.shape[1]} channels ({list(x.shape[1:])}, channels "
                                f"first) and model.input_shape {list(shape)} takes {c}: set model.input_shape to the "
                                f"data's channels", path="model.input_shape")
        x = x.repeat(1, c, 1, 1)
    return x.contiguous()


def split_across(y: torch.Tensor, sizes: list[int], iid: bool = True, alpha: float = 0.5,
                 seed: int = 0) -> list[np.ndarray]:
    """Indices of each device's shard: `sizes[i]` samples drawn without replacement, IID, or
    non-IID with class proportions from Dirichlet(alpha) per device, drawn as asked: a device
    whose classes have run out gets fewer samples (never other classes in their place; see
    `split_summary` for what each device really holds). More samples asked than the data set
    has are scaled down in proportion."""
    rng = np.random.default_rng(seed)
    n = len(y)
    yy = y.numpy()
    classes = np.unique(yy)
    if sum(sizes) > n:
        scale = n / sum(sizes)
        sizes = [max(1, int(s * scale)) for s in sizes]
    if iid:
        perm = rng.permutation(n)
        out, k = [], 0
        for s in sizes:
            out.append(np.sort(perm[k:k + s]))
            k += s
        return out
    pools = {c: list(rng.permutation(np.flatnonzero(yy == c))) for c in classes}
    out = []
    for s in sizes:
        p = rng.dirichlet(np.full(len(classes), alpha))
        want = rng.multinomial(s, p)
        idx = []
        for c, k in zip(classes, want):
            idx += pools[c][:k]
            pools[c] = pools[c][k:]
        out.append(np.sort(np.array(idx, dtype=int)))
    return out


def split_summary(y: torch.Tensor, devices: list[str], shards: list[np.ndarray], asked: list[int]) -> list[dict]:
    """What each device really holds: samples (and how many were asked), classes present, and the
    share of its largest class."""
    yy = y.numpy()
    k = int(yy.max()) + 1 if len(yy) else 0
    rows = []
    for d, ix, want in zip(devices, shards, asked):
        counts = np.bincount(yy[ix], minlength=k) if len(ix) else np.zeros(k, int)
        rows.append({"device": d, "samples": int(len(ix)), "asked": int(want),
                     "classes": int(np.count_nonzero(counts)),
                     "largest_class_share": float(counts.max() / max(len(ix), 1)),
                     "class_shares": [round(float(c) / max(len(ix), 1), 4) for c in counts]})
    return rows


def split_kind(iid: bool, alpha: float) -> str:
    return "IID" if iid else f"Dirichlet({alpha:g})"


def describe_split(rows: list[dict], kind: str) -> str:
    """One line: the split and, per device, samples held and its largest class share."""
    short = [r for r in rows if r["samples"] < r["asked"]]
    parts = [f"{r['device']} {r['samples']}" + (f"/{r['asked']}" if r["samples"] < r["asked"] else "") +
             f" ({r['classes']} classes, largest {r['largest_class_share']:.0%})" for r in rows[:6]]
    more = f", ... ({len(rows)} devices)" if len(rows) > 6 else ""
    one = len(short) == 1
    note = (f"; {len(short)} device{' holds' if one else 's hold'} fewer samples than asked "
            f"({'its' if one else 'their'} classes ran out)") if short else ""
    return f"data split {kind}: " + ", ".join(parts) + more + note
