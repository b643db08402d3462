"""Trials (Feldman & Zhang 2020): many models, each trained from scratch on a random subset of the
training set, and which examples each one classifies correctly.

A plain loop over trials, one model at a time. Trial k's initialisation and data order come from
(seed, k) alone, so any trial can be rerun by itself.
"""

from collections.abc import Callable

import numpy as np
import torch

from longtail import LongtailError, models, training

MASKS = ("bernoulli", "fixed_size")


def sample_masks(trials: int, n: int, subset_ratio: float, *, kind: str = "bernoulli", seed: int = 0) -> np.ndarray:
    """M, bool [trials, n]. `bernoulli` keeps each example with probability subset_ratio (the seed
    paper's Algorithm 1); `fixed_size` keeps exactly round(subset_ratio * n) per trial (Feldman & Zhang)."""
    rng = np.random.default_rng([seed, training.MASKS])
    if kind == "bernoulli":
        return rng.random((trials, n)) < subset_ratio
    if kind == "fixed_size":
        ranks = rng.random((trials, n)).argsort(axis=1).argsort(axis=1)
        return ranks < round(subset_ratio * n)
    raise LongtailError(f"unknown mask {kind!r}; choose one of: {', '.join(MASKS)}")


def run_trials(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    masks: np.ndarray,
    *,
    arch: str,
    seed: int,
    device: torch.device,
    on_trial: Callable[[int], None] = lambda k: None,
    **recipe,
) -> tuple[np.ndarray, np.ndarray]:
    """(train_correct C [t, n_train], test_correct D [t, n_test]), bool. `recipe` goes to training.train."""
    if masks.shape[1] != len(y_train):
        raise LongtailError(f"masks have {masks.shape[1]} columns for {len(y_train)} training examples")
    x, y = training.tensors(x_train, y_train, device)
    xt, yt = training.tensors(x_test, y_test, device)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    train_correct = np.zeros(masks.shape, bool)
    test_correct = np.zeros((len(masks), len(y_test)), bool)
    for k, mask in enumerate(masks):
        subset = torch.from_numpy(np.flatnonzero(mask)).to(device)
        torch.manual_seed(training.derive_seed(seed, training.TRIALS, k, 0))  # trial k's initialisation
        model = models.build(arch, x.shape[1:], num_classes).to(device)
        order = training.generator(seed, training.TRIALS, k, 1)  # trial k's data order
        training.train(model, x[subset], y[subset], generator=order, **recipe)
        train_correct[k] = (training.predict(model, x) == y).cpu().numpy()
        test_correct[k] = (training.predict(model, xt) == yt).cpu().numpy()
        on_trial(k)
    return train_correct, test_correct


def summary(masks: np.ndarray, train_correct: np.ndarray, test_correct: np.ndarray, fit_threshold: float) -> dict:
    """metrics/trials.json: mean accuracy on each trial's own subset, on its held-out training
    examples, and on the test set; and the share of trials that fit their subset."""
    with np.errstate(invalid="ignore"):
        own = (train_correct & masks).sum(1) / masks.sum(1)
        held_out = (train_correct & ~masks).sum(1) / (~masks).sum(1)
    return {
        "trials": len(masks),
        "subset_accuracy": float(np.nanmean(own)),
        "held_out_accuracy": float(np.nanmean(held_out)),
        "test_accuracy": float(test_correct.mean()),
        "min_subset_accuracy": float(np.nanmin(own)),
        "fit_fraction": float((own >= fit_threshold).mean()),
        "mean_subset_size": float(masks.sum(1).mean()),
    }
