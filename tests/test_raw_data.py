"""The raw data is a dependency of prepare: a dataset's files, replaced, rerun prepare and what
follows, and DVC's run-cache never serves arrays prepared from other files; prepare opens no file
dvc.yaml does not declare. Small files in the real formats, in a copy of this repository."""

import json

import numpy as np
import pytest
import yaml
from test_data import write_cifar_archive, write_mnist
from test_pipeline import ENV, audit_folder, audited, copy_of_this_repository, dvc, sh, undeclared

pytestmark = pytest.mark.slow

FILES = {"cifar10": ["cifar-10-python.tar.gz"],
         "mnist": [f"{s}-{k}-idx{d}-ubyte.gz" for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]}


def place(repo, dataset, seed, n):
    """Files of `dataset` in the real format in data/raw/<dataset>/; returns its training images."""
    if dataset == "cifar10":
        written = write_cifar_archive(repo / "data/raw", n=n, seed=seed)
        return np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    return write_mnist(repo / "data/raw", n=n, seed=seed)["train"][0][:, None]


def prepared(repo):
    with np.load(repo / "data/prepared/train.npz") as f:
        return f["x"]


def test_a_replaced_dataset_file_reruns_prepare_and_no_cache_serves_the_other_files_arrays(tmp_path):
    # Both formats in one repository: CIFAR-10's archive, then MNIST's four files.
    repo = copy_of_this_repository(tmp_path / "repo")
    env = ENV | {"PYTHONPATH": str(repo / "src")}
    folder = audit_folder(repo)
    for dataset in FILES:
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["data"]["dataset"] = dataset
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        files = [f"data/raw/{dataset}/{name}" for name in FILES[dataset]]

        a = place(repo, dataset, seed=1, n=20)
        dvc(repo, "add", *files, env=env)  # as the README says: DVC tracks the raw files, git their .dvc files
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "commit", "-qm", f"{dataset} A", env=env)
        log = dvc(repo, "repro", "prepare", env=audited(folder, env))
        assert "Running stage 'prepare'" in log
        np.testing.assert_array_equal(prepared(repo), a)

        b = place(repo, dataset, seed=2, n=12)  # other images, and fewer
        dvc(repo, "add", *files, env=env)
        status = json.loads(dvc(repo, "status", "prepare", "--json", env=env))
        assert f"data/raw/{dataset}" in json.dumps(status["prepare"])  # prepare's dependency changed
        log = dvc(repo, "repro", "prepare", env=audited(folder, env))
        assert "Running stage 'prepare'" in log  # not restored from A's run in the run-cache
        np.testing.assert_array_equal(prepared(repo), b)
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "commit", "-qm", f"{dataset} B", env=env)
        assert undeclared(repo, folder) == {}  # prepare opened this dataset's files, all declared
        for log in folder.glob("*.log"):
            log.unlink()  # the next dataset's dvc.yaml declares its own files, not these

    # An experiment on A's files: the run-cache may serve A's arrays (they are A's), never B's. (The
    # cache keys on the folder's hash, the same for either format: the last one stands for both.)
    place(repo, dataset, seed=1, n=20)
    dvc(repo, "add", *files, env=env)
    dvc(repo, "exp", "run", "prepare", env=env)
    np.testing.assert_array_equal(prepared(repo), a)
