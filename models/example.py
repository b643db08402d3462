"""An example network file: `trials.arch: models/example.py:make` (README, "Your data and your
network"). Copy it, change the network, keep the signature: make(in_shape, num_classes) returns a
torch.nn.Module whose output is the logits [batch, num_classes]; a `width` argument gives it thinner
versions (compress.method distill's students)."""

import math

from torch import nn


def make(in_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> nn.Module:
    """A small MLP over any input shape: images [C, H, W] or feature vectors [1, 1, D]."""
    hidden = max(2, round(64 * width))
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
