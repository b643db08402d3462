"""Networks for digits- and MNIST-sized images."""

import math

from torch import nn


def mlp(in_shape: tuple[int, ...], num_classes: int, width: float = 1.0, hidden: int = 128) -> nn.Module:
    """Two hidden layers, hidden and hidden/2 units times `width`: at 128 it fits digits subsets exactly."""
    width = max(2, round(hidden * width))
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(in_shape), width),
        nn.ReLU(),
        nn.Linear(width, width // 2),
        nn.ReLU(),
        nn.Linear(width // 2, num_classes),
    )


def cnn(in_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    """Two 3x3 conv blocks (32 and 64 channels times `width`) and a linear head, for digits- and
    MNIST-sized images."""
    channels, _, _ = in_shape
    width = max(1, round(32 * width))
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


def mlp512(in_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    """Feldman & Zhang's MNIST MLP: 784-512-256-10."""
    return mlp(in_shape, num_classes, width, hidden=512)
