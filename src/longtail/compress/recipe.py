"""The compression recipe: a reference compressed with `compress.method` (the registry of
methods.py) and, where the method fine-tunes, its accuracy recovered with `compress.loss`. Every
random draw derives from `seed` (the COMPRESS streams of longtail.seeds); a PIE member passes its
own seed, so that it differs from the others."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from longtail import seeds
from longtail.compress import methods
from longtail.compress.method import Job, label
from longtail.train import models, training
from longtail.train.recipe import Recipe


@dataclass(frozen=True)
class Compressed:
    """One compressed model: one per level of a magnitude sparsity sweep, one for other methods."""

    label: str  # the level's key in metrics/compress.json's sweep: sparsity_0_9, or the method
    level: float | None  # magnitude's sparsity; None for the other methods
    measured: nn.Module  # the float model whose size and sparsity are measured
    evaluated: nn.Module  # the model that predicts: `measured`, or its int8 version (quantize)
    goes_on: bool  # the level whose predictions go on to cie and pie: the last one

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions on x, on x's device. An int8 model runs on the CPU whatever the device."""
        on = x.device if self.evaluated is self.measured else torch.device("cpu")
        return training.predict(self.evaluated, x.to(on)).to(x.device)


def compress(reference: nn.Module, spec: dict | None, cfg, reference_recipe: Recipe, x, y, seed: int,
             curves=None) -> list[Compressed]:
    """The compressed models `cfg` (params.Compress) asks for, from `reference` (whose checkpoint
    `spec` names its architecture), in order; the last one goes on. `reference_recipe` trains
    distill's student. curves (a curves.Curves): where each training phase's curve goes (sparsify,
    recovery, or recovery_<level> for a sweep, distill). The reference is put in eval mode first:
    its copies start as a trained model (tracing the channel graph in train mode would move
    BatchNorm's running statistics)."""
    reference.eval()
    curve = (lambda phase: None) if curves is None else curves.epoch
    job = Job(reference, spec, cfg, reference_recipe, x, y, seed, curve)
    made = list(methods.METHODS[cfg.method].levels(job))
    return [Compressed(label(cfg.method, m.level), m.level, m.measured, m.evaluated, goes_on=i == len(made) - 1)
            for i, m in enumerate(made)]


def population(specs: list[dict], cfg, reference_recipe: Recipe, x, y, x_test, seed: int, device, curves=None,
               advance=lambda: None) -> tuple[np.ndarray, np.ndarray, list[Compressed]]:
    """The populations of pruning identified exemplars (Hooker et al. 2019): each reference of
    `specs` (checkpoints) and the compressed models `cfg` asks for, member m compressed with its own
    seed, seeds.member(seed, m), the one it was trained with. Returns the references' test
    predictions int64 [m, n], the compressed ones int64 [L, m, n] (one row per level) and the last
    member's compressed models (every member's have the same levels). advance() after each member."""
    reference_pred, compressed_pred, compressed = [], [], []
    for m, spec in enumerate(specs):
        reference = models.restore(spec, device)
        reference_pred.append(training.predict(reference, x_test).cpu().numpy())
        compressed = compress(reference, spec, cfg, reference_recipe, x, y, seeds.member(seed, m), curves)
        compressed_pred.append([c.predict(x_test).cpu().numpy() for c in compressed])
        advance()
    return (np.stack(reference_pred).astype(np.int64), np.stack(compressed_pred).swapaxes(0, 1).astype(np.int64),
            compressed)
