"""Pruning identified exemplars (Hooker et al. 2019): modal labels, PIE masks, the per-class recall
tests, and the populations and pie stages as a user runs them."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from scipy import stats

from longtail import LongtailError, devices
from longtail.analysis import pie
from longtail.train import models, training

import test_bias

# Three reference models and two compressed ones on four examples of three classes.
REFERENCE = np.array([[0, 1, 2, 1],
                      [0, 1, 1, 2],
                      [1, 1, 2, 0]])
COMPRESSED = np.array([[0, 2, 1, 2],
                       [1, 1, 1, 2]])


def test_modal_labels_take_the_most_frequent_label_and_break_ties_to_the_smallest():
    # example 3 of the references is a three-way tie (1, 2, 0); examples 0 and 1 of the compressed a two-way one
    assert pie.modal_labels(REFERENCE, 3).tolist() == [0, 1, 2, 0]
    assert pie.modal_labels(COMPRESSED, 3).tolist() == [0, 1, 1, 2]
    for order in ([[2], [1]], [[1], [2]]):  # whichever model comes first
        assert pie.modal_labels(np.array(order), 3).tolist() == [1]


def test_pies_are_the_examples_whose_modal_labels_differ():
    assert pie.pie_mask(REFERENCE, COMPRESSED, 3).tolist() == [False, False, True, True]
    assert not pie.pie_mask(REFERENCE, REFERENCE[::-1], 3).any()  # the order of the models is irrelevant


def test_class_recall_is_each_models_share_of_each_class_labelled_right():
    y = np.array([0, 0, 1, 1, 2])
    predictions = np.array([[0, 1, 1, 1, 2],
                            [0, 0, 0, 1, 1]])
    recall = pie.class_recall(predictions, y, 4)
    np.testing.assert_allclose(recall[:, :3], [[0.5, 1.0, 1.0], [1.0, 0.5, 0.0]])
    assert np.isnan(recall[:, 3]).all()  # class 3 has no test example


def populations(mistakes_reference, mistakes_compressed, per_class=10):
    """Predictions of models that each get mistakes[c][model] examples of class c wrong."""
    classes = len(mistakes_reference)
    y = np.repeat(np.arange(classes), per_class)

    def predictions(mistakes):
        result = np.tile(y, (len(mistakes[0]), 1))
        for c, per_model in enumerate(mistakes):
            for model, k in enumerate(per_model):
                result[model, np.flatnonzero(y == c)[:k]] = (c + 1) % classes
        return result

    return predictions(mistakes_reference), predictions(mistakes_compressed), y


def test_recall_tests_flag_the_class_compression_hurts_and_match_scipy_on_normalised_recall():
    k_reference = np.array([[0, 1, 0, 1], [1, 2, 1, 0], [0, 0, 0, 0]])  # [class, model]
    k_compressed = np.array([[5, 6, 4, 5], [1, 3, 2, 1], [0, 0, 0, 0]])
    reference, compressed, y = populations(k_reference, k_compressed)
    result = pie.recall_tests(reference, compressed, y, 3, alpha=0.05)

    # By hand: recall_c = 1 - k / 10, a model's accuracy = 1 - sum_c k / 30, normalised by the population mean.
    recall_reference, recall_compressed = 1 - k_reference / 10, 1 - k_compressed / 10
    mean_reference = (1 - k_reference.sum(0) / 30).mean()
    mean_compressed = (1 - k_compressed.sum(0) / 30).mean()
    for c in (0, 1):
        # paired: compressed member m is reference member m compressed (Hooker et al.'s were independent)
        expected = stats.ttest_rel(recall_reference[c] / mean_reference, recall_compressed[c] / mean_compressed)
        got = result["classes"][c]
        assert (got["t"], got["p"]) == pytest.approx((expected.statistic, expected.pvalue))
        assert got["reference_recall"] == pytest.approx(recall_reference[c].mean())
        assert got["compressed_recall"] == pytest.approx(recall_compressed[c].mean())
        assert got["compressed_normalised"] == pytest.approx(recall_compressed[c].mean() / mean_compressed)
    assert result["classes"][0]["p"] < 0.01 and result["classes"][1]["p_bh"] > 0.05
    assert result["affected"] == [0]
    # class 2 is perfect in every model: no variance, nothing changed, not affected
    assert (result["classes"][2]["t"], result["classes"][2]["p"], result["classes"][2]["constant"]) == (None, 1.0, True)


def test_a_class_that_drops_the_same_in_every_member_is_affected_not_skipped():
    k_reference = np.array([[0, 0, 0, 0], [1, 2, 1, 0]])  # class 0: recall 1.0 in every reference model
    k_compressed = np.array([[3, 3, 3, 3], [1, 3, 2, 1]])  # ... and 0.7 in every compressed one
    reference, compressed, y = populations(k_reference, k_compressed)
    result = pie.recall_tests(reference, compressed, y, 2, alpha=0.05)
    assert result["classes"][0]["constant"] and result["classes"][0]["t"] is None
    assert result["classes"][0]["p"] == 0.0
    assert 0 in result["affected"] and not result["classes"][1]["constant"]


def test_a_uniform_drop_in_accuracy_flags_no_class():
    k_reference = np.tile([0, 1, 0, 1], (3, 1))  # each model loses the same share of every class
    k_compressed = np.tile([3, 4, 3, 2], (3, 1))
    reference, compressed, y = populations(k_reference, k_compressed)
    assert stats.ttest_ind(1 - k_reference[0] / 10, 1 - k_compressed[0] / 10, equal_var=False).pvalue < 0.01
    result = pie.recall_tests(reference, compressed, y, 3, alpha=0.05)
    assert result["affected"] == []
    assert all(c["p"] == pytest.approx(1.0) for c in result["classes"].values())


@pytest.mark.parametrize("call, message", [
    (lambda: pie.modal_labels(np.array([0, 1, 2]), 3), "must be [models, examples]"),
    (lambda: pie.modal_labels(np.array([[0.0, 1.0]]), 3), "must be integer labels"),
    (lambda: pie.modal_labels(np.array([[0, 3]]), 3), "labels outside 0..2"),
    (lambda: pie.pie_mask(REFERENCE, COMPRESSED[:, :3], 3), "must cover the same test examples"),
    (lambda: pie.class_recall(REFERENCE, np.array([0, 1, 2]), 3), "must cover the same test examples"),
    (lambda: pie.class_recall(REFERENCE, np.zeros((2, 4), int), 3), "labels must be 1-d"),
    (lambda: pie.recall_tests(REFERENCE, COMPRESSED[:1], np.array([0, 1, 2, 0]), 3, 0.05),
     "the compressed population has 1 model; Welch's t-test needs at least 2"),
])
def test_bad_shapes_raise_a_message_that_says_what_to_fix(call, message):
    with pytest.raises(LongtailError, match=message.replace("[", r"\[").replace(".", r"\.")):
        call()


# --- the stages ---------------------------------------------------------------------------------


def run_stage(root, python, stage, cwd):
    return subprocess.run([python, str(root / "stages" / f"{stage}.py")], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_project):
    return tiny_project(tmp_path_factory.mktemp("pie"), ("prepare",))


@pytest.fixture
def workdir(tmp_path, prepared):
    shutil.copytree(prepared, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.mark.parametrize("compress, labels", [
    ({"method": "group_sparsity", "sparsify_epochs": 1}, ["group_sparsity"]),
    ({"method": "magnitude", "sparsity": [0.5, 0.9]}, ["sparsity_0_5", "sparsity_0_9"]),
])
def test_populations_and_pie_stages_write_the_documented_arrays_and_metrics(root, python, workdir, tiny_project, compress, labels):
    tiny_project(workdir, pie={"population": 2}, reference={"epochs": 2}, compress={"epochs": 1, **compress})
    for stage in ("reference_population", "populations", "pie"):
        result = run_stage(root, python, stage, workdir)
        assert result.returncode == 0, result.stderr
    y = np.load(workdir / "data/prepared/test.npz")["y"]
    levels = len(labels)

    with np.load(workdir / "data/populations/predictions.npz") as f:
        predictions = {k: f[k] for k in f.files}
    assert predictions["reference"].shape == (2, len(y)) and predictions["reference"].dtype == np.int64
    assert predictions["compressed"].shape == (levels, 2, len(y)) and predictions["compressed"].dtype == np.int64
    assert predictions["labels"].tolist() == labels
    if compress["method"] == "magnitude":
        assert predictions["levels"].tolist() == [0.5, 0.9]
    else:
        assert np.isnan(predictions["levels"]).all()
    assert not np.array_equal(predictions["reference"][0], predictions["reference"][1])  # members differ
    with np.load(workdir / "data/prepared/test.npz") as f:
        x, _ = devices.tensors(f["x"], f["y"], "cpu")
    for member, spec in enumerate(torch.load(workdir / "data/reference_population/models.pt", weights_only=True)):
        assert spec["arch"] == "mlp" and spec["num_classes"] == 10  # the saved members are the ones compressed
        np.testing.assert_array_equal(training.predict(models.restore(spec, "cpu"), x).numpy(),
                                      predictions["reference"][member])

    populations = json.loads((workdir / "metrics/populations.json").read_text())
    assert populations["population"] == 2 and list(populations["levels"]) == labels
    accuracy = (predictions["compressed"][-1] == y).mean(axis=1)
    assert populations["levels"][labels[-1]]["accuracy_mean"] == pytest.approx(accuracy.mean())
    assert populations["levels"][labels[-1]]["accuracy_std"] == pytest.approx(accuracy.std(ddof=1))

    with np.load(workdir / "data/pie/masks.npz") as f:
        masks, mask_levels = f["pie"], f["pie_levels"]
    assert masks.dtype == bool and mask_levels.shape == (levels, len(y))
    assert np.array_equal(masks, pie.pie_mask(predictions["reference"], predictions["compressed"][-1], 10))
    assert np.array_equal(mask_levels[-1], masks)
    summary = json.loads((workdir / "metrics/pie.json").read_text())
    assert summary["population"] == 2 and summary["pie"] == masks.sum()
    for name, mask in zip(labels, mask_levels):
        level = summary["levels"][name]
        assert level["pie"] == mask.sum() and set(level["recall"]) == {str(c) for c in range(10)}
        assert 0 < level["rare"]["overall_share"] < 1  # the synthetic set knows its rare examples

    # Graded CIEs and the bias metrics, recomputed from predictions.npz alone.
    with np.load(workdir / "data/pie/shift.npz") as f:
        shift = {k: f[k] for k in f.files}
    with np.load(workdir / "data/pie/masks.npz") as f:
        shifted, shifted_levels = f["shifted"], f["shifted_levels"]
    assert shift["shift_levels"].shape == (levels, len(y)) and np.array_equal(shift["shift"], shift["shift_levels"][-1])
    assert shift["reference_votes"].shape == (len(y), 10) and shift["compressed_votes"].shape == (levels, len(y), 10)
    for n, name in enumerate(labels):
        reference, compressed = predictions["reference"], predictions["compressed"][n]
        votes = [np.stack([(p == c).mean(0) for c in range(10)], 1) for p in (reference, compressed)]
        np.testing.assert_allclose(shift["shift_levels"][n], np.abs(votes[0] - votes[1]).sum(1), atol=1e-12)
        level, top = summary["levels"][name], shift["shift_levels"][n]
        assert level["shift_mass"] == pytest.approx(top.sum() / 2) and level["shifted"] == shifted_levels[n].sum()
        k = int(np.ceil(0.05 * len(y)))
        assert np.array_equal(shifted_levels[n], (top >= np.sort(top)[::-1][k - 1]) & (top > 0))
        cev, sde, undefined = test_bias.cev_sde_by_loops(reference, compressed, y, 10)
        assert level["undefined_classes"] == undefined
        if level["cev"] is not None:
            assert level["cev_plugin"] == pytest.approx(cev) and level["sde_plugin"] == pytest.approx(sde)
    assert np.array_equal(shifted, shifted_levels[-1]) and summary["shift_mass"] == summary["levels"][labels[-1]]["shift_mass"]


def test_a_population_of_one_stops_with_a_message_and_writes_nothing(root, python, workdir, tiny_project):
    tiny_project(workdir, pie={"population": 1})
    before = sorted(p for p in workdir.rglob("*") if p.is_file())
    result = run_stage(root, python, "reference_population", workdir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "pie.population = 1 is out of range" in " ".join(result.stderr.split())
    assert sorted(p for p in workdir.rglob("*") if p.is_file()) == before


def test_populations_without_the_reference_population_names_the_stage_to_run(root, python, workdir):
    result = run_stage(root, python, "populations", workdir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("missing model data/reference_population/models.pt: run the reference_population stage"
            in " ".join(result.stderr.split()))
    assert not (workdir / "data/populations").exists()


def test_pie_without_populations_names_the_stage_to_run(root, python, workdir):
    result = run_stage(root, python, "pie", workdir)
    assert result.returncode == 2
    assert "missing input data/populations/predictions.npz" in " ".join(result.stderr.split())
    assert not (workdir / "metrics/pie.json").exists()


def test_pies_of_magnitude_pruning_over_represent_the_rare_examples(root, python, workdir, tiny_project):
    """Hooker et al.'s finding on a set whose long tail is known: the synthetic set's rare
    subpopulations are a quarter of its test examples, yet (nearly) all the PIEs of a 90%-sparse
    population, whose overall accuracy barely moves."""
    tiny_project(workdir, pie={"population": 3}, reference={"epochs": 10},
                 compress={"method": "magnitude", "sparsity": 0.9, "epochs": 3})
    for stage in ("reference_population", "populations", "pie"):
        result = run_stage(root, python, stage, workdir)
        assert result.returncode == 0, result.stderr
    level = json.loads((workdir / "metrics/pie.json").read_text())["levels"]["sparsity_0_9"]
    rare = level["rare"]
    assert level["pie"] >= 10
    assert rare["share"] > 2 * rare["overall_share"]
    assert rare["fisher_p"] < 1e-6
    assert level["compressed_accuracy"] > level["reference_accuracy"] - 0.1
    # The graded ranking puts them first too: the most shifted are rare far more often than chance.
    shifted = level["shifted_rare"]
    assert level["shifted"] >= 5 and shifted["share"] > 2 * shifted["overall_share"] and shifted["fisher_p"] < 1e-3


def sampled_population(rng, recall, members=10, per_class=30):
    """Predictions of `members` models on `per_class` test examples of each class: each model gets an
    example of class c right with probability recall[c] (an example-level coin), else says c + 1."""
    num_classes = len(recall)
    y = np.repeat(np.arange(num_classes), per_class)
    right = rng.random((members, len(y))) < np.asarray(recall)[y]
    return np.where(right, y, (y + 1) % num_classes), y


def test_the_per_class_recall_tests_reject_about_alpha_on_a_null_and_find_a_planted_drop():
    # A few replicates (benchmarks/calibration.py runs many): two populations of the same recipe,
    # then the same with class 3's recall lowered by 0.15 in the compressed one.
    rng = np.random.default_rng(0)
    recall = np.full(10, 0.9)
    dropped = recall.copy()
    dropped[3] = 0.75
    rejected, found = [], []
    for _ in range(40):
        reference, y = sampled_population(rng, recall)
        null, _ = sampled_population(rng, recall)
        planted, _ = sampled_population(rng, dropped)
        rejected.append(len(pie.recall_tests(reference, null, y, 10, alpha=0.05)["affected"]))
        found.append(3 in pie.recall_tests(reference, planted, y, 10, alpha=0.05)["affected"])
    # "Affected" follows the p adjusted across the 10 classes: on the null, a replicate flags any class
    # about alpha of the time (Benjamini-Hochberg holds the family-wise rate when nothing changed).
    assert np.mean(np.array(rejected) > 0) <= 0.15
    assert np.mean(found) >= 0.6  # paired test on independent populations: no pairing to gain from


def test_a_class_no_member_changed_is_not_affected_when_the_others_drop():
    # Paired, the normalised recalls of an unchanged class differ by r_m (1/A_ref - 1/A_comp), the
    # normalisation's trace alone: a paired t would call that certain.
    k_reference = np.array([[0, 1, 2, 1], [1, 0, 1, 2]])
    k_compressed = np.array([[0, 1, 2, 1], [6, 7, 6, 7]])  # class 0: every member as its reference
    reference, compressed, y = populations(k_reference, k_compressed)
    result = pie.recall_tests(reference, compressed, y, 2, alpha=0.05)
    assert result["classes"][0]["p"] == 1.0 and 0 not in result["affected"] and 1 in result["affected"]
