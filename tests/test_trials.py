import numpy as np
import pytest
import torch

from longtail import LongtailError, devices
from longtail.data import datasets
from longtail.train import engine, fitted, training, trials
from recipes import recipe


def test_bernoulli_masks_keep_about_the_ratio_and_are_reproducible():
    masks = trials.sample_masks(200, 500, 0.7, kind="bernoulli", seed=1)
    assert masks.dtype == bool and masks.shape == (200, 500)
    assert masks.mean() == pytest.approx(0.7, abs=0.01)
    assert len(set(masks.sum(1))) > 1  # subset sizes vary
    np.testing.assert_array_equal(masks, trials.sample_masks(200, 500, 0.7, kind="bernoulli", seed=1))
    assert not np.array_equal(masks, trials.sample_masks(200, 500, 0.7, kind="bernoulli", seed=2))


def test_fixed_size_masks_keep_exactly_round_ratio_times_n():
    masks = trials.sample_masks(50, 101, 0.7, kind="fixed_size", seed=0)
    assert (masks.sum(1) == round(0.7 * 101)).all()
    assert masks.mean(0).min() > 0.3  # every example gets in sometimes: the subsets are random


def test_unknown_mask_names_the_choices():
    with pytest.raises(LongtailError, match="choose one of: bernoulli, fixed_size"):
        trials.sample_masks(3, 4, 0.5, kind="poisson")


@pytest.fixture(scope="module")
def tiny():
    x, y, rare = datasets.synthetic(classes=3, common=20, rare_groups=2, rare_size=2, seed=0)
    return datasets.split(x, y, rare=rare, test_fraction=0.25, seed=0)


RECIPE = dict(epochs=30, batch_size=16, lr=0.1, momentum=0.9, weight_decay=5e-4)


def run(tiny, masks, seed=0, models_per_step=4, arch="mlp", run_trials=trials.run_trials, **extra):
    return run_trials(tiny["x_train"], tiny["y_train"], tiny["x_test"], tiny["y_test"], masks, arch=arch, seed=seed,
                      device=torch.device("cpu"), recipe=recipe(**RECIPE), **extra,
                      **({"models_per_step": models_per_step} if run_trials is trials.run_trials else {}))


def test_trials_fit_their_subsets_and_rerun_identically(tiny):
    masks = trials.sample_masks(4, len(tiny["y_train"]), 0.7, seed=0)
    outcome = run(tiny, masks)
    train_correct, test_correct = outcome.train_correct, outcome.test_correct
    assert train_correct.shape == masks.shape and test_correct.shape == (4, len(tiny["y_test"]))
    assert train_correct.dtype == bool and test_correct.dtype == bool
    summary = fitted.summary(masks, train_correct, test_correct, fit_threshold=0.99)
    assert summary["subset_accuracy"] == 1.0 and summary["fit_fraction"] == 1.0
    # Trial k depends on (seed, k) only: rerunning the last trial by itself reproduces it (up to
    # floating-point order, since it no longer shares a chunk).
    tensors = (*devices.tensors(tiny["x_train"], tiny["y_train"], "cpu"),
               *devices.tensors(tiny["x_test"], tiny["y_test"], "cpu"))
    again = trials.run_chunk(*tensors, masks, [3], arch="mlp", seed=0, recipe=recipe(**RECIPE))
    assert (again[0][0] == train_correct[3]).mean() >= 0.98
    assert (again[1][0] == test_correct[3]).mean() >= 0.98


def test_summary_separates_own_subset_from_held_out_examples():
    masks = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], bool)
    train_correct = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool)
    test_correct = np.array([[1, 0], [1, 1]], bool)
    s = fitted.summary(masks, train_correct, test_correct, fit_threshold=0.99)
    assert s["subset_accuracy"] == pytest.approx((1 + 0.5) / 2)
    assert s["held_out_accuracy"] == pytest.approx((0.5 + 0) / 2)
    assert s["test_accuracy"] == pytest.approx(0.75)
    assert s["fit_fraction"] == 0.5 and s["trials"] == 2


@pytest.mark.parametrize("arch, mask", [("mlp", "bernoulli"), ("cnn", "fixed_size")])
def test_models_trained_together_match_models_trained_alone(tiny, arch, mask):
    # Bernoulli subsets differ in size, so some models take more steps than others in one chunk.
    masks = trials.sample_masks(6, len(tiny["y_train"]), 0.7, kind=mask, seed=1)
    together = run(tiny, masks, models_per_step=6, arch=arch)
    alone = run(tiny, masks, arch=arch, run_trials=trials.run_trials_sequential)
    assert (together[0] == alone[0]).mean() >= 0.99
    assert (together[1] == alone[1]).mean() >= 0.99
    for name in trials.CURVES:  # and they learn along the same curves
        assert together.curves[name].shape == (6, RECIPE["epochs"])
        np.testing.assert_allclose(together.curves[name], alone.curves[name], atol=0.02)


def test_chunks_are_fixed_by_count_and_models_per_step():
    assert [list(c) for c in trials.chunks(7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]


def test_compiled_steps_match_models_trained_alone(tiny):
    masks = trials.sample_masks(5, len(tiny["y_train"]), 0.7, seed=2)
    # 5 trials, 3 at a time: the short last chunk is padded to the compiled shape.
    together = run(tiny, masks, models_per_step=3, compile="default")
    alone = run(tiny, masks, run_trials=trials.run_trials_sequential)
    assert (together[0] == alone[0]).mean() >= 0.99
    assert (together[1] == alone[1]).mean() >= 0.99


@pytest.fixture(scope="module")
def tiny_rgb():
    x, y, rare = datasets.synthetic(classes=3, common=12, rare_groups=1, rare_size=2, side=8, seed=0)
    x = np.repeat(x, 3, axis=1)  # 3 channels, as CIFAR
    return datasets.split(x, y, rare=rare, test_fraction=0.25, seed=0)


def test_batchnorm_networks_with_augmentation_train_together_as_they_would_alone(tiny_rgb):
    masks = trials.sample_masks(3, len(tiny_rgb["y_train"]), 0.7, seed=3)
    knobs = recipe(**RECIPE | {"epochs": 3, "augment": True})
    args = (tiny_rgb["x_train"], tiny_rgb["y_train"], tiny_rgb["x_test"], tiny_rgb["y_test"], masks)
    together = trials.run_trials(*args, recipe=knobs, arch="resnet20", seed=0, device=torch.device("cpu"), models_per_step=3)
    alone = trials.run_trials_sequential(*args, recipe=knobs, arch="resnet20", seed=0, device=torch.device("cpu"))
    assert (together[0] == alone[0]).mean() >= 0.99
    assert (together[1] == alone[1]).mean() >= 0.99


def test_best_test_selection_keeps_each_trials_epoch_of_highest_test_accuracy(tiny):
    # With a constant learning rate, e epochs are the first e of a longer run, so the test accuracy
    # of each epoch's end is that of a run of e epochs kept at its last; best_test must keep their
    # maximum, which here beats the last epoch for some trials (select ignored would fail).
    masks = trials.sample_masks(4, len(tiny["y_train"]), 0.5, seed=4)

    def accuracy(epochs, select):
        constant = recipe(epochs=epochs, batch_size=16, lr=0.3, momentum=0.9, weight_decay=0.0, schedule="constant",
                          nesterov=False, drop_last=False)
        return trials.run_trials(tiny["x_train"], tiny["y_train"], tiny["x_test"], tiny["y_test"], masks, recipe=constant,
                                 arch="mlp", seed=0, device=torch.device("cpu"), models_per_step=4,
                                 select=select).test_correct.mean(1)

    each_epoch = np.array([accuracy(e, "last") for e in range(1, 9)])
    best = accuracy(8, "best_test")
    np.testing.assert_array_equal(best, each_epoch.max(0))
    assert (best > each_epoch[-1]).sum() >= 2


@pytest.mark.parametrize("knobs", [
    dict(schedule="linear", nesterov=True, drop_last=True),
    dict(schedule="constant", nesterov=False, drop_last=False),  # Feldman & Zhang's
    dict(schedule="constant", nesterov=True, drop_last=True),
    dict(schedule="linear", nesterov=False, drop_last=False),
])
def test_the_engine_follows_every_recipe_option_as_a_single_model_does(tiny, knobs):
    """Weights, not only predictions: the batched engine and training.train take the same steps
    under each schedule, momentum and last-batch rule (subsets of unequal sizes, so the partial
    batches and the idle steps differ between the models)."""
    x, y = devices.tensors(tiny["x_train"], tiny["y_train"], "cpu")
    masks = trials.sample_masks(3, len(y), 0.7, seed=5)
    assert len(set(masks.sum(1) % 16)) > 1  # the partial batches differ in size
    subsets = [torch.from_numpy(np.flatnonzero(m)) for m in masks]
    options = recipe(epochs=4, batch_size=16, lr=0.1, momentum=0.9, weight_decay=1e-3, **knobs)
    nets = trials.init_models("mlp", (1, 8, 8), 3, range(3), 0, "cpu", init="glorot_normal")
    (params, _), curves = engine.train_stacked(nets, x, y, subsets, options,
                                               generators=[trials.data_order(0, k) for k in range(3)])
    for k in range(3):
        (alone,) = trials.init_models("mlp", (1, 8, 8), 3, [k], 0, "cpu", init="glorot_normal")
        logged = []
        training.train(alone, x[subsets[k]], y[subsets[k]], options, generator=trials.data_order(0, k),
                       on_epoch=lambda epoch, model, stats: logged.append(stats))
        for name, p in alone.named_parameters():
            torch.testing.assert_close(params[name][k], p.detach(), rtol=1e-4, atol=1e-5)
        # the curves the steps give are training.train's, epoch by epoch
        np.testing.assert_allclose(curves["train_loss"][k], [s["loss"] for s in logged], rtol=1e-4)
        np.testing.assert_allclose(curves["train_accuracy"][k], [s["accuracy"] for s in logged])


def test_keeping_partial_batches_is_refused_for_batchnorm_networks_in_the_engine(tiny_rgb):
    masks = trials.sample_masks(2, len(tiny_rgb["y_train"]), 0.7, seed=3)
    with pytest.raises(LongtailError, match="this network has BatchNorm: set trials.drop_last: true"):
        trials.run_trials(tiny_rgb["x_train"], tiny_rgb["y_train"], tiny_rgb["x_test"], tiny_rgb["y_test"], masks,
                          arch="resnet20", seed=0, device=torch.device("cpu"), recipe=recipe(**RECIPE | {"drop_last": False}))


def test_trials_keep_each_labels_probability_and_margin_as_one_model_alone_gives_them(tiny):
    masks = trials.sample_masks(4, len(tiny["y_train"]), 0.7, seed=3)
    together = run(tiny, masks)
    alone = run(tiny, masks, run_trials=trials.run_trials_sequential)
    assert set(together.soft) == set(trials.SOFT) == set(alone.soft)
    for name in trials.SOFT:
        side = name.split("_")[0]
        correct = getattr(together, f"{side}_correct")
        assert together.soft[name].dtype == np.float16 and together.soft[name].shape == correct.shape
        np.testing.assert_allclose(together.soft[name], alone.soft[name], atol=0.05 if "margin" in name else 0.01)
    margin, probability = together.soft["test_margin"], together.soft["test_probability"]
    assert ((margin > 0) == together.test_correct).mean() >= 0.99  # the label wins exactly when right
    assert (probability[margin > 0] > 0.3).all() and ((0 <= probability) & (probability <= 1)).all()
    assert (probability[~together.test_correct] < 0.5 + 1e-3).all()


def test_label_scores_follow_their_definitions():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    scores = training.label_scores(logits, torch.tensor([0, 2]))
    assert scores["correct"].tolist() == [True, False]
    np.testing.assert_allclose(scores["margin"], [1.5, -2.0])
    np.testing.assert_allclose(scores["probability"], logits.softmax(-1)[[0, 1], [0, 2]], rtol=1e-6)


def test_a_stopping_rule_stops_at_the_first_chunk_that_meets_it_resumed_or_sharded(tiny, tmp_path):
    from longtail.train import stopping

    masks = trials.sample_masks(16, len(tiny["y_train"]), 0.7, seed=4)
    full = run(tiny, masks, store=tmp_path / "store")
    # The rule, set at what the first 8 trials reach: it is met at the first boundary where the
    # trials so far are that settled, which the test finds on its own from the arrays.
    probe = stopping.Rule("se_high", 1.0, high=0.1)
    at_8 = stopping.measure(probe, masks[:8], full.train_correct[:8], seed=0)
    rule = stopping.Rule("se_high", at_8, high=0.1)
    first = next(end for end in (4, 8, 12, 16)
                 if stopping.check(rule, masks[:end], full.train_correct[:end], seed=0)["met"])
    assert first <= 8
    stopped = run(tiny, masks, until=rule)
    assert len(stopped.train_correct) == first and stopped.stop["met"] and stopped.stop["trials"] == first
    assert stopped.stop["count"] == 16 and stopped.stop["stopped"] == "the rule was met"
    alone = run(tiny, masks[:first])  # the same arrays as a run of that many trials
    for name in ("train_correct", "test_correct"):
        np.testing.assert_array_equal(getattr(stopped, name), getattr(alone, name))
    for name in trials.SOFT:
        np.testing.assert_array_equal(stopped.soft[name], alone.soft[name])
    resumed = run(tiny, masks, until=rule, store=tmp_path / "store")  # from the finished chunks of the full run
    assert resumed.trained == 0 and len(resumed.train_correct) == first
    np.testing.assert_array_equal(resumed.test_correct, stopped.test_correct)
    for shard in (0, 1):  # shards train all their chunks; the gather stops where the rule says
        assert run(tiny, masks, until=rule, store=tmp_path / "shards", shard=shard, num_shards=2) is None
    gathered = run(tiny, masks, until=rule, store=tmp_path / "shards")
    assert gathered.trained == 0 and gathered.stop == stopped.stop
    np.testing.assert_array_equal(gathered.train_correct, stopped.train_correct)
    unmet = run(tiny, masks, until=stopping.Rule("se_high", 1e-9, high=0.1), store=tmp_path / "store")
    assert len(unmet.train_correct) == 16 and not unmet.stop["met"] and unmet.stop["stopped"] == "the budget ran out"


@pytest.mark.parametrize("text, message", [
    ("reliability_hihg >= 0.9", "did you mean 'reliability_high'"),
    ("se_high >= 0.05", "so the rule is 'se_high <= <value>'"),
    ("reliability >= 1.5", "must be in \\(0, 1\\]"),
    ("reliability 0.9", "is not a rule"),
])
def test_a_bad_stopping_rule_says_what_to_write(text, message):
    from longtail.train import stopping

    with pytest.raises(LongtailError, match=message):
        stopping.parse(text, 0.25)
    assert str(stopping.parse("reliability_high>=0.9", 0.25)) == "reliability_high >= 0.9"


def test_a_margin_beyond_float16s_range_is_stored_clipped_not_infinite():
    stored = trials._float16(np.array([1e6, -1e6, 2.5], np.float32))
    assert stored.dtype == np.float16 and np.isfinite(stored).all() and stored[2] == 2.5 and stored[0] == -stored[1]


def test_the_stopping_rule_judges_a_split_the_published_reliability_does_not_use():
    # Optional stopping: a rule that stopped on the estimate's own split would publish a reliability
    # >= its threshold by construction.
    from longtail.estimate import halves, influence
    from longtail.train import stopping

    rng = np.random.default_rng(0)
    masks = rng.random((64, 50)) < 0.7
    train_correct = (rng.random((64, 50)) < np.where(masks, 0.95, 0.6)).astype(np.uint8)
    rule = stopping.Rule("reliability", 0.1, high=0.25)
    state = stopping.check(rule, masks, train_correct, seed=3)
    assert state["split_seed"] == stopping.split_seed(3) != 3
    published = halves.halves(64, 3)  # the estimate stage's split (estimates.split)
    judged = halves.halves(64, state["split_seed"])
    assert not np.array_equal(published[0], judged[0])
    a, b = (influence.memorization(masks[h], train_correct[h]) for h in judged)
    assert state["value"] == pytest.approx(halves.correlation(a, b))
