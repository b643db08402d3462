"""Recovery losses for fine-tuning a compressed model: logits [B, classes], labels [B] -> scalar."""

from functools import partial

import torch
import torch.nn.functional as F

from longtail import LongtailError


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CE = -log p_true, averaged over the batch."""
    return F.cross_entropy(logits, y)


def focal(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): (1 - p_true)^gamma * (-log p_true), averaged; gamma = 0 is CE."""
    log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    return ((1 - log_p.exp()) ** gamma * -log_p).mean()


LOSSES = {"ce": cross_entropy, "focal": focal}


def make(name: str, *, focal_gamma: float = 2.0):
    """The loss `name` with its params bound: make("focal", focal_gamma=1)(logits, y)."""
    if name not in LOSSES:
        raise LongtailError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return partial(focal, gamma=focal_gamma) if name == "focal" else LOSSES[name]
