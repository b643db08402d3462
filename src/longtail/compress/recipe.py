"""The compression recipe: a reference compressed with `compress.method` and its accuracy
recovered by fine-tuning with `compress.loss`. Every random draw derives from `seed` (the COMPRESS
streams of longtail.seeds); a PIE member passes its own seed, so that it differs from the others."""

import copy
import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from longtail import seeds
from longtail.compress import compression
from longtail.train import losses, models, training
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


def label(method: str, level: float | None) -> str:
    """The name of one compressed model: `sparsity_0_9` for a magnitude level, else the method."""
    return method if level is None else f"sparsity_{level:g}".replace(".", "_")


def recover(model, cfg, x, y, teacher, seed, on_epoch=None):
    """Fine-tune `model` with the recovery loss (the reference as teacher where the loss uses one)."""
    return training.train(model, x, y, cfg.recipe(), loss=losses.make(cfg.loss, cfg),
                          generator=seeds.generator(seed, seeds.COMPRESS, 1),
                          teacher=teacher if cfg.loss in losses.USES_TEACHER else None, on_epoch=on_epoch)


def _levels(reference, spec, cfg, reference_recipe, x, y, seed, curve):
    """(level, float model, model to evaluate) for each compressed model the params ask for: one per
    sparsity for magnitude (level = the sparsity), one otherwise (level None)."""
    in_shape = tuple(x.shape[1:])
    if cfg.method == "magnitude":
        for sparsity in cfg.sparsities:
            model = compression.magnitude_prune(copy.deepcopy(reference), sparsity)
            phase = "recovery" if len(cfg.sparsities) == 1 else f"recovery_{label(cfg.method, sparsity)}"
            model = compression.finalize(recover(model, cfg, x, y, reference, seed, curve(phase)))
            yield sparsity, model, model
    elif cfg.method == "group_sparsity":
        model = copy.deepcopy(reference)
        groups = compression.channel_groups(model, in_shape)
        penalty = compression.group_lasso(groups)
        training.train(model, x, y, dataclasses.replace(cfg.recipe(), epochs=cfg.sparsify_epochs),
                       penalty=lambda: cfg.group_lambda * penalty(), generator=seeds.generator(seed, seeds.COMPRESS, 2),
                       on_epoch=curve("sparsify"))
        model = compression.remove_channels(model, in_shape, cfg.target_flops)
        model = recover(model, cfg, x, y, reference, seed, curve("recovery"))
        yield None, model, model
    elif cfg.method == "quantize":
        order = torch.randperm(len(x), generator=seeds.generator(seed, seeds.COMPRESS, 3))
        yield None, reference, compression.quantize(reference, x[order[: cfg.calibration_size]])
    else:  # distill: a thinner student, trained from scratch with the reference's recipe
        torch.manual_seed(seeds.derive(seed, seeds.COMPRESS, 4))
        student = models.build(spec["arch"], in_shape, spec["num_classes"], width=cfg.width).to(x.device)
        training.train(student, x, y, reference_recipe, loss=losses.make(cfg.loss, cfg), teacher=reference,
                       generator=seeds.generator(seed, seeds.COMPRESS, 5), on_epoch=curve("distill"))
        yield None, student, student


def compress(reference: nn.Module, spec: dict, cfg, reference_recipe: Recipe, x, y, seed: int,
             curves=None) -> list[Compressed]:
    """The compressed models `cfg` (params.Compress) asks for, from `reference` (whose checkpoint
    `spec` names its architecture), in order; the last one goes on. `reference_recipe` trains
    distill's student. curves (a curves.Curves): where each training phase's curve goes (sparsify,
    recovery, or recovery_<level> for a sweep, distill). The reference is put in eval mode first: its copies start as a trained model
    (tracing the channel graph in train mode would move BatchNorm's running statistics)."""
    reference.eval()
    curve = (lambda phase: None) if curves is None else curves.epoch
    made = list(_levels(reference, spec, cfg, reference_recipe, x, y, seed, curve))
    return [Compressed(label(cfg.method, level), level, measured, evaluated, goes_on=i == len(made) - 1)
            for i, (level, measured, evaluated) in enumerate(made)]
