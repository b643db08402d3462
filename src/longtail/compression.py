"""Compressing a trained reference model.

`magnitude`: global unstructured magnitude pruning (Han et al. 2015; the setting of Hooker et al.
2019): the `sparsity` share of all conv and linear weights with the smallest |w| is set to zero,
across layers at once. The masks stay in place during fine-tuning so pruned weights stay zero.
"""

import torch
from torch import nn
from torch.nn.utils import prune

from longtail import LongtailError

METHODS = ("magnitude",)


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """The (module, 'weight') pairs that pruning acts on: every conv and linear layer; biases stay."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def magnitude_prune(model: nn.Module, sparsity: float) -> nn.Module:
    """Zero exactly round(sparsity * n) of the n prunable weights, the smallest in magnitude, globally.

    Leaves torch's pruning masks attached (so fine-tuning keeps the zeros); call `finalize` after.
    """
    if not 0 <= sparsity < 1:
        raise LongtailError(f"sparsity = {sparsity} must satisfy 0 <= sparsity < 1")
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=sparsity)
    return model


def finalize(model: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights, leaving a plain module with zeros in it."""
    for module, name in prunable(model):
        if prune.is_pruned(module):
            prune.remove(module, name)
    return model


@torch.no_grad()
def weights_kept(model: nn.Module) -> float:
    """Share of prunable weights that are nonzero."""
    weights = [getattr(m, name) for m, name in prunable(model)]
    return sum(int(w.count_nonzero()) for w in weights) / sum(w.numel() for w in weights)
