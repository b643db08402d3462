import numpy as np
import pytest

from longtail import LongtailError
from longtail.estimate import influence


def direct_influence(masks, correct):
    """docs/DESIGN.md's definition, one (i, j) at a time."""
    out = np.full((correct.shape[1], masks.shape[1]), np.nan)
    for i in range(correct.shape[1]):
        for j in range(masks.shape[1]):
            inside, outside = correct[masks[:, j], i], correct[~masks[:, j], i]
            if len(inside) and len(outside):
                out[i, j] = inside.mean() - outside.mean()
    return out


@pytest.fixture
def trials():
    rng = np.random.default_rng(3)
    t, n_train, n_test = 60, 25, 17
    masks = rng.random((t, n_train)) < 0.7
    masks[:, 0] = True  # in every trial: undefined
    masks[:, 1] = False  # in no trial: undefined
    return masks, rng.random((t, n_train)) < 0.8, rng.random((t, n_test)) < 0.6


@pytest.mark.parametrize("chunk_rows", [1, 4, 17, 100])
def test_influence_blocks_match_the_per_example_definition_with_nan_where_undefined(trials, chunk_rows):
    masks, _, test_correct = trials
    blocks = list(influence.influence_blocks(masks, test_correct, chunk_rows))
    assert all(len(b) <= chunk_rows for b in blocks)
    got = np.concatenate(blocks)
    expected = direct_influence(masks, test_correct)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.isnan(got[:, :2]).all() and not np.isnan(got[:, 2:]).any()


def test_memorization_is_the_influence_of_each_training_example_on_itself(trials):
    masks, train_correct, _ = trials
    expected = np.diagonal(direct_influence(masks, train_correct))
    np.testing.assert_allclose(influence.memorization(masks, train_correct), expected)


def test_mean_influences_equal_nan_means_of_the_full_matrix(trials):
    masks, _, test_correct = trials
    full = direct_influence(masks, test_correct)
    test_mean, train_mean = influence.mean_influences(masks, test_correct)
    np.testing.assert_allclose(test_mean, np.nanmean(full, axis=1))
    np.testing.assert_allclose(train_mean[2:], np.nanmean(full[:, 2:], axis=0))
    assert np.isnan(train_mean[:2]).all()


def test_an_example_that_decides_a_test_example_has_influence_one():
    masks = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], bool)
    test_correct = masks[:, :1].copy()  # test example 0 is right exactly when train example 0 was seen
    block = next(influence.influence_blocks(masks, test_correct))
    assert block[0, 0] == 1.0 and block[0, 1] == 0.0


def test_high_influence_pairs_need_both_thresholds():
    block = np.array([[0.2, 0.2, 0.1], [0.5, 0.0, 0.16]], np.float32)
    memorization = np.array([0.3, 0.1, 0.25])
    pairs = influence.high_influence_pairs(block, 10, memorization, min_influence=0.15, min_memorization=0.25)
    got = {(int(a), int(b)) for a, b, _, _ in pairs}
    assert got == {(0, 10), (0, 11), (2, 11)}
    row = pairs[[int(a) == 2 for a, *_ in pairs]][0]
    assert row[2] == pytest.approx(0.16) and row[3] == 0.25


def test_mismatched_trial_counts_are_refused(trials):
    masks, _, test_correct = trials
    with pytest.raises(LongtailError, match="as many trials"):
        next(influence.influence_blocks(masks[:-1], test_correct))


def test_strongest_influence_and_top_memorization_follow_their_definitions(trials):
    masks, train_correct, test_correct = trials
    full = direct_influence(masks, test_correct)
    value, top = influence.strongest_influence(np.concatenate(list(influence.influence_blocks(masks, test_correct, 5))))
    np.testing.assert_allclose(value, np.nanmax(full, axis=1), atol=1e-6)
    np.testing.assert_array_equal(top, np.nanargmax(full, axis=1))
    memorization = influence.memorization(masks, train_correct)
    np.testing.assert_allclose(influence.top_memorization(top, memorization), memorization[np.nanargmax(full, axis=1)])


def test_a_row_with_no_defined_influence_has_no_strongest_pair():
    value, top = influence.strongest_influence(np.array([[np.nan, np.nan], [0.1, np.nan]]))
    assert np.isnan(value[0]) and top[0] == -1 and top[1] == 0
    assert np.isnan(influence.top_memorization(top, np.array([0.5, 0.7]))[0])


@pytest.mark.parametrize("rows", [1, 3, 20])
def test_extreme_pairs_are_the_most_negative_nearest_zero_and_most_positive_one_per_test_example(rows):
    block = np.array([[0.5, -0.2, np.nan], [0.9, 0.0, -0.7], [0.1, 0.05, 0.3], [np.nan, -0.9, 0.02]])
    got = influence.extreme_pairs((block[s : s + rows] for s in range(0, 4, rows)), k=2)
    # Each test example's own extreme first, then the k best of those.
    assert got["negative"].tolist() == [[3, 1, -0.9], [1, 2, -0.7]]
    assert got["zero"].tolist() == [[1, 1, 0.0], [3, 2, 0.02]]
    assert got["positive"].tolist() == [[1, 0, 0.9], [0, 0, 0.5]]


def test_mean_influence_is_the_covariance_of_correctness_with_subset_size():
    # The README's identity: with every training example in the same number of trials,
    # mean_j influence[i, j] = n / (m (n - m)) * cov_k(D[k, i], |S_k|), m the mean subset size;
    # so with subsets of one size (fixed_size masks) it vanishes.
    rng = np.random.default_rng(0)
    n = 30
    short, long = rng.random(n) < 0.5, rng.random(n) < 0.8
    masks = np.array([np.roll(row, k) for row in (short, long) for k in range(n)])  # every column sum equal
    test_correct = rng.random((2 * n, 7)) < 0.6
    sizes = masks.sum(1)
    m = sizes.mean()
    cov = ((test_correct - test_correct.mean(0)) * (sizes - m)[:, None]).mean(0)
    assert influence.mean_influences(masks, test_correct)[0] == pytest.approx(n / (m * (n - m)) * cov)
    one_size = np.array([np.roll(long, k) for k in range(n)])
    assert influence.mean_influences(one_size, test_correct[:n])[0] == pytest.approx(np.zeros(7), abs=1e-12)


@pytest.fixture
def soft(trials):
    """The same trials with a soft target: a margin-like float16 per trial and example."""
    masks, train_correct, test_correct = trials
    rng = np.random.default_rng(4)
    return (masks, (train_correct * 4 - 2 + rng.normal(0, 1, train_correct.shape)).astype(np.float16),
            (test_correct * 4 - 2 + rng.normal(0, 1, test_correct.shape)).astype(np.float16))


def test_a_soft_target_follows_the_same_definitions(soft):
    masks, train_target, test_target = soft
    np.testing.assert_allclose(np.concatenate(list(influence.influence_blocks(masks, test_target, 5))),
                               direct_influence(masks, test_target.astype(np.float64)), atol=1e-5)
    np.testing.assert_allclose(influence.memorization(masks, train_target),
                               np.diagonal(direct_influence(masks, train_target.astype(np.float64))))
    se = influence.memorization_se(masks, train_target)
    for j in range(2, masks.shape[1]):  # a difference of two means: each group's variance over its size
        inside, outside = (train_target[m, j].astype(np.float64) for m in (masks[:, j], ~masks[:, j]))
        assert se[j] == pytest.approx(np.sqrt(inside.var() / len(inside) + outside.var() / len(outside)))
    assert np.isnan(se[:2]).all()


@pytest.mark.parametrize("target", ["correct", "soft"])
def test_data_oob_and_banzhaf_match_a_recomputation_trial_by_trial(trials, soft, target):
    masks, train_target, test_target = trials if target == "correct" else soft
    oob, oob_se = influence.data_oob(masks, train_target)
    value, value_se = influence.banzhaf(masks, test_target)
    utility = test_target.astype(np.float64).mean(1)  # each trial's test accuracy (mean target)
    for j in range(2, masks.shape[1]):
        left_out = train_target[~masks[:, j], j].astype(np.float64)
        assert oob[j] == pytest.approx(left_out.mean())
        assert oob_se[j] == pytest.approx(left_out.std() / np.sqrt(len(left_out)))
        kept, dropped = utility[masks[:, j]], utility[~masks[:, j]]
        assert value[j] == pytest.approx(kept.mean() - dropped.mean())
        assert value_se[j] == pytest.approx(np.sqrt(kept.var() / len(kept) + dropped.var() / len(dropped)))
    assert np.isnan(oob[0]) and np.isnan(value[:2]).all()  # in every trial: nothing left out
    # MSR Banzhaf with the trials' test accuracy is the mean influence of each training example
    np.testing.assert_allclose(value[2:], influence.mean_influences(masks, test_target)[1][2:], atol=1e-9)


@pytest.mark.parametrize("target", ["correct", "soft"])
def test_one_pass_gives_the_matrix_its_halves_and_the_rest_as_their_own_passes_would(trials, soft, target):
    masks, _, test_target = trials if target == "correct" else soft
    halves = (np.arange(0, 60, 2), np.arange(1, 60, 2))
    held = np.array([3, 10, 11, 40])
    rest = np.setdiff1d(np.arange(60), held)
    parts = [{name: block.copy() for name, block in p.items()}  # each is overwritten by the next
             for p in influence.influence_pass(masks, test_target, halves, held, chunk_rows=5)]
    whole = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    assert set(whole) == {"all", "rest", "a", "b"}
    for name, trials_ in [("all", slice(None)), ("a", halves[0]), ("b", halves[1]), ("rest", rest)]:
        expected = np.concatenate(list(influence.influence_blocks(masks[trials_], test_target[trials_], 5)))
        if target == "correct" and name in ("all", "a", "b"):  # integer sums: bit for bit
            np.testing.assert_array_equal(whole[name], expected)
        else:
            np.testing.assert_allclose(whole[name], expected, atol=1e-5)
    without = next(influence.influence_pass(masks, test_target, halves, np.array([], int)))
    assert "rest" not in without
    reused = [block.copy() for block in influence.influence_blocks(masks, test_target, 5, reuse=True)]
    np.testing.assert_array_equal(np.concatenate(reused), whole["all"] if target == "correct" else
                                  np.concatenate(list(influence.influence_blocks(masks, test_target, 5))))


def test_strongest_influence_given_the_undefined_columns_matches_and_leaves_the_block_as_it_was(trials):
    masks, _, test_correct = trials
    block = np.concatenate(list(influence.influence_blocks(masks, test_correct)))
    before = block.copy()
    fast = influence.strongest_influence(block, influence.undefined(masks))
    for got, expected in zip(fast, influence.strongest_influence(before)):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(block, before)  # its NaNs are back
    assert influence.undefined(masks)[:2].all() and not influence.undefined(masks)[2:].any()


# --- the same products through torch (estimate's device: a GPU; here torch's CPU backend) ------------

@pytest.mark.parametrize("target", ["correct", "soft"])
def test_torch_gives_numpys_blocks_pass_and_strongest_influence(trials, soft, target):
    # 0/1 targets: exact counts and the same IEEE operations in the same order, bit for bit; a soft
    # target's sums are rounded in another order.
    masks, _, test_target = trials if target == "correct" else soft
    same = np.testing.assert_array_equal if target == "correct" else (
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6))
    numpy_blocks = np.concatenate(list(influence.influence_blocks(masks, test_target, 5)))
    same(np.concatenate(list(influence.influence_blocks(masks, test_target, 5, device="cpu"))), numpy_blocks)
    halves, held = (np.arange(0, 60, 2), np.arange(1, 60, 2)), np.array([3, 10, 11, 40])
    for ours, theirs in zip(influence.influence_pass(masks, test_target, halves, held, 5),
                            influence.influence_pass(masks, test_target, halves, held, 5, device="cpu")):
        assert set(ours) == set(theirs)
        for name in ours:
            same(theirs[name], ours[name])
    value, top = influence.strongest(masks, test_target, 5, device="cpu")
    expected = influence.strongest(masks, test_target, 5)
    same(value, expected[0])
    if target == "correct":
        np.testing.assert_array_equal(top, expected[1])  # the first of tied maxima on both
    assert influence.on_device("cpu") is None and influence.on_device(None) is None
    assert influence.on_device("cuda:1") == "cuda:1"


def test_the_null_and_the_spread_through_torch_are_numpys(trials):
    from longtail.estimate import null, uncertainty

    masks, train_correct, test_correct = trials
    memorization = influence.memorization(masks, train_correct)
    ours = null.influence_free(masks, test_correct, memorization, draws=3, seed=1, rows=5)
    theirs = null.influence_free(masks, test_correct, memorization, draws=3, seed=1, rows=5, device="cpu")
    for name in ours:
        np.testing.assert_array_equal(theirs[name], ours[name])
    assert (uncertainty.split_half_spread(masks, train_correct, test_correct, 0, 3, 5, device="cpu")
            == uncertainty.split_half_spread(masks, train_correct, test_correct, 0, 3, 5))


@pytest.mark.parametrize("device", [None, "cpu"])
def test_strongest_skips_the_constant_columns_and_gives_the_blocks_answer_bit_for_bit(trials, device):
    # A column right (or wrong) in every trial has an influence row of exact zeros: its strongest is
    # 0 at the first defined training example, with no product; where no column is defined, NaN, -1.
    masks, _, test_correct = trials
    columns = test_correct.copy()
    columns[:, [0, 5]], columns[:, 9] = True, False
    for m, d in ((masks, columns), (masks, columns[:, [0, 5, 9]]), (masks[:, :2], columns)):
        got = influence.strongest(m, d, 4, device)
        expected = tuple(np.concatenate(part) for part in zip(*(
            influence.strongest_influence(block, influence.undefined(m)) for block in influence.influence_blocks(m, d, 4))))
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    assert influence.strongest(masks, columns, 4, device)[1][0] == 2  # columns 0 and 1 are undefined


def test_strongest_computes_only_the_columns_that_vary(trials, monkeypatch):
    masks, _, test_correct = trials
    columns = test_correct.copy()
    columns[:, :10] = True
    seen, blocks = [], influence.influence_blocks
    monkeypatch.setattr(influence, "influence_blocks", lambda m, d, *a, **k: seen.append(d.shape[1]) or blocks(m, d, *a, **k))
    influence.strongest(masks, columns, 4)
    assert seen == [columns.shape[1] - 10]
    influence.strongest(masks, np.ones_like(columns))
    assert seen == [columns.shape[1] - 10]  # nothing varies: no product at all


@pytest.mark.parametrize("t", [9, 60, 100])
@pytest.mark.parametrize("budget", [1, 1 << 20])  # a column at a time, all of them at once
def test_grouped_strongest_gives_each_halfs_own_strongest(t, budget):
    # The spread's halves from products per group: for 0/1 targets each half's strongest, its own
    # pass's bit for bit (constant columns, columns constant in one half, undefined training examples,
    # and a training example defined in all trials but undefined in a half among them).
    from longtail.estimate import halves

    rng = np.random.default_rng(t)
    masks = rng.random((t, 25)) < 0.7
    masks[:, 0], masks[:, 1] = True, False
    test_correct = rng.random((t, 17)) < 0.6
    test_correct[:, [3, 4]], test_correct[:, 5] = True, False
    members, chosen = halves.grouped(t, 1, [2, 3, 4])
    a, b = halves.sides(members, chosen[0])
    masks[a, 2], test_correct[b, 6] = True, True  # in every trial of one half; right in every trial of the other
    value, top = influence.grouped_strongest(masks, test_correct, members, chosen, budget_bytes=budget)
    assert value.shape == top.shape == (3, 2, 17)
    for i, row in enumerate(chosen):
        for side, half in enumerate(halves.sides(members, row)):
            expected = influence.strongest(masks[half], test_correct[half])
            np.testing.assert_array_equal(value[i, side], expected[0])
            np.testing.assert_array_equal(top[i, side], expected[1])
    margin = rng.normal(size=(t, 17)).astype(np.float32)  # a soft target: its sums in another order
    value, top = influence.grouped_strongest(masks, margin, members, chosen, budget_bytes=budget)
    expected = influence.strongest(masks[a], margin[a])
    np.testing.assert_allclose(value[0, 0], expected[0], atol=1e-5)


def test_the_pass_through_the_spreads_groups_gives_the_same_blocks(trials):
    # With the reliability spread's groups (within the halves) the pass's halves are sums of groups:
    # every block bit for bit the pass's without them, and the spread's halves each one's strongest.
    from longtail.estimate import halves as halves_module

    masks, _, test_correct = trials
    split = halves_module.halves(len(masks), 3)
    members, chosen = halves_module.grouped(len(masks), 4, [5, 6], within=split)
    held = np.arange(0, len(masks), 7)
    plain = list(dict(b) for b in influence_pass_copies(masks, test_correct, split, held))
    grouped = list(dict(b) for b in influence_pass_copies(masks, test_correct, split, held, (members, chosen)))
    for a, b in zip(plain, grouped):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    value, top = (np.concatenate([b["spread"][k] for b in grouped], axis=1).reshape(2, 2, -1) for k in (0, 1))
    for i, row in enumerate(chosen):
        for side, half in enumerate(halves_module.sides(members, row)):
            expected = influence.strongest(masks[half], test_correct[half])
            np.testing.assert_array_equal(value[i, side], expected[0])
            np.testing.assert_array_equal(top[i, side], expected[1])


def influence_pass_copies(masks, test_correct, split, held, spread=None):
    """influence_pass's blocks, each copied before the next overwrites it."""
    for blocks in influence.influence_pass(masks, test_correct, split, held, 5, spread=spread):
        yield {name: tuple(x.copy() for x in v) if name == "spread" else v.copy() for name, v in blocks.items()}
