"""The architecture registry: a name in params (`trials.arch`, `reference.arch`) to a network."""

import math
from pathlib import Path

import torch
from torch import nn

from longtail import LongtailError


def mlp(in_shape: tuple[int, ...], num_classes: int, width: int = 128) -> nn.Module:
    """Two hidden layers, width and width/2: at 128 it fits digits subsets exactly."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(in_shape), width),
        nn.ReLU(),
        nn.Linear(width, width // 2),
        nn.ReLU(),
        nn.Linear(width // 2, num_classes),
    )


def cnn(in_shape: tuple[int, ...], num_classes: int, width: int = 32) -> nn.Module:
    """Two 3x3 conv blocks and a linear head, for digits- and MNIST-sized images."""
    channels, _, _ = in_shape
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * width, num_classes),
    )


def mlp512(in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Feldman & Zhang's MNIST MLP: 784-512-256-10."""
    return mlp(in_shape, num_classes, width=512)


ARCHS = {"mlp": mlp, "mlp512": mlp512, "cnn": cnn}


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
