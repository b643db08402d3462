"""The training recipe, written once: the value params.yaml's `trials`, `reference` and `compress`
sections give (params.schema.Recipe extends it with their checks) and training.train and
engine.train_stacked take whole, so that no default in their signatures can reach an output."""

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and weight decay over `epochs` passes of batches of `batch_size`."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    augment: bool  # random crops (padding 4) and horizontal flips, for CIFAR
    schedule: str  # linear: the learning rate decays to zero; constant: it stays lr
    nesterov: bool  # Nesterov's momentum, or plain (heavy-ball) momentum
    drop_last: bool  # drop each epoch's partial last batch, or train on it too

    def settings(self) -> dict:
        """Each knob by its name (what the trials' chunk store fingerprints)."""
        return {f.name: getattr(self, f.name) for f in fields(Recipe)}


def of(section) -> Recipe:
    """The Recipe of a params section (a params.schema.Recipe or a view that extends it)."""
    return Recipe(**{f.name: getattr(section, f.name) for f in fields(Recipe)})
