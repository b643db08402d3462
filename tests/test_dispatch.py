"""Trials on Ray (stages/dispatch.py), with a local Ray of two workers on the CPU: the gathered arrays
equal a single-process run with the same seed, and a shard killed mid-run is retried without
training its finished chunks again."""

import os
import shutil
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow

ARRAYS = ["masks.npy", "train_correct.npy", "test_correct.npy"]


@pytest.fixture(scope="module")
def single(tmp_path_factory, tiny_project):
    """Tiny params, prepared data, and the trials of one uninterrupted process."""
    return tiny_project(tmp_path_factory.mktemp("single"), ("prepare", "train_trials"),
                        trials={"count": 8, "epochs": 20, "models_per_step": 2, "compile": "off"})


@pytest.fixture
def workdir(tmp_path, single):
    shutil.copytree(single / "data/prepared", tmp_path / "data/prepared")
    shutil.copy(single / "params.yaml", tmp_path)
    return tmp_path


def arrays(path):
    return {name: (path / "data/trials" / name).read_bytes() for name in ARRAYS}


def test_two_ray_workers_with_a_killed_shard_retried_give_the_arrays_of_one_process(root, python, workdir, single):
    # One run checks both: two shards on two Ray workers gather the single process's arrays, and a
    # shard killed mid-run is retried without training its finished chunks again.
    process = subprocess.Popen([python, str(root / "stages/dispatch.py"), "--num-shards", "2", "--num-cpus", "2"],
                               cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not list(workdir.rglob("chunk-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    first = {p: p.stat().st_mtime_ns for p in workdir.rglob("chunk-*.npz")}
    assert first, "no chunk finished in time"
    # Kill the train_trials process of a shard that has finished a chunk (chunk c is shard c % 2's):
    # an application failure, which Ray retries.
    shard = int(min(first).stem.split("-")[1]) % 2
    victims = subprocess.run(["pgrep", "-f", f"train_trials.py --params params.yaml --shard {shard} "],
                             capture_output=True, text=True).stdout.split()
    assert victims, "the shard's process is gone already"
    os.kill(int(victims[0]), signal.SIGKILL)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    assert "dispatching 2 shards on Ray" in output
    assert arrays(workdir) == arrays(single)
    assert not (workdir / "data/trials/shards").exists()  # gathered and cleaned up
    # The chunks finished before the kill were not trained again: the retry found them done.
    assert "already done" in output
