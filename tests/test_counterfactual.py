import numpy as np
import pytest
from scipy import stats

from longtail.estimate import counterfactual, influence


def test_holdout_is_seeded_sorted_and_skips_fewer_than_two():
    held = counterfactual.holdout(100, 0.1, seed=3)
    assert len(held) == 10 and (np.diff(held) > 0).all()
    np.testing.assert_array_equal(held, counterfactual.holdout(100, 0.1, seed=3))
    assert len(counterfactual.holdout(10, 0.1, seed=3)) == 0 and len(counterfactual.holdout(100, 0, seed=3)) == 0


def test_spearman_columns_match_scipy_and_are_undefined_without_spread():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 4)), rng.integers(0, 2, size=(30, 4)).astype(float)
    b[:, 3] = 1  # every held-out trial right: no spread
    got = counterfactual.spearman_columns(a, b)
    for i in range(3):
        assert got[i] == pytest.approx(stats.spearmanr(a[:, i], b[:, i]).statistic)
    assert np.isnan(got[3])


def planted_trials(t=600, n_train=40, n_test=30, seed=0):
    """Each test example's outcome is decided by a few training examples (a linear datamodel), plus noise."""
    rng = np.random.default_rng(seed)
    masks = rng.random((t, n_train)) < 0.5
    weights = np.zeros((n_test, n_train))
    for i in range(n_test):
        weights[i, rng.choice(n_train, 3, replace=False)] = rng.uniform(1, 2, 3)
    logits = masks @ weights.T - weights.sum(1) / 2 + rng.normal(0, 0.7, (t, n_test))
    return masks, logits > 0


def test_lds_finds_a_planted_datamodel_and_is_about_zero_for_a_random_matrix():
    masks, test_correct = planted_trials()
    held = counterfactual.holdout(len(masks), 0.2, seed=1)
    rest = np.setdiff1d(np.arange(len(masks)), held)
    matrix = np.concatenate(list(influence.influence_blocks(masks[rest], test_correct[rest])))
    found = counterfactual.lds(counterfactual.predict(matrix, masks[held]), test_correct[held])
    assert found["lds"] > 0.5 and found["low"] < found["lds"] < found["high"] and found["low"] > 0.4
    assert found["held_out"] == 120 and found["examples"] == 30
    # A fixed noise matrix predicts a little by chance (its rows lean towards or away from the true
    # weights), so its LDS is 0 only on average over noise matrices; each is near it.
    rng = np.random.default_rng(5)
    nulls = [counterfactual.lds(counterfactual.predict(rng.normal(size=matrix.shape), masks[held]),
                                test_correct[held])["lds"] for _ in range(20)]
    assert max(map(abs, nulls)) < 0.12 and abs(np.mean(nulls)) < 0.02


def test_lds_is_undefined_without_held_out_trials():
    assert counterfactual.lds(None, np.empty((0, 3)))["lds"] is None
    constant = counterfactual.lds(np.zeros((5, 2)), np.ones((5, 2)))
    assert constant["lds"] is None and constant["examples"] == 0
