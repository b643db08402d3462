"""Datasets: the offline ones, and the torchvision path read from small files in the real formats."""

import gzip
import pickle
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from longtail import LongtailError
from longtail.data import datasets


def test_digits_are_uint8_images_with_a_deterministic_stratified_split():
    a = datasets.load("digits", test_fraction=0.2, seed=0)
    b = datasets.load("digits", test_fraction=0.2, seed=0)
    assert a["x_train"].dtype == np.uint8 and a["x_train"].shape[1:] == (1, 8, 8)
    assert a["y_train"].dtype == np.int64 and len(a["x_train"]) + len(a["x_test"]) == 1797
    assert len(a["x_test"]) == pytest.approx(0.2 * 1797, abs=10)
    assert a["x_train"].max() == 255
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    train_share = np.bincount(a["y_train"]) / len(a["y_train"])
    test_share = np.bincount(a["y_test"]) / len(a["y_test"])
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    assert not np.array_equal(datasets.load("digits", seed=1)["y_test"], a["y_test"])


def test_synthetic_rare_subpopulations_land_in_both_splits():
    x, y, rare = datasets.synthetic(seed=0)
    assert x.dtype == np.uint8 and rare.dtype == np.int64
    assert 0 < (rare >= 0).mean() < 0.2  # the tail is a minority
    split = datasets.split(rare[:, None], y, rare=rare, test_fraction=0.2, seed=0)  # carry group ids as x
    groups = set(np.unique(rare[rare >= 0]))
    assert set(split["x_train"][split["rare_train"], 0]) == groups
    assert set(split["x_test"][split["rare_test"], 0]) == groups


def test_unknown_dataset_names_the_choices():
    with pytest.raises(LongtailError, match="unknown dataset 'imagenet'; choose one of: digits, synthetic, mnist"):
        datasets.load("imagenet")


# --- CIFAR: pickled batches, as in cifar-10-python.tar.gz ---------------------------------------------


def write_cifar(root, name="cifar10", n=6, seed=0):
    """Tiny CIFAR files in the real format, extracted in root/<name>/ (the dataset's folder): pickled
    dicts with 'data' [n, 3072] uint8 (RRR..GGG..BBB)."""
    rng = np.random.default_rng(seed)
    root = root / name
    if name == "cifar10":
        folder, label_key = root / "cifar-10-batches-py", "labels"
        batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        meta = ("batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    else:
        folder, label_key = root / "cifar-100-python", "fine_labels"
        batches = ["train", "test"]
        meta = ("meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    folder.mkdir(parents=True)
    written = {}
    for batch in batches:
        images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / batch, "wb") as f:
            pickle.dump({"data": images.reshape(n, -1), label_key: labels}, f)
        written[batch] = (images, labels)
    with open(folder / meta[0], "wb") as f:
        pickle.dump(meta[1], f)
    return written


def write_cifar_archive(root, name="cifar10", n=6, seed=0):
    """The same files packed as the distributed archive, root/<name>/<archive name>, and nothing else."""
    written = write_cifar(root / ".source", name, n, seed)
    folder, (archive, inner) = root / name, {"cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py"),
                                             "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python")}[name]
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / archive, "w:gz") as tar:
        tar.add(root / ".source" / name / inner, arcname=inner)
    shutil.rmtree(root / ".source")
    return written


def test_cifar10_loads_from_the_extracted_folder_through_torchvision(tmp_path):
    written = write_cifar(tmp_path)
    (x, y), (xt, yt) = datasets.torchvision_splits("cifar10", tmp_path / "cifar10", download=False)
    assert x.shape == (30, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:6], written["data_batch_1"][0])  # channels first, pixels intact
    assert y[:6].tolist() == written["data_batch_1"][1]
    np.testing.assert_array_equal(xt, written["test_batch"][0])


def test_a_cifar10_archive_is_read_as_it_is_never_extracted(tmp_path):
    written = write_cifar_archive(tmp_path)
    arrays = datasets.load("cifar10", root=tmp_path)
    np.testing.assert_array_equal(arrays["x_test"], written["test_batch"][0])
    assert [p.name for p in (tmp_path / "cifar10").iterdir()] == ["cifar-10-python.tar.gz"]  # nothing written


def test_the_archive_and_not_an_extracted_copy_beside_it_is_read(tmp_path):
    # An extracted folder of another archive must never stand in for the archive the user placed.
    write_cifar(tmp_path, seed=1)  # an old extraction
    written = write_cifar_archive(tmp_path, seed=2)
    np.testing.assert_array_equal(datasets.load("cifar10", root=tmp_path)["x_train"][:6], written["data_batch_1"][0])


def test_cifar100_loads_fine_labels(tmp_path):
    written = write_cifar_archive(tmp_path, "cifar100")
    (x, y), _ = datasets.torchvision_splits("cifar100", tmp_path / "cifar100", download=False)
    np.testing.assert_array_equal(x, written["train"][0])
    assert y.tolist() == written["train"][1]


def test_missing_cifar_names_the_file_and_where_it_comes_from(tmp_path):
    with pytest.raises(LongtailError, match=r"place cifar-10-python\.tar\.gz in .*/cifar10/ \(from https://www\.cs\.toronto\.edu"):
        datasets.load("cifar10", root=tmp_path)


def test_an_incomplete_cifar_folder_names_the_missing_batch(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "cifar10/cifar-10-batches-py/data_batch_3").unlink()
    with pytest.raises(LongtailError, match="lacks data_batch_3"):
        datasets.load("cifar10", root=tmp_path)


# --- MNIST: IDX files, gzipped as distributed ---------------------------------------------------------


def write_idx(path, array):
    """IDX: zero bytes, type 0x08 (ubyte), the number of dimensions, big-endian sizes, then the data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist(root, dataset="mnist", n=5, seed=0):
    """Tiny MNIST files in the real format (gzipped IDX, as distributed) in root/<dataset>/."""
    raw = root / dataset
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split in ("train", "t10k"):
        images, labels = rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n)
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels)
        written[split] = (images, labels)
    return written


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_mnist_style_gz_files_load_through_torchvision(tmp_path, dataset):
    written = write_mnist(tmp_path, dataset)
    arrays = datasets.load(dataset, root=tmp_path)
    assert arrays["x_train"].shape == (5, 1, 28, 28) and arrays["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(arrays["x_train"][:, 0], written["train"][0])
    np.testing.assert_array_equal(arrays["y_test"], written["t10k"][1])


def test_missing_mnist_names_the_files_and_the_mirror(tmp_path):
    with pytest.raises(LongtailError, match=r"place train-images-idx3-ubyte\.gz.* in .*/mnist/ \(from https://"):
        datasets.load("mnist", root=tmp_path)


def test_a_subset_keeps_each_class_share_is_seeded_and_keeps_the_dataset_order():
    full = datasets.load("digits", seed=0)
    cut = datasets.subset(full, "train", 500, seed=0, dataset="digits")
    y, y_full = cut["y_train"], full["y_train"]
    assert len(y) == len(cut["x_train"]) == 500
    np.testing.assert_allclose(np.bincount(y) / 500, np.bincount(y_full) / len(y_full), atol=1 / 500 + 1e-9)
    np.testing.assert_array_equal(cut["y_test"], full["y_test"])  # the other split untouched
    # every image of the subset is one of the full set's, in the same order
    rows = [np.flatnonzero((full["x_train"] == x).all(axis=(1, 2, 3)))[0] for x in cut["x_train"][:50]]
    assert rows == sorted(rows)
    again = datasets.subset(full, "train", 500, seed=0, dataset="digits")
    np.testing.assert_array_equal(again["x_train"], cut["x_train"])
    assert not np.array_equal(datasets.subset(full, "train", 500, seed=1, dataset="digits")["x_train"], cut["x_train"])
    assert datasets.subset(full, "train", None, seed=0, dataset="digits") is full
    odd = datasets.subset(full, "test", 37, seed=0, dataset="digits")  # shares that do not divide evenly
    assert len(odd["y_test"]) == 37 and len(set(odd["y_test"])) == 10


@pytest.mark.parametrize("size, message", [
    (10 ** 6, r"data.train_size = 1000000 is more than the \d+ train examples of digits: lower it, or set it to null"),
    (5, "data.train_size = 5 is fewer than the 10 classes of digits"),
])
def test_a_subset_larger_than_the_data_or_smaller_than_its_classes_is_refused(size, message):
    with pytest.raises(LongtailError, match=message):
        datasets.subset(datasets.load("digits"), "train", size, seed=0, dataset="digits")


def test_prepare_cuts_real_mnist_files_to_the_asked_sizes(tmp_path, tiny_project):
    write_mnist(tmp_path / "data/raw", n=60)
    project = tiny_project(tmp_path, ("prepare",), data={"dataset": "mnist", "train_size": 30, "test_size": 20})
    with np.load(project / "data/prepared/train.npz") as train, np.load(project / "data/prepared/test.npz") as test:
        assert train["x"].shape == (30, 1, 28, 28) and len(test["y"]) == 20 and len(train["flipped"]) == 30


@pytest.mark.parametrize("value, message", [(0, "data.train_size = 0 is out of range; it must satisfy 1 <= data.train_size"),
                                            (2.5, "data.train_size = 2.5 must be of type int"),
                                            (10 ** 6, "data.train_size = 1000000 is more than the")])
def test_bad_subset_sizes_stop_prepare_with_what_to_fix(tmp_path, tiny_project, root, python, value, message):
    project = tiny_project(tmp_path, (), data={"train_size": value})
    result = subprocess.run([python, str(root / "stages/prepare.py")], cwd=project, capture_output=True, text=True)
    assert result.returncode == 2 and message in " ".join(result.stderr.split())
    assert not (project / "data/prepared").exists()


def test_download_fills_the_dataset_folder_and_a_failed_one_leaves_nothing(tmp_path, monkeypatch):
    # No network here: torchvision's download_url is replaced by a server of local files in the real
    # format, whose first mirror fails midway (a partial file written, then an error).
    import torchvision.datasets.utils as utils

    served = write_mnist(tmp_path / "server")

    def download_url(url, root, filename, md5=None, mirror_works=lambda url: "ossci" not in url):
        (Path(root) / filename).write_bytes(b"partial")
        if not mirror_works(url):
            raise OSError("connection reset")
        shutil.copy(tmp_path / "server/mnist" / filename, Path(root) / filename)

    monkeypatch.setattr(utils, "download_url", download_url)
    arrays = datasets.load("mnist", root=tmp_path, download=True)  # the first mirror fails, the second serves
    np.testing.assert_array_equal(arrays["y_test"], served["t10k"][1])
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        f"{s}-{k}-idx{d}-ubyte.gz" for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1)))
    monkeypatch.setattr(utils, "download_url", lambda *args, **kw: download_url(*args, mirror_works=lambda url: False))
    with pytest.raises(LongtailError, match=r"train-images-idx3-ubyte.gz could not be downloaded \(OSError: connection"):
        datasets.load("mnist", root=tmp_path / "offline", download=True)
    assert list((tmp_path / "offline/mnist").iterdir()) == []  # no partial file, no temporary folder


@pytest.fixture
def mnist_server(tmp_path):
    """A local HTTP server of MNIST-format files (tmp_path/server/mnist/): its address, and the files."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    served = write_mnist(tmp_path / "server")
    handler = functools.partial(Quiet, directory=str(tmp_path / "server/mnist"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served
    server.shutdown()
    server.server_close()


def test_a_download_is_md5_checked_and_a_file_that_fails_it_is_refused_leaving_nothing(tmp_path, mnist_server,
                                                                                      monkeypatch):
    # torchvision's own download_url against a local server: the md5 of each file is checked.
    import hashlib

    import torchvision.datasets as tvd

    url, served = mnist_server
    files = sorted((tmp_path / "server/mnist").iterdir())
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in files}
    monkeypatch.setattr(tvd.MNIST, "mirrors", [url])
    monkeypatch.setattr(tvd.MNIST, "resources", [(name, md5[name]) for name, _ in tvd.MNIST.resources])
    arrays = datasets.load("mnist", root=tmp_path / "good", download=True)
    np.testing.assert_array_equal(arrays["y_test"], served["t10k"][1])
    # The server now holds a file whose md5 is not the published one (a corrupt mirror, a swapped file).
    labels = tmp_path / "server/mnist/t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-1] + b"\x09"))
    with pytest.raises(LongtailError, match=r"t10k-labels-idx1-ubyte.gz could not be downloaded \(RuntimeError: File "
                                            r"not found or corrupted"):
        datasets.load("mnist", root=tmp_path / "bad", download=True)
    assert "t10k-labels-idx1-ubyte.gz" not in [p.name for p in (tmp_path / "bad/mnist").iterdir()]
    assert not list((tmp_path / "bad/mnist").glob(".download*"))  # no temporary folder left
