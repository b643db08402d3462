import numpy as np
import pytest

from longtail import seeds
from longtail.estimate import halves, influence, uncertainty


@pytest.fixture(scope="module")
def trial_arrays():
    rng = np.random.default_rng(0)
    masks = rng.random((60, 40)) < 0.7
    skill = rng.random(40)
    train_correct = rng.random((60, 40)) < np.where(masks, 0.5 + skill / 2, skill)
    test_correct = rng.random((60, 15)) < 0.8
    masks[:, 0] = True  # in every trial: undefined
    return masks, train_correct, test_correct


def test_memorization_se_is_the_binomial_se_of_the_two_proportions(trial_arrays):
    masks, train_correct, _ = trial_arrays
    se = influence.memorization_se(masks, train_correct)
    assert se.shape == (40,) and np.isnan(se[0])
    for j in range(1, 40):
        inside, outside = train_correct[masks[:, j], j], train_correct[~masks[:, j], j]
        p, q = inside.mean(), outside.mean()
        assert se[j] == pytest.approx(np.sqrt(p * (1 - p) / len(inside) + q * (1 - q) / len(outside)))


def test_trials_for_se_scales_as_one_over_root_trials():
    assert uncertainty.trials_for_se(100, 0.1, 0.05) == 400
    assert uncertainty.trials_for_se(100, 0.1, 0.02) == 2500
    assert uncertainty.trials_for_se(100, 0.01, 0.05) == 4  # already there: a few trials would do
    assert uncertainty.trials_for_se(100, 0.0, 0.05) is None  # nothing varies: no count changes it
    assert uncertainty.trials_for_se(100, float("nan"), 0.05) is None


def test_split_half_reliability_matches_a_recomputation_from_the_seed(trial_arrays):
    masks, train_correct, test_correct = trial_arrays
    r = uncertainty.split_half(masks, train_correct, test_correct, seed=7, chunk_rows=4)
    perm = np.random.default_rng(7).permutation(len(masks))
    a, b = np.sort(perm[: len(masks) // 2]), np.sort(perm[len(masks) // 2:])
    mem_a, mem_b = (influence.memorization(masks[h], train_correct[h]) for h in (a, b))
    both = np.isfinite(mem_a) & np.isfinite(mem_b)
    assert r["split_seed"] == 7
    assert r["memorization"] == pytest.approx(np.corrcoef(mem_a[both], mem_b[both])[0, 1])
    infl_a = np.concatenate(list(influence.influence_blocks(masks[a], test_correct[a])))
    infl_b = np.concatenate(list(influence.influence_blocks(masks[b], test_correct[b])))
    max_a, max_b = np.nanmax(infl_a, 1), np.nanmax(infl_b, 1)
    assert r["max_influence"] == pytest.approx(np.corrcoef(max_a, max_b)[0, 1], rel=1e-5)
    mean_a = np.nanmean(infl_a, 1)
    mean_b = np.nanmean(infl_b, 1)
    assert r["mean_influence"] == pytest.approx(np.corrcoef(mean_a, mean_b)[0, 1], rel=1e-4)
    top_a = mem_a[np.nanargmax(infl_a, 1)]
    top_b = mem_b[np.nanargmax(infl_b, 1)]
    ok = np.isfinite(top_a) & np.isfinite(top_b)
    assert r["top_memorization"] == pytest.approx(np.corrcoef(top_a[ok], top_b[ok])[0, 1], rel=1e-5)


def test_reliability_tells_a_real_signal_from_noise():
    rng = np.random.default_rng(1)
    masks = rng.random((400, 300)) < 0.7
    memorized = np.arange(300) < 100  # right only when trained on
    train_correct = np.where(memorized, masks, rng.random((400, 300)) < 0.9)
    noise = rng.random((400, 300)) < 0.5  # no example memorized: correctness ignores the masks
    test_correct = rng.random((400, 5)) < 0.5
    assert uncertainty.split_half(masks, train_correct, test_correct, seed=0)["memorization"] > 0.9
    assert abs(uncertainty.split_half(masks, noise, test_correct, seed=0)["memorization"]) < 0.2


def test_stability_follows_doubling_trials_and_tells_a_settled_top_set_from_noise():
    rng = np.random.default_rng(1)
    masks = rng.random((64, 300)) < 0.7
    planted = np.arange(300) < 10  # right only when trained on: memorization 1, the clear top 10
    settled = np.where(planted, masks, rng.random((64, 300)) < 0.9)
    noise = rng.random((64, 300)) < 0.9  # correctness ignores the masks: the top 10 is chance
    ms, jaccard = uncertainty.stability(masks, settled, k=10, min_trials=8)
    assert ms.tolist() == [8, 16, 32, 64]
    assert (jaccard == 1).all()  # the planted ten from the first 8 trials on
    _, chance = uncertainty.stability(masks, noise, k=10, min_trials=8)
    assert chance[:3].max() < 0.5  # a top set of noise is not stable


def test_correlation_is_undefined_without_spread():
    assert uncertainty.correlation(np.ones(10), np.arange(10.0)) is None
    assert uncertainty.correlation(np.array([1.0, np.nan, 2, 3]), np.array([1.0, 5, 2, np.nan])) is None


def test_the_spread_of_a_reliability_is_that_of_further_seeded_splits(trial_arrays):
    masks, train_correct, test_correct = trial_arrays
    spread = uncertainty.split_half_spread(masks, train_correct, test_correct, seed=3, splits=5, chunk_rows=4)
    members, chosen = halves.grouped(len(masks), seeds.derive(3, seeds.SPLITS, 0),
                                     [seeds.derive(3, seeds.SPLITS, i) for i in range(1, 6)])
    rs = []
    for row in chosen:  # each split's two halves estimated on their own trials
        a, b = (uncertainty.estimates(masks[h], train_correct[h], test_correct[h]) for h in halves.sides(members, row))
        rs.append(uncertainty.reliabilities(a, b, 0))
    assert spread["splits"] == 5
    for name in ("memorization", "mean_influence", "max_influence", "top_memorization"):
        values = [r[name] for r in rs]
        assert spread[name] == pytest.approx({"sd": np.std(values, ddof=1), "low": min(values), "high": max(values)})
    assert spread["memorization"]["sd"] > 0 and len({r["memorization"] for r in rs}) == 5  # the splits differ


@pytest.mark.parametrize("trials", [2, 7, 31, 32, 33, 34, 63, 64, 97, 100, 1000, 2001, 2002])
@pytest.mark.parametrize("nested", [False, True])
def test_grouped_splits_are_halves_of_whole_groups(trials, nested):
    within = halves.halves(trials, 5) if nested else None
    members, chosen = halves.grouped(trials, 0, [1, 2, 3], within=within)
    assert np.array_equal(np.sort(np.concatenate(members)), np.arange(trials))  # every trial in one group
    parts = within or (np.arange(trials),)
    per_part = halves.GROUPS // len(parts)
    for part in parts:  # each part in per_part groups of size or size + 1 (and a single trial where odd)
        inside = [m for m in members if np.isin(m, part).all()]
        assert sum(map(len, inside)) == len(part)  # no group straddles two parts
        size = len(part) // per_part
        if size:
            assert len([m for m in inside if len(m) in (size, size + 1)]) >= per_part
    for row in chosen:
        a, b = halves.sides(members, row)
        assert len(a) == trials // 2 and len(b) == trials - trials // 2
        assert np.array_equal(np.sort(np.concatenate([a, b])), np.arange(trials))
    assert len({tuple(halves.sides(members, row)[0]) for row in chosen}) == 3 or trials < 32  # the splits differ
    with pytest.raises(ValueError, match="multiple of"):
        halves.grouped(trials, 0, [1], groups=6, within=within or (np.arange(trials), np.arange(0)))


def test_grouped_splits_are_uniform_halves_over_the_groups_draw():
    # Over the draw of the groups, a trial's side is a fair coin and two trials' sides agree as often
    # as in a free split: (t/2 - 1) / (t - 1) of the time; given the groups, trials of one group always agree.
    trials, agree, first = 100, 0, 0
    for seed in range(2000):
        members, chosen = halves.grouped(trials, seed, [seed + 10_000])
        a, _ = halves.sides(members, chosen[0])
        first += 0 in a
        agree += (0 in a) == (1 in a)
    assert abs(first / 2000 - 0.5) < 0.04
    assert abs(agree / 2000 - 49 / 99) < 0.04


def test_the_estimate_pass_gives_the_split_half_its_own_passes_would(trial_arrays):
    from longtail import params
    from longtail.estimate import estimates

    masks, train_correct, test_correct = trial_arrays
    cfg = params.Estimate(target="correct", dtype="float32", pair_influence=0.15, pair_memorization=0.25,
                          reliability_splits=2, null_draws=2, holdout=0.2)
    halves, held, spread = estimates.split(len(masks), cfg, seed=7)
    per = estimates.per_example(masks, train_correct, test_correct, train_correct)
    rows = estimates.influence_rows(masks, test_correct, per["memorization"], 4, halves=halves, held=held,
                                    min_influence=0.15, min_memorization=0.25, spread=spread)
    while True:
        try:
            next(rows)
        except StopIteration as done:
            reduced = done.value
            break
    result = estimates.finish(masks, train_correct, test_correct, per, reduced, flipped=None, cfg=cfg, seed=7, rows=4)
    expected = uncertainty.split_half(masks, train_correct, test_correct, seed=7, chunk_rows=4)
    assert {k: result.summary["reliability"][k] for k in expected} == expected
    assert result.summary["lds"]["held_out"] == len(held) == round(0.2 * len(masks))
    # the spread from the pass's products is the one its splits' own products give
    assert reduced.spread is not None
    assert result.summary["reliability_spread"] == uncertainty.split_half_spread(
        masks, train_correct, test_correct, 7, 2, within=halves)
