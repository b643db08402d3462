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


def build(arch: str, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    if arch not in ARCHS:
        raise LongtailError(f"unknown arch {arch!r}; choose one of: {', '.join(ARCHS)}")
    return ARCHS[arch](tuple(in_shape), num_classes)


def checkpoint(model: nn.Module, arch: str, in_shape: tuple[int, ...], num_classes: int) -> dict:
    """What `load` needs to rebuild the model: its registry name, input shape, classes and weights."""
    return {"arch": arch, "in_shape": list(in_shape), "num_classes": num_classes,
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}}


def load(path, device) -> nn.Module:
    if not Path(path).exists():
        raise LongtailError(f"missing model {path}: run the reference stage (`dvc repro reference`)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build(saved["arch"], tuple(saved["in_shape"]), saved["num_classes"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device)
