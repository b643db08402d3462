"""The architecture registry: a name in params (`trials.arch`, `reference.arch`) to a network.

small.py holds the networks for digits- and MNIST-sized data; cifar.py the CIFAR networks of the
papers, with their published parameter counts in their docstrings (tested).
"""

from pathlib import Path

import torch
from torch import nn

from longtail import LongtailError
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


def build(arch: str, in_shape: tuple[int, ...], num_classes: int, width: float = 1.0, init: str = "torch") -> nn.Module:
    """The network `arch`; `width` scales its hidden units or channels (SCALABLE archs only); `init`
    one of INITS, drawn from torch's global generator."""
    if arch not in ARCHS:
        raise LongtailError(f"unknown arch {arch!r}; choose one of: {', '.join(ARCHS)}")
    if init not in INITS:
        raise LongtailError(f"unknown init {init!r}; choose one of: {', '.join(INITS)}")
    if width == 1.0:
        model = ARCHS[arch](tuple(in_shape), num_classes)
    elif arch not in SCALABLE:
        raise LongtailError(f"arch {arch} has no thinner version; distill works with: {', '.join(SCALABLE)}")
    else:
        model = ARCHS[arch](tuple(in_shape), num_classes, width)
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
