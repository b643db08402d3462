"""The reference recipe: `reference.arch` trained from scratch on the whole training set."""

import numpy as np
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


class Epochs:
    """What each member says of the test examples after every epoch, for the cheap signals of
    analysis.harm (forgetting events, Toneva et al. 2019; early EL2N, Paul et al. 2021): `correct`
    bool and `el2n` float32 (the L2 norm of softmax minus the one-hot label) [members, epochs, n].
    An evaluation pass in eval mode, without gradients: the training itself is unchanged."""

    def __init__(self, x_test: torch.Tensor, y_test: torch.Tensor):
        self.x, self.y, self.members = x_test, y_test, []

    def epoch(self):
        """The on_epoch callback of training.train for a new member."""
        rows = []
        self.members.append(rows)

        def record(epoch: int, model, stats: dict) -> None:
            logits = training.logits(model, self.x)
            onehot = torch.nn.functional.one_hot(self.y, logits.shape[1]).float()
            rows.append((logits.argmax(1) == self.y, (logits.softmax(1) - onehot).norm(dim=1)))

        return record

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.array([[row[k].cpu().numpy() for row in rows] for rows in self.members], dtype)
                for k, (name, dtype) in enumerate((("correct", bool), ("el2n", np.float32)))}


def population(size: int, arch: str, recipe: Recipe, x, y, num_classes: int, seed: int, init: str, curves=None,
               advance=lambda: None, epochs: Epochs | None = None) -> list[dict]:
    """The checkpoints of `size` references (the PIE populations of Hooker et al. 2019), member m
    trained as reference_model trains with its own seed, seeds.member(seed, m), so that the members
    differ in initialisation and data order. curves (a curves.Curves): each member's curve of the
    phase `reference` goes there, one series per member; epochs (an Epochs): each member's test
    predictions after every epoch. advance() after each member."""
    checkpoints = []
    for m in range(size):
        calls = ([curves.epoch("reference")] if curves else []) + ([epochs.epoch()] if epochs else [])
        on_epoch = (lambda *a: [c(*a) for c in calls]) if calls else None
        model = reference_model(arch, recipe, x, y, num_classes, seeds.member(seed, m), init, on_epoch=on_epoch)
        checkpoints.append(models.checkpoint(model, arch, tuple(x.shape[1:]), num_classes))
        advance()
    return checkpoints


def signals(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """The reference's cheap signals of each test example (analysis.harm): `margin`, its label's logit
    minus the largest other, and `loss`, its cross-entropy; float64 [n]."""
    logits = training.logits(model, x)
    margin = training.label_scores(logits, y)["margin"]
    loss = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    return {"margin": margin.double().cpu().numpy(), "loss": loss.double().cpu().numpy()}
