import numpy as np
import pytest
from scipy import stats as scipy_stats

from longtail import LongtailError, cie, stats


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
