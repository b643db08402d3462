"""Datasets as uint8 images [N, C, H, W] and int64 labels [N].

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` need no files. The torchvision sets
read data/raw/ and download only when asked.
"""

from pathlib import Path

import numpy as np

from longtail import LongtailError

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
    raw = root / cls.__name__ / "raw"
    if not download:
        # torchvision reads the decompressed idx files; unpack any .gz archives the user placed.
        from torchvision.datasets.utils import extract_archive

        for name, _md5 in cls.resources:
            gz, plain = raw / name, raw / name.removesuffix(".gz")
            if gz.exists() and not plain.exists():
                extract_archive(str(gz), str(raw))
        missing = [n for n, _ in cls.resources if not (raw / n.removesuffix(".gz")).exists()]
        if missing:
            raise LongtailError(
                f"{cls.__name__} files not found: place {', '.join(missing)} in {raw}/ "
                f"(from {cls.mirrors[0]}), or set data.download: true to fetch them"
            )
    ds = cls(str(root), train=train, download=download)
    return ds.data.numpy()[:, None].astype(np.uint8), ds.targets.numpy().astype(np.int64)


def _cifar(cls, root: Path, *, train: bool, download: bool) -> Split:
    folder = root / cls.base_folder
    archive = root / cls.filename
    if not download and not folder.exists():
        if not archive.exists():
            raise LongtailError(
                f"{cls.__name__} not found: place {cls.filename} in {root}/ (from {cls.url}), "
                f"or its extracted folder {folder}/, or set data.download: true to fetch it"
            )
        from torchvision.datasets.utils import extract_archive

        extract_archive(str(archive), str(root))
    names = [name for name, _md5 in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    if not download and (missing := [n for n in names if not (folder / n).exists()]):
        raise LongtailError(f"{cls.__name__} folder {folder}/ lacks {', '.join(missing)}: re-extract {cls.filename}")
    if not download:
        # torchvision pins the md5 of each official file, which rejects any other file in the same
        # format (a re-pickled copy, a test fixture); without the sums it checks presence, and
        # loading checks the format.
        cls = type(cls.__name__, (cls,), {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
        })
    ds = cls(str(root), train=train, download=download)
    x = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2), dtype=np.uint8)
    return x, np.asarray(ds.targets, dtype=np.int64)
