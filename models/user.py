"""A user's own torch model: a factory named `package.module:function` (with keyword arguments),
or a `torch.export` program file (.pt2). Profiled and cut by the same tracing as the zoo's
(edgeplan.models.profile), trained by validation like any zoo model.

Trust: naming a module runs its code (it is imported and its factory called), as `python -c
"import package.module"` would; a .pt2 file is loaded by torch.export's own format. Use only
models you would run yourself.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from edgeplan.errors import ScenarioError
from torch import nn


class ModelError(ValueError):
    """A user model that cannot be built or traced; the message names it and says why."""


@contextmanager
def _importable_from(folder: Path | None):
    """Modules beside the scenario file import as well as installed ones."""
    if folder is None or str(folder) in sys.path:
        yield
        return
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:
            pass


def build_module(ref: str, kwargs: dict | None = None, base_dir: Path | None = None) -> nn.Module:
    """The nn.Module that `package.module:factory` returns for `kwargs`."""
    if ref.count(":") != 1 or not all(ref.split(":")):
        raise ModelError(f"model.module {ref!r}: write it as 'package.module:factory' (a function or class that "
                         "returns a torch nn.Module)")
    mod_name, attr = ref.split(":")
    with _importable_from(base_dir):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise ModelError(f"model.module {ref!r}: cannot import '{mod_name}' ({e}); install it, or put it "
                             "beside the scenario file") from None
        except Exception as e:   # the user's module failed while importing
            raise ModelError(f"model.module {ref!r}: importing '{mod_name}' failed: {type(e).__name__}: "
                             f"{first_line(e)}") from None
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ModelError(f"model.module {ref!r}: '{mod_name}' has no callable '{attr}'")
    try:
        model = factory(**(kwargs or {}))
    except Exception as e:
        raise ModelError(f"model.module {ref!r}: {attr}(**kwargs) failed: {type(e).__name__}: {first_line(e)}") \
            from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"model.module {ref!r}: {attr} returned a {type(model).__name__}, not a torch nn.Module")
    return model


def load_export(path: Path) -> nn.Module:
    """The trainable module of a torch.export program (exported with a dynamic batch dimension)."""
    import torch
    try:
        program = torch.export.load(str(path))
    except FileNotFoundError:
        raise ModelError(f"model.export: file '{path}' not found") from None
    except Exception as e:
        raise ModelError(f"model.export: '{path}' is not a torch.export program ({type(e).__name__}: "
                         f"{first_line(e)})") from None
    inputs = set(program.graph_signature.user_inputs)
    for n in program.graph.nodes:           # a static batch fails its guard at the first other batch size
        val = n.meta.get("val") if n.op == "placeholder" and n.name in inputs else None
        if val is not None and getattr(val, "ndim", 0) and isinstance(val.shape[0], int):
            raise ModelError(f"model.export: '{path}' was exported for batches of {val.shape[0]} only; export it "
                             f"with a dynamic batch dimension: export(model, (x,), dynamic_shapes={{'{n.name}': "
                             "{0: Dim('batch')}})")
    return program.module()


from .registry import describe, first_line, sample_dtype  # noqa: E402  (torch-free: the planner names models without torch)


def user_model(spec, base_dir: Path | None, seed: int | None = None) -> nn.Module:
    """The scenario's own model (model.module or model.export), freshly built (seeded)."""
    import torch
    if seed is not None:
        torch.manual_seed(seed)
    if spec.module:
        return build_module(spec.module, spec.kwargs, base_dir)
    path = Path(spec.export)
    return load_export(path if path.is_absolute() or base_dir is None else base_dir / path)


def _with_channel(shape) -> str:
    """A hint for a shape of one or two axes: the same with a channel axis (a user's model gets
    its input_shape as written; the zoo's C,H,W padding does not apply)."""
    return f", or {[1, *shape]} with a channel axis" if len(shape) < 3 else ""


def why_not_profiled(e: Exception, who: str, shape: str, fix: str = "", classes: str = "") -> str:
    """The one sentence for a model that could not be profiled (for `check` and `profile` alike):
    `shape` names where the input shape came from ("input_shape [1, 8, 8]"), `fix` follows an input
    that does not run, `classes` names the class count an output did not match."""
    from .profile import ForwardError, InputShapeError, OutputShapeError
    if isinstance(e, OutputShapeError):
        return f"{who} does not classify{classes}: {e}"
    if isinstance(e, ForwardError):
        return f"{who}: {e}"
    if isinstance(e, InputShapeError):
        if "'indices'" in str(e) or "scalar types: Long, Int" in str(e):
            # an embedding at the input: no shape would do, the hint below would mislead
            return (f"{who} takes integer indices at its input (an embedding: {first_line(e)}); its "
                    "samples are token indices: model.input_dtype int64 (`edgeplan profile`: --input-dtype int64)")
        return f"{who} does not run on one sample of {shape}: {e}{fix}"
    # torch.fx: data-dependent control flow, unsupported ops
    return (f"{who} cannot be traced into units at {shape}: {type(e).__name__}: {first_line(e)} (EdgePlan cuts "
            "models with torch.fx: no Python control flow on tensor values in forward)")


def profile_user(spec, input_shape: Sequence[int], base_dir: Path | None, bytes_per_value: int = 4, file=None):
    """The unit table of the scenario's own model; errors name the model and the reason."""
    from .profile import one_torch_thread, profile_model
    with one_torch_thread():
        model = user_model(spec, base_dir, seed=0)
        try:
            table = profile_model(model, input_shape, bytes_per_value, name=describe(spec),
                                  num_classes=getattr(spec, "num_classes", None), input_dtype=sample_dtype(spec))
        except Exception as e:
            raise ScenarioError(why_not_profiled(
                e, describe(spec), f"input_shape {list(input_shape)}", classes=" into model.num_classes",
                fix="; set model.input_shape to the shape of one sample as the model takes it, without the batch "
                    f"axis (e.g. [3, 32, 32]{_with_channel(input_shape)})"), file, path="model") from None
    if not any(p.requires_grad for p in model.parameters()):
        raise ScenarioError(f"{describe(spec)} has no parameters to train (none, or all with requires_grad False)",
                            file, path="model")
    return table
