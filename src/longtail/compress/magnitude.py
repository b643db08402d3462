"""magnitude: global unstructured magnitude pruning (Han et al. 2015; the setting of Hooker et al.
2019). The `compress.sparsity` share of all conv and linear weights with the smallest |w| is set to
zero, across layers at once; the masks stay in place while the recovery loss fine-tunes, then are
folded into the weights. A list of sparsities sweeps them, each pruned from the reference."""

import copy

from torch import nn
from torch.nn.utils import prune as torch_prune

from longtail import LongtailError
from longtail.compress.method import Job, Level, Method, label
from longtail.compress.size import prunable


def prune(model: nn.Module, sparsity: float) -> nn.Module:
    """Zero exactly round(sparsity * n) of the n prunable weights, the smallest in magnitude, globally.

    Leaves torch's pruning masks attached (so fine-tuning keeps the zeros); call `finalize` after.
    """
    if not 0 <= sparsity < 1:
        raise LongtailError(f"sparsity = {sparsity} must satisfy 0 <= sparsity < 1")
    torch_prune.global_unstructured(prunable(model), pruning_method=torch_prune.L1Unstructured, amount=sparsity)
    return model


def finalize(model: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights, leaving a plain module with zeros in it."""
    for module, name in prunable(model):
        if torch_prune.is_pruned(module):
            torch_prune.remove(module, name)
    return model


def levels(job: Job):
    """One model per sparsity of the sweep, each pruned from the reference and recovered."""
    sparsities = job.cfg.sparsities
    for sparsity in sparsities:
        model = prune(copy.deepcopy(job.reference), sparsity)
        phase = "recovery" if len(sparsities) == 1 else f"recovery_{label(METHOD.name, sparsity)}"
        model = finalize(job.recover(model, phase))
        yield Level(sparsity, model, model)


METHOD = Method("magnitude", levels, knobs=("sparsity",))
