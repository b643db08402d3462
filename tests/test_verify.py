"""`longtail verify` (make verify): a fresh run's metrics against the committed ones, each number
identical, within its error bar or outside it; exit 1 only for the last."""

import json
import subprocess
import sys

import pytest

from longtail.report import verify

ESTIMATE = {"trials": 100, "n_train": 1000, "n_test": 200,
            "reliability": {"split_seed": 0, "top_memorization": 0.47},
            "reliability_spread": {"splits": 20, "top_memorization": {"sd": 0.1, "low": 0.45, "high": 0.85}}}
TRIALS = {"trials": 100, "mean_subset_size": 700.0, "test_accuracy": 0.9600, "held_out_accuracy": 0.95}
TTEST = {"statistic": "top_memorization", "reliability": 0.47,
         "cie": {"t": 10.9, "p": 4e-24, "n": 5, "comparison_n": 354, "hedges_g": 4.9, "mw_u": 1736.0,
                 "matched": {"diff": -0.05, "diff_low": -0.1, "diff_high": 0.0}}}


def run(**files):
    return {name.replace("__", "/").replace("_json", ".json"): data for name, data in files.items()}


def verdicts(committed: dict, fresh: dict) -> dict:
    return {(r.file, r.key): r.verdict for r in verify.compare(committed, fresh)}


def test_two_runs_of_the_same_experiment_are_within_the_error_bars_the_run_measured():
    committed = {"metrics/estimate.json": ESTIMATE, "metrics/trials.json": TRIALS, "metrics/ttest.json": TTEST}
    fresh = json.loads(json.dumps(committed))
    fresh["metrics/estimate.json"]["reliability"]["top_memorization"] = 0.65  # 1.8 sd of its split spread
    fresh["metrics/ttest.json"]["reliability"] = 0.65
    fresh["metrics/trials.json"]["test_accuracy"] = 0.9605  # binomial of 200 x 100 outcomes: se 0.0014
    fresh["metrics/ttest.json"]["cie"] |= {"t": 10.0, "p": 3e-22, "hedges_g": 4.5, "mw_u": 1600.0}
    found = verdicts(committed, fresh)
    assert found[("metrics/estimate.json", "reliability.top_memorization")] == "within"
    assert found[("metrics/ttest.json", "reliability")] == "within"
    assert found[("metrics/trials.json", "test_accuracy")] == "within"
    assert {found[("metrics/ttest.json", f"cie.{k}")] for k in ("t", "p", "hedges_g", "mw_u")} == {"within"}
    assert found[("metrics/trials.json", "trials")] == "identical"


@pytest.mark.parametrize("file, key, value", [
    ("metrics/estimate.json", "reliability.top_memorization", 0.05),  # 4.2 sd of its spread
    ("metrics/trials.json", "test_accuracy", 0.95),  # 7 binomial standard errors
    ("metrics/ttest.json", "cie.t", 5.0),  # a t statistic moves by about 1
    ("metrics/ttest.json", "cie.p", 0.01),  # z 10.1 -> 2.6
    ("metrics/ttest.json", "cie.matched.diff", 0.1),  # 5.9 standard errors of its interval
    ("metrics/trials.json", "trials", 101),  # a setting: exact
    ("metrics/trials.json", "mean_subset_size", 700.5),  # decided by the seeded masks: exact
])
def test_a_number_that_moved_more_than_two_runs_do_is_outside(file, key, value):
    committed = {"metrics/estimate.json": ESTIMATE, "metrics/trials.json": TRIALS, "metrics/ttest.json": TTEST}
    fresh = json.loads(json.dumps(committed))
    *parents, leaf = key.split(".")
    node = fresh[file]
    for part in parents:
        node = node[part]
    node[leaf] = value
    found = verdicts(committed, fresh)
    assert found[(file, key)] == "outside"
    assert sum(v == "outside" for v in found.values()) == 1


def test_a_number_without_an_error_bar_is_said_so_and_a_missing_one_counts_against():
    committed = {"metrics/estimate.json": ESTIMATE | {"memorization_mean": 0.026}}
    fresh = {"metrics/estimate.json": {k: v for k, v in ESTIMATE.items() if k != "n_test"} | {"memorization_mean": 0.027}}
    found = verdicts(committed, fresh)
    assert found[("metrics/estimate.json", "memorization_mean")] == "no error bar"
    assert found[("metrics/estimate.json", "n_test")] == "missing"


@pytest.fixture
def repository(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/trials.json").write_text(json.dumps(TRIALS))
    (tmp_path / "metrics/estimate.json").write_text(json.dumps(ESTIMATE))
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run")
    return tmp_path


def longtail_verify(path):
    result = subprocess.run([sys.executable, "-m", "longtail", "verify"], cwd=path, capture_output=True, text=True)
    return result.returncode, " ".join(result.stderr.split())


def test_the_command_passes_a_run_within_its_error_bars_and_fails_one_outside(repository):
    assert longtail_verify(repository) == (0, "13 numbers against HEAD: 13 identical")
    (repository / "metrics/trials.json").write_text(json.dumps(TRIALS | {"test_accuracy": 0.9610}))
    code, said = longtail_verify(repository)
    assert code == 0 and "within metrics/trials.json test_accuracy: 0.96 -> 0.961 (error bar ±0.00382)" in said
    (repository / "metrics/trials.json").write_text(json.dumps(TRIALS | {"test_accuracy": 0.90}))
    code, said = longtail_verify(repository)
    assert code == 1 and "outside metrics/trials.json test_accuracy: 0.96 -> 0.9" in said
    assert said.endswith("1 outside")
