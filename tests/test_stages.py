"""The stage scripts as a user runs them: --help, and bad inputs that stop with a message, exit
status 2 and no output written."""

import shutil
import subprocess

import pytest
import yaml

STAGES = ["prepare", "train_trials", "estimate", "reference", "compress", "cie", "ttest"]


def run_stage(root, python, stage, *args, cwd=None):
    return subprocess.run([python, str(root / "stages" / f"{stage}.py"), *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_help(root, python, stage):
    result = run_stage(root, python, stage, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, root, python):
    """Tiny params, with prepare and reference run once: the inputs of the stages under test."""
    path = tmp_path_factory.mktemp("prepared")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["dataset"] = "synthetic"
    params["trials"] |= {"count": 3, "epochs": 2}
    params["reference"]["epochs"] = 2
    params["compress"]["epochs"] = 1
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in ("prepare", "reference"):
        subprocess.run([python, str(root / "stages" / f"{stage}.py")], cwd=path, check=True, capture_output=True)
    return path


@pytest.fixture
def workdir(tmp_path, prepared):
    shutil.copytree(prepared, tmp_path, dirs_exist_ok=True)
    return tmp_path


def set_param(workdir, section, key, value):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params[section][key] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def files(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize("stage, section, key, value, message", [
    ("prepare", "data", "dataset", "imagenet", "unknown data.dataset 'imagenet'"),
    ("prepare", "data", "dataset", "cifar10", "place cifar-10-python.tar.gz in data/raw/"),
    ("train_trials", "trials", "subset_ratio", 1.5, "trials.subset_ratio = 1.5 is out of range"),
    ("train_trials", "trials", "count", 1, "trials.count = 1 is out of range"),
    ("compress", "compress", "loss", "fcoal", "unknown compress.loss 'fcoal'; choose one of: ce, focal"),
])
def test_bad_params_stop_before_any_output(root, python, workdir, stage, section, key, value, message):
    before = files(workdir)
    set_param(workdir, section, key, value)
    result = run_stage(root, python, stage, cwd=workdir)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert files(workdir) == before  # nothing new, nothing half-written


def test_a_missing_input_names_the_stage_to_run(root, python, workdir):
    result = run_stage(root, python, "estimate", cwd=workdir)
    assert result.returncode == 2
    assert "missing input data/trials/masks.npy: run the stage that writes it" in " ".join(result.stderr.split())
