import numpy as np
import pytest
from scipy import stats as scipy_stats

from longtail import LongtailError
from longtail.analysis import cie, stats


def test_cie_masks_on_a_hand_made_case():
    y = np.array([0, 1, 2, 3, 4, 5])
    reference = np.array([0, 1, 9, 3, 8, 7])
    compressed = np.array([0, 9, 2, 3, 7, 7])
    masks = cie.cie_masks(reference, compressed, y)
    assert masks["cie"].tolist() == [False, True, True, False, True, False]
    assert masks["cie_u"].tolist() == [False, True, False, False, False, False]
    assert masks["cie_c"].tolist() == [False, False, True, False, False, False]
    assert masks["cie_both_wrong"].tolist() == [False, False, False, False, True, False]
    # Example 5: both wrong but in agreement is no CIE.
    assert (masks["cie_u"] | masks["cie_c"] | masks["cie_both_wrong"]).tolist() == masks["cie"].tolist()


def test_cie_masks_refuse_mismatched_lengths():
    with pytest.raises(LongtailError, match="one length"):
        cie.cie_masks(np.zeros(3, int), np.zeros(4, int), np.zeros(3, int))


def test_t_tests_agree_with_scipy():
    rng = np.random.default_rng(0)
    group, comparison = rng.normal(0.1, 2, 12), rng.normal(0, 1, 80)
    got = stats.two_sample_tests(group, comparison)
    student = scipy_stats.ttest_ind(group, comparison, equal_var=True)
    welch = scipy_stats.ttest_ind(group, comparison, equal_var=False)
    assert got["t"] == pytest.approx(student.statistic) and got["p"] == pytest.approx(student.pvalue)
    assert got["welch_t"] == pytest.approx(welch.statistic) and got["welch_p"] == pytest.approx(welch.pvalue)
    assert got["n"] == 12 and got["comparison_n"] == 80
    assert got["mean"] == pytest.approx(group.mean())


def test_t_statistic_by_hand():
    # Pooled variance of [1, 3] and [2, 4, 6]: (2 + 8) / 3; t = (2 - 4) / sqrt(10/3 * (1/2 + 1/3)) = -1.2
    got = stats.two_sample_tests(np.array([1.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    assert got["t"] == pytest.approx(-1.2)


def test_a_group_smaller_than_two_gives_null_statistics_and_a_warning():
    with pytest.warns(UserWarning, match="two or more"):
        got = stats.two_sample_tests(np.array([0.5]), np.arange(10.0))
    assert got["t"] is None and got["p"] is None and got["welch_t"] is None and got["n"] == 1


def test_nan_values_are_left_out():
    got = stats.two_sample_tests(np.array([1.0, np.nan, 3.0]), np.array([2.0, 4.0, 6.0, np.nan]))
    assert got["n"] == 2 and got["t"] == pytest.approx(-1.2)


def test_mann_whitney_and_hedges_g_agree_with_scipy_and_the_formula():
    rng = np.random.default_rng(1)
    group, comparison = rng.normal(0.5, 1, 15), rng.normal(0, 1, 60)
    got = stats.two_sample_tests(group, comparison)
    mw = scipy_stats.mannwhitneyu(group, comparison, alternative="two-sided")
    assert got["mw_u"] == pytest.approx(mw.statistic) and got["mw_p"] == pytest.approx(mw.pvalue)
    pooled = np.sqrt((14 * group.var(ddof=1) + 59 * comparison.var(ddof=1)) / 73)
    g = (group.mean() - comparison.mean()) / pooled * (1 - 3 / (4 * 75 - 9))
    assert got["hedges_g"] == pytest.approx(g)
    assert got["g_low"] < got["hedges_g"] < got["g_high"]


def test_hedges_g_by_hand():
    # Means 2 and 4, pooled variance (2 + 8) / 3, J = 1 - 3 / (4 * 5 - 9) = 8 / 11.
    g = stats.hedges_g(np.array([1.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    assert g == pytest.approx(-2 / np.sqrt(10 / 3) * 8 / 11)


def test_the_g_interval_inverts_the_noncentral_t_and_narrows_with_more_data():
    rng = np.random.default_rng(2)
    group, comparison = rng.normal(1, 1, 10), rng.normal(0, 1, 40)
    small = stats.two_sample_tests(group, comparison)
    scale = np.sqrt(10 * 40 / 50)
    # at each end, the observed t is at the tail of the noncentral t of that standardized difference
    assert scipy_stats.nct.sf(small["t"], 48, small["g_low"] * scale) == pytest.approx(0.025, abs=1e-6)
    assert scipy_stats.nct.cdf(small["t"], 48, small["g_high"] * scale) == pytest.approx(0.025, abs=1e-6)
    large = stats.two_sample_tests(rng.normal(1, 1, 1000), rng.normal(0, 1, 4000))
    assert large["g_high"] - large["g_low"] < (small["g_high"] - small["g_low"]) / 4
    assert large["g_low"] < 1 < large["g_high"]  # the true standardized difference is 1


def test_the_g_interval_covers_at_the_smallest_group():
    # The percentile bootstrap it replaced covered 45% at a group of 2 (benchmarks/coverage.py).
    rng = np.random.default_rng(5)
    covered = sum(r["g_low"] <= 1.0 <= r["g_high"] for r in
                  (stats.two_sample_tests(rng.normal(1, 1, 2), rng.normal(0, 1, 100)) for _ in range(60)))
    assert covered / 60 >= 0.85


def test_benjamini_hochberg_matches_scipy_and_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    np.testing.assert_allclose(stats.benjamini_hochberg(p), scipy_stats.false_discovery_control(p, method="bh"))
    # Sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5/rank: 0.025, 0.025, 0.05, 0.05, 0.5 (monotone already).
    np.testing.assert_allclose(stats.benjamini_hochberg(p), [0.025, 0.05, 0.05, 0.025, 0.5])


def test_benjamini_hochberg_keeps_untestable_comparisons_out():
    got = stats.benjamini_hochberg([0.01, None, 0.04, float("nan")])
    assert got[1] is None and got[3] is None
    np.testing.assert_allclose([got[0], got[2]], scipy_stats.false_discovery_control([0.01, 0.04]))


def test_the_random_control_finds_a_real_shift_rare_and_a_random_set_common():
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, 400)
    shifted = np.zeros(400, bool)
    shifted[:10] = True
    values[shifted] += 3
    observed = stats.two_sample_tests(values[shifted], values[~shifted])["t"]
    control = stats.random_control(values, 10, ~shifted, observed, draws=500, seed=0)
    assert control["draws"] == 500 and control["as_extreme"] == pytest.approx(1 / 501)
    assert control["t_low"] < 0 < control["t_high"]
    # A set that is itself random is as extreme as about half of the random ones or more.
    ordinary = np.zeros(400, bool)
    ordinary[200:210] = True
    t = stats.two_sample_tests(values[ordinary], values[~ordinary & ~shifted])["t"]
    assert stats.random_control(values, 10, ~shifted, t, draws=500, seed=0)["as_extreme"] > 0.05


def test_the_random_control_t_matches_scipy_for_one_draw():
    # With draws=1 the one random set can be recovered from the seed: its t must be scipy's.
    values = np.random.default_rng(5).normal(size=50)
    comparison = np.ones(50, bool)
    control = stats.random_control(values, 5, comparison, 1.0, draws=1, seed=7)
    rng = np.random.default_rng(7)
    picks = np.argsort(rng.random((1, 50)), axis=1)[0, :5]
    chosen = np.zeros(50, bool)
    chosen[picks] = True
    expected = scipy_stats.ttest_ind(values[chosen], values[~chosen]).statistic
    assert control["t_median"] == pytest.approx(expected)


def test_over_representation_by_hand():
    rare = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    group = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    got = stats.over_representation(group, rare)
    assert got["share"] == pytest.approx(2 / 3) and got["overall_share"] == pytest.approx(0.2)
    # P(both rare examples fall in a group of 3 out of 10) = C(3,2) / C(10,2) = 3 / 45.
    assert got["fisher_p"] == pytest.approx(3 / 45)


def test_constant_values_give_null_statistics_and_a_warning_not_nan():
    with pytest.warns(UserWarning, match="every value is the same"):
        got = stats.two_sample_tests(np.zeros(5), np.zeros(50))
    assert got["t"] is None and got["hedges_g"] is None and got["n"] == 5


def test_a_constant_group_against_a_spread_one_still_gets_a_t_and_g():
    got = stats.two_sample_tests(np.ones(5), np.random.default_rng(0).normal(size=50), )
    assert got["t"] > 0 and got["hedges_g"] > 0


def test_the_random_set_control_is_uniform_on_a_null_and_small_for_a_shifted_set():
    # The observed set is itself a random set (the null): its as_extreme must fall at or below 0.05
    # about 5% of the time; a set shifted by one standard deviation must be as extreme as few random sets.
    rng = np.random.default_rng(0)
    size, n = 8, 200
    null_p, shifted_p = [], []
    for replicate in range(60):
        values = rng.normal(size=n)
        chosen = np.zeros(n, bool)
        chosen[rng.choice(n, size, replace=False)] = True
        for shift, out in ((0.0, null_p), (1.0, shifted_p)):
            v = values + shift * chosen
            t = scipy_stats.ttest_ind(v[chosen], v[~chosen]).statistic
            out.append(stats.random_control(v, size, ~chosen, t, draws=200, seed=replicate)["as_extreme"])
    null_p, shifted_p = np.array(null_p), np.array(shifted_p)
    assert np.mean(null_p <= 0.05) <= 0.12 and 0.35 <= np.median(null_p) <= 0.65
    assert np.median(shifted_p) <= 0.02
