"""Trials on Ray (`longtail dispatch`), with a local Ray of two workers on the CPU: a shard killed
mid-run is retried without training its finished chunks again, and the gather (what `dvc repro`
runs next) trains nothing and gives the arrays of a single-process run with the same seed."""

import shutil
import subprocess

import pytest

from test_stages import killed_at_chunk

pytestmark = pytest.mark.slow

ARRAYS = ["masks.npy", "train_correct.npy", "test_correct.npy"]


@pytest.fixture(scope="module")
def single(tmp_path_factory, tiny_project):
    """Tiny params, prepared data, and the trials of one uninterrupted process."""
    return tiny_project(tmp_path_factory.mktemp("single"), ("prepare", "train_trials"),
                        trials={"count": 8, "epochs": 20, "models_per_step": 2, "compile": "off"})


@pytest.fixture
def workdir(tmp_path, single, root):
    shutil.copytree(single / "data/prepared", tmp_path / "data/prepared")
    shutil.copy(single / "params.yaml", tmp_path)
    shutil.copy(root / "dvc.yaml", tmp_path)  # dispatch takes the stage's command from it
    return tmp_path


def arrays(path):
    return {name: (path / "data/trials" / name).read_bytes() for name in ARRAYS}


def test_two_ray_workers_with_a_killed_shard_retried_then_the_gather_trains_nothing(root, python, workdir, single):
    # Each shard has two chunks; the first process to start its second chunk is SIGKILLed there (an
    # application failure, which Ray retries), after its first chunk was saved.
    result = subprocess.run([python, "-m", "longtail", "dispatch", "--num-shards", "2", "--num-cpus", "2"],
                            cwd=workdir, capture_output=True, text=True, env=killed_at_chunk(2, workdir / "killed"))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, output[-3000:]
    assert (workdir / "killed").exists(), "no shard was killed"
    assert "dispatching 2 shards on Ray" in output and "`dvc repro` gathers them and trains nothing" in output
    # The retry found the killed shard's first chunk done and trained only its second.
    assert "2 already done" in output
    assert not (workdir / "data/trials/masks.npy").exists()  # dispatch trains; the stage gathers
    assert len(list((workdir / "data/trials/shards").rglob("chunk-*.npz"))) == 4
    gather = subprocess.run([python, str(root / "stages/train_trials.py")], cwd=workdir, capture_output=True, text=True)
    assert gather.returncode == 0, gather.stderr
    assert "(0 trained now, 8 from finished chunks" in " ".join(gather.stderr.split())
    assert arrays(workdir) == arrays(single)
    assert not (workdir / "data/trials/shards").exists()  # gathered and cleaned up


def test_a_stage_that_trains_no_trials_is_refused_naming_those_that_do(root, python, workdir):
    result = subprocess.run([python, "-m", "longtail", "dispatch", "--stage", "estimate"], cwd=workdir,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("error: --stage 'estimate' is not a stage of dvc.yaml that trains trials; choose one of: train_trials, "
            "consistency_trials") in " ".join(result.stderr.split())
