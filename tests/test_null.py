"""The influence-free null (estimate.null) and Q1 on it: each draw is the statistic on permuted
trials, an example no trial disagrees on has excess 0, the null is centred where no influence
exists and far below a planted one, the design effect sees shared noise, and Q1 rejects
difficulty-driven groups at about alpha where the raw t rejects most of them."""

import numpy as np
import pytest
from scipy import stats

from longtail.analysis import questions
from longtail.estimate import influence, null, uncertainty


def no_influence_trials(seed, t=200, n_train=60, n_test=300, shared=0.0):
    """Masks, train correctness and test correctness independent of the masks: each test example
    right with its own probability (many always right, as in a run), and, with `shared` > 0, a
    trial-wide swing that moves every hard example together (a better or worse model)."""
    rng = np.random.default_rng(seed)
    masks = rng.random((t, n_train)) < 0.7
    p = np.where(rng.random(n_test) < 0.5, 1.0, rng.uniform(0.2, 0.95, n_test))
    swing = shared * rng.normal(0, 1, (t, 1))
    test_correct = rng.random((t, n_test)) < np.clip(p + swing * (p < 1), 0, 1)
    return masks, rng.random((t, n_train)) < 0.9, test_correct


def test_each_draw_is_the_statistic_on_the_trials_permuted_against_the_masks():
    masks, train_correct, test_correct = no_influence_trials(0, t=40, n_train=15, n_test=30)
    memorization = influence.memorization(masks, train_correct)
    draws = null.influence_free(masks, test_correct, memorization, draws=3, seed=7)
    rng = np.random.default_rng(7)
    for r in range(3):
        expected = uncertainty.estimates(masks, train_correct, test_correct[rng.permutation(40)])
        for name in ("max_influence", "top_memorization", "mean_influence"):
            np.testing.assert_allclose(draws[name][r], expected[name], rtol=1e-6, atol=1e-7)


def test_an_example_no_trial_disagrees_on_has_no_excess():
    masks, train_correct, test_correct = no_influence_trials(1, t=50, n_train=20, n_test=40)
    test_correct[:, :3] = True
    test_correct[:, 3] = False
    values = uncertainty.estimates(masks, train_correct, test_correct)
    draws = null.influence_free(masks, test_correct, influence.memorization(masks, train_correct), draws=4, seed=0)
    for name, d in draws.items():
        assert (d[:, :4] == values[name][:4]).all(), name


def test_the_null_is_centred_without_influence_and_far_below_a_planted_one():
    masks, train_correct, test_correct = no_influence_trials(2)
    test_correct[:, 0] = masks[:, 5]  # test example 0 is right exactly when training example 5 was kept
    values = uncertainty.estimates(masks, train_correct, test_correct)
    draws = null.influence_free(masks, test_correct, influence.memorization(masks, train_correct), draws=16, seed=0)
    excess = values["max_influence"] - draws["max_influence"].mean(0)
    hard = test_correct[:, 1:].mean(0) < 1
    assert values["max_influence"][1:][hard].mean() > 0.15  # the raw statistic: large, noise alone
    assert abs(excess[1:][hard].mean()) < 0.01  # its excess: none
    assert excess[0] > 0.5  # the planted influence stands out
    # mean_influence's null is 0 in expectation: its draws average near 0 for every example
    assert np.abs(draws["mean_influence"].mean()) < 0.002


def test_the_design_effect_is_one_for_independent_noise_and_larger_for_shared():
    rng = np.random.default_rng(3)
    group = np.zeros(200, bool)
    group[:20] = True

    def q1(v):
        return questions.stats.welch_difference(v[group], v[~group])

    independent = rng.normal(0, 1, (64, 200))
    assert null.design_effect(q1, independent) < 1.6
    shared = independent + group * rng.normal(0, 1, (64, 1))  # the group's noise moves together
    assert null.design_effect(q1, shared) > 5
    assert null.design_effect(q1, independent[:2]) is None  # too few draws to say


def test_the_design_effect_is_about_one_and_q1_holds_alpha_on_normal_noise_at_every_group_size():
    # Groups of 2 and 3 measure their own spread from 1 or 2 values: the old mean-t^2 design effect
    # had a median of 4.5 at size 2, and Welch's t alone rejects 10.6% there. Over many replicates:
    # benchmarks/coverage.py.
    rng = np.random.default_rng(11)
    rejected = tested = 0
    for size in (2, 3, 5, 10, 30):
        group = np.zeros(120, bool)
        group[:size] = True
        effects = []
        for _ in range(40):
            draws, observed = rng.normal(0, 1, (32, 120)), rng.normal(0, 1, 120)
            q1 = questions.two_questions(observed - draws.mean(0), draws, group, ~group, np.full(120, 0.5))[0]
            effects.append(q1["design_effect"])
            rejected += q1["p"] <= 0.05
            tested += 1
        assert 0.75 <= np.median(effects) <= 1.35, size
    assert 0.005 <= rejected / tested <= 0.10


def test_q1_finds_a_planted_difference_in_a_group_of_two():
    # Two values measure their own spread with 1 df: a difference of 10 noise sd is found about 96% of
    # the time, 5 sd about 65% (benchmarks/coverage.py has the power at every size).
    rng = np.random.default_rng(12)
    group = np.zeros(120, bool)
    group[:2] = True
    found = 0
    for _ in range(20):
        draws, observed = rng.normal(0, 1, (32, 120)), rng.normal(0, 1, 120) + 10 * group
        found += questions.two_questions(observed - draws.mean(0), draws, group, ~group, np.full(120, 0.5))[0]["p"] <= 0.05
    assert found >= 16


@pytest.mark.parametrize("shared", [0.0, 0.15])
def test_q1_rejects_difficulty_driven_groups_at_about_alpha_where_the_raw_t_does_not(shared):
    # Groups drawn on one set of trials share its noise (a realization whose hard examples all came
    # out a little high rejects many of them together): the rate is over twelve realizations.
    raw = q1 = groups = 0
    for realization in range(4, 16):
        masks, train_correct, test_correct = no_influence_trials(realization, shared=shared)
        values = uncertainty.estimates(masks, train_correct, test_correct)["max_influence"]
        draws = null.influence_free(masks, test_correct, influence.memorization(masks, train_correct), draws=24,
                                    seed=1)["max_influence"]
        excess, difficulty = values - draws.mean(0), test_correct.mean(0)
        rng = np.random.default_rng(5)
        weight = (1 - difficulty + 0.01) / (1 - difficulty + 0.01).sum()
        for _ in range(5):
            group = np.zeros(len(values), bool)
            group[rng.choice(len(values), 15, replace=False, p=weight)] = True
            raw += stats.ttest_ind(values[group], values[~group]).pvalue <= 0.05
            q1 += questions.two_questions(excess, draws, group, ~group, difficulty)[0]["p"] <= 0.05
            groups += 1
    assert raw / groups > 0.5
    assert q1 / groups <= 2 * 0.05  # over more groups and real trials: benchmarks/calibration.py
