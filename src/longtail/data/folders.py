"""A researcher's own dataset: any folder data/raw/NAME/ (under data.root) is the dataset NAME, in one
of two layouts, recognised by what the folder holds:

  images  torchvision's ImageFolder layout, train/<class>/<image> and test/<class>/<image> (PNG,
          JPEG, BMP, GIF, TIFF, WebP); without test/, train/ is split by data.test_fraction,
          stratified, by the seed. The classes are the folder names, sorted as ImageFolder sorts
          them; every image of the dataset must have one size and one mode (grayscale or RGB).
  arrays  train.npz and test.npz, or one data.npz split as above, each with `x` (uint8 pixels, or
          float values taken as they are; [N, C, H, W], [N, H, W] images or [N, D] feature vectors)
          and `y` (integer labels 0..C-1), optionally `classes` (their names), read without pickle.

Everything is checked here, where the files are read, so a bad file is named in one line before any
stage writes: see `load`. Pure reading, no writing."""

import zipfile
from pathlib import Path

import numpy as np

from longtail import LongtailError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")  # ImageFolder's, less .pgm/.ppm
MODES = {"L": 1, "RGB": 3}  # the modes an image may have, and its channels
ARRAYS = ("train.npz", "test.npz", "data.npz")


def layout(folder: Path) -> str | None:
    """'images' or 'arrays' by what `folder` holds; None where it is neither."""
    if (folder / "train").is_dir():
        return "images"
    if (folder / "data.npz").is_file() or (folder / "train.npz").is_file():
        return "arrays"
    return None


def found(root) -> list[str]:
    """The folders of `root` that hold a dataset in one of the two layouts."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and layout(p)) if root.is_dir() else []


def describe(folder: Path) -> str:
    """Why `folder` is not a dataset, for the one line of a misspelt or empty dataset."""
    if not folder.is_dir():
        return f"no folder {folder}/"
    return (f"{folder}/ holds neither train/<class>/<images> (ImageFolder) nor train.npz and test.npz "
            "(or data.npz)")


def load(folder: Path) -> dict:
    """{'x_train', 'y_train', 'x_test', 'y_test'} of the dataset in `folder` (x_test None where it
    has no test split: the caller splits train), and 'classes', its class names."""
    kind = layout(folder)
    if kind == "images":
        return _images(folder)
    if kind == "arrays":
        return _arrays(folder)
    raise LongtailError(describe(folder))


# --- images ------------------------------------------------------------------------------------------

def _images(folder: Path) -> dict:
    train = _class_folders(folder / "train")
    test = _class_folders(folder / "test") if (folder / "test").is_dir() else None
    if test is not None and list(test) != list(train):
        raise LongtailError(f"{folder}/test/ has classes {list(test)} and {folder}/train/ has {list(train)}: "
                            "both must hold the same class folders")
    classes = list(train)
    first = next(iter(train.values()))[0]
    shape = {}  # the first image's (size, mode): every other must match it
    out = {"classes": classes}
    for split, files in (("train", train), ("test", test)):
        if files is None:
            out |= {"x_test": None, "y_test": None}
            continue
        xs, ys = [], []
        for label, (name, paths) in enumerate(files.items()):
            for path in paths:
                xs.append(_image(path, shape, first))
                ys.append(label)
        out |= {f"x_{split}": np.stack(xs), f"y_{split}": np.array(ys, np.int64)}
    return out


def _class_folders(split: Path) -> dict[str, list[Path]]:
    """{class name: its image files, sorted}, the classes sorted as torchvision's ImageFolder sorts them."""
    classes = sorted(p.name for p in split.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise LongtailError(f"{split}/ holds no class folders: put each class's images in {split}/<class>/")
    out = {}
    for name in classes:
        images = sorted(p for p in (split / name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise LongtailError(f"{split / name}/ holds no images ({', '.join(IMAGE_SUFFIXES)}): add its images or "
                                "remove the folder")
        out[name] = images
    if len(out) < 2:
        raise LongtailError(f"{split}/ holds one class folder ({classes[0]}); at least 2 classes are needed")
    return out


def _image(path: Path, shape: dict, first: Path) -> np.ndarray:
    """One image as uint8 [C, H, W], read with Pillow (as torchvision's ImageFolder reads it) and
    fully decoded, so a truncated file fails here; its size and mode must be the first image's."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode, size = image.mode, image.size
            if mode not in MODES:
                raise LongtailError(f"{path} is a {mode} image: every image must be grayscale (L) or RGB; "
                                    "convert it")
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise LongtailError(f"{path} cannot be read as an image ({type(e).__name__}: {e}): replace or remove it") \
            from None
    if not shape:
        shape.update(size=size, mode=mode)
    elif (size, mode) != (shape["size"], shape["mode"]):
        raise LongtailError(f"{path} is {size[0]}x{size[1]} {mode} where {first} is {shape['size'][0]}x"
                            f"{shape['size'][1]} {shape['mode']}: every image of a dataset must have one size "
                            "and mode; resize or convert it")
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


# --- arrays ------------------------------------------------------------------------------------------

def _arrays(folder: Path) -> dict:
    if (folder / "train.npz").is_file():
        if not (folder / "test.npz").is_file():
            raise LongtailError(f"{folder}/ has train.npz but no test.npz: add it, or name the one file data.npz "
                                "to have it split by data.test_fraction")
        parts = {split: _npz(folder / f"{split}.npz") for split in ("train", "test")}
    else:
        parts = {"train": _npz(folder / "data.npz"), "test": None}
    train, test = parts["train"], parts["test"]
    if test is not None and train["x"].shape[1:] != test["x"].shape[1:]:
        raise LongtailError(f"{folder}/train.npz x is {list(train['x'].shape[1:])} per example and test.npz's "
                            f"{list(test['x'].shape[1:])}: both must have one shape")
    if test is not None and train["x"].dtype.kind != test["x"].dtype.kind:
        raise LongtailError(f"{folder}/train.npz x is {train['x'].dtype} and test.npz's {test['x'].dtype}: "
                            "both must be uint8 pixels or both float values")
    labels = max(int(p["y"].max()) for p in parts.values() if p is not None) + 1
    names = next((p["classes"] for p in parts.values() if p is not None and p["classes"] is not None), None)
    if names is not None and len(names) < labels:
        raise LongtailError(f"{folder}: `classes` names {len(names)} classes but the labels reach {labels - 1}: "
                            "name every class, or leave `classes` out")
    classes = list(names) if names is not None else [str(c) for c in range(labels)]
    if absent := sorted(set(range(len(classes))) - set(train["y"].tolist())):
        raise LongtailError(f"{folder}: no training example has the label of class {absent[0]} "
                            f"({classes[absent[0]]})" + (f" nor of {len(absent) - 1} others" if len(absent) > 1 else "")
                            + ": labels must be 0..C-1, each class with training examples")
    return {"classes": classes, "x_train": train["x"], "y_train": train["y"],
            "x_test": None if test is None else test["x"], "y_test": None if test is None else test["y"]}


def _npz(path: Path) -> dict:
    """x as [N, C, H, W] (uint8, or float32 values), y int64 [N], classes (or None) of one npz file."""
    if not zipfile.is_zipfile(path):  # np.load would take any other file for a pickle
        raise LongtailError(f"{path} is not a readable .npz file: save it with np.savez(path, x=..., y=...)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            held = {k: arrays[k] for k in arrays.files}
    except ValueError as e:  # allow_pickle=False refuses object arrays
        raise LongtailError(f"{path} holds Python objects ({e}): save x and y as numeric arrays "
                            "(np.savez(path, x=..., y=...))") from None
    except (OSError, EOFError) as e:
        raise LongtailError(f"{path} is not a readable .npz file ({e}): save it with np.savez") from None
    if missing := [k for k in ("x", "y") if k not in held]:
        raise LongtailError(f"{path} lacks {', '.join(missing)} (it holds {', '.join(sorted(held)) or 'nothing'}): "
                            "save it with np.savez(path, x=..., y=...)")
    x, y = held["x"], held["y"]
    if x.dtype.kind not in "uif" or (x.dtype.kind in "ui" and x.dtype != np.uint8):
        raise LongtailError(f"{path}: x is {x.dtype}; it must be uint8 pixels (0..255) or float values")
    if x.ndim not in (2, 3, 4) or not len(x):
        raise LongtailError(f"{path}: x is {list(x.shape)}; it must be [N, C, H, W] or [N, H, W] images, or [N, D] "
                            "feature vectors, N > 0")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise LongtailError(f"{path}: x holds {int((~np.isfinite(x)).sum())} NaN or infinite values: remove or "
                            "impute them")
    if y.ndim != 1 or y.dtype.kind not in "ui":
        raise LongtailError(f"{path}: y is {y.dtype} {list(y.shape)}; it must be integer labels [N]")
    if len(y) != len(x):
        raise LongtailError(f"{path}: x holds {len(x)} examples and y {len(y)} labels: they must be as many")
    if y.min() < 0:
        raise LongtailError(f"{path}: y holds the label {int(y.min())}; labels must be 0..C-1")
    classes = held.get("classes")
    if classes is not None and (classes.ndim != 1 or classes.dtype.kind not in "US"):
        raise LongtailError(f"{path}: classes is {classes.dtype} {list(classes.shape)}; it must be the class names, "
                            "strings [C]")
    shaped = x.reshape(len(x), 1, 1, -1) if x.ndim == 2 else x[:, None] if x.ndim == 3 else x
    values = shaped if x.dtype == np.uint8 else shaped.astype(np.float32)
    return {"x": np.ascontiguousarray(values), "y": y.astype(np.int64),
            "classes": None if classes is None else [str(c) for c in classes]}
