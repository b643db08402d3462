"""The whole pipeline through DVC, in a copy of the repository with tiny params: artifacts keep the
contracts of docs/DESIGN.md, `dvc exp run` reruns only what a compression param touches, and the
cached arrays survive a push/pull round trip byte for byte."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats
from longtail.analysis import stats as longtail_stats

pytestmark = pytest.mark.slow

TINY = {
    "data": {"dataset": "synthetic"},
    "trials": {"count": 8, "epochs": 4, "models_per_step": 4, "compile": "off"},
    "reference": {"epochs": 4},
    "compress": {"epochs": 1, "sparsify_epochs": 1, "target_flops": 0.1},
    "ttest": {"control_draws": 100},
    "pie": {"population": 2},
    "consistency": {"count": 8},
}


def sh(repo, *args, env=None):
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env or ENV)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def dvc(repo, *args, env=None):
    return sh(repo, sys.executable, "-m", "dvc", *args, env=env)


ENV = os.environ | {
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # stages run our python
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def copy_of_this_repository(repo: Path, **sections) -> Path:
    """A git repository in `repo` holding this one's files, its params.yaml's sections updated by
    `sections`, no dvc.lock: nothing run yet."""
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (root / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, repo / name)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in sections.items():
        params[section] |= values
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "dvc.lock").unlink(missing_ok=True)
    sh(repo, "git", "init", "-q")
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of this repository with tiny params, reproduced once, every stage's opened files
    logged (audited) beside it."""
    repo = copy_of_this_repository(tmp_path_factory.mktemp("longtail"), **TINY)
    ENV["PYTHONPATH"] = str(repo / "src")  # the stages import the copy's library
    dvc(repo, "remote", "add", "--local", "-d", "scratch", str(tmp_path_factory.mktemp("remote")))
    log = dvc(repo, "repro", env=audited(audit_folder(repo), ENV))
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "tiny run")
    return repo, log


# --- every file a stage opens is declared -------------------------------------------------------------

AUDIT = Path(__file__).resolve().parent / "audit"  # its sitecustomize.py logs each stage's opened files
# Folders a stage keeps for itself and removes when done: the trials' resume store (finished chunks,
# under a fingerprint of every input, so a stale one is never read; gathered, then deleted).
SCRATCH = {"train_trials": "data/trials/shards", "consistency_trials": "data/consistency/trials/shards"}


def audit_folder(repo: Path) -> Path:
    folder = repo.with_name(repo.name + "-audit")
    folder.mkdir(exist_ok=True)
    return folder


def audited(folder: Path, env: dict) -> dict:
    """`env` with every stage's opened files logged into `folder`."""
    return env | {"PYTHONPATH": f"{env['PYTHONPATH']}{os.pathsep}{AUDIT}", "LONGTAIL_AUDIT": str(folder)}


def undeclared(repo: Path, folder: Path) -> dict[str, set[str]]:
    """stage -> the files inside `repo` its processes opened (the audit logs in `folder`) that
    dvc.yaml, as DVC renders it, does not declare for that stage: not a dep (a params file is one),
    not an output or an output's temporary sibling (artifacts.outputs' `.name.tmpPID`). Python's
    bytecode caches, the modules `longtail deps` exempts and SCRATCH are the only others allowed."""
    from dvc.repo import Repo

    from longtail.commands.deps import EXEMPT

    with Repo(str(repo)) as dvc_repo:
        declared = {stage.name: [Path(item.fs_path) for item in (*stage.deps, *stage.outs)]
                    for stage in dvc_repo.index.stages if hasattr(stage, "name")}  # dvc.yaml's, not .dvc files
    allowed_always = {repo / name for name in EXEMPT}

    def allowed(path: Path, stage: str) -> bool:
        if not path.is_relative_to(repo) or path.is_dir() or "__pycache__" in path.parts or path in allowed_always:
            return True  # a folder opened (to fsync a rename) reads no data
        if stage in SCRATCH and path.is_relative_to(repo / SCRATCH[stage]):
            return True
        # An output is written as its temporary sibling first (artifacts.outputs: `.name.tmpPID`, a
        # file, or a folder such as a DVCLive directory), then renamed into place.
        path = Path(*(re.sub(r"^\.(.+)\.tmp\d+$", r"\1", part) for part in path.parts))
        return any(path == item or path.is_relative_to(item) for item in declared[stage])

    found = {}
    for log in folder.glob("*.log"):
        stage = log.name.split(".")[0]
        opened = {Path(line) for line in log.read_text().splitlines()}
        if bad := {str(p.relative_to(repo)) for p in opened if not allowed(p, stage)}:
            found.setdefault(stage, set()).update(bad)
    return found


def test_every_file_a_stage_opens_in_the_project_is_declared_in_dvc_yaml(repo):
    repo, log = repo
    folder = audit_folder(repo)
    assert {p.name.split(".")[0] for p in folder.glob("*.log")} == set(ran(log))  # every stage was audited
    found = undeclared(repo, folder)
    assert found == {}, "\n".join(f"{stage}: {sorted(paths)}" for stage, paths in found.items())


def back_to_the_commit(repo: Path) -> None:
    """The workspace as the tiny run committed it, whatever a test edited, staged or ran.

    Git's `checkout` and `reset --hard` skip a file whose stat matches its index entry, and DVC's
    autostage rewrites the index through dulwich, which does not mark racily clean entries: an edit
    of the same size within the second of the previous checkout (params.yaml's `epochs: 4` to `3`
    right after the last test's cleanup) then survived `git reset --hard`, one run in a few. Without
    an index every tracked file is written again from HEAD."""
    (repo / ".git" / "index").unlink()
    sh(repo, "git", "reset", "-q", "--hard")
    sh(repo, "git", "clean", "-fdq")  # what a test left untracked (ignored files, DVC's outputs, stay)
    dvc(repo, "checkout", "--force")


def ran(log):
    return [line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")]


def test_repro_runs_every_stage_and_writes_the_artifacts_of_design(repo):
    repo, log = repo
    assert set(ran(log)) == {"check", "prepare", "train_trials", "fit", "estimate", "consistency_trials", "consistency_fit", "consistency_estimate",
                             "consistency", "reference", "compress", "cie", "reference_population", "populations",
                             "pie", "influence_free", "ttest", "harm", "report"}
    with np.load(repo / "data/prepared/train.npz") as f:
        x, y = f["x"], f["y"]
    with np.load(repo / "data/prepared/test.npz") as f:
        y_test = f["y"]
    assert x.dtype == np.uint8 and x.ndim == 4 and y.dtype == np.int64 and y.shape == (len(x),)
    n_train, n_test = len(y), len(y_test)
    masks = np.load(repo / "data/trials/masks.npy")
    train_correct = np.load(repo / "data/trials/train_correct.npy")
    test_correct = np.load(repo / "data/trials/test_correct.npy")
    for array, shape in [(masks, (8, n_train)), (train_correct, (8, n_train)), (test_correct, (8, n_test))]:
        assert array.dtype == bool and array.shape == shape
    inf = np.load(repo / "data/influence/influence.npy")
    assert inf.shape == (n_test, n_train) and inf.dtype == np.float32
    for name, n in [("memorization", n_train), ("memorization_se", n_train), ("test_mean_influence", n_test),
                    ("train_mean_influence", n_train)]:
        assert np.load(repo / f"data/influence/{name}.npy").shape == (n,)
    estimate = json.loads((repo / "metrics/estimate.json").read_text())
    assert {"memorization", "mean_influence", "max_influence", "top_memorization", "split_seed"} <= set(estimate["reliability"])
    assert "planted" not in estimate  # no labels flipped
    for name in ["reference_pred", "compressed_pred"]:
        pred = np.load(repo / f"data/compress/{name}.npy")
        assert pred.dtype == np.int64 and pred.shape == (n_test,)
    with np.load(repo / "data/cie/masks.npz") as f:
        assert all(f[k].dtype == bool and f[k].shape == (n_test,) for k in ["cie", "cie_u", "cie_c"])
    cie = json.loads((repo / "metrics/cie.json").read_text())
    assert {"cie", "cie_u", "cie_c", "cie_both_wrong"} <= set(cie)
    ttest = json.loads((repo / "metrics/ttest.json").read_text())
    assert all({"t", "p", "n", "welch_t", "welch_p", "mw_p", "hedges_g", "p_bh", "control", "matched"} <= set(ttest[k])
               for k in ["cie", "cie_u", "cie_c", "pie"])
    assert all({"p", "diff", "diff_low", "diff_high", "n", "extrapolated", "design_effect"} <= set(ttest[k]["matched"])
               and {"p", "diff", "diff_low", "diff_high", "n", "design_effect"} <= set(ttest[k]["excess"])
               for k in ["cie", "cie_u", "cie_c", "pie"])
    with np.load(repo / "data/cie/masks.npz") as f:  # every member of a group is used
        assert all(ttest[k]["matched"]["n"] == ttest[k]["excess"]["n"] == f[k].sum() for k in ["cie", "cie_u", "cie_c"])
    assert ttest["reliability"] == estimate["reliability"][ttest["statistic"]]
    with np.load(repo / "data/pie/masks.npz") as f:
        assert f["pie"].dtype == bool and f["pie"].shape == (n_test,)
    assert json.loads((repo / "metrics/pie.json").read_text())["pie"] == ttest["pie"]["n"]
    assert {"jaccard_memorization", "jaccard_pairs", "d_mem"} <= set(json.loads((repo / "metrics/consistency.json").read_text()))
    for plot in ["test_mean_influence.csv", "train_mean_influence.csv", "memorization.csv", "cie_counts.csv", "ttest.csv",
                 "influence_pairs.png", "most_influential.png", "test_mean_influence.png", "train_mean_influence.png",
                 "memorization.png", "ttest.png", "cie_counts.png", "memorization_stability.png",
                 "memorization_stability.csv"]:
        assert (repo / "plots" / plot).stat().st_size > 0
    report = (repo / "report.md").read_text()
    assert "## Pruning identified exemplars" in report and "(plots/influence_pairs.png)" in report


def test_arrays_agree_with_the_definitions_recomputed_from_the_trials(repo):
    repo, _ = repo
    masks = np.load(repo / "data/trials/masks.npy")
    train_correct = np.load(repo / "data/trials/train_correct.npy")
    test_correct = np.load(repo / "data/trials/test_correct.npy")
    m, d = masks.astype(float), test_correct.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (d.T @ m) / m.sum(0) - (d.T @ (1 - m)) / (1 - m).sum(0)
        c = train_correct.astype(float)
        memorization = (c * m).sum(0) / m.sum(0) - (c * (1 - m)).sum(0) / (1 - m).sum(0)
    np.testing.assert_allclose(np.load(repo / "data/influence/influence.npy"), expected, atol=1e-6)
    np.testing.assert_allclose(np.load(repo / "data/influence/memorization.npy"), memorization)
    np.testing.assert_allclose(np.load(repo / "data/influence/test_mean_influence.npy"), np.nanmean(expected, 1),
                               atol=1e-12)
    estimate = json.loads((repo / "metrics/estimate.json").read_text())
    assert estimate["influence_nan"] == int(np.isnan(expected).sum())
    pairs = np.loadtxt(repo / "data/influence/high_influence_pairs.csv", delimiter=",", skiprows=1, ndmin=2)
    expected_pairs = np.argwhere((expected >= 0.15) & (memorization >= 0.25)[None, :])
    assert len(pairs) == len(expected_pairs) == estimate["high_influence_pairs"]


def test_cie_masks_and_t_tests_agree_with_predictions_and_scipy(repo):
    repo, _ = repo
    ref, comp = (np.load(repo / f"data/compress/{n}_pred.npy") for n in ["reference", "compressed"])
    with np.load(repo / "data/prepared/test.npz") as f:
        y = f["y"]
    with np.load(repo / "data/cie/masks.npz") as f:
        np.testing.assert_array_equal(f["cie"], ref != comp)
        np.testing.assert_array_equal(f["cie_u"], (ref == y) & (comp != y))
        np.testing.assert_array_equal(f["cie_c"], (ref != y) & (comp == y))
    ttest = json.loads((repo / "metrics/ttest.json").read_text())
    values = np.load(repo / f"data/influence/{longtail_stats.FILES[ttest['statistic']]}")
    group, agree = values[ref != comp], values[ref == comp]
    if len(group) >= 2:
        assert ttest["cie"]["t"] == pytest.approx(stats.ttest_ind(group, agree).statistic)
        assert ttest["cie"]["welch_p"] == pytest.approx(stats.ttest_ind(group, agree, equal_var=False).pvalue)
    else:
        assert ttest["cie"]["t"] is None
    assert ttest["cie"]["n"] == len(group)


def test_flipping_labels_is_a_change_to_prepare_that_estimate_reads(repo):
    # `dvc exp run -S data.flip_labels=0.05` (the README's check of a recipe) must rerun everything from
    # prepare on, estimate included, which reads the flipped marks. The stages themselves write and
    # read them in tests/test_planted.py (digits, 64 trials: AUC >= 0.95); a full experiment here
    # would cost a whole pipeline run of the suite's time.
    repo, _ = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["flip_labels"] = 0.1
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    status = json.loads(dvc(repo, "status", "--json"))
    # prepare reruns, and everything after it; the report also quotes data.flip_labels
    assert set(status) == {"check", "prepare", "report"} and "params.yaml" in json.dumps(status["prepare"])
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    assert "data/prepared/train.npz" in stages["estimate"]["deps"]
    assert "data/prepared/train.npz" in stages["prepare"]["outs"]
    back_to_the_commit(repo)


def test_a_queued_loss_comparison_reruns_only_what_compression_touches_and_lists_cies_and_both_tests(repo):
    # The README's five-loss workflow with two of them (focal, and softadapt, which reads the teacher;
    # the workspace's ce is the baseline): the queue, `dvc exp show` and compare are the same for any
    # number, and two workers run two at once; each loss trains in test_stages.py.
    repo, _ = repo
    dvc(repo, "exp", "remove", "--all-commits")  # only this comparison's experiments below
    dvc(repo, "exp", "run", "--queue", "-S", "compress.loss=focal,softadapt")
    dvc(repo, "queue", "start", "-j", "2")
    for _ in range(600):  # the workers run in the background; wait for the queue to drain
        status = dvc(repo, "queue", "status")
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(1)
    assert "Failed" not in status, status
    baseline = json.loads(dvc(repo, "exp", "show", "--json"))[1]
    runs = {rev["data"]["params"]["params.yaml"]["data"]["compress"]["loss"]: (exp["name"], rev["data"])
            for exp in baseline["experiments"] for rev in exp["revs"]}
    assert sorted(runs) == ["focal", "softadapt"]
    for name, run in runs.values():
        # a loss reruns compression and what reads it, never the trials or the reference
        assert set(ran(dvc(repo, "queue", "logs", name))) == {"check", "compress", "cie", "populations", "pie",
                                                                     "influence_free", "ttest", "harm", "report"}
        cie = run["metrics"]["metrics/cie.json"]["data"]
        ttest = run["metrics"]["metrics/ttest.json"]["data"]
        assert isinstance(cie["cie"], int) and set(ttest) >= {"cie", "cie_u", "cie_c"}
        assert ttest["cie"]["n"] == cie["cie"] and {"p", "diff"} <= set(ttest["cie"]["matched"])
        assert {"p", "diff", "diff_low", "diff_high"} <= set(ttest["cie"]["excess"])
    assert "compress.loss" in dvc(repo, "exp", "show", "--md")
    sh(repo, sys.executable, "-m", "longtail", "compare")  # side by side, from the real `dvc exp show`
    table = (repo / "compare.md").read_text()
    assert all(f"| {loss} |" in table for loss in runs) and "## Two questions" in table
    assert table.index("## Two questions") < table.index("## The paper's test")
    assert (repo / "plots/compare_ttest.png").stat().st_size > 0 and (repo / "plots/compare_counts.png").stat().st_size > 0

    # An experiment in the workspace (as `dvc exp run` leaves it) diffs against the baseline.
    dvc(repo, "exp", "apply", runs["focal"][0])
    params = json.loads(dvc(repo, "params", "diff", "--json"))
    assert params["params.yaml"]["compress.loss"] == {"old": "ce", "new": "focal"}
    metrics = json.loads(dvc(repo, "metrics", "diff", "--all", "--json"))
    for key in ["cie", "cie_u", "cie_c", "cie.t", "cie_u.p", "cie_c.welch_t"]:
        file = "metrics/cie.json" if "." not in key else "metrics/ttest.json"
        assert key in metrics[file]
    assert metrics["metrics/compress.json"]["loss"]["new"] == "focal"
    back_to_the_commit(repo)  # for the other tests


def as_if_trained_on(chunks, where: str) -> None:
    """Rewrite finished chunks as if trained elsewhere (no GPU here: the shards of a SLURM array
    ran on GPU nodes, the gather job on a CPU node)."""
    for chunk in chunks:
        with np.load(chunk) as f:
            parts = dict(f)
        np.savez_compressed(chunk, **parts | {"trained_on": np.array(where)})


def test_shards_of_an_array_job_and_of_ray_then_dvc_repro_trains_nothing(repo):
    # The README's scale-out sequences, after a param change (the reason to dispatch): a SLURM-like
    # array of `--shard` processes for train_trials (their chunks marked as trained on a GPU), Ray
    # for consistency_trials; then `dvc repro` gathers both, training no trial, and records them.
    repo, _ = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["trials"]["epochs"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        for shard in ("0", "1"):
            sh(repo, sys.executable, "stages/train_trials.py", "--shard", shard, "--num-shards", "2")
        as_if_trained_on((repo / "data/trials/shards").rglob("chunk-*.npz"), "cuda, torch 9.9")
        said = sh(repo, sys.executable, "-m", "longtail", "dispatch", "--stage", "consistency_trials", "--num-shards", "2",
                  "--num-cpus", "2")
        assert "`dvc repro` gathers them" in said
        log = dvc(repo, "repro", "train_trials", "consistency_trials")
        assert {"train_trials", "consistency_trials"} <= set(ran(log))
        log = " ".join(log.split())
        assert "8 trials of mlp in data/trials (0 trained now, 8 from finished chunks; trained on cuda, torch 9.9)" in log
        assert "8 trials of mlp512 in data/consistency/trials (0 trained now, 8 from finished chunks" in log
        assert not {"train_trials", "consistency_trials"} & stale(repo)  # recorded: only what follows them is due
    finally:
        back_to_the_commit(repo)  # the repository's autostage put dvc.lock in the index
    assert stale(repo) == set()


def test_push_then_pull_restores_byte_identical_arrays(repo):
    repo, _ = repo
    in_git = set(sh(repo, "git", "ls-files", "data").split())  # raw/'s READMEs, the check's output
    arrays = sorted(p for p in (repo / "data").rglob("*") if p.is_file() and p.name != ".gitignore"
                    and str(p.relative_to(repo)) not in in_git)  # the pipeline's DVC-cached outputs
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in arrays}
    dvc(repo, "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    for p in arrays:
        p.unlink()
    dvc(repo, "pull")
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in arrays} == digest


def test_the_cifar10_preset_stops_at_once_saying_where_to_put_cifar10(repo):
    repo, _ = repo
    args = sh(repo, sys.executable, "-m", "longtail", "preset", "cifar10", "--print").split()
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", *args], cwd=repo, capture_output=True,
                            text=True, env=ENV)
    assert result.returncode != 0 and ran(result.stdout + result.stderr) == ["check"]  # at once, no output touched
    assert "place cifar-10-python.tar.gz in data/raw/" in " ".join((result.stdout + result.stderr).split())
    back_to_the_commit(repo)  # the failed experiment left its params in the workspace


def outputs_digest(repo) -> dict[str, str]:
    """Every file of the workspace but .git's and DVC's own, by content."""
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in repo.rglob("*")
            if p.is_file() and not {".git", ".dvc"} & set(p.relative_to(repo).parts)}


@pytest.mark.parametrize("key, value, names", [
    ("data.dataset", "imagenet-xyz", "digits, synthetic, mnist"),
    ("trials.arch", "mlpp", "did you mean 'mlp'?"),
    ("consistency.arch", "mlp5112", "did you mean 'mlp512'?"),
    ("compress.loss", "fcoal", "did you mean 'focal'?"),
    ("compress.method", "magnitde", "did you mean 'magnitude'?"),
    ("ttest.statistic", "max_influense", "did you mean 'max_influence'?"),
])
def test_a_misspelt_name_stops_dvc_exp_run_at_the_check_with_one_line_and_touches_no_output(repo, key, value, names):
    repo, _ = repo
    before = outputs_digest(repo)
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-S", f"{key}={value}"], cwd=repo,
                            capture_output=True, text=True, env=ENV)
    said = result.stdout + result.stderr
    try:
        assert result.returncode != 0 and "Traceback" not in said
        assert ran(said) == ["check"], said  # stopped before DVC removed any stage's outputs
        [line] = [line for line in said.splitlines() if line.startswith("error: ")]
        assert line.startswith(f"error: unknown {key} {value!r}; choose one of: ") and names in line
        after = outputs_digest(repo)
        assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {"params.yaml"}
    finally:
        back_to_the_commit(repo)
    assert outputs_digest(repo) == before


def stale(repo) -> set[str]:
    """The stages `dvc repro` would rerun first: those whose own deps changed."""
    return set(json.loads(dvc(repo, "status", "--json")))


@pytest.mark.parametrize("edit, expected", [
    (("params.yaml", "  control_draws: 100\n", "  control_draws: 90\n"), {"check", "ttest", "report"}),  # a ttest knob
    (("params.yaml", "  fit_threshold: 0.99", "  fit_threshold: 0.95"), {"check", "fit", "consistency_fit", "report"}),
    (("params.yaml", "  population: 2", "  population: 3"), {"check", "reference_population", "pie"}),
    (("params.yaml", "  alpha: 0.05\n  control_draws", "  alpha: 0.01\n  control_draws"), {"check", "ttest", "report"}),
    (("src/longtail/analysis/matched.py", "", "# edited\n"), {"ttest"}),  # a ttest-only module
    (("src/longtail/train/fitted.py", "", "# edited\n"), {"fit", "consistency_fit", "report"}),
    (("src/longtail/train/losses.py", "", "# edited\n"), {"check", "train_trials", "consistency_trials", "reference",
                                                     "reference_population", "compress", "populations", "harm",
                                                     "report"}),  # report checks trials' names (training.py)
    (("src/longtail/compress/magnitude.py", "", "# edited\n"), {"check", "compress", "populations"}),  # a method
    (("models/example.py", "", "# edited\n"), {"check", "train_trials", "consistency_trials", "consistency",
                                               "reference", "compress", "reference_population", "populations",
                                               "harm", "report"}),  # a network file: the stages building networks
])
def test_an_edit_reruns_exactly_the_stages_that_read_it(repo, edit, expected):
    repo, _ = repo
    name, old, new = edit
    path = repo / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1) if old else text + new)
    try:
        assert stale(repo) == expected
    finally:
        path.write_text(text)


def test_training_curves_are_dvc_plots_and_their_last_values_metrics(repo):
    repo, _ = repo
    plots = json.loads(dvc(repo, "plots", "show", "--json"))
    shown = json.dumps(plots)
    for curve in ("dvclive/reference/plots/metrics/reference/train_loss.tsv",
                  "dvclive/compress/plots/metrics/sparsify/test_accuracy.tsv",
                  "dvclive/compress/plots/metrics/recovery/train_loss.tsv",
                  "dvclive/populations/plots/metrics/recovery/test_accuracy_std.tsv",
                  "dvclive/trials/plots/metrics/trials/train_accuracy.tsv",
                  "dvclive/consistency_trials/plots/metrics/trials/train_loss_std.tsv"):
        assert curve in shown, curve
    metrics = json.loads(dvc(repo, "metrics", "show", "--json"))
    found = json.dumps(metrics)
    for stage in ("reference", "compress", "trials", "consistency_trials"):
        assert f"dvclive/{stage}/metrics.json" in found, stage
    epochs = TINY["reference"]["epochs"]
    with open(repo / "dvclive/reference/plots/metrics/reference/train_loss.tsv") as f:
        assert len(f.read().split("\n")) - 2 == epochs  # a header and one row per epoch
    assert "training_curves.png" in (repo / "report.md").read_text()
