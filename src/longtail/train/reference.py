"""The reference recipe: `reference.arch` trained from scratch on the whole training set."""

import torch

from longtail import seeds
from longtail.train import models, training
from longtail.train.recipe import Recipe


def reference_model(arch: str, recipe: Recipe, x, y, num_classes: int, seed: int, init: str,
                    on_epoch=None) -> torch.nn.Module:
    """`arch` trained from scratch on all of (x, y) with `recipe`; its
    initialisation (`init`, one of models.INITS) and data order come from `seed` alone (the
    REFERENCE streams; a PIE member passes seeds.member(seed, m)). on_epoch: training.train's."""
    torch.manual_seed(seeds.derive(seed, seeds.REFERENCE, 0))
    model = models.build(arch, tuple(x.shape[1:]), num_classes, init=init).to(x.device)
    return training.train(model, x, y, recipe, generator=seeds.generator(seed, seeds.REFERENCE, 1),
                          on_epoch=on_epoch)


def population(size: int, arch: str, recipe: Recipe, x, y, num_classes: int, seed: int, init: str, curves=None,
               advance=lambda: None) -> list[dict]:
    """The checkpoints of `size` references (the PIE populations of Hooker et al. 2019), member m
    trained as reference_model trains with its own seed, seeds.member(seed, m), so that the members
    differ in initialisation and data order. curves (a curves.Curves): each member's curve of the
    phase `reference` goes there, one series per member. advance() after each member."""
    checkpoints = []
    for m in range(size):
        on_epoch = None if curves is None else curves.epoch("reference")
        model = reference_model(arch, recipe, x, y, num_classes, seeds.member(seed, m), init, on_epoch=on_epoch)
        checkpoints.append(models.checkpoint(model, arch, tuple(x.shape[1:]), num_classes))
        advance()
    return checkpoints
