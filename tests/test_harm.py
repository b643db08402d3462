"""Does memorization predict compression's harm beyond cheap signals (analysis.harm)? The cheap
signals against hand counts, DeLong's AUC against scikit-learn's, and the added-value test on a
null where the answer is known (the influence statistics exchangeable with their influence-free
draws: it rejects at about alpha; benchmarks/harm_calibration.py runs many replicates) and on a
planted effect (harm that follows influence beyond the cheap signals: it finds it)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from longtail import LongtailError
from longtail.analysis import harm


def test_forgetting_events_count_right_then_wrong_and_rank_the_never_learned_first():
    correct = np.array([[[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 0, 1, 1]],
                        [[1, 0, 1, 1], [1, 0, 1, 1], [0, 0, 1, 1], [1, 0, 1, 1]]], bool)  # [members, epochs, n]
    # example 0: member 0 forgets twice (epochs 1 and 3), member 1 once; example 1: never learned (4 epochs);
    # example 2: member 0 forgets it once (epoch 3), member 1 never; example 3: never forgotten
    assert harm.forgetting_events(correct).tolist() == [1.5, 4.0, 0.5, 0.0]


def test_early_el2n_reads_the_epoch_after_that_share_of_training_and_averages_the_members():
    el2n = np.arange(2 * 10 * 3, dtype=np.float32).reshape(2, 10, 3)
    assert harm.early_el2n(el2n, 0.1).tolist() == ((el2n[0, 0] + el2n[1, 0]) / 2).tolist()
    assert harm.early_el2n(el2n, 0.25).tolist() == ((el2n[0, 2] + el2n[1, 2]) / 2).tolist()  # ceil(2.5) = epoch 3


def test_delong_auc_is_scikit_learns_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    target = rng.random(300) < 0.2
    score = rng.integers(0, 6, 300) + target  # ties, and a real signal
    found = harm.auc(score.astype(float), target)
    assert found["auc"] == pytest.approx(roc_auc_score(target, score))
    assert found["low"] < found["auc"] < found["high"] and found["high"] - found["low"] < 0.25
    _, cov = harm.delong([score, score], target)
    assert cov[0, 0] + cov[1, 1] - 2 * cov[0, 1] == pytest.approx(0)  # a score against itself: no difference
    assert harm.auc(score, np.eye(1, 300, 0, bool)[0])["auc"] is None  # one harmed example: no AUC


def world(seed, planted=0.0, n=300, draws=19):
    """Harm that follows difficulty through a cheap signal; an influence statistic that grows with
    difficulty through noise alone, as the estimator's does, its influence-free draws made the same
    way, and with `planted` > 0 a real influence that the harm follows too."""
    rng = np.random.default_rng(seed)
    difficulty = rng.random(n)
    cheap = np.stack([difficulty + 0.3 * rng.standard_normal(n), rng.standard_normal(n)], 1)

    def noise():
        return 0.5 * (1 - difficulty) + 0.2 * rng.standard_normal(n)

    real = rng.standard_normal(n)
    target = rng.random(n) < 1 / (1 + np.exp(3 - 3 * (1 - difficulty) - 2 * planted * real))
    null = np.stack([noise() for _ in range(draws)])[:, :, None]
    return cheap, (noise() + planted * real)[:, None], null, target


def test_the_added_value_test_is_calibrated_on_exchangeable_draws_and_finds_planted_influence():
    nulls = [harm.added_value(*world(seed), folds=4, seed=0)["p"] for seed in range(6)]
    assert sum(p <= 0.05 for p in nulls) <= 1 and np.mean(nulls) > 0.25  # about uniform, not small
    for seed in range(3):
        found = harm.added_value(*world(100 + seed, planted=1.0), folds=4, seed=0)
        assert found["p"] == pytest.approx(1 / 20) and found["delta_low"] > 0.05  # beats every draw
        assert found["delta"] > found["null_delta_high"]


def test_too_few_harmed_examples_are_reported_not_fitted():
    cheap, influence, null, target = world(0)
    few = np.zeros_like(target)
    few[:1] = True
    assert harm.added_value(cheap, influence, null, few, folds=5, seed=0) == {
        "folds": 1, "cheap": None, "both": None, "delta": None, "p": None}


def test_predicts_names_arrays_of_another_test_set():
    cheap, influence, null, target = world(0)
    signals = {name: cheap[:, 0] for name in harm.CHEAP}
    with pytest.raises(LongtailError, match=r"'cie \(harm target\)': 299"):
        harm.predicts(signals, {"max_influence": influence[:, 0]}, {"max_influence": null[..., 0]},
                      {"cie": target[:-1]}, folds=4, seed=0)


def test_recording_each_epoch_leaves_the_population_unchanged_and_keeps_every_epoch():
    import torch

    from longtail import devices
    from longtail.data import datasets
    from longtail.train import reference
    from recipes import recipe

    arrays = datasets.load("synthetic")
    x, y = devices.tensors(arrays["x_train"][:200], arrays["y_train"][:200], "cpu")
    xt, yt = devices.tensors(arrays["x_test"][:50], arrays["y_test"][:50], "cpu")
    fit = recipe(epochs=3, batch_size=32, lr=0.1)
    epochs = reference.Epochs(xt, yt)
    recorded = reference.population(2, "mlp", fit, x, y, 10, 0, "torch", epochs=epochs)
    plain = reference.population(2, "mlp", fit, x, y, 10, 0, "torch")
    for a, b in zip(recorded, plain):
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    found = epochs.arrays()
    assert found["correct"].shape == found["el2n"].shape == (2, 3, 50)
    assert found["correct"].dtype == bool and found["el2n"].dtype == np.float32
    last = reference.signals(reference.models.restore(recorded[1], "cpu"), xt, yt)
    assert found["correct"][1, -1].tolist() == (last["margin"] > 0).tolist()  # the last epoch is the model saved
    assert (found["el2n"] >= 0).all() and (found["el2n"] <= np.sqrt(2) + 1e-6).all()
