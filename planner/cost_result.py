"""What a plan costs (the cost model's result, shared/spec/cost-model.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from .units import fmt_si


@dataclass
class Costs:
    """What a plan costs, per round, with a per-node breakdown (shared/spec/cost-model.md §5).

    `nodes` (per node: latency, energy, bytes, memory, busy times) and `phases` (per device:
    seconds in each phase of its round) are DataFrames built on first use: solvers in loops
    only read the scalars."""
    paradigm: str
    round_latency: float
    energy: float
    device_energy: float
    comm_bytes: float
    node_columns: dict             # column -> array over node_names
    node_names: list
    critical_node: str
    critical_phase: str
    rounds: int
    violations: list[str] = field(default_factory=list)
    phase_columns: dict = field(default_factory=dict)   # phase -> array over phase_devices
    phase_devices: list = field(default_factory=list)
    samples: float = 0.0                 # training samples processed per round (all devices)
    epoch_samples: float = 0.0           # every device's data once: the common amount of training

    @cached_property
    def nodes(self) -> pd.DataFrame:
        return pd.DataFrame(self.node_columns, index=pd.Index(self.node_names, name="node"))

    @cached_property
    def phases(self) -> pd.DataFrame:
        return pd.DataFrame(self.phase_columns, index=pd.Index(self.phase_devices, name="device"))

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def epoch_latency(self) -> float:
        """Time to train on as many samples as the devices hold (paradigms train different numbers
        of samples per round: compare them on the same amount of training)."""
        return self.round_latency * self.epoch_samples / self.samples if self.samples > 0 else float("inf")

    @property
    def epoch_energy(self) -> float:
        return self.energy * self.epoch_samples / self.samples if self.samples > 0 else float("inf")

    @property
    def training_latency(self) -> float:
        return self.round_latency * self.rounds

    @property
    def training_energy(self) -> float:
        return self.energy * self.rounds

    def objective(self, objective) -> float:
        if objective == "latency":
            return self.round_latency
        if objective == "energy":
            return self.energy
        return objective.latency * self.round_latency + objective.energy * self.energy

    def predicted(self) -> dict:
        return {"round_latency_s": self.round_latency, "energy_j": self.energy,
                "device_energy_j": self.device_energy, "comm_bytes": self.comm_bytes,
                "training_latency_s": self.training_latency, "training_energy_j": self.training_energy,
                "samples_per_round": self.samples, "epoch_samples": self.epoch_samples,
                "epoch_time_s": self.epoch_latency, "epoch_energy_j": self.epoch_energy,
                "critical": {"node": self.critical_node, "phase": self.critical_phase}}

    def __repr__(self) -> str:
        ok = "feasible" if self.feasible else f"INFEASIBLE ({'; '.join(self.violations)})"
        return (f"Costs({self.paradigm}: round {fmt_si(self.round_latency, 's')}, "
                f"energy {fmt_si(self.energy, 'J')}, {fmt_si(self.comm_bytes, 'B')}/round, "
                f"critical {self.critical_node}/{self.critical_phase}, {ok})")
