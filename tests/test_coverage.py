"""Every interval the tool prints covers its truth in simulated worlds, at the smallest sizes the
tool accepts: the fast version of benchmarks/coverage.py (a few independent realizations, a loose
bound). Each fails where its interval is replaced by a point, or by the interval it replaced (the
percentile bootstrap of Hedges' g covered 45 to 55% at a group of 2; the normal DeLong interval 65
to 73% at 2 positives; CEV/SDE: tests/test_bias.py)."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("coverage_benchmark", Path(__file__).parents[1] / "benchmarks/coverage.py")
coverage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coverage)


@pytest.mark.parametrize("check, sizes, replicates", [
    ("q1", (2, 30), 30), ("q2", (3, 10), 30), ("g", (2, 10), 40), ("lds", (3, 25), 15), ("auc", (2, 10), 40)])
def test_every_interval_covers_its_truth_over_independent_realizations(check, sizes, replicates):
    for row in coverage.measure(check, replicates, seed=1, sizes=sizes):
        assert row["replicates"] >= replicates * 0.9, row  # an interval almost always
        assert row["counts"][0] / row["replicates"] >= 0.8, row


def test_q1_rejects_about_alpha_without_a_difference_and_finds_one():
    rows = {(r["world"], r["size"]): r for r in coverage.measure("q1", 60, seed=2, sizes=(2, 100))}
    assert rows[("delta 0.0, shared 0.0", 2)]["counts"][1] / 60 <= 0.12
    assert rows[("delta 0.5, shared 0.0", 100)]["counts"][1] / 60 >= 0.8
