import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def tiny_project(root, python):
    """make(path, stages=(), **sections): a project folder for the stage scripts. It writes the
    repository's params.yaml to `path` with data.dataset synthetic and each section updated by
    `sections`, then runs `stages` there in order."""

    def make(path, stages=(), **sections):
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["data"]["dataset"] = "synthetic"
        for section, values in sections.items():
            params[section] |= values
        (path / "params.yaml").write_text(yaml.safe_dump(params))
        for stage in stages:
            subprocess.run([python, str(root / "stages" / f"{stage}.py")], cwd=path, check=True, capture_output=True)
        return path

    return make


def pytest_configure(config):
    """Under pytest-xdist (make test runs a test file per core), each worker, and the stages it
    starts, gets its share of the cores. Torch's default, a thread per core in every process, runs
    two threads per core with two workers, and a spinning thread waits for its core."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // workers))


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu skip, with the reason, where torch sees no CUDA device."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if gpu:
        import torch

        if not torch.cuda.is_available():
            for item in gpu:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
