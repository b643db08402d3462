"""A researcher's own data and network (README: "Your data and your network"): a folder of images
or arrays is a dataset, a Python file of models/ an architecture, each bad one is one line naming
the file with nothing written, and the guide's commands run end to end through DVC."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from longtail import LongtailError
from longtail.data import datasets, folders
from longtail.train import models, trials

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digit_images(per_class: int, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Real images: scikit-learn's digits as 8x8 uint8 [N, 1, 8, 8], `per_class` of each class."""
    x, y = datasets.digits()
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(classes)])
    return x[picked], y[picked]


def write_image_folder(folder: Path, split: str, x: np.ndarray, y: np.ndarray, names=WORDS) -> None:
    """x uint8 [N, C, H, W] as PNG files folder/split/<class name>/<i>.png."""
    for i, (image, label) in enumerate(zip(x, y)):
        path = folder / split / names[label] / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(path)


@pytest.fixture
def pictures(tmp_path):
    """data/raw/pictures: digits as PNGs under word-named class folders, train 12 and test 4 per class."""
    (x_train, y_train), (x_test, y_test) = digit_images(12, 0), digit_images(4, 1)
    folder = tmp_path / "raw" / "pictures"
    write_image_folder(folder, "train", x_train, y_train)
    write_image_folder(folder, "test", x_test, y_test)
    return folder, (x_train, y_train), (x_test, y_test)


def in_sorted_order(x, y, names=WORDS):
    """The examples as the ImageFolder reader orders them: classes by sorted name, files by name."""
    order = sorted(range(len(y)), key=lambda i: (names[y[i]], i))
    rank = {c: r for r, c in enumerate(sorted(range(len(names)), key=lambda c: names[c]))}
    return x[order], np.array([rank[c] for c in y[order]])


def test_an_image_folder_is_a_dataset_its_classes_the_sorted_folder_names(pictures):
    folder, (x_train, y_train), (x_test, y_test) = pictures
    assert folders.layout(folder) == "images" and folders.found(folder.parent) == ["pictures"]
    read = datasets.load("pictures", root=folder.parent)
    assert read["classes"] == 10
    for split, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
        want_x, want_y = in_sorted_order(x, y)
        assert read[f"x_{split}"].dtype == np.uint8 and read[f"x_{split}"].shape == (len(y), 1, 8, 8)
        np.testing.assert_array_equal(read[f"x_{split}"], want_x)
        np.testing.assert_array_equal(read[f"y_{split}"], want_y)
        counts = {name: len(list((folder / split / name).iterdir())) for name in sorted(WORDS)}
        assert np.bincount(read[f"y_{split}"]).tolist() == list(counts.values())


def test_the_same_images_as_arrays_give_the_same_examples(pictures, tmp_path):
    folder, (x_train, y_train), (x_test, y_test) = pictures
    arrays = tmp_path / "raw" / "arrays"
    arrays.mkdir()
    images = datasets.load("pictures", root=folder.parent)
    for split in ("train", "test"):
        np.savez(arrays / f"{split}.npz", x=images[f"x_{split}"], y=images[f"y_{split}"], classes=np.array(sorted(WORDS)))
    assert folders.layout(arrays) == "arrays"
    read = datasets.load("arrays", root=arrays.parent)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(read[key], images[key])
        assert read[key].dtype == images[key].dtype
    assert folders.load(arrays)["classes"] == sorted(WORDS)


def test_rgb_images_and_one_folder_without_test_split_stratified_by_the_seed(tmp_path):
    x, y = digit_images(10, 0, classes=3)
    rgb = np.repeat(x, 3, axis=1)
    rgb[:, 1] //= 2  # three channels that differ
    folder = tmp_path / "raw" / "colour"
    write_image_folder(folder, "train", rgb, y)
    one = datasets.load("colour", root=folder.parent, test_fraction=0.2, seed=3)
    assert one["x_train"].shape[1:] == (3, 8, 8) and len(one["y_test"]) == 6
    assert np.bincount(one["y_test"]).tolist() == [2, 2, 2]  # stratified: 20% of each class's 10
    again = datasets.load("colour", root=folder.parent, test_fraction=0.2, seed=3)
    other = datasets.load("colour", root=folder.parent, test_fraction=0.2, seed=4)
    np.testing.assert_array_equal(one["x_test"], again["x_test"])
    assert not np.array_equal(one["x_test"], other["x_test"])


def test_feature_vectors_are_float_values_taken_as_they_are(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float64)
    y = (x[:, 0] > 0).astype(np.int32)
    folder = tmp_path / "raw" / "table"
    folder.mkdir(parents=True)
    np.savez(folder / "data.npz", x=x, y=y)
    read = datasets.load("table", root=folder.parent, test_fraction=0.25, seed=0)
    assert read["x_train"].dtype == np.float32 and read["x_train"].shape[1:] == (1, 1, 5)
    assert len(read["y_train"]) + len(read["y_test"]) == 60 and 13 <= len(read["y_test"]) <= 17
    assert read["y_train"].dtype == np.int64 and read["classes"] == 2
    merged = np.concatenate([read["x_train"], read["x_test"]]).reshape(60, 5)
    np.testing.assert_allclose(np.sort(merged, axis=0), np.sort(x.astype(np.float32), axis=0))


# --- bad data: one line naming the file ---------------------------------------------------------------

def _png(path: Path, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128).save(path)


def _bad_images(folder: Path, kind: str) -> str:
    """Break the ImageFolder `folder` in one way; return what the line must name."""
    if kind == "size":
        _png(folder / "train" / "one" / "odd.png", size=(9, 8))
        return "odd.png is 9x8 L where"
    if kind == "mode":
        _png(folder / "test" / "two" / "colour.png", mode="RGB")
        return "colour.png is 8x8 RGB where"
    if kind == "mode_palette":
        _png(folder / "train" / "two" / "palette.png", mode="P")
        return "palette.png is a P image"
    if kind == "truncated":
        path = sorted((folder / "train" / "three").iterdir())[-1]
        path.write_bytes(path.read_bytes()[:60])
        return f"{path.name} cannot be read as an image"
    if kind == "not_an_image":
        (folder / "train" / "four" / "notes.png").write_text("not a picture")
        return "notes.png cannot be read as an image"
    if kind == "empty_class":
        (folder / "train" / "zebra").mkdir()
        (folder / "train" / "zebra" / "readme.txt").write_text("no images here")
        return "zebra/ holds no images"
    if kind == "test_classes":
        for path in (folder / "test" / "nine").iterdir():
            path.unlink()
        (folder / "test" / "nine").rmdir()
        return "test/ has classes"
    if kind == "one_class":
        for name in WORDS[1:]:
            for path in (folder / "train" / name).iterdir():
                path.unlink()
            (folder / "train" / name).rmdir()
        return "holds one class folder"
    raise AssertionError(kind)


def _bad_arrays(folder: Path, kind: str) -> str:
    """An npz dataset in `folder` broken in one way; return what the line must name."""
    x = np.random.default_rng(0).integers(0, 256, (20, 1, 4, 4), dtype=np.uint8)
    y = np.arange(20) % 4
    folder.mkdir(parents=True)
    good = {"x": x, "y": y}
    broken = {
        "float_labels": ({"x": x, "y": y.astype(float)}, "y is float64"),
        "negative_label": ({"x": x, "y": y - 1}, "the label -1"),
        "label_beyond_names": ({"x": x, "y": y, "classes": np.array(["a", "b", "c"])}, "the labels reach 3"),
        "lengths": ({"x": x, "y": y[:-1]}, "x holds 20 examples and y 19 labels"),
        "objects": ({"x": np.array([object()] * 20, dtype=object), "y": y}, "holds Python objects"),
        "no_y": ({"x": x}, "lacks y"),
        "nan": ({"x": np.where(x > 128, np.nan, x / 255), "y": y}, "NaN"),
        "int32_pixels": ({"x": x.astype(np.int32), "y": y}, "x is int32"),
        "missing_class": ({"x": x, "y": np.where(y == 2, 3, y)}, "class 2"),
        "one_example_shape": ({"x": x[:, 0, 0, 0], "y": y}, "x is [20]"),
    }
    if kind == "no_test":
        np.savez(folder / "train.npz", **good)
        return "train.npz but no test.npz"
    if kind == "shapes":
        np.savez(folder / "train.npz", **good)
        np.savez(folder / "test.npz", x=x[:, :, :3], y=y)
        return "both must have one shape"
    if kind == "not_npz":
        (folder / "data.npz").write_text("a text file")
        return "not a readable .npz file"
    arrays, said = broken[kind]
    np.savez(folder / "data.npz", **arrays)
    return said


IMAGE_KINDS = ["size", "mode", "mode_palette", "truncated", "not_an_image", "empty_class", "test_classes", "one_class"]
ARRAY_KINDS = ["float_labels", "negative_label", "label_beyond_names", "lengths", "objects", "no_y", "nan",
               "int32_pixels", "missing_class", "one_example_shape", "no_test", "shapes", "not_npz"]


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_a_bad_image_folder_is_one_line_naming_the_file(pictures, kind):
    folder, *_ = pictures
    said = _bad_images(folder, kind)
    with pytest.raises(LongtailError) as error:
        datasets.load("pictures", root=folder.parent)
    line = str(error.value)
    assert said in line and "\n" not in line, line


@pytest.mark.parametrize("kind", ARRAY_KINDS)
def test_a_bad_array_file_is_one_line_naming_the_file(tmp_path, kind):
    folder = tmp_path / "raw" / "table"
    said = _bad_arrays(folder, kind)
    with pytest.raises(LongtailError) as error:
        datasets.load("table", root=folder.parent)
    line = str(error.value)
    assert said in line and str(folder) in line and "\n" not in line, line


def run_stage(project: Path, stage: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, str(root / "stages" / f"{stage}.py")], cwd=project, capture_output=True,
                          text=True)


@pytest.mark.parametrize("kind", ["size", "truncated", "empty_class", "test_classes", "objects", "negative_label"])
def test_prepare_on_bad_data_says_one_line_exits_non_zero_and_writes_nothing(tiny_project, tmp_path, kind):
    project = tmp_path / "project"
    (project / "data" / "raw").mkdir(parents=True)
    if kind in IMAGE_KINDS:
        (x_train, y_train), (x_test, y_test) = digit_images(3, 0), digit_images(1, 1)
        folder = project / "data" / "raw" / "mine"
        write_image_folder(folder, "train", x_train, y_train)
        write_image_folder(folder, "test", x_test, y_test)
        _bad_images(folder, kind)
    else:
        _bad_arrays(project / "data" / "raw" / "mine", kind)
    tiny_project(project, data={"dataset": "mine"})
    result = run_stage(project, "prepare")
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in said, said
    assert [line.startswith("error: ") for line in said.strip().splitlines()] == [True], said
    assert not (project / "data" / "prepared").exists() or not any((project / "data" / "prepared").iterdir())


def test_a_misspelt_dataset_names_the_folders_there_are(pictures):
    folder, *_ = pictures
    with pytest.raises(LongtailError) as error:
        datasets.check_name("pictres", folder.parent)
    line = str(error.value)
    assert line.startswith("unknown data.dataset 'pictres'; choose one of: digits, synthetic, mnist")
    assert "pictures" in line and "did you mean 'pictures'?" in line
    for name in ("../pictures", "pictures/train", ".hidden"):
        with pytest.raises(LongtailError, match="must be a folder's name in"):
            datasets.check_name(name, folder.parent)
    (folder.parent / "stray").mkdir()
    with pytest.raises(LongtailError, match="stray/ holds neither train/<class>/<images>"):
        datasets.check_name("stray", folder.parent)


# --- a network is a file --------------------------------------------------------------------------

GOOD = '''
from torch import nn

def make(in_shape, num_classes, width=1.0):
    h = max(2, round(16 * width))
    return nn.Sequential(nn.Conv2d(in_shape[0], h, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(h * in_shape[1] * in_shape[2], num_classes))

def fixed(in_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes))
'''

BAD = {
    "raises": ("def make(in_shape, num_classes):\n    raise ValueError('too small')\n", "raised ValueError: too small"),
    "not_module": ("def make(in_shape, num_classes):\n    return 3\n", "returned a int, not a torch.nn.Module"),
    "wrong_output": ("from torch import nn\ndef make(in_shape, num_classes):\n    return nn.Flatten()\n",
                     "one example gives [1, 64]; its output must be the logits"),
    "wrong_input": ("from torch import nn\ndef make(in_shape, num_classes):\n    return nn.Linear(3, num_classes)\n",
                    "one example of shape [1, 8, 8] through it raised"),
    "syntax": ("def make(in_shape, num_classes)\n    pass\n", "cannot be imported (SyntaxError"),
}


@pytest.fixture
def network_files(tmp_path, monkeypatch):
    """A project folder (the working directory) with models/good.py and models/<kind>.py of BAD."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "good.py").write_text(GOOD)
    for kind, (text, _) in BAD.items():
        (tmp_path / "models" / f"{kind}.py").write_text(text)
    return tmp_path


def test_a_network_file_builds_checks_its_output_and_takes_glorot_init(network_files):
    model = models.build("models/good.py:make", (1, 8, 8), 10, init="glorot_normal")
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    conv = model[0].weight
    std = (2 / (9 * 1 + 9 * 16)) ** 0.5  # glorot's, truncated to 2 standard deviations
    assert conv.abs().max() <= 2 * std / 0.8796 + 1e-6 and 0.5 * std < conv.std() < 1.5 * std
    thin = models.build("models/good.py:make", (1, 8, 8), 10, width=0.5)
    assert thin[0].out_channels == 8
    with pytest.raises(LongtailError, match="has no thinner version: give its function a `width` argument"):
        models.build("models/good.py:fixed", (1, 8, 8), 10, width=0.5)
    saved = models.checkpoint(model, "models/good.py:make", (1, 8, 8), 10)
    restored = models.restore(saved, "cpu")
    torch.testing.assert_close(restored(torch.ones(2, 1, 8, 8)), model(torch.ones(2, 1, 8, 8)))


@pytest.mark.parametrize("arch, said", [
    ("models/nothere.py:make", "no file models/nothere.py"),
    ("models/good.py:build", "defines no function 'build' (it defines: fixed, make)"),
    ("models/good.py", "a network file is named FILE.py:FUNCTION"),
    ("elsewhere/good.py:make", "must lie in models/"),
    ("models/../models/good.py:make", "must lie in models/"),
    ("models/syntax.py:make", BAD["syntax"][1]),
    ("mlpp", "did you mean 'mlp'?"),
])
def test_a_network_file_that_cannot_be_found_is_one_line_at_the_check(network_files, arch, said):
    with pytest.raises(LongtailError) as error:
        models.check(arch, "trials.arch")
    assert said in str(error.value) and "trials.arch" in str(error.value)


@pytest.mark.parametrize("kind", ["raises", "not_module", "wrong_output", "wrong_input"])
def test_a_network_that_does_not_give_logits_is_one_line_before_it_trains(network_files, kind):
    models.check(f"models/{kind}.py:make")  # exists and defines make: the check stage passes it
    with pytest.raises(LongtailError) as error:
        models.build(f"models/{kind}.py:make", (1, 8, 8), 10)
    assert BAD[kind][1] in str(error.value), str(error.value)


BRANCHY = '''
from torch import nn

class Branchy(nn.Module):
    """Data-dependent control flow: the engine cannot stack it."""
    def __init__(self, d, c):
        super().__init__()
        self.a, self.b = nn.Linear(d, c), nn.Linear(d, c)

    def forward(self, x):
        x = x.flatten(1)
        return self.a(x) if x.sum().item() > 0 else self.b(x)

def make(in_shape, num_classes):
    return Branchy(in_shape[0] * in_shape[1] * in_shape[2], num_classes)
'''


def _trial_data(n=120):
    x, y = datasets.digits()
    x = torch.from_numpy(x[:n]).float() / 255
    return x, torch.from_numpy(y[:n]), x[:40], torch.from_numpy(y[:40])


def test_a_network_file_trains_k_at_a_time_or_one_at_a_time_saying_why(network_files):
    from longtail.train.recipe import Recipe

    (network_files / "models" / "branchy.py").write_text(BRANCHY)
    x, y, xt, yt = _trial_data()
    masks = np.random.default_rng(0).random((4, len(y))) < 0.7
    recipe = Recipe(epochs=3, batch_size=32, lr=0.1, momentum=0.9, weight_decay=0.0, augment=False,
                    schedule="constant", nesterov=False, drop_last=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stackable file trains batched: no fallback warning
        stacked = trials.run_chunk(x, y, xt, yt, masks, [0, 1, 2, 3], arch="models/good.py:make", seed=0,
                                   recipe=recipe, compile="off")
    assert stacked.train_correct.shape == (4, len(y)) and stacked.train_correct.mean() > 0.5
    with pytest.warns(UserWarning, match="cannot be trained K at a time by the batched engine .*: its trials train "
                                         "one at a time"):
        alone = trials.run_chunk(x, y, xt, yt, masks, [0, 1, 2, 3], arch="models/branchy.py:make", seed=0,
                                 recipe=recipe, compile="off")
    assert alone.train_correct.shape == (4, len(y)) and alone.train_correct.mean() > 0.5
    assert alone.curves["train_loss"].shape == (4, 3) and (alone.curves["train_loss"] > 0).all()


# --- the guide's commands, end to end through DVC ---------------------------------------------------

@pytest.mark.slow
def test_the_guide_runs_an_image_folder_and_a_network_file_through_dvc_exp_run(tmp_path):
    """README "Your data and your network": PNGs in word-named class folders and a network file,
    `dvc exp run -S data.dataset=... -S trials.arch=FILE:FUNC ...`, through ttest and report; the
    prepared arrays hold exactly those images; editing the network file makes the network stages stale."""
    import json

    from test_pipeline import ENV, TINY, copy_of_this_repository, dvc, sh

    repo = copy_of_this_repository(tmp_path / "repo", **TINY)
    env = ENV | {"PYTHONPATH": str(repo / "src")}
    (x_train, y_train), (x_test, y_test) = digit_images(16, 0), digit_images(6, 1)
    folder = repo / "data" / "raw" / "pictures"
    write_image_folder(folder, "train", x_train, y_train)
    write_image_folder(folder, "test", x_test, y_test)
    (repo / "models" / "my_net.py").write_text(GOOD)
    sh(repo, "git", "add", "-A", env=env)
    sh(repo, "git", "commit", "-qm", "my data and my network", env=env)
    net = "models/my_net.py:make"
    dvc(repo, "exp", "run", "-S", "data.dataset=pictures", "-S", f"trials.arch={net}", "-S", f"reference.arch={net}",
        "-S", f"consistency.arch={net}", "-S", "compress.method=magnitude", env=env)
    with np.load(repo / "data" / "prepared" / "train.npz") as train, np.load(repo / "data" / "prepared" / "test.npz") as test:
        for prepared, (x, y) in ((train, (x_train, y_train)), (test, (x_test, y_test))):
            want_x, want_y = in_sorted_order(x, y)
            np.testing.assert_array_equal(prepared["x"], want_x)
            np.testing.assert_array_equal(prepared["y"], want_y)
    ttest = json.loads((repo / "metrics" / "ttest.json").read_text())
    assert {"excess", "matched"} <= set(ttest["cie"]) and 0 <= ttest["cie"]["excess"]["p"] <= 1
    assert "pictures" in (repo / "report.md").read_text()
    saved = torch.load(repo / "data" / "reference" / "model.pt", weights_only=True)
    assert saved["arch"] == net
    # The network file is a dep of the stages that build networks, and of nothing else.
    (repo / "models" / "my_net.py").write_text(GOOD + "\n# edited\n")
    stale = set(json.loads(dvc(repo, "status", "--json", env=env)))
    assert {"train_trials", "consistency_trials", "reference", "compress", "reference_population"} <= stale
    assert not stale & {"prepare", "estimate", "ttest", "cie", "fit"}


def test_a_network_file_is_compressed_by_group_sparsity_magnitude_and_int8(network_files):
    from longtail.compress import group_sparsity, magnitude, quantize, size

    torch.manual_seed(0)
    model = models.build("models/good.py:make", (1, 8, 8), 10).eval()
    x = torch.rand(64, 1, 8, 8)
    before = size.footprint(model, (1, 8, 8))
    smaller = group_sparsity.remove_channels(model, (1, 8, 8), 0.5)  # through Torch-Pruning's dependency graph
    assert size.footprint(smaller, (1, 8, 8))["flops"] <= 0.5 * before["flops"]
    assert smaller[0].out_channels < 16 and smaller.eval()(x).shape == (64, 10)
    pruned = magnitude.finalize(magnitude.prune(models.build("models/good.py:make", (1, 8, 8), 10), 0.8))
    assert size.weights_kept(pruned) == pytest.approx(0.2, abs=0.01)
    quantized = quantize.quantize(model, x)
    with torch.no_grad():
        assert (quantized(x) - model(x)).abs().max() < 0.1 * model(x).abs().max()


@pytest.mark.parametrize("arch, stage", [("models/wrong_output.py:make", "train_trials"),
                                         ("models/raises.py:make", "reference"),
                                         ("models/good.py:mkae", "check")])
def test_a_bad_network_stops_its_stage_with_one_line_and_nothing_written(tiny_project, network_files, arch, stage):
    project = tiny_project(network_files, ["prepare"], trials={"arch": arch, "count": 4, "epochs": 1},
                           reference={"arch": arch, "epochs": 1})
    result = run_stage(project, stage)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in said, said
    [line] = [line for line in said.splitlines() if line.startswith("error: ")]
    assert arch in line, line
    assert not any((project / "data" / folder).exists() for folder in ("trials", "reference", "params.checked"))


def test_a_built_in_network_that_cannot_take_the_data_is_one_line_too():
    with pytest.raises(LongtailError, match=r"arch cnn: one example of shape \[1, 1, 5\] through it raised "
                                            r"RuntimeError: .*: choose or write a network that takes inputs "
                                            r"\[batch, 1, 1, 5\]"):
        models.build("cnn", (1, 1, 5), 3)
    assert models.build("mlp", (1, 1, 5), 3)(torch.zeros(2, 1, 1, 5)).shape == (2, 3)  # feature vectors: the MLPs


def test_train_size_test_size_and_flipped_labels_work_on_a_folder_as_on_mnist(tiny_project, tmp_path):
    project = tmp_path / "project"
    folder = project / "data" / "raw" / "table"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("test", 100)):
        x = rng.normal(size=(n, 7)).astype(np.float32)
        np.savez(folder / f"{split}.npz", x=x, y=np.arange(n) % 3)
    tiny_project(project, ["prepare"], data={"dataset": "table", "train_size": 120, "test_size": 60,
                                             "flip_labels": 0.1})
    with np.load(project / "data/prepared/train.npz") as train, np.load(project / "data/prepared/test.npz") as test:
        assert train["x"].shape == (120, 1, 1, 7) and train["x"].dtype == np.float32 and len(test["y"]) == 60
        assert np.bincount(train["y"][~train["flipped"]], minlength=3).min() > 0
        assert train["flipped"].sum() == 12 and np.bincount(test["y"]).tolist() == [20, 20, 20]


def test_an_edited_network_file_never_resumes_the_chunks_of_its_old_version(network_files):
    from longtail.train.recipe import Recipe

    assert models.source("mlp") == ""
    x, y = datasets.digits()
    x, y, xt, yt = x[:60], y[:60], x[60:80], y[60:80]
    masks = np.random.default_rng(0).random((2, len(y))) < 0.7
    recipe = Recipe(epochs=1, batch_size=32, lr=0.1, momentum=0.9, weight_decay=0.0, augment=False,
                    schedule="constant", nesterov=False, drop_last=False)
    store = network_files / "store"
    run = dict(arch="models/good.py:make", seed=0, recipe=recipe, models_per_step=2, device="cpu", store=store,
               shard=0, num_shards=1)
    trials.run_trials(x, y, xt, yt, masks, **run)
    before = models.source("models/good.py:make")
    (network_files / "models" / "good.py").write_text(GOOD.replace("16 * width", "12 * width"))
    assert models.source("models/good.py:make") != before
    trials.run_trials(x, y, xt, yt, masks, **run)
    assert len([p for p in store.iterdir() if p.is_dir()]) == 2  # a store of its own: nothing resumed
