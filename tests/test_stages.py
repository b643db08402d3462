"""The stage scripts as a user runs them: --help, and bad inputs that stop with a message, exit
status 2 and no output written."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from longtail.train import curves, trials

STAGES = ["check", "prepare", "train_trials", "fit", "estimate", "reference", "compress", "cie", "ttest", "reference_population",
          "populations", "pie", "consistency", "report"]
COMMANDS = ["preset", "compare", "dispatch", "deps", "verify"]  # the `longtail` console script's


def run_stage(root, python, stage, *args, cwd=None):
    return subprocess.run([python, str(root / "stages" / f"{stage}.py"), *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_help(root, python, stage):
    result = run_stage(root, python, stage, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout


def test_every_command_has_help_from_any_folder_of_the_project(root, python):
    listed = subprocess.run([python, "-m", "longtail", "--help"], capture_output=True, text=True, cwd=root / "data")
    assert listed.returncode == 0 and all(command in listed.stdout for command in COMMANDS)
    for command in COMMANDS:
        result = subprocess.run([python, "-m", "longtail", command, "--help"], capture_output=True, text=True,
                                cwd=root / "src")
        assert result.returncode == 0 and "Usage" in result.stdout, command
    # run from a subfolder, `longtail deps --check` finds the project's dvc.yaml
    checked = subprocess.run([python, "-m", "longtail", "deps", "--check"], capture_output=True, text=True,
                             cwd=root / "stages")
    assert checked.returncode == 0, checked.stderr


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_project):
    """Tiny params, with prepare and reference run once: the inputs of the stages under test."""
    return tiny_project(tmp_path_factory.mktemp("prepared"), ("prepare", "reference"),
                        trials={"count": 3, "epochs": 2}, reference={"epochs": 2},
                        compress={"epochs": 1, "sparsify_epochs": 1})


@pytest.fixture
def workdir(tmp_path, prepared):
    shutil.copytree(prepared, tmp_path, dirs_exist_ok=True)
    return tmp_path


def set_param(workdir, section, key, value):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params[section][key] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def files(path) -> dict[str, str]:
    """Every file under `path`, by content: an output rewritten in place differs, not only a new one."""
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stage, section, key, value, message", [
    ("prepare", "data", "dataset", "imagenet", "unknown data.dataset 'imagenet'"),
    ("prepare", "data", "dataset", "cifar10", "place cifar-10-python.tar.gz in data/raw/"),
    ("prepare", "data", "flip_labels", 0.7, "data.flip_labels = 0.7 is out of range; it must satisfy 0 <= "),
    ("prepare", "data", "flip_labels", -0.05, "data.flip_labels = -0.05 is out of range"),
    ("prepare", "data", "flip_labels", "half", "data.flip_labels = 'half' must be of type float"),
    ("train_trials", "trials", "schedule", "cosine", "unknown trials.schedule 'cosine'; choose one of: linear, constant"),
    ("train_trials", "trials", "init", "xavier", "unknown trials.init 'xavier'"),
    ("reference", "reference", "nesterov", "no", "reference.nesterov = 'no' must be of type bool"),
    ("train_trials", "trials", "subset_ratio", 1.5, "trials.subset_ratio = 1.5 is out of range"),
    ("train_trials", "trials", "count", 1, "trials.count = 1 is out of range"),
    ("train_trials", "trials", "until", "reliabilty >= 0.9", "unknown trials.until's measure 'reliabilty'"),
    ("train_trials", "trials", "until", "se_high >= 0.05", "so the rule is 'se_high <= <value>'"),
    ("train_trials", "trials", "until", 0.9, "trials.until = 0.9 must be of type str"),
    ("estimate", "estimate", "target", "margins", "unknown estimate.target 'margins'; choose one of: correct, "
                                                   "probability, margin (did you mean 'margin'?)"),
    ("estimate", "estimate", "holdout", 0.7, "estimate.holdout = 0.7 is out of range"),
    ("compress", "compress", "loss", "fcoal", "unknown compress.loss 'fcoal'; choose one of: ce, focal"),
    ("compress", "compress", "method", "quantize", "compress.method quantize is post-training, with no fine-tuning"),
    ("compress", "compress", "target_flops", 0.0, "compress.target_flops = 0.0 is out of range"),
])
def test_bad_params_stop_before_any_output(root, python, workdir, stage, section, key, value, message):
    before = files(workdir)
    set_param(workdir, section, key, value)
    before["params.yaml"] = files(workdir)["params.yaml"]  # the edit; nothing else may change
    result = run_stage(root, python, stage, cwd=workdir)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert files(workdir) == before  # nothing new, nothing half-written


@pytest.mark.parametrize("section, key, value, message", [
    ("data", "dataset", "imagenet-xyz", "unknown data.dataset 'imagenet-xyz'; choose one of: digits, synthetic, mnist"),
    ("trials", "arch", "resnet2O", "unknown trials.arch 'resnet2O'; choose one of: mlp, mlp512, cnn, resnet20"),
    ("trials", "epoch", 3, "unknown param trials.epoch; did you mean 'epochs'?"),
    ("ttest", "statistic", "max_influense", "(did you mean 'max_influence'?)"),
    ("estimate", "target", "Margin", "(did you mean 'margin'?)"),
    ("data", "root", "data/rawx", "data.dataset synthetic: its folder data/rawx/synthetic/ is missing"),
    ("data", "dataset", "mnist", "MNIST files not found: place train-images-idx3-ubyte.gz, "),
    ("data", "dataset", "cifar100", "CIFAR100 not found: place cifar-100-python.tar.gz in data/raw/cifar100/"),
])
def test_the_check_stage_refuses_a_bad_name_in_any_section_and_writes_nothing(root, python, workdir, section, key,
                                                                               value, message):
    for dataset in ("synthetic", "mnist", "cifar100"):  # their folders, as in git: a README, no data
        (workdir / "data/raw" / dataset).mkdir(parents=True)
    before = files(workdir)
    set_param(workdir, section, key, value)
    before["params.yaml"] = files(workdir)["params.yaml"]
    result = run_stage(root, python, "check", cwd=workdir)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr and said.count("error: ") == 1, said
    assert message in said
    assert files(workdir) == before


def test_the_check_stage_passes_good_params_with_an_output_that_never_changes(root, python, workdir):
    (workdir / "data/raw/synthetic").mkdir(parents=True)
    assert run_stage(root, python, "check", cwd=workdir).returncode == 0
    first = (workdir / "data/params.checked").read_bytes()
    set_param(workdir, "ttest", "alpha", 0.01)
    assert run_stage(root, python, "check", cwd=workdir).returncode == 0
    assert (workdir / "data/params.checked").read_bytes() == first == (root / "data/params.checked").read_bytes()


@pytest.mark.parametrize("settings", [
    {"method": "group_sparsity", "loss": "multipart"},
    {"method": "magnitude", "loss": "focal", "sparsity": [0.5, 0.9]},
    {"method": "quantize", "loss": "none"},
    {"method": "distill", "loss": "softadapt", "width": 0.5},
])
def test_every_method_writes_predictions_and_measures_both_networks(root, python, workdir, settings):
    for key, value in settings.items():
        set_param(workdir, "compress", key, value)
    result = run_stage(root, python, "compress", cwd=workdir)
    assert result.returncode == 0, result.stderr
    n_test = len(np.load(workdir / "data/prepared/test.npz")["y"])
    pred = np.load(workdir / "data/compress/compressed_pred.npy")
    assert pred.shape == (n_test,) and pred.dtype == np.int64
    summary = json.loads((workdir / "metrics/compress.json").read_text())
    assert (summary["method"], summary["loss"]) == (settings["method"], settings["loss"])
    reference, compressed = summary["reference"], summary["compressed"]
    assert summary["flops_ratio"] == pytest.approx(compressed["flops"] / reference["flops"])
    if settings["method"] == "group_sparsity":
        assert compressed["parameters"] < reference["parameters"]
        assert 0.45 <= summary["flops_ratio"] <= 0.5
    if settings["method"] == "magnitude":
        assert summary["sparsity"] == pytest.approx(0.9, abs=1e-3)
        assert set(summary["sweep"]) == {"sparsity_0_5", "sparsity_0_9"}
        assert summary["sweep"]["sparsity_0_9"]["compressed_accuracy"] == summary["compressed_accuracy"]
    # the training curves of every phase, as dvc.yaml declares them (none for quantize, which trains nothing)
    phases = {"group_sparsity": ["recovery", "sparsify"], "magnitude": ["recovery_sparsity_0_5", "recovery_sparsity_0_9"],
              "quantize": [], "distill": ["distill"]}[settings["method"]]
    assert sorted(p.name for p in (workdir / "dvclive/compress/plots/metrics").iterdir()) == phases
    if settings["method"] == "quantize":
        assert compressed["size_bytes"] < reference["size_bytes"] / 2
    if settings["method"] == "distill":
        assert compressed["parameters"] < 0.5 * reference["parameters"]


def test_a_missing_input_names_the_stage_to_run(root, python, workdir):
    result = run_stage(root, python, "estimate", cwd=workdir)
    assert result.returncode == 2
    assert "missing input data/trials/masks.npy: run the stage that writes it" in " ".join(result.stderr.split())


def trial_arrays(path):
    """The trial stage's outputs, its training curves included."""
    live = sorted(p for p in (path / "dvclive/trials").rglob("*") if p.is_file())
    names = ["masks.npy", "train_correct.npy", "test_correct.npy", "until.json", *(f"{n}.npy" for n in trials.SOFT)]
    return ({name: (path / "data/trials" / name).read_bytes() for name in names}
            | {str(p.relative_to(path)): p.read_bytes() for p in live})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, prepared, root, python):
    path = tmp_path_factory.mktemp("uninterrupted")
    shutil.copytree(prepared, path, dirs_exist_ok=True)
    set_param(path, "trials", "count", 8)
    set_param(path, "trials", "models_per_step", 2)
    set_param(path, "trials", "epochs", 15)
    set_param(path, "trials", "compile", "off")  # compilation would dominate a run this small
    subprocess.run([python, str(root / "stages/train_trials.py")], cwd=path, check=True, capture_output=True)
    assert not (path / "data/trials/shards").exists()  # gathered and cleaned up
    return path


def test_the_trials_log_their_mean_training_curves_for_dvc(uninterrupted):
    table = curves.read(uninterrupted / "dvclive/trials")
    assert list(table) == ["trials"] and sorted(table["trials"]) == sorted(
        f"{name}{std}" for name in ("train_loss", "train_accuracy") for std in ("", "_std"))
    trials_curve = table["trials"]
    assert all(len(values) == 15 for values in trials_curve.values())  # one value per epoch
    assert trials_curve["train_loss"][-1] < trials_curve["train_loss"][0] / 4  # they learn their subsets
    assert trials_curve["train_accuracy"][-1] > 0.95 and (trials_curve["train_accuracy_std"] >= 0).all()
    metrics = json.loads((uninterrupted / "dvclive/trials/metrics.json").read_text())  # what dvc exp show lists
    assert metrics["trials"]["train_accuracy"] == pytest.approx(trials_curve["train_accuracy"][-1])


def test_shards_run_apart_then_gathered_equal_one_uninterrupted_run(root, python, workdir, uninterrupted):
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    for shard in ("0", "1"):
        result = run_stage(root, python, "train_trials", "--shard", shard, "--num-shards", "2", cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert not (workdir / "data/trials/masks.npy").exists()  # a shard alone gathers nothing
    assert len(list((workdir / "data/trials/shards").rglob("chunk-*.npz"))) == 4
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "(0 trained now, 8 from finished chunks; trained on cpu, torch" in " ".join(result.stderr.split())
    assert trial_arrays(workdir) == trial_arrays(uninterrupted)


def test_a_stopping_rule_stops_the_stage_at_a_chunk_and_the_fit_metrics_say_where(root, python, workdir,
                                                                                  uninterrupted):
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    set_param(workdir, "trials", "until", "reliability >= 0.01")  # met as soon as it is defined
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0, result.stderr
    # run by hand: it says how to record its outputs, so that `dvc repro` does not train them again
    assert "run outside DVC: `dvc commit train_trials` records these outputs" in " ".join(result.stderr.split())
    stop = json.loads((workdir / "data/trials/until.json").read_text())
    assert stop["met"] and stop["trials"] in (4, 6) and stop["count"] == 8 and stop["until"] == "reliability >= 0.01"
    stopped = trial_arrays(workdir)
    full = trial_arrays(uninterrupted)
    rows = stop["trials"]
    for name in ["train_correct.npy", "test_correct.npy", *(f"{n}.npy" for n in trials.SOFT)]:
        np.testing.assert_array_equal(np.load(workdir / "data/trials" / name), np.load(uninterrupted / "data/trials" / name)[:rows])
    assert stopped["masks.npy"] != full["masks.npy"]
    assert run_stage(root, python, "fit", cwd=workdir).returncode == 0
    assert json.loads((workdir / "metrics/trials.json").read_text())["until"] == stop
    set_param(workdir, "trials", "until", "reliability >= 1")  # never met: the budget runs out, and it says so
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0 and "the budget of 8 trials ran out before trials.until" in " ".join(result.stderr.split())
    assert not json.loads((workdir / "data/trials/until.json").read_text())["met"]


def killed_at_chunk(n: int, once) -> dict:
    """The environment of a process that SIGKILLs itself as it starts its n-th chunk (tests/crash)."""
    crash = Path(__file__).resolve().parent / "crash"
    return os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(crash), os.environ.get("PYTHONPATH")])),
                         "LONGTAIL_KILL_AT_CHUNK": str(n), "LONGTAIL_KILL_ONCE": str(once)}


def test_a_killed_run_resumes_from_its_finished_chunks_and_ends_identical(root, python, workdir, uninterrupted):
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    killed = subprocess.run([python, str(root / "stages/train_trials.py")], cwd=workdir, capture_output=True,
                            env=killed_at_chunk(3, workdir / "killed"))
    assert killed.returncode == -signal.SIGKILL
    assert len(list((workdir / "data/trials").rglob("chunk-*.npz"))) == 2  # the chunks before the kill
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "(4 trained now, 4 from finished chunks" in " ".join(result.stderr.split())
    assert trial_arrays(workdir) == trial_arrays(uninterrupted)


def test_compiled_shards_one_killed_then_gathered_equal_one_compiled_run(root, python, workdir, uninterrupted):
    # The default compile mode through resume and sharding: shard 0 (chunks 0 and 2) is killed as it
    # starts chunk 2, shard 1 runs whole, and the gather trains chunk 2 alone; against one compiled run.
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    set_param(workdir, "trials", "compile", "default")
    reference = workdir.with_name(workdir.name + "-reference")
    shutil.copytree(workdir, reference)
    assert run_stage(root, python, "train_trials", cwd=reference).returncode == 0
    killed = subprocess.run([python, str(root / "stages/train_trials.py"), "--shard", "0", "--num-shards", "2"],
                            cwd=workdir, capture_output=True, env=killed_at_chunk(2, workdir / "killed"))
    assert killed.returncode == -signal.SIGKILL
    assert run_stage(root, python, "train_trials", "--shard", "1", "--num-shards", "2", cwd=workdir).returncode == 0
    assert len(list((workdir / "data/trials").rglob("chunk-*.npz"))) == 3
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "(2 trained now, 6 from finished chunks" in " ".join(result.stderr.split())
    assert trial_arrays(workdir) == trial_arrays(reference)


@pytest.mark.parametrize("change", ["labels", "lr"])
def test_finished_chunks_of_another_recipe_or_data_are_never_reused(root, python, workdir, uninterrupted, change):
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    killed = subprocess.run([python, str(root / "stages/train_trials.py")], cwd=workdir, capture_output=True,
                            env=killed_at_chunk(3, workdir / "killed"))
    assert killed.returncode == -signal.SIGKILL
    if change == "labels":  # other data, as a rerun prepare would leave it
        with np.load(workdir / "data/prepared/train.npz") as f:
            train = dict(f)
        np.savez_compressed(workdir / "data/prepared/train.npz", **train | {"y": np.roll(train["y"], 1)})
    else:  # another recipe
        set_param(workdir, "trials", "lr", 0.1)
    result = run_stage(root, python, "train_trials", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "(8 trained now, 0 from finished chunks" in " ".join(result.stderr.split())
    assert trial_arrays(workdir)["train_correct.npy"] != trial_arrays(uninterrupted)["train_correct.npy"]


def test_unreadable_finished_chunks_are_moved_aside_and_trained_again(root, python, workdir, uninterrupted):
    shutil.copy(uninterrupted / "params.yaml", workdir / "params.yaml")
    result = run_stage(root, python, "train_trials", "--shard", "0", "--num-shards", "2", cwd=workdir)
    assert result.returncode == 0, result.stderr
    truncated, garbage = sorted((workdir / "data/trials/shards").rglob("chunk-*.npz"))
    truncated.write_bytes(truncated.read_bytes()[:100])
    garbage.write_bytes(b"not a zip file at all")
    result = run_stage(root, python, "train_trials", cwd=workdir)
    said = " ".join(result.stderr.split())
    assert result.returncode == 0, said
    for chunk in (truncated, garbage):
        assert f"warning: {chunk.relative_to(workdir)} cannot be read" in said
    assert said.count("training it again") == 2
    assert trial_arrays(workdir) == trial_arrays(uninterrupted)


def test_a_shard_index_outside_the_count_is_refused(root, python, workdir):
    result = run_stage(root, python, "train_trials", "--shard", "2", "--num-shards", "2", cwd=workdir)
    assert result.returncode == 2 and "0 <= shard < --num-shards" in result.stderr
