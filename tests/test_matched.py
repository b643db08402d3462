"""The difficulty-controlled comparison: its estimate by hand, its permutation p against the exact
one, calibration on groups chosen by difficulty alone, power on a planted effect, and the cases
where it cannot compare (no agreeing example of the same difficulty, ties, NaN)."""

import itertools

import numpy as np
import pytest
from scipy import stats

from longtail.matched import matched_test, strata


def test_strata_are_half_open_bins_with_one_in_the_last():
    assert strata(np.array([0.0, 0.019, 0.02, 0.5, 0.999, 1.0]), 0.02).tolist() == [0, 0, 1, 25, 49, 49]
    assert strata(np.array([0.3, 0.6, 0.9, 1.0]), 0.3).tolist() == [1, 2, 3, 3]  # 1 / 0.3: four strata


def test_the_difference_and_p_match_a_hand_computation():
    # Stratum 0 (difficulty 0.1): group a, comparisons c1, c2. Stratum 1 (0.9): group b, comparison c3.
    values = np.array([5.0, 1.0, 3.0, 10.0, 4.0])
    difficulty = np.array([0.1, 0.1, 0.1, 0.9, 0.9])
    group = np.array([True, False, False, True, False])
    got = matched_test(values, group, ~group, difficulty, width=0.5, draws=20000, seed=0)
    # diff = mean over the group of (v - mean of its stratum's comparisons) = ((5 - 2) + (10 - 4)) / 2
    assert got["diff"] == pytest.approx(4.5)
    assert got["raw_diff"] == pytest.approx(7.5 - 8 / 3)
    # Exact: the 3 x 2 equally likely relabellings within strata, |diff*| >= 4.5.
    def diff(a, b):
        s0, s1 = values[:3], values[3:]
        return ((s0[a] - np.delete(s0, a).mean()) + (s1[b] - np.delete(s1, b).mean())) / 2
    exact = np.mean([abs(diff(a, b)) >= 4.5 - 1e-12 for a, b in itertools.product(range(3), range(2))])
    assert got["p"] == pytest.approx(exact, abs=0.01)
    assert (got["n"], got["unmatched"], got["comparison_n"], got["strata"]) == (2, 0, 3, 2)


def test_groups_drawn_by_difficulty_alone_are_rejected_at_about_alpha_where_the_raw_t_is_not():
    # No influence at all: the statistic grows with the variance p (1 - p) of an example's correctness,
    # as every influence statistic does, and the fake CIE sets are drawn from the hard examples.
    rng = np.random.default_rng(1)
    n = 1500
    difficulty = np.round(np.clip(rng.beta(0.6, 0.1, n), 0, 1), 3)  # trial accuracy, mostly easy
    spread = difficulty * (1 - difficulty)
    values = 3 * spread + rng.normal(0, 0.05, n) * np.sqrt(spread + 0.01)
    weight = (1 - difficulty + 0.01) / (1 - difficulty + 0.01).sum()
    raw = matched = 0
    draws = 40
    for d in range(draws):
        group = np.zeros(n, bool)
        group[rng.choice(n, 10, replace=False, p=weight)] = True
        raw += stats.ttest_ind(values[group], values[~group]).pvalue <= 0.05
        matched += matched_test(values, group, ~group, difficulty, width=0.02, draws=400, seed=d)["p"] <= 0.05
    assert raw / draws > 0.5  # the paper's comparison: difficulty alone looks like influence
    assert matched / draws <= 2 * 0.05  # measured over 1000 draws in benchmarks/calibration.py


def test_a_planted_effect_is_found_and_its_interval_covers_it():
    rng = np.random.default_rng(2)
    n = 800
    difficulty = rng.uniform(0, 1, n).round(3)
    values = difficulty * (1 - difficulty) + rng.normal(0, 0.02, n)
    group = np.zeros(n, bool)
    group[rng.choice(n, 12, replace=False)] = True
    values[group] += 0.1
    got = matched_test(values, group, ~group, difficulty, draws=2000, seed=0)
    assert got["p"] < 0.01
    assert got["diff_low"] < 0.1 < got["diff_high"] and got["diff_low"] > 0
    assert matched_test(-values, group, ~group, difficulty, draws=500, seed=0)["diff"] == pytest.approx(-got["diff"])


def test_a_group_without_agreeing_examples_of_its_difficulty_is_counted_unmatched():
    difficulty = np.array([0.05, 0.05, 0.5, 0.5, 0.5, 0.95])
    values = np.array([1.0, 2.0, 0.1, 0.2, 0.3, 0.4])
    group = np.array([True, True, False, True, False, False])
    got = matched_test(values, group, ~group, difficulty, width=0.1, draws=200)
    assert (got["n"], got["unmatched"], got["strata"]) == (1, 2, 1)  # the two at 0.05 have no match
    none = matched_test(values, np.array([True, True, False, False, False, False]), ~group, difficulty, width=0.1)
    assert none["p"] is None and none["diff"] is None and none["unmatched"] == 2


def test_ties_give_p_one_not_a_coin_flip_of_rounding():
    # Within each stratum every value is the same: every relabelling equals the observed one.
    difficulty = np.repeat([0.1, 0.5, 0.9], 20)
    values = np.repeat([0.1, 0.7, 0.3], 20) + 0.0
    group = np.zeros(60, bool)
    group[[0, 1, 25, 45, 46, 47]] = True
    for seed in range(5):
        got = matched_test(values, group, ~group, difficulty, width=0.2, draws=300, seed=seed)
        assert got["p"] == 1.0 and got["diff"] == pytest.approx(0.0, abs=1e-12)


def test_nan_values_are_left_out():
    rng = np.random.default_rng(3)
    difficulty, values = rng.uniform(0, 1, 200), rng.normal(0, 1, 200)
    group = rng.random(200) < 0.1
    with_nan = values.copy()
    with_nan[:10] = np.nan
    got = matched_test(with_nan, group, ~group, difficulty, draws=300, seed=0)
    kept = np.arange(200) >= 10
    expected = matched_test(values[kept], group[kept], ~group[kept], difficulty[kept], draws=300, seed=0)
    assert got == expected
