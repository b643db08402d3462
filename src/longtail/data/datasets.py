"""Datasets as uint8 images [N, C, H, W] and int64 labels [N].

`digits` (scikit-learn's bundled 8x8 digits) and `synthetic` need no files. The torchvision sets
are read from their own folder, data/raw/<dataset>/, and downloaded there only when asked. Any other
name is a folder of the user's own, data/raw/<name>/, in one of data/folders.py's two layouts.
"""

import gzip
import hashlib
import io
import math
import os
import pickle
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np

from longtail import LongtailError, seeds
from longtail.checks import choose
from longtail.data import folders
from longtail.data.prepared import CLASSES

Split = tuple[np.ndarray, np.ndarray]


def load(dataset: str, *, root="data/raw", download=False, test_fraction=0.2, seed=0) -> dict[str, np.ndarray]:
    """Train and test arrays: {'x_train', 'y_train', 'x_test', 'y_test'} (+ 'rare_*' for synthetic)."""
    if dataset not in DATASETS:
        return own(dataset, root, test_fraction=test_fraction, seed=seed)
    if dataset == "digits":
        x, y = digits()
        return split(x, y, test_fraction=test_fraction, seed=seed)
    if dataset == "synthetic":
        x, y, rare = synthetic(seed=seed)
        # Stratify on subpopulations (rare ones included) so each rare group lands in both splits.
        return split(x, y, rare=rare, test_fraction=test_fraction, seed=seed)
    if dataset in TORCHVISION:
        (x_train, y_train), (x_test, y_test) = torchvision_splits(dataset, folder_of(dataset, root), download=download)
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    raise AssertionError(f"{dataset} is in DATASETS and read by no branch of load")


def own(dataset: str, root, *, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A user's dataset, the folder root/<dataset> (data/folders.py): its arrays as load returns them,
    a folder without a test split split as digits is, and `classes`, its class count."""
    check_name(dataset, root, "dataset")
    read = folders.load(folder_of(dataset, root))
    if read["x_test"] is None:
        arrays = split(read["x_train"], read["y_train"], test_fraction=test_fraction, seed=seed)
    else:
        arrays = {k: read[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    return arrays | {"classes": len(read["classes"])}


def classes(dataset: str, arrays: dict) -> int:
    """The class count of `dataset`'s labels: a built-in one's, or the folder's own (load's `classes`)."""
    return CLASSES[dataset] if dataset in CLASSES else arrays["classes"]


def check_name(dataset: str, root, key: str = "data.dataset") -> None:
    """A built-in dataset, or a folder of `root` in one of the two layouts; else one line with the
    names there are (and what the folder of that name holds, where there is one)."""
    if Path(dataset).name != dataset or dataset.startswith("."):
        raise LongtailError(f"{key} {dataset!r} must be a folder's name in {root}/ (no /, no leading .): put the "
                            f"dataset in {root}/NAME/ and name it NAME")
    folder = folder_of(dataset, root)
    if dataset in DATASETS or folders.layout(folder):
        return
    choose(key, dataset, list(DATASETS) + folders.found(root),
           also=f", or a folder of your own, {root}/NAME/ (README: Your data and your network)",
           why=folders.describe(folder) if folder.exists() else "")


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
    *, classes=10, common=150, rare_groups=10, rare_size=3, side=8, noise=40.0, overlap=0, seed=0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A long-tailed set: per class one common subpopulation and `rare_groups` tiny ones.

    Every subpopulation is its own random prototype image plus Gaussian noise, so a rare example is
    classified right only by a model that saw (memorized) a sibling from its own subpopulation:
    the situation Feldman (2020) describes. Returns x, y and `rare`: the rare subpopulation id of
    each example, or -1 for the common ones.

    With `overlap` > 0, each pair of neighbouring classes (c, c + 1) also shares one prototype, with
    `overlap` examples of each class around it (`rare` -2): hard by class overlap, which no single
    training example explains, where the rare ones are hard by rarity, which one memorized sibling
    explains (benchmarks/calibration.py plants on the two). They are drawn after everything else, so
    the set without them is the same.
    """
    rng = np.random.default_rng(seed)
    xs, ys, rares = [], [], []

    def draw(prototype, size, label, group):
        images = prototype + rng.normal(0, noise, size=(size, 1, side, side))
        xs.append(np.clip(np.round(images), 0, 255).astype(np.uint8))
        ys.append(np.full(size, label, np.int64))
        rares.append(np.full(size, group, np.int64))

    for c in range(classes):
        groups = [(common, -1)] + [(rare_size, c * rare_groups + g) for g in range(rare_groups)]
        for size, group in groups:
            draw(rng.uniform(0, 255, size=(1, side, side)), size, c, group)
    for c in range(classes if overlap else 0):
        prototype = rng.uniform(0, 255, size=(1, side, side))
        for label in (c, (c + 1) % classes):
            draw(prototype, overlap, label, -2)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(rares)


# Where each torchvision dataset comes from, for the message when its files are missing.
TORCHVISION = {
    "mnist": "MNIST",
    "fashion_mnist": "FashionMNIST",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
}
DATASETS = tuple(CLASSES)  # data.dataset's names: those of the prepared contract (prepared.CLASSES)
assert set(TORCHVISION) <= set(DATASETS), "every dataset has its class count in prepared.CLASSES"


def folder_of(dataset: str, root) -> Path:
    """Where a dataset's files live: a folder of its own under data.root (data/raw/cifar10/, ...),
    which dvc.yaml lists as prepare's dependency (`${data.root}/${data.dataset}`): a replaced file
    reruns prepare, and DVC's run-cache never serves arrays made from other files."""
    return Path(root) / dataset


def torchvision_splits(dataset: str, folder: Path, *, download: bool) -> tuple[Split, Split]:
    """(train, test) of a torchvision dataset, read from its files in `folder` by this module (the
    file names, mirrors and checksums are torchvision's)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION[dataset])
    folder = Path(folder)
    if dataset.startswith("cifar"):
        return _cifar(cls, folder, download=download)
    return _mnist(cls, folder, download=download)


def absent(dataset: str, root) -> str | None:
    """What a torchvision dataset lacks in its folder under `root` to be read without a download,
    as the message that says where to put it; None where nothing is missing (or the dataset reads no
    file). The check stage asks before any stage runs, so that a missing file stops `dvc repro`
    before DVC removes prepare's outputs."""
    if dataset not in TORCHVISION:
        return None
    import torchvision.datasets as tvd

    return _absent(getattr(tvd, TORCHVISION[dataset]), folder_of(dataset, root))


def _absent(cls, folder: Path) -> str | None:
    """absent() for torchvision's class `cls` of the dataset whose folder is `folder`."""
    if hasattr(cls, "base_folder"):  # CIFAR: an archive, or its extracted folder
        if (folder / cls.filename).exists() or (folder / cls.base_folder).is_dir():
            return None
        return (f"{cls.__name__} not found: place {cls.filename} in {folder}/ (from {cls.url}), "
                f"or its extracted folder {folder / cls.base_folder}/, or set data.download: true to fetch it")
    names = [name.removesuffix(".gz") for name, _md5 in cls.resources]
    if missing := [f"{n}.gz" for n in names if not (folder / f"{n}.gz").exists() and not (folder / n).exists()]:
        return (f"{cls.__name__} files not found: place {', '.join(missing)} in {folder}/ "
                f"(from {cls.mirrors[0]}), or set data.download: true to fetch them")
    return None


def _download(urls: list[str], folder: Path, filename: str, md5: str | None) -> None:
    """The file from the first of `urls` that serves it, md5 verified, into folder/: fetched into a
    temporary folder and moved into place whole, so a failed download leaves nothing."""
    from torchvision.datasets.utils import download_url

    folder.mkdir(parents=True, exist_ok=True)
    error = None
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download") as tmp:
        for url in urls:
            try:
                download_url(url, tmp, filename, md5)
                os.replace(Path(tmp) / filename, folder / filename)
                return
            except Exception as e:  # noqa: BLE001 -- a mirror that fails: the next one
                error = e
    raise LongtailError(f"{filename} could not be downloaded ({type(error).__name__}: {error}): place it in {folder}/")


def _mnist(cls, folder: Path, *, download: bool) -> tuple[Split, Split]:
    """MNIST and Fashion-MNIST from their IDX files in folder/ (gzipped as distributed, or unpacked),
    read and checked here: magic numbers, sizes, labels 0..9 and as many as the images."""
    names = [name.removesuffix(".gz") for name, _md5 in cls.resources]
    found = {name: next((p for p in (folder / f"{name}.gz", folder / name) if p.exists()), None) for name in names}
    if download:
        for (filename, md5), name in zip(cls.resources, names):
            if found[name] is None:
                _download([mirror + filename for mirror in cls.mirrors], folder, filename, md5)
                found[name] = folder / filename
    if any(path is None for path in found.values()):
        raise LongtailError(_absent(cls, folder))
    splits = []
    for prefix in ("train", "t10k"):
        images = idx(found[f"{prefix}-images-idx3-ubyte"], dims=3)
        labels = idx(found[f"{prefix}-labels-idx1-ubyte"], dims=1)
        if len(images) != len(labels):
            raise LongtailError(f"{folder}: {prefix} has {len(images)} images and {len(labels)} labels; "
                                "they must be as many")
        if labels.size and labels.max() > 9:
            raise LongtailError(f"{found[f'{prefix}-labels-idx1-ubyte']}: labels must be 0..9, found {labels.max()}")
        splits.append((images[:, None], labels.astype(np.int64)))
    return tuple(splits)


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

    # numpy's arrays and scalars as any protocol pickles them; _codecs.encode is how Python 3 writes
    # bytes at protocols 0 to 2 (a text-to-bytes codec call that runs no code; PyTorch's weights-only
    # unpickler admits it too), so a batch re-pickled at protocol 2 loads.
    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
               *((f"numpy.{core}.{module}", name) for core in ("core", "_core")
                 for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                                      ("numeric", "_frombuffer")))}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR batch never holds")
        return super().find_class(module, name)


def cifar_batch(raw: bytes, name: str) -> dict:
    """One CIFAR batch (a Python 2 or 3 pickle, `name` in messages), loaded without running any code
    from it."""
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise LongtailError(f"{name} is refused: not a CIFAR batch ({e}); put the original file back") from None
    if not isinstance(batch, dict):
        raise LongtailError(f"{name} is refused: a CIFAR batch is a dict, this holds {type(batch).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar(cls, folder: Path, *, download: bool) -> tuple[Split, Split]:
    """CIFAR-10 or -100 from its archive in folder/, read as it is (never extracted to disk, so no
    extracted copy can stand in for another archive), or from its extracted folder where only that is
    there."""
    archive, extracted = folder / cls.filename, folder / cls.base_folder
    if download and not archive.exists() and not extracted.exists():
        _download([cls.url], folder, cls.filename, cls.tgz_md5)
    names = [name for name, _md5 in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    if archive.exists():
        files, digest = archive_members(archive, cls.base_folder, names)
        if digest == cls.tgz_md5:  # the official archive: every batch it holds must be intact
            for name, md5 in cls.train_list + cls.test_list:
                if _md5(files[name]) != md5:
                    raise LongtailError(f"{archive}: its {name} does not match the official md5: the archive is "
                                        "corrupt; put the original back")
        where = lambda name: f"{archive}:{cls.base_folder}/{name}"  # noqa: E731
    elif extracted.is_dir():
        if missing := [n for n in names if not (extracted / n).exists()]:
            raise LongtailError(f"{cls.__name__} folder {extracted}/ lacks {', '.join(missing)}: put the complete "
                                f"folder back, or {cls.filename} beside it")
        files = {name: (extracted / name).read_bytes() for name in names}
        where = lambda name: str(extracted / name)  # noqa: E731
    else:
        raise LongtailError(_absent(cls, folder))
    classes = 100 if cls.__name__ == "CIFAR100" else 10
    return tuple(_cifar_split([name for name, _md5 in listed], files, where, classes)
                 for listed in (cls.train_list, cls.test_list))


def _cifar_split(names: list[str], files: dict[str, bytes], where, classes: int) -> Split:
    xs, ys = [], []
    for name in names:
        # Any file in the format is admitted (a re-pickled copy, a test fixture), official or not:
        # the restricted unpickler, not the checksum, keeps code out.
        batch = cifar_batch(files[name], where(name))
        key = "labels" if "labels" in batch else "fine_labels"
        if "data" not in batch or key not in batch:
            raise LongtailError(f"{where(name)}: a CIFAR batch holds 'data' and 'labels' (or 'fine_labels'); found "
                                f"{sorted(map(str, batch))}")
        images, labels = _array(batch["data"], where(name), "data"), _array(batch[key], where(name), key)
        whole = labels.ndim == 1 and (labels.dtype.kind in "iu" or labels.size == 0)
        if not whole or (labels.size and not 0 <= labels.min() <= labels.max() < classes):
            found = f"{labels.min()}..{labels.max()}" if whole else f"{labels.dtype} {list(labels.shape)}"
            raise LongtailError(f"{where(name)}: {key} must be whole numbers in 0..{classes - 1}, one per image, found "
                                f"{found}; put the original file back")
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072 or len(images) != len(labels):
            raise LongtailError(f"{where(name)}: expected uint8 data [n, 3072] and n labels, found {images.dtype} "
                                f"{list(images.shape)} and {len(labels)} labels; put the original file back")
        xs.append(images.reshape(-1, 3, 32, 32))
        ys.append(labels.astype(np.int64))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _array(value, where: str, key: str) -> np.ndarray:
    """A batch's entry as an array; ragged rows (lists of unequal length) or objects are refused."""
    try:
        array = np.asarray(value)
    except ValueError as e:
        raise LongtailError(f"{where}: its {key!r} is not a rectangular array ({e}); put the original file back") \
            from None
    if array.dtype == object:
        raise LongtailError(f"{where}: its {key!r} holds Python objects, not numbers; put the original file back")
    return array


def _md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def archive_members(archive: Path, folder: str, names: list[str]) -> tuple[dict[str, bytes], str]:
    """The files folder/<name> of a tar archive, read in memory, and the archive's md5 (from the
    same single read). The archive must hold only regular files and folders inside `folder` (no
    absolute paths, no `..`, no links, no devices): anything else is not a dataset's archive."""
    try:
        raw = archive.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            members = tar.getmembers()
            for m in members:
                inside = Path(m.name).parts[:1] == (folder,) and ".." not in Path(m.name).parts
                if not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or not inside:
                    raise LongtailError(f"{archive} is refused: member {m.name!r} is "
                                        + ("not a plain file or folder" if not (m.isfile() or m.isdir())
                                           else f"outside {folder}/") + "; a CIFAR archive holds only its folder")
            files = {Path(m.name).relative_to(folder).as_posix(): m for m in members if m.isfile()}
            if missing := [n for n in names if n not in files]:
                raise LongtailError(f"{archive} lacks {folder}/{', '.join(missing)}: is it the right archive?")
            return {name: tar.extractfile(files[name]).read() for name in names}, _md5(raw)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise LongtailError(f"{archive} cannot be read ({type(e).__name__}: {e}): it is not a complete "
                            f"tar.gz archive; put the original {archive.name} back") from None
