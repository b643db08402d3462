"""The training recipe of the tests that train by hand: train.recipe.Recipe has no defaults (every
value of a run comes from params.yaml), so the tests write theirs here once."""

from longtail.train.recipe import Recipe

# SGD with Nesterov momentum 0.9, weight decay 5e-4, a linear decay, full batches only, no augmentation
USUAL = dict(momentum=0.9, weight_decay=5e-4, augment=False, schedule="linear", nesterov=True, drop_last=True)


def recipe(*, epochs: int, batch_size: int, lr: float, **knobs) -> Recipe:
    """A Recipe of `epochs`, `batch_size` and `lr`, the other knobs USUAL's unless given."""
    return Recipe(epochs=epochs, batch_size=batch_size, lr=lr, **(USUAL | knobs))
