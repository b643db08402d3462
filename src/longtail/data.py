"""Datasets as uint8 images [N, C, H, W] and int64 labels [N].

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` need no files. The torchvision sets
read data/raw/ and download only when asked.
"""

import gzip
import hashlib
import math
import os
import pickle
import shutil
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np

from longtail import LongtailError, seeds

Split = tuple[np.ndarray, np.ndarray]


def load(dataset: str, *, root="data/raw", download=False, test_fraction=0.2, seed=0) -> dict[str, np.ndarray]:
    """Train and test arrays: {'x_train', 'y_train', 'x_test', 'y_test'} (+ 'rare_*' for synthetic)."""
    if dataset == "digits":
        x, y = digits()
        return split(x, y, test_fraction=test_fraction, seed=seed)
    if dataset == "synthetic":
        x, y, rare = synthetic(seed=seed)
        # Stratify on subpopulations (rare ones included) so each rare group lands in both splits.
        return split(x, y, rare=rare, test_fraction=test_fraction, seed=seed)
    if dataset in TORCHVISION:
        (x_train, y_train), (x_test, y_test) = (
            torchvision_split(dataset, Path(root), train=t, download=download) for t in (True, False)
        )
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    raise LongtailError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")


def subset(arrays: dict[str, np.ndarray], split: str, size: int | None, seed: int, dataset: str) -> dict:
    """`arrays` (as load returns them) with split `split` (train or test) cut to a stratified subset
    of `size` examples, all of them where size is None: each class keeps its share (floors, the
    remainder to the largest fractional parts), the examples drawn from (seed, SUBSET, 0 or 1),
    kept in the dataset's order."""
    if size is None:
        return arrays
    y = arrays[f"y_{split}"]
    key = f"data.{split}_size"
    if size > len(y):
        raise LongtailError(f"{key} = {size} is more than the {len(y)} {split} examples of {dataset}: lower it, "
                            "or set it to null to take them all")
    classes, counts = np.unique(y, return_counts=True)
    if size < len(classes):
        raise LongtailError(f"{key} = {size} is fewer than the {len(classes)} classes of {dataset}: a stratified "
                            f"subset needs at least one example of each; raise it")
    quota = size * counts / len(y)
    take = np.floor(quota).astype(int)
    take[np.argsort(-(quota - take), kind="stable")[: size - take.sum()]] += 1
    rng = np.random.default_rng([seed, seeds.SUBSET, 0 if split == "train" else 1])
    chosen = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                                     for c, k in zip(classes, take)]))
    return arrays | {k: v[chosen] for k, v in arrays.items() if k.endswith(f"_{split}")}


def split(x, y, *, rare=None, test_fraction=0.2, seed=0) -> dict[str, np.ndarray]:
    """Deterministic stratified split by class, and by subpopulation where `rare` is given.

    Every stratum of two or more examples lands in both splits, so each rare subpopulation of the
    synthetic set has a test example whose siblings are in the training set.
    """
    strata = y if rare is None else np.where(rare >= 0, y.max() + 1 + rare, y)
    rng = np.random.default_rng(seed)
    test = []
    for s in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == s))
        test.extend(members[: min(len(members) - 1, max(1, round(test_fraction * len(members))))])
    is_test = np.zeros(len(y), bool)
    is_test[test] = True
    out = {"x_train": x[~is_test], "y_train": y[~is_test], "x_test": x[is_test], "y_test": y[is_test]}
    if rare is not None:
        out |= {"rare_train": rare[~is_test] >= 0, "rare_test": rare[is_test] >= 0}
    return out


def digits() -> Split:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are 0..16; scale to the full uint8 range like every other dataset.
    x = np.round(bunch.images * (255 / 16)).astype(np.uint8)[:, None]
    return x, bunch.target.astype(np.int64)


def synthetic(
    *, classes=10, common=150, rare_groups=10, rare_size=3, side=8, noise=40.0, seed=0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A long-tailed set: per class one common subpopulation and `rare_groups` tiny ones.

    Every subpopulation is its own random prototype image plus Gaussian noise, so a rare example is
    classified right only by a model that saw (memorized) a sibling from its own subpopulation:
    the situation Feldman (2020) describes. Returns x, y and `rare`: the rare subpopulation id of
    each example, or -1 for the common ones.
    """
    rng = np.random.default_rng(seed)
    xs, ys, rares = [], [], []
    for c in range(classes):
        groups = [(common, -1)] + [(rare_size, c * rare_groups + g) for g in range(rare_groups)]
        for size, group in groups:
            prototype = rng.uniform(0, 255, size=(1, side, side))
            images = prototype + rng.normal(0, noise, size=(size, 1, side, side))
            xs.append(np.clip(np.round(images), 0, 255).astype(np.uint8))
            ys.append(np.full(size, c, np.int64))
            rares.append(np.full(size, group, np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(rares)


# Where each torchvision dataset comes from, for the message when its files are missing.
TORCHVISION = {
    "mnist": "MNIST",
    "fashion_mnist": "FashionMNIST",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
}
DATASETS = ("digits", "synthetic", *TORCHVISION)


def torchvision_split(dataset: str, root: Path, *, train: bool, download: bool) -> Split:
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION[dataset])
    if dataset.startswith("cifar"):
        return _cifar(cls, root, train=train, download=download)
    return _mnist(cls, root, train=train, download=download)


def _mnist(cls, root: Path, *, train: bool, download: bool) -> Split:
    """MNIST and Fashion-MNIST from their IDX files (gzipped as distributed, or unpacked), read and
    checked here: magic numbers, sizes, labels 0..9 and as many as the images."""
    raw = root / cls.__name__ / "raw"
    if download:
        cls(str(root), train=train, download=True)  # fetches and verifies the official files
    names = [name.removesuffix(".gz") for name, _md5 in cls.resources]
    found = {name: next((p for p in (raw / f"{name}.gz", raw / name) if p.exists()), None) for name in names}
    if missing := [f"{name}.gz" for name, path in found.items() if path is None]:
        raise LongtailError(
            f"{cls.__name__} files not found: place {', '.join(missing)} in {raw}/ "
            f"(from {cls.mirrors[0]}), or set data.download: true to fetch them"
        )
    prefix = "train" if train else "t10k"
    images = idx(found[f"{prefix}-images-idx3-ubyte"], dims=3)
    labels = idx(found[f"{prefix}-labels-idx1-ubyte"], dims=1)
    if len(images) != len(labels):
        raise LongtailError(f"{raw}: {prefix} has {len(images)} images and {len(labels)} labels; they must be as many")
    if labels.size and labels.max() > 9:
        raise LongtailError(f"{found[f'{prefix}-labels-idx1-ubyte']}: labels must be 0..9, found {labels.max()}")
    return images[:, None], labels.astype(np.int64)


def idx(path: Path, dims: int) -> np.ndarray:
    """An IDX file of unsigned bytes with `dims` dimensions (LeCun's format: two zero bytes, type
    0x08, the number of dimensions, big-endian uint32 sizes, then the data); .gz is decompressed."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise LongtailError(f"{path} is not a readable gzip file ({e}): put the original file back") from None
    if len(raw) < 4 + 4 * dims or raw[:3] != b"\x00\x00\x08" or raw[3] != dims:
        raise LongtailError(f"{path} is not an IDX file of {dims}-d unsigned bytes (its first bytes are "
                            f"{raw[:4].hex() or 'missing'}, expected 000008{dims:02x}): put the original file back")
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    body = raw[4 + 4 * dims :]
    if len(body) != math.prod(shape):
        raise LongtailError(f"{path} holds {len(body)} bytes of data where its header {list(shape)} says "
                            f"{math.prod(shape)}: it is truncated or corrupt; put the original file back")
    return np.frombuffer(body, np.uint8).reshape(shape).copy()


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR batches are pickled dicts of bytes, lists, ints and numpy arrays: any other global a
    pickle names (os.system, say) would run code, so none is admitted."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.numeric", "_frombuffer"),
               ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR batch never holds")
        return super().find_class(module, name)


def cifar_batch(path: Path) -> dict:
    """One CIFAR batch (a Python 2 or 3 pickle), loaded without running any code from it."""
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise LongtailError(f"{path} is refused: not a CIFAR batch ({e}); put the original file back") from None
    if not isinstance(batch, dict):
        raise LongtailError(f"{path} is refused: a CIFAR batch is a dict, this holds {type(batch).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar(cls, root: Path, *, train: bool, download: bool) -> Split:
    folder = root / cls.base_folder
    archive = root / cls.filename
    if download and not folder.exists():
        cls(str(root), train=train, download=True)  # fetches the official archive, md5 verified
    if not folder.exists():
        if not archive.exists():
            raise LongtailError(
                f"{cls.__name__} not found: place {cls.filename} in {root}/ (from {cls.url}), "
                f"or its extracted folder {folder}/, or set data.download: true to fetch it"
            )
        extract(archive, root, cls.base_folder)
        if _md5(archive) == cls.tgz_md5:  # the official archive: every file it held must be intact
            for name, md5 in cls.train_list + cls.test_list:
                if _md5(folder / name) != md5:
                    shutil.rmtree(folder)
                    raise LongtailError(f"{folder / name} does not match the official md5 of {cls.filename}: the "
                                        "extraction is corrupt; check the disk and run again")
    listed = cls.train_list if train else cls.test_list
    names = [name for name, _md5 in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    if missing := [n for n in names if not (folder / n).exists()]:
        raise LongtailError(f"{cls.__name__} folder {folder}/ lacks {', '.join(missing)}: re-extract {cls.filename}")
    xs, ys = [], []
    for name, _md5sum in listed:
        # Any file in the format is admitted (a re-pickled copy, a test fixture), official or not:
        # the restricted unpickler, not the checksum, keeps code out.
        path = folder / name
        batch = cifar_batch(path)
        key = "labels" if "labels" in batch else "fine_labels"
        if "data" not in batch or key not in batch:
            raise LongtailError(f"{path}: a CIFAR batch holds 'data' and 'labels' (or 'fine_labels'); found "
                                f"{sorted(map(str, batch))}")
        images, labels = np.asarray(batch["data"]), np.asarray(batch[key])
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072 or len(images) != len(labels):
            raise LongtailError(f"{path}: expected uint8 data [n, 3072] and n labels, found {images.dtype} "
                                f"{list(images.shape)} and {len(labels)} labels")
        xs.append(images.reshape(-1, 3, 32, 32))
        ys.append(labels.astype(np.int64))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract(archive: Path, root: Path, folder: str) -> None:
    """Extract `folder` of the tar archive into root/: only regular files and folders, none outside
    the target (no absolute paths, no `..`, no links, no devices), into a temporary folder renamed
    into place when complete, so a failed extraction leaves nothing behind."""
    tmp = root / f".{folder}.partial{os.getpid()}"
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in members:
                inside = Path(m.name).parts[:1] == (folder,) and ".." not in Path(m.name).parts
                if not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or not inside:
                    raise LongtailError(f"{archive} is refused: member {m.name!r} is "
                                        + ("not a plain file or folder" if not (m.isfile() or m.isdir())
                                           else f"outside {folder}/") + "; a CIFAR archive holds only its folder")
            tar.extractall(tmp, members=members, filter="data")
        if not (tmp / folder).is_dir():
            raise LongtailError(f"{archive} does not hold {folder}/: is it the right archive?")
        os.replace(tmp / folder, root / folder)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise LongtailError(f"{archive} cannot be extracted ({type(e).__name__}: {e}): it is not a complete "
                            f"tar.gz archive; put the original {archive.name} back") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
