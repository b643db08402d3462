"""The contract of data/prepared/{train,test}.npz, in one place: prepare checks what it writes,
and every stage checks what it reads (artifacts.load_prepared)."""

import numpy as np

from longtail import LongtailError

# Each built-in dataset of data.dataset, the one place its name is written, and its classes: a
# prepared label must lie in [0, classes). A folder of data.root is a dataset too (data/folders.py),
# its classes its own.
CLASSES = {"digits": 10, "synthetic": 10, "mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}
MAX_CLASSES = max(CLASSES.values())


def check(train: dict, test: dict, where: str, classes: int = MAX_CLASSES) -> None:
    """The contract of data/prepared/{train,test}.npz, checked where prepare writes it and where
    every stage reads it: x uint8 [N, C, H, W] (pixels) or float32 (a user's values, as they are),
    y int64 [N] in [0, classes), as many labels as
    images, the same image shape in both splits, at least two classes, and `rare`, `flipped` (where
    present) bool [N]. Raises one LongtailError naming `where` and what is wrong."""
    shapes = {}
    for split, arrays in (("train", train), ("test", test)):
        x, y = arrays["x"], arrays["y"]
        name = f"{where}: {split}"
        if x.dtype not in (np.uint8, np.float32) or x.ndim != 4:
            raise LongtailError(f"{name} images must be uint8 [N, C, H, W] (pixels 0..255) or float32 [N, C, H, W], "
                                f"found {x.dtype} {list(x.shape)}")
        if y.dtype != np.int64 or y.ndim != 1:
            raise LongtailError(f"{name} labels must be int64 [N], found {y.dtype} {list(y.shape)}")
        if len(x) != len(y) or not len(y):
            raise LongtailError(f"{name} has {len(x)} images and {len(y)} labels: they must be as many, and not 0")
        if y.min() < 0 or y.max() >= classes:
            raise LongtailError(f"{name} labels must lie in 0..{classes - 1}, found {y.min()}..{y.max()}")
        for key in ("rare", "flipped"):
            if key in arrays and (arrays[key].dtype != bool or arrays[key].shape != y.shape):
                raise LongtailError(f"{name} `{key}` must be bool [{len(y)}], found {arrays[key].dtype} "
                                    f"{list(arrays[key].shape)}")
        shapes[split] = x.shape[1:]
    if shapes["train"] != shapes["test"]:
        raise LongtailError(f"{where}: train images are {list(shapes['train'])} and test images {list(shapes['test'])}: "
                            "both splits must have one image shape")
    if len(np.unique(train["y"])) < 2:
        raise LongtailError(f"{where}: the training labels hold {len(np.unique(train['y']))} class; at least 2 are needed")
