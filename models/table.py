"""The unit table of a DNN (shared/spec/cost-model.md, section 1), without torch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PROFILE_COLUMNS = ["name", "fwd_flops", "bwd_flops", "out_bytes", "act_bytes", "params", "param_bytes"]
# optional: the part of bwd_flops that computes the gradient of the unit's input (the rest computes
# its weights' gradients); without it, a unit with parameters is taken to spend its forward FLOPs
# on the input gradient (exact for convolutions and linear layers) and one without all of them
# optional: gemm_k, the reduction length of the unit's matrix products (a convolution's
# in_channels/groups x kernel size, a linear layer's in_features; a parameter-weighted harmonic mean
# over several; 0 or absent where there is none): a short one runs below a CPU's peak rate
# (models/profile.py gemm_k, planner/compute.py gemm_work)
# optional: buffer_bytes, the unit's floating buffers (a batch norm's running statistics): they
# travel with its weights but have no gradient or optimizer state (0 or absent: none)
OPTIONAL_COLUMNS = ["bwd_in_flops", "gemm_k", "buffer_bytes"]


@dataclass
class UnitTable:
    """The per-unit table (row 0 is the input sample) and its prefix sums.

    Arrays have length L+1; index l is unit l (1-based), index 0 the input.
    """
    df: pd.DataFrame
    model: str = ""
    input_shape: tuple = ()
    bytes_per_value: int = 4
    kinds: list[str] = field(default_factory=list)

    def __post_init__(self):
        df = self.df
        missing = [c for c in PROFILE_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"profile table lacks columns {missing}")
        self.names = list(df["name"])
        self.fwd = df["fwd_flops"].to_numpy(float)
        self.bwd = df["bwd_flops"].to_numpy(float)
        self.out = df["out_bytes"].to_numpy(float)
        self.act = df["act_bytes"].to_numpy(float)
        self.params = df["params"].to_numpy(float)
        self.pbytes = df["param_bytes"].to_numpy(float)
        # prefix sums over units 0..c (row 0 carries zeros except out_bytes)
        if "bwd_in_flops" in df.columns:
            self.bwd_in = df["bwd_in_flops"].to_numpy(float)
        else:
            self.bwd_in = np.where(self.params > 0, np.minimum(self.fwd, self.bwd), self.bwd)
            self.bwd_in[:2] = 0.0            # the first unit's input needs no gradient
        self.gemm_k = df["gemm_k"].fillna(0.0).to_numpy(float) if "gemm_k" in df.columns else np.zeros(len(df))
        self.bbytes = df["buffer_bytes"].fillna(0.0).to_numpy(float) if "buffer_bytes" in df.columns \
            else np.zeros(len(df))
        self.F = np.cumsum(self.fwd + self.bwd)
        self.Wp = np.cumsum(self.pbytes)                 # the parameters' bytes (optimizer state follows them)
        self.Wt = self.Wp + np.cumsum(self.bbytes)        # the weights as they travel: parameters and buffers
        self.A = np.cumsum(self.act)

    @property
    def L(self) -> int:
        return len(self.df) - 1

    @property
    def total_params(self) -> int:
        return int(self.params.sum())

    def summary(self) -> dict:
        return dict(units=self.L, params=self.total_params, param_bytes=float(self.pbytes.sum()),
                    fwd_flops=float(self.fwd.sum()), bwd_flops=float(self.bwd.sum()),
                    input_bytes=float(self.out[0]))

    def scaled(self, bytes_per_value: int) -> UnitTable:
        """The same table with tensors stored at `bytes_per_value` instead of its own."""
        if bytes_per_value == self.bytes_per_value:
            return self
        k = bytes_per_value / self.bytes_per_value
        df = self.df.copy()
        for c in ("out_bytes", "act_bytes", "param_bytes") + (("buffer_bytes",) if "buffer_bytes" in df else ()):
            df[c] = df[c] * k
        return UnitTable(df, self.model, self.input_shape, bytes_per_value, self.kinds)
