"""The scenario file's schema (shared/spec/scenario.md) as pydantic models.

Field-level rules live here (types, units, positivity, unknown fields); rules that relate
several parts of the file (links naming nodes, devices reaching servers) live in
scenario.py, which also turns pydantic's errors into located ScenarioErrors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from .units import DIMENSIONS, parse_quantity


def _quantity(dimension: str, positive: bool = True, allow_zero: bool = False, doc: str = ""):
    examples = DIMENSIONS[dimension][2]

    def parse(v):
        x = parse_quantity(v, dimension)
        if positive and (x < 0 or (x == 0 and not allow_zero)):
            bound = "non-negative" if allow_zero else "positive"
            from .units import short
            raise ValueError(f"must be {bound}, got {short(v)}")
        return x

    schema = {"anyOf": [{"type": "number"}, {"type": "string"}],
              "description": (doc + " " if doc else "") + f"SI number or a string with a unit, e.g. {examples}"}
    return Annotated[float, BeforeValidator(parse), WithJsonSchema(schema)]


Seconds = _quantity("time", doc="Time (s).")
SecondsOrZero = _quantity("time", allow_zero=True, doc="Time (s).")
Hertz = _quantity("frequency", doc="Bandwidth or frequency (Hz).")
BitRate = _quantity("rate", doc="Data rate (bit/s).")
Bytes = _quantity("bytes", doc="Memory (bytes).")
FlopRate = _quantity("flop_rate", doc="Sustained training FLOP/s.")
Watts = _quantity("power", doc="Power (W).")
WattsOrZero = _quantity("power", allow_zero=True, doc="Power (W).")
Joules = _quantity("energy", doc="Energy (J).")
NoiseDensity = _quantity("noise_density", doc="Noise power spectral density (W/Hz).")
Positive = _quantity("number", doc="A positive number.")
Real = _quantity("number", positive=False, doc="A number.")

# integers are integers (a quoted "3" is a mistake, not a 3) and bounded (2**63 rounds is too)
BIG = 10 ** 9
PosInt = Annotated[int, Field(strict=True, gt=0, le=BIG)]
NonNegInt = Annotated[int, Field(strict=True, ge=0, le=BIG)]
Iterations = Annotated[int, Field(strict=True, gt=0, le=10 ** 6)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelSpec(_Strict):
    """The DNN: a zoo model, your own torch model (a factory or a torch.export file) or a per-unit
    profile (CSV, or a measured workbook)."""
    zoo: str | None = Field(None, description="A model of the zoo (edgeplan.models.zoo).")
    module: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                               description="Your own model: 'package.module:factory', a function or class returning "
                                           "an nn.Module (modules beside the scenario file import too).")
    kwargs: dict | None = Field(None, description="Keyword arguments for model.module's factory.")
    export: str | None = Field(None, description="Your own model as a torch.export program file (.pt2), exported "
                                                 "with a dynamic batch dimension.")
    profile: str | None = Field(None, description="Per-unit table: CSV, or a measured .xlsx workbook.")
    times: str | None = Field(None, description="Per-node measured unit times (CSV of `edgeplan profile --measured`).")
    measured_batch_size: PosInt | None = Field(
        None, description="Batch size at which a measured workbook was timed (default 128).")
    input_shape: list[Annotated[int, Field(strict=True, gt=0, le=65536)]] = Field(
        default_factory=lambda: [3, 32, 32], min_length=1, max_length=3,
        description="The shape of one sample, without the batch axis: a zoo model takes C,H,W (H,W or a "
                    "length padded with ones); a model of your own (module, export) gets it as written ([1, 40] "
                    "reaches a Conv1d as [batch, 1, 40], [64] a Linear as [batch, 64]). Each at most 65,536.")
    input_dtype: Literal["float32", "int64"] = Field(
        "float32", description="What one sample holds: float32 values, or int64 token indices for a model of your "
                               "own that starts with an embedding (its data: a file of whole numbers from 0, "
                               "npz:FILE or idx:DIR; a token travels as 8 bytes).")
    num_classes: PosInt = 10
    bytes_per_value: Literal[1, 2, 4, 8] = 4
    label_bytes: NonNegInt = 8

    @model_validator(mode="after")
    def _shape_size(self):
        n = 1
        for d in self.input_shape:
            n *= d
        if n > 10 ** 9:
            raise ValueError(f"input_shape {self.input_shape} holds {n:,} values per sample; at most 10**9")
        return self

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("zoo", "module", "export", "profile") if getattr(self, k) is not None]
        if len(given) != 1:
            which = ", ".join(given) if given else "none of them"
            raise ValueError("give exactly one of 'zoo' (a model name), 'module' ('package.module:factory'), "
                             f"'export' (a .pt2 file) or 'profile' (a unit table file), not {which}")
        if self.kwargs is not None and self.module is None:
            raise ValueError("'kwargs' go with 'module' (the factory's keyword arguments)")
        if self.input_dtype != "float32" and self.zoo is not None:
            raise ValueError(f"input_dtype {self.input_dtype}: the zoo's models take float samples; token indices "
                             "go to a model of your own (module or export) that starts with an embedding")
        return self

    @property
    def trainable(self) -> bool:
        """A model validation can build and train (not a profile table)."""
        return self.profile is None


class TrainingSpec(_Strict):
    batch_size: Iterations = 32
    local_iterations: Iterations = 1
    rounds: PosInt = 100
    optimizer: Literal["sgd", "adam"] = "sgd"
    learning_rate: Positive = 0.05
    dataset: str = "digits"
    server: str | None = Field(None, description="Server for fl/sl/psl (default: the fastest server).")
    seed: Annotated[int, Field(strict=True, ge=0, le=2 ** 32 - 1)] = 0
    iid: bool = True
    dirichlet_alpha: Positive = 0.5
    client_state: Literal["reset", "keep"] = Field(
        "reset", description="reset: a fresh client optimizer state every round (FedAvg as published); keep: "
                             "each client keeps its optimizer state (momentum) from round to round.")
    convergence: str | None = Field(
        None, description="Learning curves (CSV of `edgeplan calibrate`), relative to the scenario file.")
    target_accuracy: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="Test accuracy to reach (0-1]: plans then predict rounds, time and energy to it.")


class NodeSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    role: Literal["device", "server", "fog", "cloud"]
    count: Annotated[int, Field(strict=True, gt=0, le=10_000)] | None = Field(
        None, description="Expand into NAME-0 .. NAME-(count-1) (at most 10 000 per group).")
    compute: FlopRate | None = None
    memory: Bytes | None = None
    power: WattsOrZero = Field(description="Power while computing (W).")
    tx_power: WattsOrZero | None = None
    rx_power: WattsOrZero = 0.0
    samples: PosInt | None = None
    data_source: str | None = None
    batch_size: Iterations | None = None
    measured: str | None = Field(None, description="Machine (sheet) of the model's measured times.")
    kappa: Positive | None = Field(None, description="Effective switched capacitance: E = kappa f^2 cycles.")
    cycles_per_flop: Positive | None = None
    frequency: Hertz | None = Field(None, description="CPU frequency for the kappa model.")
    call_overhead: SecondsOrZero | None = Field(
        None, description="Seconds every unit call costs beyond its FLOPs (default: scaled from compute; "
                          "`edgeplan profile --measure` fits it on a host).")
    memory_bandwidth: BitRate | None = Field(
        None, description="Bytes/s the node moves tensors at (e.g. '12 GB/s'; default: scaled from compute).")

    @model_validator(mode="after")
    def _compute_source(self):
        if self.compute is None and self.measured is None and self.frequency is None:
            raise ValueError("give 'compute' (sustained FLOP/s, e.g. '50 GFLOPS'), or 'measured' "
                             "(a machine of the model's measured times)")
        if self.kappa is not None and self.frequency is None:
            raise ValueError("'kappa' needs 'frequency' (CPU clock, e.g. '1.5 GHz')")
        if self.compute is None and self.measured is None and self.frequency is not None:
            self.compute = self.frequency / (self.cycles_per_flop or 1.0)
        return self


class LinkSpec(_Strict):
    from_: str = Field(alias="from")
    to: str
    channel: str | None = None
    spectral_efficiency: Positive | None = Field(None, description="bit/s/Hz on the channel.")
    gain_db: Annotated[float, Field(ge=-400, le=400)] | None = Field(
        None, description="Channel gain (dB, -400..400): Shannon rate with the channel's noise.")
    uplink: BitRate | None = Field(None, description="Fixed rate from 'from' to 'to'.")
    downlink: BitRate | None = Field(None, description="Fixed rate from 'to' to 'from'.")
    latency: SecondsOrZero = 0.0

    @model_validator(mode="after")
    def _kind(self):
        fixed = self.uplink is not None or self.downlink is not None
        if self.channel is None and not fixed:
            raise ValueError("a link needs a rate: 'uplink'/'downlink' (e.g. '100 Mbit/s'), or a 'channel' "
                             "with 'spectral_efficiency' or 'gain_db'")
        if self.channel is not None and fixed:
            raise ValueError("a link is either fixed-rate ('uplink'/'downlink') or on a 'channel', not both")
        if self.channel is not None and (self.spectral_efficiency is None) == (self.gain_db is None):
            raise ValueError("a link on a channel needs exactly one of 'spectral_efficiency' "
                             "(bit/s/Hz) or 'gain_db' (Shannon rate)")
        if fixed:
            self.uplink = self.uplink if self.uplink is not None else self.downlink
            self.downlink = self.downlink if self.downlink is not None else self.uplink
        return self


class ChannelSpec(_Strict):
    name: str
    bandwidth: Hertz
    noise_density: NoiseDensity | None = None


class Weights(_Strict):
    latency: Annotated[float, Field(ge=0)] = 0.0
    energy: Annotated[float, Field(ge=0)] = 0.0


class ConstraintsSpec(_Strict):
    max_round_latency: Seconds | None = None
    max_device_energy: Joules | None = Field(None, description="Per device, per round.")
    max_round_energy: Joules | None = Field(None, description="All nodes, per round.")


class SlSpec(_Strict):
    min_cut: NonNegInt | None = None
    max_cut: NonNegInt | None = None


class PslSpec(SlSpec):
    server_shares: bool = Field(False, description="Also allocate the server's compute shares alpha_i.")
    servers: list[str] | None = Field(None, description="Servers a device may be assigned to (MILP).")


class DsgdSpec(_Strict):
    microbatches: Iterations = 1
    replicas: Literal["auto"] | Iterations = Field(
        1, description="Data-parallel replicas of a stage, PipeDream style: 1 (none), at most this many per "
                       "stage, or auto. Replicas are consecutive identical nodes of the path, each computing "
                       "1/r of every micro-batch; their gradients are all-reduced once per iteration.")
    path: list[str] | None = None
    source: str | None = Field(None, description="The device holding the data (default: the first device).")


class FplSpec(_Strict):
    junction: Literal["auto"] | NonNegInt = "auto"
    trunk: str = "auto"
    groups: Literal["data_source", "auto"] = "data_source"
    server_shares: bool = Field(
        False, description="Also allocate the trunk node's compute shares alpha_i jointly with the channel "
                           "shares (channels given by spectral efficiency; Shannon channels keep equal shares).")


class PelSpec(_Strict):
    compute: Literal["backprop", "per_parameter"] = Field(
        "backprop", description="backprop: a worker runs the forward pass and the backward pass down to its "
                                "block (true for DNNs; blocks are whole units); per_parameter: compute in "
                                "proportion to the block's parameters (PABA's model).")
    bits_per_parameter: PosInt = 32
    flops_per_parameter: Positive | None = Field(
        None, description="per_parameter: FLOPs per parameter per round (default: the model's training FLOPs per "
                          "sample x batch x local iterations / parameters).")
    granularity: PosInt | Literal["layer"] | None = Field(
        None, description="per_parameter: blocks are multiples of this many parameters (default 1), or 'layer': "
                          "whole layers. backprop blocks are always whole units.")
    bandwidth: Literal["shared", "separate"] = "shared"
    groups: dict[str, list[str]] | None = Field(
        None, description="Worker groups that train the same block on different data.")
    download: Literal["block", "model"] = Field(
        "block", description="What a worker downloads each round. block (the spec's L_k Q bits): the rest of its "
                             "replica stays as it was, and with backprop's fixed blocks that is the initial "
                             "weights; model (compute: backprop): the whole current model, P Q bits, so each block "
                             "trains against the layers the others have trained.")

    @model_validator(mode="after")
    def _compute_settings(self):
        if self.compute == "backprop":
            if self.flops_per_parameter is not None:
                raise ValueError("flops_per_parameter belongs to compute: per_parameter (PABA's model); with "
                                 "backprop the compute follows from the model's units")
            if self.bandwidth == "separate":
                raise ValueError("bandwidth: separate is planned with compute: per_parameter (PABA's model); with "
                                 "backprop a worker uses one share both ways")
            if self.granularity not in (None, "layer"):
                raise ValueError("with compute: backprop blocks are whole units; leave granularity out (or set "
                                 "compute: per_parameter for blocks of parameters)")
        elif self.download == "model":
            raise ValueError("download: model is planned with compute: backprop; PABA's per_parameter model "
                             "downloads the block (leave download out)")
        return self


class ParadigmsSpec(_Strict):
    fl: dict = Field(default_factory=dict)
    sl: SlSpec = Field(default_factory=SlSpec)
    psl: PslSpec = Field(default_factory=PslSpec)
    dsgd: DsgdSpec = Field(default_factory=DsgdSpec)
    fpl: FplSpec = Field(default_factory=FplSpec)
    pel: PelSpec = Field(default_factory=PelSpec)


class TableRef(_Strict):
    """Nodes or links from a table file (CSV or Parquet; planner.fleet_tables), relative to the
    scenario file: a fleet is a table, not thousands of YAML lines."""
    table: str = Field(description="CSV or Parquet file: one row per node (or link), columns its fields.")


def _entry_kind(v) -> str:
    return "table" if isinstance(v, dict) and "table" in v else "entry"


def _tables_of(v):
    """`nodes: fleet.csv` is short for `nodes: [{table: fleet.csv}]`."""
    return [{"table": v}] if isinstance(v, str) else v


NodeEntry = Annotated[Annotated[NodeSpec, Tag("entry")] | Annotated[TableRef, Tag("table")], Discriminator(_entry_kind)]
LinkEntry = Annotated[Annotated[LinkSpec, Tag("entry")] | Annotated[TableRef, Tag("table")], Discriminator(_entry_kind)]


class ScenarioSpec(_Strict):
    """An EdgePlan scenario: nodes, links, channels, the model, training, what to optimise."""
    name: str
    description: str = ""
    model: ModelSpec
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    nodes: Annotated[list[NodeEntry], BeforeValidator(_tables_of)] = Field(min_length=1)
    links: Annotated[list[LinkEntry], BeforeValidator(_tables_of)] = Field(default_factory=list)
    channels: list[ChannelSpec] = Field(default_factory=list)
    objective: Literal["latency", "energy", "time_to_target", "energy_to_target"] | Weights = "latency"
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)
    paradigms: ParadigmsSpec = Field(default_factory=ParadigmsSpec)

