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


# --- the marginal null by counts (null.by_count) -----------------------------------------------------

def test_a_prefix_of_the_trials_is_that_columns_statistic_bit_for_bit():
    masks, train_correct, _ = no_influence_trials(5, t=40, n_train=15, n_test=1)
    masks[:, 0] = True  # an undefined training example
    order, counts = np.random.default_rng(0).permutation(40), np.array([1, 7, 20, 39])
    value, top, mean = (a[0] for a in influence.prefixes(masks, [order], counts, rows=3))
    columns = np.zeros((40, len(counts)), bool)
    for q, c in enumerate(counts):
        columns[order[:c], q] = True
    expected = influence.strongest(masks, columns)
    np.testing.assert_array_equal(value, expected[0])
    np.testing.assert_array_equal(top, expected[1])
    np.testing.assert_allclose(mean, influence.mean_influences(masks, columns)[0], rtol=1e-12, atol=1e-15)


def test_the_null_by_count_is_the_joint_nulls_example_by_example():
    # Every example's null mean agrees with influence_free's within their Monte-Carlo errors; those no
    # trial disagrees on keep their statistic (excess exactly 0).
    masks, train_correct, test_correct = no_influence_trials(6, t=120, n_train=80, n_test=150)
    test_correct[:, 0], test_correct[:, 1] = True, False
    memorization = influence.memorization(masks, train_correct)
    values = uncertainty.estimates(masks, train_correct, test_correct)
    joint = null.influence_free(masks, test_correct, memorization, draws=64, seed=1)
    ours = null.by_count(masks, test_correct, memorization, draws=64, seed=2)
    varies = (test_correct.sum(0) > 0) & (test_correct.sum(0) < 120)
    for name in joint:
        assert ours[name].shape == joint[name].shape
        assert (ours[name][:, ~varies] == values[name][~varies]).all(), name
        a, b = ours[name][:, varies], joint[name][:, varies]
        z = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 64)
        # examples share draws (one count, nested prefixes), so z is correlated across them: a loose mean
        assert np.abs(z).max() < 4.5 and 0.4 < np.mean(z**2) < 2.5, (name, np.abs(z).max(), np.mean(z**2))
        # the same spread: each example's draws have the joint null's variance (ratio near 1)
        assert 0.8 < np.median(a.var(0) / b.var(0)) < 1.25, name
    counts = test_correct.sum(0)
    same = np.flatnonzero(counts == counts[varies][0])
    assert (ours["max_influence"][:, same] == ours["max_influence"][:, same[:1]]).all()  # one count, one draw


def test_the_null_by_count_refuses_a_soft_target():
    masks, _, test_correct = no_influence_trials(7, t=20, n_train=5, n_test=4)
    with pytest.raises(ValueError, match="0/1 correctness"):
        null.by_count(masks, test_correct.astype(np.float16), np.zeros(5), draws=2, seed=0)


# --- the influence_free stage: the joint draws of the tested examples and a sample ---------------------

def joint_project(tmp_path, root, n_test=60, null_sample=20):
    import yaml

    masks, train_correct, test_correct = no_influence_trials(8, t=30, n_train=25, n_test=n_test)
    (tmp_path / "data/trials").mkdir(parents=True)
    for name, array in (("masks", masks), ("train_correct", train_correct), ("test_correct", test_correct)):
        np.save(tmp_path / f"data/trials/{name}.npy", array)
    (tmp_path / "data/influence").mkdir(parents=True)
    memorization = influence.memorization(masks, train_correct)
    np.save(tmp_path / "data/influence/memorization.npy", memorization)
    rng = np.random.default_rng(0)
    cie = rng.random(n_test) < 0.1
    (tmp_path / "data/cie").mkdir(parents=True)
    np.savez(tmp_path / "data/cie/masks.npz", cie=cie, cie_u=cie, cie_c=np.zeros(n_test, bool),
             cie_both_wrong=np.zeros(n_test, bool))
    (tmp_path / "data/pie").mkdir(parents=True)
    shifted = np.arange(n_test) < 3
    np.savez(tmp_path / "data/pie/masks.npz", pie=np.zeros(n_test, bool), shifted=shifted)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["estimate"] |= {"null_draws": 5, "null_sample": null_sample}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return masks, test_correct, memorization, cie | shifted


def test_the_influence_free_stage_draws_every_tested_example_and_a_uniform_sample(tmp_path, root, python):
    import subprocess

    from longtail import seeds

    masks, test_correct, memorization, tested = joint_project(tmp_path, root)
    done = subprocess.run([python, str(root / "stages/influence_free.py")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = np.load(tmp_path / "data/influence_free/draws.npz")
    columns, sampled = found["columns"], found["sampled"]
    assert set(np.flatnonzero(tested)) <= set(columns) and sampled.sum() == 20 and (np.diff(columns) > 0).all()
    expected = null.influence_free(masks, test_correct[:, columns], memorization, draws=5, seed=seeds.derive(0, seeds.NULL))
    for name, draws in expected.items():
        np.testing.assert_array_equal(found[name], draws)
    # the joint draws of a column are those of the whole test set's, with the same permutations
    whole = null.influence_free(masks, test_correct, memorization, draws=5, seed=seeds.derive(0, seeds.NULL))
    np.testing.assert_array_equal(whole["max_influence"][:, columns], found["max_influence"])
    assert "20 drawn at random" in " ".join(done.stderr.split())


def test_the_influence_free_stage_refuses_arrays_of_another_run(tmp_path, root, python):
    import subprocess

    joint_project(tmp_path, root)
    np.save(tmp_path / "data/influence/memorization.npy", np.zeros(7))
    done = subprocess.run([python, str(root / "stages/influence_free.py")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "rerun the pipeline" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data/influence_free").exists() or not any((tmp_path / "data/influence_free").iterdir())


def test_a_sample_of_columns_is_uniform_and_keeps_every_tested_example():
    tested = np.zeros(100, bool)
    tested[[3, 50]] = True
    columns, sampled = null.sample_columns(100, tested, 10, seed=0)
    assert {3, 50} <= set(columns) and sampled.sum() == 10 and len(columns) in (10, 11, 12)
    every, all_sampled = null.sample_columns(100, tested, 500, seed=0)
    assert (every == np.arange(100)).all() and all_sampled.all()
    # uniform: over many seeds each example is drawn about size / n of the time
    hits = np.zeros(100)
    for seed in range(400):
        c, s = null.sample_columns(100, tested, 10, seed=seed)
        hits[c[s]] += 1
    assert abs(hits.mean() / 400 - 0.1) < 1e-12 and hits.std() / 400 < 0.03
