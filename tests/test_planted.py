import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from longtail import LongtailError
from longtail.data import planted
from longtail.estimate import influence, uncertainty


def test_flipping_moves_exactly_the_share_to_other_classes_reproducibly():
    y = np.arange(1000) % 10
    noisy, flipped = planted.flip_labels(y, 0.05, 10, seed=3)
    assert flipped.dtype == bool and flipped.sum() == 50
    assert (noisy[flipped] != y[flipped]).all() and (noisy[~flipped] == y[~flipped]).all()
    assert noisy.min() >= 0 and noisy.max() <= 9
    again, same = planted.flip_labels(y, 0.05, 10, seed=3)
    assert np.array_equal(again, noisy) and np.array_equal(same, flipped)
    assert not np.array_equal(planted.flip_labels(y, 0.05, 10, seed=4)[1], flipped)
    assert (y == np.arange(1000) % 10).all()  # the input is left alone
    # every other class is a possible new label: the offsets cover 1..9
    assert set(((noisy - y) % 10)[flipped]) == set(range(1, 10)) or flipped.sum() < 30


def test_no_share_flips_nothing_and_out_of_range_shares_are_refused():
    y = np.arange(20) % 2
    noisy, flipped = planted.flip_labels(y, 0.0, 2, seed=0)
    assert not flipped.any() and np.array_equal(noisy, y)
    for share in (-0.01, 0.51, 1.0):
        with pytest.raises(LongtailError, match="must satisfy 0 <= data.flip_labels <= 0.5"):
            planted.flip_labels(y, share, 2, seed=0)


def test_found_scores_the_ranking_of_the_flipped_examples():
    rng = np.random.default_rng(0)
    flipped = np.zeros(200, bool)
    flipped[:20] = True
    memorization = np.where(flipped, rng.uniform(0.3, 1.0, 200), rng.uniform(0.0, 0.5, 200))
    memorization[150] = np.nan  # undefined: left out
    found = planted.found(memorization, flipped, train_fit=np.where(flipped, 0.9, 1.0))
    defined = np.isfinite(memorization)
    assert found["auc"] == pytest.approx(roc_auc_score(flipped[defined], memorization[defined]))
    top = np.argsort(-np.nan_to_num(memorization, nan=-np.inf))[:20]
    assert found["precision_at_k"] == pytest.approx(flipped[top].mean())
    assert found["memorization_flipped"] == pytest.approx(memorization[:20].mean())
    assert found["memorization_clean"] == pytest.approx(np.nanmean(memorization[20:]))
    assert found["fit_flipped"] == pytest.approx(0.9) and found["flipped"] == 20
    perfect = planted.found(flipped.astype(float), flipped)
    assert perfect["auc"] == 1.0 and perfect["precision_at_k"] == 1.0
    assert planted.found(np.full(200, 0.5), flipped)["auc"] == 0.5  # ties count a half


def test_prepare_flips_the_share_of_training_labels_and_marks_them(tmp_path, tiny_project):
    for name in ("clean", "noisy"):
        (tmp_path / name).mkdir()
    clean = tiny_project(tmp_path / "clean", ("prepare",))
    noisy = tiny_project(tmp_path / "noisy", ("prepare",), data={"flip_labels": 0.1})
    a, b = (np.load(path / "data/prepared/train.npz") for path in (clean, noisy))
    assert not a["flipped"].any()
    flipped = b["flipped"]
    assert flipped.dtype == bool and flipped.sum() == round(0.1 * len(a["y"]))
    assert (b["y"][flipped] != a["y"][flipped]).all() and (b["y"][~flipped] == a["y"][~flipped]).all()
    assert np.array_equal(b["x"], a["x"]) and np.array_equal(b["rare"], a["rare"])
    test_a, test_b = (np.load(path / "data/prepared/test.npz") for path in (clean, noisy))
    assert np.array_equal(test_a["y"], test_b["y"])  # the test labels stay true


def test_on_digits_the_default_recipe_fits_flipped_labels_and_memorization_finds_them(tmp_path, tiny_project, root):
    """The planted-truth check a user runs with `dvc exp run -S data.flip_labels=0.05`: the stages on
    digits with the default recipe, fewer trials (64, uncompiled, to stay quick)."""
    tiny_project(tmp_path, ("prepare", "train_trials", "fit", "estimate"), data={"dataset": "digits", "flip_labels": 0.05},
                 trials={"count": 64, "compile": "off"})
    trials = json.loads((tmp_path / "metrics/trials.json").read_text())
    assert trials["subset_accuracy"] >= 0.99 and trials["fit_fraction"] >= 0.9
    estimate = json.loads((tmp_path / "metrics/estimate.json").read_text())
    found = estimate["planted"]
    assert found["flipped"] == round(0.05 * estimate["n_train"])
    assert found["auc"] >= 0.95 and found["precision_at_k"] >= 0.8 and found["fit_flipped"] >= 0.8
    assert found["memorization_flipped"] > 0.7 > 0.1 > found["memorization_clean"]
    # The error bars, against the trial arrays.
    masks, train_correct, test_correct = (np.load(tmp_path / f"data/trials/{name}.npy")
                                          for name in ("masks", "train_correct", "test_correct"))
    se = np.load(tmp_path / "data/influence/memorization_se.npy")
    assert se.dtype == np.float32 and se.shape == (estimate["n_train"],)
    a, b = masks.sum(0), (~masks).sum(0)
    p_in, p_out = (train_correct & masks).sum(0) / a, (train_correct & ~masks).sum(0) / b
    np.testing.assert_allclose(se, np.sqrt(p_in * (1 - p_in) / a + p_out * (1 - p_out) / b), rtol=1e-6)
    r = estimate["reliability"]
    perm = np.random.default_rng(r["split_seed"]).permutation(len(masks))
    halves = np.sort(perm[:32]), np.sort(perm[32:])
    mem = [influence.memorization(masks[h], train_correct[h]) for h in halves]
    assert r["memorization"] == pytest.approx(np.corrcoef(*mem)[0, 1]) and r["memorization"] > 0.5
    assert set(r["trials_for_median_se_high"]) == {"0.05", "0.02"}
    curve = np.loadtxt(tmp_path / "plots/memorization_stability.csv", delimiter=",", skiprows=1)
    ms, jaccard = uncertainty.stability(masks, train_correct, k=estimate["stability_k"], min_trials=8)
    np.testing.assert_allclose(curve, np.column_stack([ms, jaccard]), rtol=1e-6)  # the stage's curve, recomputed
    assert ms.tolist() == [8, 16, 32, 64] and jaccard[0] >= 0.5  # the flips lead the ranking from 8 trials on
