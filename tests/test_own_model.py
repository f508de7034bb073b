"""A user's own model (model.module, model.export): profiled, planned and trained like the zoo's;
errors that name the model and the reason."""

from __future__ import annotations

import pytest
import yaml
from edgeplan.cli import app
from typer.testing import CliRunner

from .conftest import SCENARIOS

NET = """
import torch
from torch import nn


def build(width=8, classes=10):
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(width * 4 * 4, 32), nn.ReLU(), nn.Linear(32, classes))


def conv1d(classes=10):
    return nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Linear(8 * 20, classes))


def dropout(classes=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, classes))


def regularised(classes=10):     # dropout's masks and batch norm's running statistics
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(32, classes))


def linear(classes=10):
    return nn.Sequential(nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, classes))


class Gru(nn.Module):          # a transpose first (no parameters), then a layer whose output is a tuple
    def __init__(self, classes=10):
        super().__init__()
        self.gru = nn.GRU(1, 8, batch_first=True)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        out, _ = self.gru(x.transpose(1, 2))
        return self.fc(out[:, -1])


class Logits(nn.Module):        # returns what a training loop of the user's own might want
    def __init__(self, out="tensor", frozen=False):
        super().__init__()
        self.fc, self.out = nn.Linear(64, 10), out
        self.fc.requires_grad_(not frozen)

    def forward(self, x):
        y = self.fc(x.flatten(1))
        return {"logits": y} if self.out == "dict" else (y, y.sum()) if self.out == "tuple" else y


class Normalised(nn.Module):     # a buffer read in forward, and an argument with a default
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.full((1, 8, 8), 0.5))
        self.fc1, self.fc2 = nn.Linear(64, 32), nn.Linear(32, 10)

    def forward(self, x, temperature=None):
        y = self.fc2(torch.relu(self.fc1((x - self.mean).flatten(1))))
        return y if temperature is None else y / temperature


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x, mask):
        return self.fc(x.flatten(1)) * mask


class Bag(nn.Module):           # token indices in: an embedding
    def __init__(self):
        super().__init__()
        self.emb, self.fc = nn.Embedding(100, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.emb(x).mean(1))


class Branchy(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x
"""


def _scenario(tmp_path, model: dict):
    (tmp_path / "mynet.py").write_text(NET)
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["model"] = {"input_shape": [1, 8, 8], "num_classes": 10, **model}
    p = tmp_path / "own.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r.exit_code, r.output


def test_a_factory_beside_the_scenario_plans_and_trains(tmp_path):
    scn = _scenario(tmp_path, {"module": "mynet:build", "kwargs": {"width": 4}})
    code, out = _cli("check", scn)
    assert code == 0 and "module mynet:build" in out, out
    code, out = _cli("plan", scn, "-p", "psl", "--out", tmp_path / "p.json")
    assert code == 0, out
    code, out = _cli("validate", scn, tmp_path / "p.json", "--rounds", "2", "--format", "json")
    assert code == 0, out


def test_a_buffer_and_a_defaulted_argument_plan_and_train(tmp_path):
    """A unit holding only a buffer (x - mean) was profiled with the buffer off the meta device (an
    internal error); forward(x, temperature=None) was traced with temperature as an input (so
    'is None' read False)."""
    import json
    scn = _scenario(tmp_path, {"module": "mynet:Normalised"})
    code, out = _cli("plan", scn, "-p", "sl", "--out", tmp_path / "p.json")
    assert code == 0, out
    code, out = _cli("validate", scn, tmp_path / "p.json", "--rounds", "1", "--format", "json")
    assert code == 0, out
    rows = {r["quantity"]: r for r in json.loads(out)["summary"]}
    assert rows["bytes per round"]["predicted"] == rows["bytes per round"]["measured"]


def test_a_torch_export_program_plans_and_trains(tmp_path):
    import importlib.util

    import torch
    from torch.export import Dim, export
    _scenario(tmp_path, {"zoo": "mlp"})
    spec = importlib.util.spec_from_file_location("mynet", tmp_path / "mynet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    program = export(mod.build(), (torch.randn(4, 1, 8, 8),), dynamic_shapes={"input": {0: Dim("batch")}})
    torch.export.save(program, str(tmp_path / "net.pt2"))
    scn = _scenario(tmp_path, {"export": "net.pt2"})
    code, out = _cli("plan", scn, "-p", "fl", "--out", tmp_path / "f.json")
    assert code == 0, out
    code, out = _cli("validate", scn, tmp_path / "f.json", "--rounds", "1")
    assert code == 0, out


def test_a_torch_export_program_of_one_batch_size_is_refused(tmp_path):
    """Exported without a dynamic batch, it passed check and plan and failed validate with an
    internal error (the program's guard on the batch size)."""
    import torch
    from torch import nn
    from torch.export import export
    program = export(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (torch.randn(4, 1, 8, 8),))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    code, out = _cli("check", _scenario(tmp_path, {"export": "net.pt2"}))
    assert code == 2 and "was exported for batches of 4 only; export it with a dynamic batch dimension" in out, out


@pytest.mark.parametrize("factory, shape, units", [("conv1d", [1, 40], ["input", "0", "2", "4"]),
                                                    ("linear", [40], ["input", "0", "2"]),
                                                    ("Gru", [1, 40], ["input", "gru", "fc"])])
def test_a_model_of_one_or_two_axes_gets_its_input_shape_as_written(tmp_path, factory, shape, units):
    """A Conv1d under [1, 40] and a Linear under [40] on mnist1d: they were given [batch, 1, 1, 40]
    (the zoo's C,H,W) and could not run. A GRU's (output, h) tuple is no cut; a leading transpose
    joins the first unit. They plan and train with the bytes predicted."""
    import json

    from edgeplan.graph import unit_table
    from edgeplan.scenario import load_scenario
    (tmp_path / "mynet.py").write_text(NET)
    data = yaml.safe_load((SCENARIOS / "mnist1d-small.yaml").read_text())
    data["model"] = {"module": f"mynet:{factory}", "input_shape": shape, "num_classes": 10}
    scn = tmp_path / "own.yaml"
    scn.write_text(yaml.safe_dump(data))
    assert unit_table(load_scenario(scn)).names == units
    for paradigm in ("sl", "pel") if factory == "Gru" else ("psl",):
        code, out = _cli("plan", scn, "-p", paradigm, "--out", tmp_path / "p.json")
        assert code == 0, out
        code, out = _cli("validate", scn, tmp_path / "p.json", "--rounds", "1", "--format", "json")
        assert code == 0, out
        rows = {r["quantity"]: r for r in json.loads(out)["summary"]}
        assert rows["bytes per round"]["predicted"] == rows["bytes per round"]["measured"], paradigm


def test_data_that_does_not_fit_a_models_input_shape_says_so(tmp_path):
    (tmp_path / "mynet.py").write_text(NET)
    data = yaml.safe_load((SCENARIOS / "mnist1d-small.yaml").read_text())
    data["model"] = {"module": "mynet:linear", "input_shape": [41], "num_classes": 10}
    scn = tmp_path / "own.yaml"
    scn.write_text(yaml.safe_dump(data))
    code, out = _cli("check", scn)            # the model itself refuses 41 values
    assert code == 2 and "does not run on one sample of input_shape [41]" in out, out
    from edgeplan.errors import ScenarioError
    from edgeplan.validation.data import load
    with pytest.raises(ScenarioError, match=r"the data's samples hold 40 values \(\[1, 1, 40\]\) and model.input_shape "
                                            r"\[41\] holds 41: set model.input_shape to a shape of 40 values, such as "
                                            r"\[40\] or \[1, 1, 40\]"):
        load("mnist1d", (41,), 10)


@pytest.mark.parametrize("model, message", [
    ({"module": "mynet:Branchy"}, "module mynet:Branchy cannot be traced into units at input_shape [1, 8, 8]: "
                                  "TraceError"),
    ({"module": "mynet:build", "input_shape": [1, 16, 16]},
     "module mynet:build does not run on one sample of input_shape [1, 16, 16]: RuntimeError: a and b must have "
     "same reduction dim, but got [2, 512] X [128, 32] (at node '4', call_module); set model.input_shape"),
    ({"module": "mynet:build", "kwargs": {"classes": 5}},
     "module mynet:build does not classify into model.num_classes: its output for a batch of 2 has shape [2, 5], "
     "where a classifier's is [batch, num_classes] = [2, 10]"),
    ({"module": "mynet:Logits", "kwargs": {"out": "dict"}},
     "module mynet:Logits does not classify into model.num_classes: its forward returns a dict, where a classifier "
     "returns one tensor of [batch, num_classes]: return the logits alone"),
    ({"module": "mynet:Logits", "kwargs": {"out": "tuple"}},
     "its forward returns a tuple, where a classifier returns one tensor"),
    ({"module": "mynet:Logits", "kwargs": {"frozen": True}},
     "module mynet:Logits has no parameters to train (none, or all with requires_grad False)"),
    ({"module": "mynet:TwoInputs"}, "module mynet:TwoInputs: its forward takes more than one input (x, mask), where "
                                    "EdgePlan trains models of one input tensor"),
    ({"module": "mynet:Bag"}, "module mynet:Bag takes integer indices at its input (an embedding: RuntimeError: "
                              "Expected tensor for argument #1 'indices'"),
    ({"module": "mynet:nope"}, "model.module: model.module 'mynet:nope': 'mynet' has no callable 'nope'"),
    ({"module": "nosuchpkg.nets:build"}, "cannot import 'nosuchpkg.nets'"),
    ({"module": "mynet:build", "kwargs": {"depth": 3}}, "build(**kwargs) failed: TypeError"),
    ({"zoo": "mlp", "module": "mynet:build"}, "give exactly one of 'zoo'"),
])
def test_models_that_cannot_be_used_say_why(tmp_path, model, message):
    code, out = _cli("check", _scenario(tmp_path, model))
    assert code == 2 and message in out, out
    assert "Traceback" not in out and "ShapeProp" not in out        # torch.fx printed its own traceback


def test_profile_a_factory_from_the_command_line(tmp_path, monkeypatch):
    (tmp_path / "mynet.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out = _cli("profile", "mynet:build", "--input-shape", "1,8,8", "--kwargs", '{"width": 4}')
    assert code == 0 and "4 units" in out and "Conv2d" in out, out
    code, out = _cli("profile", "mynet:Bag", "--input-shape", "12")
    assert code == 2 and "--input-dtype int64" in out, out
    code, out = _cli("profile", "mynet:Bag", "--input-shape", "12", "--input-dtype", "int64")
    assert code == 0 and "Embedding" in out and "96 B" in out, out         # 12 tokens of 8 bytes in


def test_profile_the_model_a_scenario_names(tmp_path):
    """`edgeplan profile own.yaml` read the file name as a zoo model's ('unknown zoo model'): it
    profiles the scenario's model at its input shape (the factory beside the scenario imports),
    and --measure times it; a scenario of a profile table has no torch model to time."""
    scn = _scenario(tmp_path, {"module": "mynet:build", "kwargs": {"width": 4}})
    code, out = _cli("profile", scn)
    assert code == 0 and "module mynet:build: 4 units" in out and "forward 4.67 kMAC (9.34 kFLOP)" in out, out
    code, out = _cli("profile", scn, "--measure", "--batch-size", "4")
    assert code == 0 and "this host, fitted on these units at batch 4" in " ".join(out.split()), out
    code, out = _cli("profile", SCENARIOS / "measured-vgg19.yaml", "--measure")
    assert code == 2 and "--measure times a torch model" in out, out


def test_an_unknown_short_name_lists_the_defined_ones(tmp_path):
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["links"][0]["from"] = "pQ"
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    code, out = _cli("check", p)
    assert code == 2 and "node 'pQ' is not defined; defined: edge, pi, phone" in out, out


def test_a_plan_costed_on_another_cut_of_the_model_is_refused(tmp_path, monkeypatch):
    """The model's depth comes from a file the profile cache cannot see: after it changes, the
    cached table (and the plan) hold other units than the model traces into. validate says so
    instead of training and reporting bytes that cannot match."""
    monkeypatch.setenv("EDGEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "deep.py").write_text(
        "import json, pathlib\nfrom torch import nn\n\n\ndef build():\n"
        "    n = json.loads((pathlib.Path(__file__).parent / 'depth.json').read_text())\n"
        "    return nn.Sequential(nn.Flatten(), *[nn.Linear(64, 64) for _ in range(n)], nn.Linear(64, 10))\n")
    (tmp_path / "depth.json").write_text("2")
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["model"] = {"module": "deep:build", "input_shape": [1, 8, 8], "num_classes": 10}
    scn = tmp_path / "own.yaml"
    scn.write_text(yaml.safe_dump(data))
    code, out = _cli("plan", scn, "-p", "sl", "--out", tmp_path / "p.json")
    assert code == 0, out
    (tmp_path / "depth.json").write_text("1")
    code, out = _cli("validate", scn, tmp_path / "p.json", "--rounds", "1")
    assert code == 2 and "the model traces into 2 units (1, 2) but the plan's cost model has 3 units (1, 2, 3)" in out \
        and "--no-cache" in out, out
    code, out = _cli("--no-cache", "validate", scn, tmp_path / "p.json", "--rounds", "1")
    assert code != 2 or "traces into" not in out, out


def test_a_model_with_dropout_resumes_as_if_never_stopped(tmp_path):
    """Dropout draws its masks from torch's random state, so a resumed run (validate --resume, and
    calibration's reference run stopped part-way) must carry that state on: the rounds after the
    resume equal an uninterrupted run's, bit for bit."""
    import numpy as np
    from edgeplan import paradigms
    from edgeplan.calibration import pilots
    from edgeplan.costs import CostModel
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.calibrate import reference_pilot, reference_run
    from edgeplan.validation.runner import run_inprocess
    scn = load_scenario(_scenario(tmp_path, {"module": "mynet:dropout"}))
    plan = paradigms.get("psl").solve(CostModel(scn))
    full = run_inprocess(scn, plan, rounds=4)
    run_inprocess(scn, plan, rounds=2, out_dir=tmp_path / "v")
    resumed = run_inprocess(scn, plan, rounds=4, out_dir=tmp_path / "v", resume=True)
    np.testing.assert_array_equal(resumed.rounds.train_loss, full.rounds.train_loss)

    pilot = reference_pilot(pilots(scn, ["psl"]))
    whole = reference_run(scn, pilot, 0, 5)
    done = []

    def stop_after_two():
        done.append(1)
        if len(done) == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        reference_run(scn, pilot, 0, 5, on_round=stop_after_two, work=tmp_path, key="this")
    ticks = []
    went_on = reference_run(scn, pilot, 0, 5, on_round=lambda: ticks.append(1), work=tmp_path, key="this")
    assert len(ticks) == 5                       # the progress bar counts the two rounds kept
    np.testing.assert_array_equal(went_on.accuracy, whole.accuracy)
    np.testing.assert_array_equal(went_on.loss, whole.loss)
    import shutil
    shutil.copy(tmp_path / "centralised-seed0.pt", tmp_path / "centralised-seed1.pt")   # another scenario's
    other = reference_run(scn, pilot, 1, 5, work=tmp_path, key="another scenario")    # not this run's state
    np.testing.assert_array_equal(other.accuracy, reference_run(scn, pilot, 1, 5).accuracy)


@pytest.mark.parametrize("name", ["fl", "sl", "psl", "dsgd", "fpl", "pel"])
def test_a_model_with_dropout_and_batch_norm_trains_alike_in_both_transports(tmp_path, name):
    """Dropout's masks came from one random state in process and one per process when
    distributed: each node now draws from its own stream, seeded by the run's seed and its name,
    so both transports train on the same masks, bit for bit. Batch norm's running statistics
    travel with the weights (and the bytes the plan predicts count them): in process the
    averaging had them for free, while distributed the hub tested its copies with their initial
    statistics (fl 24% against 56% after a round); and sl, psl, dsgd and fpl failed distributed
    at once, the warm-up before a timed block having restored the statistics in place between a
    batch norm's forward and its backward. At model.bytes_per_value 2 the plan's traffic travels
    as float16 (it had moved float32: twice the bytes the plan predicted), rounded alike in both
    transports; pel's at its bits_per_parameter (32 here); labels at label_bytes (1 here: uint8,
    where they had always been int64)."""
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.scenario import load_scenario

    from .conftest import assert_transports_agree
    path = _scenario(tmp_path, {"module": "mynet:regularised", "bytes_per_value": 2, "label_bytes": 1})
    data = yaml.safe_load(path.read_text())
    data["nodes"][1]["count"] = 1                     # one pi and the phone: 3 processes with the server
    data["training"]["batch_size"] = 128
    method = None
    if name == "dsgd":                                 # a chain of stage processes, the masks drawn along it
        chain = yaml.safe_load((SCENARIOS / "dsgd-chain.yaml").read_text())
        data = {**chain, "model": data["model"], "training": {**chain["training"], "batch_size": 128}}
        method = "equal_flops"
    path.write_text(yaml.safe_dump(data))
    plan = paradigms.get(name).solve(CostModel(load_scenario(path)), method)
    assert name != "dsgd" or len({a["stage"] for a in plan.assignments if "stage" in a}) > 1
    assert_transports_agree(path, plan, framing=0.05)     # a tiny model: headers weigh more beside its bytes


def test_batch_norm_statistics_are_profiled_apart_from_the_parameters_and_reach_pels_server(tmp_path):
    """A unit's floating buffers are its own column (they travel with its weights, without
    gradients or optimizer state); pel's server model gets its blocks' statistics (they had
    stayed at their initial 0 and 1, the model tested with them); compute: per_parameter, whose
    blocks no buffer belongs to, is refused with the field to change."""
    import torch
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.errors import ScenarioError
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.runner import run_inprocess
    path = _scenario(tmp_path, {"module": "mynet:regularised"})
    scn = load_scenario(path)
    cm = CostModel(scn)
    t = cm.table
    assert t.bbytes.sum() == 4 * 2 * (8 + 32)                  # running mean and variance per channel
    assert t.params.sum() * 4 == t.pbytes.sum() and cm.Wt[-1] == t.pbytes.sum() + t.bbytes.sum()
    assert cm.Wp[-1] == t.pbytes.sum()
    assert cm.Wm[-1] == 3 * t.pbytes.sum() + t.bbytes.sum()     # memory: SGD's 3 copies of parameters, buffers once
    plan = paradigms.get("pel").solve(cm)
    run_inprocess(scn, plan, rounds=1, out_dir=tmp_path / "run")
    state = torch.load(tmp_path / "run" / "rank0.pt", weights_only=False)["engine"]["modules"]["global"]
    var = [v for k, v in state.items() if k.endswith("running_var")]
    assert len(var) == 2 and all(not torch.allclose(v, torch.ones_like(v)) for v in var)
    data = yaml.safe_load(path.read_text())
    data.setdefault("paradigms", {})["pel"] = {"compute": "per_parameter"}
    path.write_text(yaml.safe_dump(data))
    scn = load_scenario(path)
    with pytest.raises(ScenarioError, match="per_parameter") as e:
        run_inprocess(scn, paradigms.get("pel").solve(CostModel(scn)), rounds=1)
    assert "paradigms.pel.compute" in str(e.value)


def _tokens(tmp_path, top=100, frac=False, dataset=None):
    """A scenario of mynet:Bag (an embedding of 100 tokens) on a file of token indices below `top`."""
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.integers(0, top, (300, 12)).astype(float if frac else np.int64)
    if frac:
        x[5, 3] = 2.5
    np.savez(tmp_path / "tok.npz", x_train=x[:240], y_train=x[:240, 0].astype(int) % 10, x_test=x[240:],
             y_test=x[240:, 0].astype(int) % 10)
    path = _scenario(tmp_path, {"module": "mynet:Bag", "input_shape": [12], "input_dtype": "int64"})
    data = yaml.safe_load(path.read_text())
    data["training"]["dataset"] = dataset or "npz:tok.npz"
    data["nodes"][1]["count"] = 1
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_model_of_token_indices_plans_and_trains_in_both_transports(tmp_path):
    """model.input_dtype int64: the samples are token indices (an embedding first), profiled and
    fed as int64, a token 8 bytes on the wire; the plan's bytes are what crossed, in process and
    distributed alike (psl with every cut at 0: the devices send their raw samples up)."""
    import json

    import edgeplan
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.planfile import Plan
    from edgeplan.scenario import load_scenario

    from .conftest import assert_transports_agree
    path = _tokens(tmp_path)
    code, out = _cli("check", path)
    assert code == 0 and "input [12] of token indices" in out and "240 training and 60 test samples" in out, out
    scn = load_scenario(path)
    assert CostModel(scn).table.out[0] == 12 * 8
    d = json.loads(paradigms.get("psl").solve(CostModel(scn)).to_json())
    for a in d["assignments"]:
        if a.get("cut") is not None:
            a["cut"] = 0
    plan = edgeplan.evaluate(scn, Plan.from_dict(d))
    assert {a["cut"] for a in plan.assignments if a.get("cut") is not None} == {0}
    assert_transports_agree(path, plan, framing=0.1)      # 12 tokens a sample: headers weigh 5%


@pytest.mark.parametrize("case, message", [
    ({"top": 150}, "training.dataset: the data holds token index 149, beyond the model's vocabulary (index out of "
                   "range in self)"),
    ({"frac": True}, "x_train holds 2.5 in sample 5: model.input_dtype int64 takes token indices, whole numbers "
                     "from 0"),
    ({"dataset": "digits"}, "dataset 'digits' holds pixel values, not token indices"),
])
def test_token_data_that_does_not_fit_says_why(tmp_path, case, message):
    path = _tokens(tmp_path, **case)
    code, out = _cli("plan", path, "-p", "psl", "--out", tmp_path / "p.json")
    if code == 0:
        code, out = _cli("validate", path, tmp_path / "p.json", "--rounds", "1")
    assert code == 2 and message in " ".join(out.split()), out


def test_the_zoo_takes_no_token_indices(tmp_path):
    code, out = _cli("check", _scenario(tmp_path, {"zoo": "mlp", "input_dtype": "int64"}))
    assert code == 2 and "the zoo's models take float samples" in out, out


@pytest.mark.parametrize("name, field, value, message", [
    ("psl", ("model", "bytes_per_value"), 1, "model.bytes_per_value: 1 byte a value: validation sends the plan's "
                                             "traffic as float16, float32 or float64"),
    ("pel", ("paradigms", "pel"), {"bits_per_parameter": 8}, "paradigms.pel.bits_per_parameter: 8 bits a parameter"),
    ("sl", ("model", "label_bytes"), 0, "model.label_bytes: 0 bytes a label: validation sends labels as 1, 2, 4 or "
                                        "8-byte integers, wide enough for the model's 10 classes"),
])
def test_a_precision_the_wire_cannot_carry_is_planned_not_trained(tmp_path, name, field, value, message):
    path = _scenario(tmp_path, {"module": "mynet:build"})
    data = yaml.safe_load(path.read_text())
    data.setdefault(field[0], {})[field[1]] = value
    path.write_text(yaml.safe_dump(data))
    code, out = _cli("plan", path, "-p", name, "--out", tmp_path / "p.json")
    assert code == 0, out
    code, out = _cli("validate", path, tmp_path / "p.json", "--rounds", "1")
    assert code == 2 and message in " ".join(out.split()), out
