"""What a compression method is (Method): a name, the compressed models it makes from a reference
(its compress -> recover sequence, `levels`), and how it recovers. Each method is a module of this
package with its METHOD; methods.py registers them."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from longtail import seeds
from longtail.train import losses, training
from longtail.train.recipe import Recipe


@dataclass(frozen=True)
class Job:
    """What a method may use to compress: the reference (in eval mode: its copies start as a
    trained model), its checkpoint `spec` (arch, in_shape, num_classes), the compress section `cfg`
    (params.Compress: the method's knobs, the recovery loss and recipe), the reference's recipe
    (distill's student trains with it), the training data, the seed (the COMPRESS streams of
    longtail.seeds; a PIE member passes its own) and `curve(phase)`, the on_epoch of a training
    phase's curve (sparsify, recovery, recovery_<level>, distill)."""

    reference: nn.Module
    spec: dict | None
    cfg: object
    reference_recipe: Recipe
    x: torch.Tensor
    y: torch.Tensor
    seed: int
    curve: Callable[[str], Callable | None]

    def recover(self, model: nn.Module, phase: str) -> nn.Module:
        """Fine-tune `model` with the recovery loss and recipe (the reference as teacher where the
        loss uses one): the recover step every fine-tuning method ends with."""
        cfg = self.cfg
        return training.train(model, self.x, self.y, cfg.recipe(), loss=losses.make(cfg.loss, cfg),
                              generator=seeds.generator(self.seed, seeds.COMPRESS, 1),
                              teacher=self.reference if cfg.loss in losses.USES_TEACHER else None,
                              on_epoch=self.curve(phase))


@dataclass(frozen=True)
class Level:
    """One compressed model: `measured`, the float model whose size and sparsity are measured, and
    `evaluated`, the model that predicts (`measured`, or its int8 version); `level` is the swept
    value (magnitude's sparsity), None for a method without a sweep."""

    level: float | None
    measured: nn.Module
    evaluated: nn.Module


@dataclass(frozen=True)
class Method:
    """A compress.method: `levels(job)` yields its compressed models in order (the last goes on to
    cie). fine_tunes: it recovers with compress.loss (quantize is post-training: loss none); teacher:
    its loss must learn from the reference (distill). knobs: the compress keys it reads."""

    name: str
    levels: Callable[[Job], Iterator[Level]]
    fine_tunes: bool = True
    teacher: bool = False
    knobs: tuple[str, ...] = ()


def label(method: str, level: float | None) -> str:
    """The name of one compressed model: `sparsity_0_9` for a magnitude level, else the method."""
    return method if level is None else f"sparsity_{level:g}".replace(".", "_")
