"""The architecture registry: a name in params (`trials.arch`, `reference.arch`) to a network.

small.py holds the networks for digits- and MNIST-sized data; cifar.py the CIFAR networks of the
papers, with their published parameter counts in their docstrings (tested).

A user's network is a file: `models/FILE.py:FUNCTION`, a Python file in the project's models/
folder (layout.NETWORKS, a dep of every stage that builds networks, so that editing it reruns them)
whose FUNCTION(in_shape, num_classes) returns a torch.nn.Module (with a `width` argument too, it
has thinner versions for distillation).
"""

import functools
import hashlib
import importlib.util
import inspect
from pathlib import Path

import torch
from torch import nn

from longtail import LongtailError, layout
from longtail.checks import choose
from longtail.train.models import cifar, small


ARCHS = {
    "mlp": small.mlp,
    "mlp512": small.mlp512,
    "cnn": small.cnn,
    "resnet20": cifar.resnet20,
    "resnet56": cifar.resnet56,
    "resnext29_8x64d": cifar.resnext29_8x64d,
    "densenet_bc100": cifar.densenet_bc100,
    "airbench": cifar.airbench,
}


# The architectures that come in thinner versions (`width` < 1: compress.method distill's students).
SCALABLE = ("mlp", "mlp512", "cnn", "resnet20", "resnet56")


# How a network's weights are drawn: `torch`, each layer's own default (Kaiming-uniform for
# Linear and Conv); `glorot_normal`, stax's Dense and Conv, with which Feldman & Zhang's MNIST code
# initialises its MLP (jax.nn.initializers.glorot_normal: a normal truncated at two standard
# deviations, rescaled to variance 2 / (fan_in + fan_out); biases normal, std 1e-2 for Dense and 1e-6
# for Conv). The initialisation is part of a recipe: it changes how readily a model memorizes.
INITS = ("torch", "glorot_normal")
_TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2], as jax divides by


def check(arch: str, key: str = "arch") -> None:
    """A built-in name, or a network file whose function exists (read, not called: the data's shape
    is not known before prepare); else one line saying what to fix."""
    if ":" in arch or arch.endswith(".py"):
        network_function(arch, key)
    else:
        choose(key, arch, ARCHS, also=f", or a network file {layout.NETWORKS}/FILE.py:FUNCTION")


def network_function(arch: str, key: str = "arch"):
    """The function a network file names (`models/FILE.py:FUNCTION`), its module executed."""
    path, _, function = arch.rpartition(":")
    if not path or not function or not path.endswith(".py"):
        raise LongtailError(f"{key} {arch!r}: a network file is named FILE.py:FUNCTION, e.g. "
                            f"{layout.NETWORKS}/my_net.py:make")
    file = Path(path)
    if file.is_absolute() or file.parts[:1] != (layout.NETWORKS,) or ".." in file.parts:
        raise LongtailError(f"{key} {arch!r}: a network file must lie in {layout.NETWORKS}/ of the project (a dep "
                            "of the stages that build networks, so that editing it reruns them): move it there")
    if not file.is_file():
        raise LongtailError(f"{key} {arch!r}: no file {file}: create it, or correct the path")
    try:
        module = _module(file, file.stat().st_mtime_ns)
    except Exception as e:  # noqa: BLE001 -- the user's file: whatever it raises is said in one line
        raise LongtailError(f"{key} {arch!r}: {file} cannot be imported ({type(e).__name__}: {e}): fix it") from None
    made = getattr(module, function, None)
    if not callable(made):
        defined = sorted(n for n, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module.__name__)
        raise LongtailError(f"{key} {arch!r}: {file} defines no function {function!r}"
                            + (f" (it defines: {', '.join(defined)})" if defined else ""))
    return made


def source(arch: str) -> str:
    """A hash of the code a network file's networks come from (every .py of its folder, as the
    folder is the stages' dep); '' for a built-in arch. The trials' chunk store keys by it, so an
    edited network never resumes the chunks of its old version."""
    if arch in ARCHS:
        return ""
    h = hashlib.sha256()
    for file in sorted(Path(arch.rpartition(":")[0]).parent.rglob("*.py")):
        h.update(str(file).encode() + b"\0" + file.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def _module(file: Path, modified: int):
    """A network file executed once per version (`modified`), so that every network it builds is of
    one class, as the engine's stacking asks."""
    spec = importlib.util.spec_from_file_location(f"longtail_network_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _from_file(arch: str, in_shape: tuple[int, ...], num_classes: int, width: float) -> nn.Module:
    """The network a file's function returns: a Module (build checks its output)."""
    made = network_function(arch)
    if width != 1.0 and "width" not in inspect.signature(made).parameters:
        raise LongtailError(f"arch {arch} has no thinner version: give its function a `width` argument (distill "
                            "trains a student of width compress.width), or compress by another method")
    try:
        model = made(tuple(in_shape), num_classes, **({} if width == 1.0 else {"width": width}))
    except Exception as e:  # noqa: BLE001 -- the user's function
        raise LongtailError(f"arch {arch}: calling it with in_shape {tuple(in_shape)} and num_classes {num_classes} "
                            f"raised {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise LongtailError(f"arch {arch} returned a {type(model).__name__}, not a torch.nn.Module: return the network")
    return model


def _answers(model: nn.Module, arch: str, in_shape: tuple[int, ...], num_classes: int) -> None:
    """Raise unless one example of `in_shape` through `model` gives logits [1, num_classes]: a network
    that does not take the data's shape is one line before any trial trains, not a traceback in one.
    In eval mode (BatchNorm's running statistics, not the batch's) and without gradients, so the
    model and the random streams are left as they were."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *in_shape))
    except Exception as e:  # noqa: BLE001 -- a user's network, or a built-in one given another shape
        raise LongtailError(f"arch {arch}: one example of shape {list(in_shape)} through it raised "
                            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}: choose or write a "
                            f"network that takes inputs [batch, {', '.join(map(str, in_shape))}]") from None
    finally:
        model.train(training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, num_classes):
        found = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise LongtailError(f"arch {arch}: one example gives {found}; its output must be the logits [batch, "
                            f"num_classes] = [1, {num_classes}]")


def build(arch: str, in_shape: tuple[int, ...], num_classes: int, width: float = 1.0, init: str = "torch") -> nn.Module:
    """The network `arch` (a built-in name or a network file); `width` scales its hidden units or
    channels (SCALABLE archs, and files whose function takes `width`); `init` one of INITS, drawn
    from torch's global generator."""
    check(arch)
    if init not in INITS:
        raise LongtailError(f"unknown init {init!r}; choose one of: {', '.join(INITS)}")
    if arch not in ARCHS:
        model = _from_file(arch, in_shape, num_classes, width)
    elif width == 1.0:
        model = ARCHS[arch](tuple(in_shape), num_classes)
    elif arch not in SCALABLE:
        raise LongtailError(f"arch {arch} has no thinner version; distill works with: {', '.join(SCALABLE)}")
    else:
        model = ARCHS[arch](tuple(in_shape), num_classes, width)
    _answers(model, arch, tuple(in_shape), num_classes)
    if init == "glorot_normal":
        glorot_normal(model)
    return model


@torch.no_grad()
def glorot_normal(model: nn.Module) -> nn.Module:
    """Every Linear and Conv layer redrawn as stax's defaults draw them (see INITS)."""
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)):
            receptive = layer.weight[0, 0].numel()  # 1 for Linear, kernel size for Conv
            fan_in, fan_out = layer.weight.shape[1] * receptive, layer.weight.shape[0] * receptive
            std = (2 / (fan_in + fan_out)) ** 0.5 / _TRUNCATED_STD
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            if layer.bias is not None:
                layer.bias.normal_(0, 1e-2 if isinstance(layer, nn.Linear) else 1e-6)
    return model


def checkpoint(model: nn.Module, arch: str, in_shape: tuple[int, ...], num_classes: int) -> dict:
    """What `load` needs to rebuild the model: its registry name, input shape, classes and weights."""
    return {"arch": arch, "in_shape": list(in_shape), "num_classes": num_classes,
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}}


def saved(path, stage: str = "reference"):
    """The checkpoint at `path` as `checkpoint` made it (or the list of them `stage` saved there)."""
    if not Path(path).exists():
        raise LongtailError(f"missing model {path}: run the {stage} stage (`dvc repro {stage}`)")
    return torch.load(path, map_location="cpu", weights_only=True)


def restore(saved: dict, device) -> nn.Module:
    """The model a checkpoint (as `saved` read it) describes, on `device`."""
    model = build(saved["arch"], tuple(saved["in_shape"]), saved["num_classes"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device)


def load(path, device) -> nn.Module:
    return restore(saved(path), device)
