"""Bad files as a careless (or hostile) user leaves them: corrupt artifacts and prepared arrays that
break the contract. Each gives one clear message and exit status 2, never a traceback, and writes
nothing."""

import gzip
import io
import os
import pickle
import struct
import subprocess
import tarfile

import numpy as np
import pytest

from longtail import LongtailError
from longtail.data import datasets, prepared
from longtail.artifacts import load_npy, load_prepared
from test_data import write_cifar, write_mnist


def good():
    arrays = datasets.load("digits")
    return ({"x": arrays["x_train"], "y": arrays["y_train"]}, {"x": arrays["x_test"], "y": arrays["y_test"]})


def save(folder, train, test):
    folder.mkdir(parents=True, exist_ok=True)
    for name, arrays in (("train", train), ("test", test)):
        np.savez_compressed(folder / f"{name}.npz", **arrays)


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def flip_a_byte(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], flip_a_byte, lambda b: b"", lambda b: bytes(range(256)) * 4],
                         ids=["truncated", "bit-flipped", "empty", "random bytes"])
def test_a_corrupt_prepared_file_says_so_and_what_to_rerun(tmp_path, damage):
    train, test = good()
    save(tmp_path / "data/prepared", train, test)
    path = tmp_path / "data/prepared/train.npz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(LongtailError, match=r"train.npz is corrupt or not a .npz file .*`dvc repro --force prepare`"):
        load_prepared(tmp_path / "data/prepared")


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY\x01\x00garbage", b"PK\x03\x04 an npz"], ids=["empty", "bad header", "not npy"])
def test_a_corrupt_array_says_so_and_names_the_stage(tmp_path, content):
    path = tmp_path / "data/trials/test_correct.npy"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(LongtailError, match=r"test_correct.npy is corrupt or not a .npy file.*--force train_trials"):
        load_npy(path)


def truncated_npy(tmp_path):
    path = tmp_path / "data/influence/influence.npy"
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros((50, 50), np.float32))
    path.write_bytes(path.read_bytes()[:-400])
    return path


@pytest.mark.parametrize("mmap", [False, True])
def test_a_truncated_array_says_so(tmp_path, mmap):
    with pytest.raises(LongtailError, match=r"influence.npy is corrupt .*--force estimate"):
        load_npy(truncated_npy(tmp_path), mmap=mmap)


def broken(case):
    train, test = good()
    if case == "float64 images":
        train["x"] = train["x"] / 255.0
    elif case == "2-d images":
        train["x"], test["x"] = train["x"].reshape(len(train["x"]), -1), test["x"].reshape(len(test["x"]), -1)
    elif case == "negative label":
        train["y"] = train["y"].copy()
        train["y"][3] = -1
    elif case == "fractional labels":
        train["y"] = train["y"] + 0.5
    elif case == "1000 classes":
        test["y"] = test["y"].copy()
        test["y"][0] = 999
    elif case == "lengths":
        train["y"] = train["y"][:-5]
    elif case == "image shapes":
        test["x"] = np.zeros((len(test["y"]), 1, 28, 28), np.uint8)
    elif case == "one class":
        train["y"] = np.zeros_like(train["y"])
    elif case == "flipped":
        train["flipped"] = np.zeros(3, bool)
    return train, test


CASES = {
    "float64 images": r"train images must be uint8 \[N, C, H, W\] \(pixels 0..255\) or float32 \[N, C, H, W\], found float64",
    "2-d images": r"train images must be uint8 \[N, C, H, W\] .* found uint8 \[1438, 64\]",
    "negative label": r"train labels must lie in 0..99, found -1..9",
    "fractional labels": r"train labels must be int64 \[N\], found float64",
    "1000 classes": r"test labels must lie in 0..99, found 0..999",
    "lengths": r"train has 1438 images and 1433 labels",
    "image shapes": r"train images are \[1, 8, 8\] and test images \[1, 28, 28\]",
    "one class": r"the training labels hold 1 class; at least 2 are needed",
    "flipped": r"train `flipped` must be bool \[1438\], found bool \[3\]",
}


@pytest.mark.parametrize("case", CASES)
def test_prepared_arrays_that_break_the_contract_are_refused_on_read(tmp_path, case):
    save(tmp_path / "data/prepared", *broken(case))
    with pytest.raises(LongtailError, match=CASES[case]):
        load_prepared(tmp_path / "data/prepared")


def test_prepare_checks_what_it_writes_against_the_datasets_classes():
    train, test = good()
    test["y"] = test["y"].copy()
    test["y"][0] = 10
    with pytest.raises(LongtailError, match=r"digits: test labels must lie in 0..9, found 0..10"):
        prepared.check(train, test, "digits", classes=prepared.CLASSES["digits"])


@pytest.mark.parametrize("stage", ["train_trials", "reference", "reference_population"])
def test_a_stage_given_bad_prepared_arrays_stops_with_one_line_and_writes_nothing(root, python, tmp_path, stage):
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    save(tmp_path / "data/prepared", *broken("float64 images"))
    result = subprocess.run([python, str(root / "stages" / f"{stage}.py")], cwd=tmp_path, capture_output=True, text=True)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr, said
    assert said.startswith("error: data/prepared/ (rerun the prepare stage") and "found float64" in said
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["params.yaml", "test.npz", "train.npz"]


# --- raw datasets: hostile and broken files in their real formats ---------------------------------




class Payload:
    """A pickle that runs code when loaded: os.system creating a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_cifar_batch_carrying_code_is_refused_and_the_code_never_runs(tmp_path):
    write_cifar(tmp_path / "raw")
    marker = tmp_path / "ran"
    with open(tmp_path / "raw/cifar10/cifar-10-batches-py/data_batch_2", "wb") as f:
        pickle.dump({"data": Payload(marker), "labels": [0]}, f)
    with pytest.raises(LongtailError, match=r"data_batch_2 is refused: not a CIFAR batch \(it names posix.system"):
        datasets.load("cifar10", root=tmp_path / "raw")
    assert not marker.exists()


def test_the_prepare_stage_refuses_the_payload_too_and_writes_nothing(root, python, tmp_path):
    write_cifar(tmp_path / "data/raw")
    marker = tmp_path / "ran"
    with open(tmp_path / "data/raw/cifar10/cifar-10-batches-py/test_batch", "wb") as f:
        pickle.dump(Payload(marker), f, protocol=2)
    params = (root / "params.yaml").read_text().replace("  dataset: digits", "  dataset: cifar10", 1)
    (tmp_path / "params.yaml").write_text(params)
    result = subprocess.run([python, str(root / "stages/prepare.py")], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "test_batch is refused" in " ".join(result.stderr.split())
    assert not marker.exists() and not (tmp_path / "data/prepared").exists()


def tarball(path, members, root):
    """A gzipped tar of (arcname, source path or None for a symlink to /etc/passwd)."""
    with tarfile.open(path, "w:gz") as tar:
        for arcname, source in members:
            if source is None:
                info = tarfile.TarInfo(arcname)
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                tar.add(source, arcname=arcname)


@pytest.mark.parametrize("bad, message", [
    ("../outside", "member '../outside' is outside cifar-10-batches-py/"),
    ("/tmp/absolute", "is outside cifar-10-batches-py/"),
    ("cifar-10-batches-py/../../escape", "is outside cifar-10-batches-py/"),
    ("link", "member 'cifar-10-batches-py/link' is not a plain file or folder"),
])
def test_an_archive_member_outside_its_folder_or_a_link_is_refused_and_nothing_is_written(tmp_path, bad, message):
    write_cifar(tmp_path / "source")
    source = tmp_path / "source/cifar10"
    raw = tmp_path / "data/raw"
    (raw / "cifar10").mkdir(parents=True)
    extra = ("cifar-10-batches-py/link", None) if bad == "link" else (bad, source / "cifar-10-batches-py/batches.meta")
    tarball(raw / "cifar10/cifar-10-python.tar.gz", [("cifar-10-batches-py", source / "cifar-10-batches-py"), extra],
            source)
    with pytest.raises(LongtailError, match=message):
        datasets.load("cifar10", root=raw)
    assert sorted(p.name for p in (raw / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]  # nothing extracted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "source"]  # nothing beside data/


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "cannot be read"),
    (lambda b: b"this is not an archive", "cannot be read"),
    (lambda b: gzip.decompress(b)[:5000], "cannot be read"),  # a truncated tar that is not gzipped
])
def test_a_broken_tarball_leaves_nothing_and_the_good_one_then_loads(tmp_path, damage, message):
    written = write_cifar(tmp_path / "source")
    source = tmp_path / "source/cifar10"
    raw = tmp_path / "raw"
    (raw / "cifar10").mkdir(parents=True)
    archive = raw / "cifar10/cifar-10-python.tar.gz"
    tarball(archive, [("cifar-10-batches-py", source / "cifar-10-batches-py")], source)
    good = archive.read_bytes()
    archive.write_bytes(damage(good))
    with pytest.raises(LongtailError, match=message):
        datasets.load("cifar10", root=raw)
    assert sorted(p.name for p in (raw / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]
    archive.write_bytes(good)  # the user puts the original back: it just works
    np.testing.assert_array_equal(datasets.load("cifar10", root=raw)["x_test"], written["test_batch"][0])


def idx_bytes(array, magic=None) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) if magic is None else magic
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("file, content, message", [
    ("train-images-idx3-ubyte.gz", gzip.compress(idx_bytes(np.zeros((5, 28, 28)), magic=b"\x00\x00\x08\x01")),
     r"is not an IDX file of 3-d unsigned bytes \(its first bytes are 00000801, expected 00000803\)"),
    ("train-images-idx3-ubyte.gz", gzip.compress(idx_bytes(np.zeros((5, 28, 28)))[:1000]), "it is truncated or corrupt"),
    ("train-images-idx3-ubyte.gz", gzip.compress(b""), "its first bytes are missing"),
    ("train-images-idx3-ubyte.gz", b"", "its first bytes are missing"),
    ("train-labels-idx1-ubyte.gz", b"plain text, not gzip", "is not a readable gzip file"),
    ("train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(3))), "train has 5 images and 3 labels"),
    ("train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.array([0, 1, 200, 3, 4]))), "labels must be 0..9, found 200"),
], ids=["labels' magic for images", "truncated", "empty gzip", "empty file", "not gzip", "counts disagree", "label 200"])
def test_broken_mnist_files_say_what_is_wrong(tmp_path, file, content, message):
    write_mnist(tmp_path)
    (tmp_path / "mnist" / file).write_bytes(content)
    with pytest.raises(LongtailError, match=message):
        datasets.load("mnist", root=tmp_path)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        f"{s}-{k}-idx{d}-ubyte.gz" for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1)))


def test_unpacked_mnist_files_load_too(tmp_path):
    written = write_mnist(tmp_path)
    for path in (tmp_path / "mnist").iterdir():
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    np.testing.assert_array_equal(datasets.load("mnist", root=tmp_path)["y_test"], written["t10k"][1])


def test_a_negative_chunk_rows_is_refused_before_any_work(root, python, tmp_path):
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    result = subprocess.run([python, str(root / "stages/estimate.py"), "--chunk-rows", "-1"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: --chunk-rows = -1 is out of range; it must satisfy 0 <= --chunk-rows" in " ".join(result.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 3), np.int64), r"test_correct.npy: expected dtype bool, found int64: rerun .*--force train_trials"),
    (np.zeros(3, bool), r"test_correct.npy: expected 2 dimensions, found shape \[3\]: rerun"),
    (np.array([object()] * 3), r"test_correct.npy is corrupt or not a .npy file \(ValueError: Object arrays"),
])
def test_a_trial_array_of_the_wrong_kind_names_the_stage_to_rerun(tmp_path, array, message):
    path = tmp_path / "data/trials/test_correct.npy"
    path.parent.mkdir(parents=True)
    np.save(path, array, allow_pickle=True)
    with pytest.raises(LongtailError, match=message):
        load_npy(path, dtype=bool, ndim=2)


def rewrite_batch(path, protocol=pickle.HIGHEST_PROTOCOL, **changes):
    """The CIFAR batch at `path` pickled again with `changes` to its entries."""
    with open(path, "rb") as f:
        batch = pickle.load(f)
    with open(path, "wb") as f:
        pickle.dump(batch | changes, f, protocol=protocol)


@pytest.mark.parametrize("changes, message", [
    ({"labels": [0, 1, 2, 10, 4, 5]}, r"data_batch_3: labels must be whole numbers in 0..9, one per image, found 0..10"),
    ({"labels": [0, 1, -1, 3, 4, 5]}, r"data_batch_3: labels must be whole numbers in 0..9, one per image, found -1..5"),
    ({"labels": [0.5] * 6}, r"labels must be whole numbers in 0..9, one per image, found float64 \[6\]"),
    ({"labels": ["cat"] * 6}, r"labels must be whole numbers in 0..9, one per image, found <U3 \[6\]"),
    ({"data": np.zeros((6, 3000), np.uint8)}, r"data_batch_3: expected uint8 data \[n, 3072\] and n labels, found "
                                              r"uint8 \[6, 3000\] and 6 labels"),
    ({"data": [[0] * 3072] * 5 + [[0] * 3071]}, r"data_batch_3: its 'data' is not a rectangular array"),
    ({"data": np.zeros((5, 3072), np.uint8)}, r"found uint8 \[5, 3072\] and 6 labels"),
], ids=["label 10", "label -1", "fractional labels", "text labels", "short rows", "ragged rows", "counts disagree"])
def test_a_cifar_batch_of_the_wrong_content_names_the_file_and_what_is_wrong(tmp_path, changes, message):
    write_cifar(tmp_path)
    rewrite_batch(tmp_path / "cifar10/cifar-10-batches-py/data_batch_3", **changes)
    with pytest.raises(LongtailError, match=message):
        datasets.load("cifar10", root=tmp_path)


def test_a_cifar100_label_beyond_its_100_classes_is_refused(tmp_path):
    write_cifar(tmp_path, "cifar100")
    rewrite_batch(tmp_path / "cifar100/cifar-100-python/test", fine_labels=[0, 99, 100, 1, 2, 3])
    with pytest.raises(LongtailError, match=r"test: fine_labels must be whole numbers in 0..99, one per image, found 0..100"):
        datasets.load("cifar100", root=tmp_path)


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_a_cifar_batch_repacked_at_any_protocol_with_numpy_labels_loads(tmp_path, protocol):
    # Python 3 pickles bytes at protocols 0 to 2 through _codecs.encode, and numpy scalars through
    # multiarray.scalar: neither runs code, and a user who repacks a subset so must be able to read it.
    written = write_cifar(tmp_path)
    labels = [np.int64(v) for v in written["data_batch_2"][1]]
    rewrite_batch(tmp_path / "cifar10/cifar-10-batches-py/data_batch_2", protocol=protocol, labels=labels,
                  batch_label=b"training batch 2 of 5")
    arrays = datasets.load("cifar10", root=tmp_path)
    np.testing.assert_array_equal(arrays["x_train"][6:12], written["data_batch_2"][0])
    assert arrays["y_train"][6:12].tolist() == written["data_batch_2"][1]


def test_an_idx_header_that_counts_more_images_than_it_holds_is_refused(tmp_path):
    write_mnist(tmp_path)
    images = idx_bytes(np.zeros((5, 28, 28)))
    claimed = images[:4] + struct.pack(">3I", 6, 28, 28) + images[16:]  # says 6 images, holds 5
    (tmp_path / "mnist/train-images-idx3-ubyte.gz").write_bytes(gzip.compress(claimed))
    with pytest.raises(LongtailError, match=r"holds 3920 bytes of data where its header \[6, 28, 28\] says 4704"):
        datasets.load("mnist", root=tmp_path)


def test_after_a_refused_file_the_good_one_gives_prepare_the_bytes_of_a_run_that_never_failed(root, python, tmp_path):
    def prepare(folder):
        result = subprocess.run([python, str(root / "stages/prepare.py")], cwd=folder, capture_output=True, text=True)
        return result.returncode, " ".join(result.stderr.split())

    params = (root / "params.yaml").read_text().replace("  dataset: digits", "  dataset: cifar10", 1)
    clean, failed = tmp_path / "clean", tmp_path / "failed"
    for folder in (clean, failed):
        write_cifar(folder / "data/raw")
        (folder / "params.yaml").write_text(params)
    assert prepare(clean)[0] == 0
    batch = failed / "data/raw/cifar10/cifar-10-batches-py/test_batch"
    good = batch.read_bytes()
    rewrite_batch(batch, labels=[0, 1, 2, 3, 4, 11])
    code, said = prepare(failed)
    assert code == 2 and said.count("error: ") == 1 and "labels must be whole numbers in 0..9" in said, said
    assert not (failed / "data/prepared").exists()
    batch.write_bytes(good)
    assert prepare(failed)[0] == 0
    for name in ("train.npz", "test.npz"):
        assert (failed / "data/prepared" / name).read_bytes() == (clean / "data/prepared" / name).read_bytes()
