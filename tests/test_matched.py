"""Q2, the difficulty-adjusted comparison (analysis.matched): its estimate against a hand-fitted
regression, calibration on groups chosen by difficulty alone where the raw t is fooled, power and
coverage on a planted effect, every member used (extrapolated ones counted), and the cases where it
cannot answer (too few members, ties, NaN)."""

import numpy as np
import pytest
from scipy import stats

from longtail.analysis.matched import adjusted_test, spline_basis


def hard_and_easy(rng, n):
    """Trial accuracies as a run has them: most examples at 1.0 (every trial right), the rest spread."""
    difficulty = np.where(rng.random(n) < 0.6, 1.0, np.round(rng.uniform(0, 1, n), 3))
    spread = difficulty * (1 - difficulty)
    return difficulty, spread


def test_the_difference_is_the_group_coefficient_of_the_spline_fit():
    rng = np.random.default_rng(0)
    difficulty, spread = hard_and_easy(rng, 300)
    values = np.sin(3 * difficulty) + rng.normal(0, 0.1, 300)
    group = rng.random(300) < 0.1
    got = adjusted_test(values, group, ~group, difficulty)
    basis, knots = spline_basis(difficulty, difficulty[~group])
    coef = np.linalg.lstsq(np.column_stack([basis, group]), values, rcond=None)[0]
    assert got["diff"] == pytest.approx(coef[-1])
    assert got["knots"] == knots > 0 and got["n"] == group.sum() and got["extrapolated"] == 0
    assert got["df"] == (~group).sum() - basis.shape[1]
    assert got["raw_diff"] == pytest.approx(values[group].mean() - values[~group].mean())
    # The interval is diff -/+ t_df se, and p its two-sided tail.
    assert got["diff_high"] - got["diff"] == pytest.approx(stats.t.ppf(0.975, got["df"]) * got["se"])
    assert got["p"] == pytest.approx(2 * stats.t.sf(abs(got["diff"]) / got["se"], got["df"]))
    # Its variance is the comparison's spread at the group's difficulties: about 0.1^2 / n here.
    assert got["se"] == pytest.approx(0.1 / np.sqrt(group.sum()), rel=0.3)


def test_groups_drawn_by_difficulty_alone_are_rejected_at_about_alpha_where_the_raw_t_is_not():
    # No influence at all: the value grows with p (1 - p), as every influence statistic does, and the
    # fake CIE sets are drawn from the hard examples.
    rng = np.random.default_rng(1)
    n = 1500
    difficulty, spread = hard_and_easy(rng, n)
    values = 3 * spread + rng.normal(0, 0.05, n) * np.sqrt(spread + 0.01)
    weight = (1 - difficulty + 0.01) / (1 - difficulty + 0.01).sum()
    raw = adjusted = 0
    draws = 100
    for _ in range(draws):
        group = np.zeros(n, bool)
        group[rng.choice(n, 10, replace=False, p=weight)] = True
        raw += stats.ttest_ind(values[group], values[~group]).pvalue <= 0.05
        adjusted += adjusted_test(values, group, ~group, difficulty)["p"] <= 0.05
    assert raw / draws > 0.5  # the paper's comparison: difficulty alone looks like influence
    assert adjusted / draws <= 2 * 0.05  # measured over more draws in benchmarks/calibration.py


def test_a_planted_effect_is_found_and_its_interval_covers_it():
    rng = np.random.default_rng(2)
    n = 800
    difficulty, spread = hard_and_easy(rng, n)
    values = spread + rng.normal(0, 0.02, n)
    group = np.zeros(n, bool)
    group[rng.choice(np.flatnonzero(difficulty < 1), 12, replace=False)] = True
    values[group] += 0.1
    got = adjusted_test(values, group, ~group, difficulty)
    assert got["p"] < 0.01
    assert got["diff_low"] < 0.1 < got["diff_high"] and got["diff_low"] > 0
    assert adjusted_test(-values, group, ~group, difficulty)["diff"] == pytest.approx(-got["diff"])


def test_every_member_is_used_and_those_outside_the_comparisons_difficulties_are_counted():
    rng = np.random.default_rng(4)
    difficulty = rng.uniform(0.3, 0.9, 200)
    values = difficulty + rng.normal(0, 0.05, 200)
    group = np.zeros(200, bool)
    group[:6] = True
    difficulty[:2] = [0.05, 0.1]  # harder than any comparison example
    difficulty[2] = 1.0  # every trial right, and no comparison example is
    got = adjusted_test(values, group, ~group, difficulty)
    assert got["n"] == 6 and got["extrapolated"] == 3 and got["p"] is not None


def test_the_design_effect_widens_the_interval_by_its_square_root():
    rng = np.random.default_rng(5)
    difficulty, _ = hard_and_easy(rng, 400)
    values = rng.normal(0, 1, 400)
    group = rng.random(400) < 0.1
    plain = adjusted_test(values, group, ~group, difficulty)
    wide = adjusted_test(values, group, ~group, difficulty, design_effect=4.0)
    assert wide["diff"] == plain["diff"] and wide["se"] == pytest.approx(2 * plain["se"])
    assert wide["p"] > plain["p"]


def test_too_few_members_or_ties_give_no_answer_or_p_one():
    difficulty = np.repeat([0.1, 0.5, 0.9], 20)
    group = np.zeros(60, bool)
    group[0] = True
    none = adjusted_test(np.arange(60.0), group, ~group, difficulty)
    assert none["p"] is None and none["diff"] is None and none["n"] == 1
    # Every value the same linear function of difficulty: the fit is exact, the group is on it.
    values = 0.2 + 0.5 * difficulty
    group[[1, 25, 45, 46]] = True
    tied = adjusted_test(values, group, ~group, difficulty)
    assert tied["p"] == 1.0 and tied["diff"] == pytest.approx(0.0, abs=1e-9)


def test_nan_values_are_left_out():
    rng = np.random.default_rng(3)
    difficulty, values = rng.uniform(0, 1, 200), rng.normal(0, 1, 200)
    group = rng.random(200) < 0.1
    with_nan = values.copy()
    with_nan[:10] = np.nan
    got = adjusted_test(with_nan, group, ~group, difficulty)
    kept = np.arange(200) >= 10
    assert got == pytest.approx(adjusted_test(values[kept], group[kept], ~group[kept], difficulty[kept]))


def test_a_comparison_without_spread_cannot_judge_a_group_that_has_some():
    # The comparison sits exactly on a line: no variance to borrow; the group scatters around it.
    difficulty = np.linspace(0.05, 0.95, 80)
    values = 0.2 + 0.5 * difficulty
    group = np.zeros(80, bool)
    group[::10] = True
    values[group] += np.linspace(-0.1, 0.1, group.sum())
    got = adjusted_test(values, group, ~group, difficulty)
    assert got["p"] is None and got["diff"] is None and got["n"] == 8  # not p = 0 from a zero variance
