"""Feldman & Zhang's consistency check across architectures: the measures against hand computations,
a second set of trials from train_trials that is independent of the main one and leaves it alone,
and the consistency stage from its input files to metrics/consistency.json."""

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import torch
import yaml

from longtail import LongtailError, params
from longtail.train import trials
from longtail.estimate.consistency import compare, d_mem, high_memorization, jaccard

NAN = float("nan")


# The measures, by hand

def test_high_memorization_is_at_or_above_the_threshold_and_never_nan():
    mem = np.array([0.25, 0.2499, NAN, 1.0, -0.5])
    np.testing.assert_array_equal(high_memorization(mem, 0.25), [True, False, False, True, False])


def test_jaccard_of_masks_and_of_sets_is_shared_over_either():
    a = np.array([1, 1, 1, 0, 0], bool)
    b = np.array([0, 1, 1, 1, 0], bool)
    assert jaccard(a, b) == 2 / 4
    assert jaccard({(0, 1), (2, 3), (4, 5)}, {(2, 3), (6, 7)}) == 1 / 4
    assert jaccard(a, a) == 1.0 and jaccard(a, ~a) == 0.0


def test_jaccard_of_two_empty_sets_is_undefined_and_of_one_empty_set_is_zero():
    none = np.zeros(4, bool)
    assert math.isnan(jaccard(none, none)) and math.isnan(jaccard(set(), set()))
    assert jaccard(none, np.array([1, 0, 0, 0], bool)) == 0.0
    assert jaccard(set(), {(1, 2)}) == 0.0


def test_jaccard_refuses_masks_of_different_lengths():
    with pytest.raises(LongtailError, match="two bool masks of one shape"):
        jaccard(np.zeros(3, bool), np.zeros(4, bool))


def test_d_mem_averages_the_absolute_difference_over_the_union_where_both_are_defined():
    mem_a = np.array([0.30, NAN, 0.10, 0.50, 0.00, 0.90])
    mem_b = np.array([0.20, 0.90, 0.30, NAN, 0.05, 0.60])
    # union of {0, 3, 5} and {1, 2, 5}: 0, 1, 2, 3, 5; 1 and 3 undefined in one of the two;
    # example 4 is in neither set, so its difference does not count.
    assert d_mem(mem_a, mem_b, 0.25) == pytest.approx((0.10 + 0.20 + 0.30) / 3)


def test_d_mem_over_an_empty_union_is_undefined():
    assert math.isnan(d_mem(np.array([0.1, NAN]), np.array([0.2, 0.0]), 0.25))


def test_consistency_counts_the_sets_their_overlap_and_compares_them():
    mem_a = np.array([0.9, 0.5, 0.1, NAN, 0.3])
    mem_b = np.array([0.8, 0.1, 0.6, 0.7, 0.3])
    pairs_a = np.array([[0, 4], [0, 7], [1, 2]])
    pairs_b = np.array([[0, 4], [3, 2], [0, 7], [2, 9]])
    result = compare(mem_a, mem_b, pairs_a, pairs_b, min_memorization=0.25)
    assert result == pytest.approx({
        "high_memorization_a": 3,  # 0, 1, 4
        "high_memorization_b": 4,  # 0, 2, 3, 4
        "high_memorization_both": 2,  # 0, 4
        "jaccard_memorization": 2 / 5,  # union 0, 1, 2, 3, 4
        "d_mem": (0.1 + 0.4 + 0.5 + 0.0) / 4,  # 3 is undefined in a
        "high_influence_pairs_a": 3,
        "high_influence_pairs_b": 4,
        "high_influence_pairs_both": 2,  # (0, 4), (0, 7)
        "jaccard_pairs": 2 / 5,
    })


def test_consistency_of_nothing_found_is_undefined_not_perfect():
    empty = np.empty((0, 2), np.int64)
    result = compare(np.zeros(3), np.zeros(3), empty, empty, min_memorization=0.25)
    assert result["high_memorization_a"] == result["high_influence_pairs_b"] == 0
    assert all(math.isnan(result[k]) for k in ("jaccard_memorization", "d_mem", "jaccard_pairs"))


def test_consistency_refuses_estimates_of_different_training_sets_and_malformed_pairs():
    pairs = np.array([[0, 1]])
    with pytest.raises(LongtailError, match="same training set; got \\(3,\\) and \\(4,\\)"):
        compare(np.zeros(3), np.zeros(4), pairs, pairs, min_memorization=0.25)
    with pytest.raises(LongtailError, match="shape \\[p, 2\\]"):
        compare(np.zeros(3), np.zeros(3), np.array([[0, 1, 2]]), pairs, min_memorization=0.25)


# A second, independent set of trials

def test_stream_zero_is_the_shared_seed_and_other_streams_draw_independent_masks_and_weights():
    assert trials.stream_seed(7, 0) == 7
    assert len({trials.stream_seed(0, s) for s in range(4)}) == 4
    main = trials.sample_masks(400, 500, 0.7, seed=trials.stream_seed(0, 0))
    second = trials.sample_masks(400, 500, 0.7, seed=trials.stream_seed(0, 1))
    assert abs(np.corrcoef(main.ravel(), second.ravel())[0, 1]) < 0.01  # 200 000 draws: sd 0.002
    (w_main,), (w_second,) = (trials.init_models("mlp", (1, 8, 8), 3, [0], trials.stream_seed(0, s), "cpu")
                              for s in (0, 1))
    assert not torch.equal(w_main[1].weight, w_second[1].weight)
    with pytest.raises(LongtailError, match="must be >= 0"):
        trials.stream_seed(0, -1)


def run_stage(root, python, stage, *args, cwd):
    return subprocess.run([python, str(root / "stages" / f"{stage}.py"), *args], capture_output=True, text=True,
                          cwd=cwd)


def files(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


SECOND = ["--arch", "mlp512", "--count", "4", "--stream", "1", "--out-dir", "data/consistency/trials"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_project):
    """Tiny synthetic params; prepare, then the main trials (no options)."""
    return tiny_project(tmp_path_factory.mktemp("consistency"), ("prepare", "train_trials"),
                        trials={"count": 3, "epochs": 2, "models_per_step": 2, "compile": "off"})


@pytest.fixture
def workdir(tmp_path, trained):
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_main_trials_without_the_new_options_still_come_from_the_shared_seed(root, python, trained):
    train = np.load(trained / "data/prepared/train.npz")
    test = np.load(trained / "data/prepared/test.npz")
    masks = np.load(trained / "data/trials/masks.npy")
    np.testing.assert_array_equal(masks, trials.sample_masks(3, len(train["y"]), 0.7, seed=0))
    cfg = params.section(params.read(trained / "params.yaml"), "trials", params.Trials)
    assert cfg.epochs == 2
    outcome = trials.run_trials(train["x"], train["y"], test["x"], test["y"], masks, recipe=cfg.recipe(), arch="mlp", seed=0, device=torch.device("cpu"), models_per_step=2)
    train_correct, test_correct = outcome.train_correct, outcome.test_correct
    np.testing.assert_array_equal(np.load(trained / "data/trials/train_correct.npy"), train_correct)
    np.testing.assert_array_equal(np.load(trained / "data/trials/test_correct.npy"), test_correct)


def test_second_trials_go_to_their_own_folder_with_independent_masks_and_leave_the_main_ones(root, python, workdir):
    main = files(workdir / "data/trials")
    result = run_stage(root, python, "train_trials", *SECOND, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "mlp512" in result.stderr
    assert files(workdir / "data/trials") == main
    masks, second = np.load(workdir / "data/trials/masks.npy"), np.load(workdir / "data/consistency/trials/masks.npy")
    assert second.shape == (4, masks.shape[1])
    np.testing.assert_array_equal(second, trials.sample_masks(4, masks.shape[1], 0.7, seed=trials.stream_seed(0, 1)))
    assert not np.array_equal(second[:3], masks)
    result = run_stage(root, python, "fit", "--trials-dir", "data/consistency/trials", "--metrics",
                       "metrics/consistency_trials.json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert json.loads((workdir / "metrics/consistency_trials.json").read_text())["trials"] == 4
    assert not (workdir / "data/consistency/trials/shards").exists()


def test_an_explicit_stream_zero_reproduces_the_main_trials_byte_for_byte(root, python, workdir):
    result = run_stage(root, python, "train_trials", "--stream", "0", "--out-dir", "again", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert files(workdir / "again") == files(workdir / "data/trials")


@pytest.mark.parametrize("args, message", [
    (["--arch", "transformer"], "unknown --arch 'transformer'; choose one of: mlp, mlp512, cnn"),
    (["--count", "1"], "--count = 1 is out of range"),
    (["--stream", "-1"], "trial stream -1 must be >= 0"),
])
def test_bad_train_trials_options_stop_before_any_output(root, python, workdir, args, message):
    before = files(workdir)
    result = run_stage(root, python, "train_trials", *args, "--out-dir", "data/consistency/trials", cwd=workdir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split())
    assert files(workdir) == before


# The consistency stage, from hand-written estimates

def write_estimates(folder, memorization, pairs):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "memorization.npy", np.asarray(memorization, dtype=np.float64))
    rows = "".join(f"{train},{test},0.2,0.5\n" for train, test in pairs)
    (folder / "high_influence_pairs.csv").write_text("train_index,test_index,influence,memorization\n" + rows)


@pytest.fixture
def estimates(tmp_path, root):
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["trials"] |= {"arch": "mlp", "count": 1000}
    params["consistency"] = {"arch": "mlp512", "count": 200}
    params["estimate"]["pair_memorization"] = 0.25
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_estimates(tmp_path / "data/influence", [0.9, 0.5, 0.1, NAN, 0.3], [(0, 4), (0, 7), (1, 2)])
    write_estimates(tmp_path / "data/consistency/influence", [0.8, 0.1, 0.6, 0.7, 0.3],
                    [(0, 4), (3, 2), (0, 7), (2, 9)])
    for folder, kept, count in (("data/trials", 1000, 1000), ("data/consistency/trials", 160, 200)):  # b stopped early
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "until.json").write_text(json.dumps({"until": "se_high <= 0.05", "count": count,
                                                                  "trials": kept, "met": kept < count}))
    return tmp_path


def test_consistency_stage_writes_the_measures_with_both_architectures_and_trial_counts(root, python, estimates):
    result = run_stage(root, python, "consistency", cwd=estimates)
    assert result.returncode == 0, result.stderr
    written = json.loads((estimates / "metrics/consistency.json").read_text())
    assert written == pytest.approx({
        "arch_a": "mlp", "arch_b": "mlp512", "trials_a": 1000, "trials_b": 160, "n_train": 5,
        "high_memorization_a": 3, "high_memorization_b": 4, "high_memorization_both": 2,
        "jaccard_memorization": 2 / 5, "d_mem": (0.1 + 0.4 + 0.5 + 0.0) / 4,
        "high_influence_pairs_a": 3, "high_influence_pairs_b": 4, "high_influence_pairs_both": 2,
        "jaccard_pairs": 2 / 5,
    })


def test_consistency_stage_writes_null_where_both_sets_are_empty(root, python, estimates):
    write_estimates(estimates / "data/influence", [0.0] * 5, [])
    write_estimates(estimates / "data/consistency/influence", [0.1] * 5, [])
    result = run_stage(root, python, "consistency", cwd=estimates)
    assert result.returncode == 0, result.stderr
    written = json.loads((estimates / "metrics/consistency.json").read_text())
    assert written["jaccard_memorization"] is None and written["d_mem"] is None and written["jaccard_pairs"] is None
    assert written["high_influence_pairs_a"] == written["high_influence_pairs_b"] == 0


@pytest.mark.parametrize("missing", ["data/consistency/influence/high_influence_pairs.csv",
                                     "data/consistency/influence/memorization.npy",
                                     "data/influence/high_influence_pairs.csv"])
def test_a_missing_input_exits_2_naming_it_and_writes_nothing(root, python, estimates, missing):
    (estimates / missing).unlink()
    before = files(estimates)
    result = run_stage(root, python, "consistency", cwd=estimates)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"missing input {missing}: run the" in " ".join(result.stderr.split())
    assert files(estimates) == before


def test_estimates_of_different_training_sets_exit_2_and_write_nothing(root, python, estimates):
    np.save(estimates / "data/consistency/influence/memorization.npy", np.zeros(6))
    before = files(estimates)
    result = run_stage(root, python, "consistency", cwd=estimates)
    assert result.returncode == 2
    assert "data/influence has 5 training examples and data/consistency/influence 6" in " ".join(
        result.stderr.split())
    assert files(estimates) == before


def test_a_pairs_file_that_is_not_the_estimate_table_exits_2(root, python, estimates):
    (estimates / "data/influence/high_influence_pairs.csv").write_text("test_index,train_index\n1,2\n")
    result = run_stage(root, python, "consistency", cwd=estimates)
    assert result.returncode == 2
    assert "columns start with train_index,test_index" in " ".join(result.stderr.split())
    assert not (estimates / "metrics").exists()
