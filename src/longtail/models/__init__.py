"""The architecture registry: a name in params (`trials.arch`, `reference.arch`) to a network.

small.py holds the networks for digits- and MNIST-sized data; cifar.py the CIFAR networks of the
papers, with their published parameter counts in their docstrings (tested).
"""

from pathlib import Path

import torch
from torch import nn

from longtail import LongtailError
from longtail.models import cifar, small


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


def build(arch: str, in_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    """The network `arch`; `width` scales its hidden units or channels (SCALABLE archs only)."""
    if arch not in ARCHS:
        raise LongtailError(f"unknown arch {arch!r}; choose one of: {', '.join(ARCHS)}")
    if width == 1.0:
        return ARCHS[arch](tuple(in_shape), num_classes)
    if arch not in SCALABLE:
        raise LongtailError(f"arch {arch} has no thinner version; distill works with: {', '.join(SCALABLE)}")
    return ARCHS[arch](tuple(in_shape), num_classes, width)


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
