"""Trials (Feldman & Zhang 2020): many models, each trained from scratch on a random subset of the
training set, and which examples each one classifies correctly.

Trials run `models_per_step` at a time through the batched engine (engine.py). Trial k's
initialisation and data order come from (seed, k) alone, so any trial can be rerun by itself.
"""

import hashlib

import numpy as np
import torch

from longtail import LongtailError, engine, models, training

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


def stream_seed(seed: int, stream: int) -> int:
    """The shared seed of the trial set `stream`. Stream 0 is the main trials: the seed itself. Any
    other stream (a second architecture's trials, for Feldman & Zhang's consistency check) draws its
    masks, initialisations and data orders from an independent seed, derived from (seed, stream);
    the trailing 2 keeps it apart from trial k's own streams (seed, TRIALS, k, 0 or 1)."""
    if stream < 0:
        raise LongtailError(f"trial stream {stream} must be >= 0 (0: the main trials)")
    return seed if stream == 0 else training.derive_seed(seed, training.TRIALS, stream, 2)


def init_models(arch: str, in_shape, num_classes: int, trial_ids, seed: int, device,
                init: str = "torch") -> list[torch.nn.Module]:
    """Freshly initialised models for the given trials: trial k's weights depend on (seed, k) alone."""
    out = []
    for k in trial_ids:
        torch.manual_seed(training.derive_seed(seed, training.TRIALS, int(k), 0))
        out.append(models.build(arch, in_shape, num_classes, init=init).to(device))
    return out


def data_order(seed: int, k: int) -> torch.Generator:
    """Trial k's data order."""
    return training.generator(seed, training.TRIALS, int(k), 1)


def run_chunk(x, y, xt, yt, masks: np.ndarray, trial_ids, *, arch: str, seed: int, init: str = "torch",
              pad_to: int = 0, compile: str = "off", select: str = "last", **recipe):
    """Train the trials `trial_ids` (rows of `masks`) together with the batched engine; returns
    (train_correct [K, n_train], test_correct [K, n_test]) as bool arrays.

    pad_to: when compiling, train copies of the last trial alongside (results dropped) up to this
    many models, so a short last chunk keeps the shape that torch.compile compiled for.
    """
    n = len(trial_ids)
    if compile != "off":
        trial_ids = list(trial_ids) + [trial_ids[-1]] * max(0, pad_to - len(trial_ids))
    num_classes = int(max(y.max(), yt.max())) + 1
    nets = init_models(arch, tuple(x.shape[1:]), num_classes, trial_ids, seed, x.device, init)
    subsets = [torch.from_numpy(np.flatnonzero(masks[k])).to(x.device) for k in trial_ids]
    state = engine.train(nets, x, y, subsets, generators=[data_order(seed, k) for k in trial_ids],
                         compile=compile, select=select, x_test=xt, y_test=yt, **recipe)
    return ((engine.predict(nets, state, x) == y)[:n].cpu().numpy(),
            (engine.predict(nets, state, xt) == yt)[:n].cpu().numpy())


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
    init: str = "torch",
    models_per_step: int = 32,
    compile: str = "off",
    select: str = "last",
    **recipe,
) -> tuple[np.ndarray, np.ndarray]:
    """(train_correct C [t, n_train], test_correct D [t, n_test]), bool, `models_per_step` trials at
    a time. `recipe` goes to engine.train."""
    x, y, xt, yt = _tensors(x_train, y_train, x_test, y_test, masks, device)
    results = []
    for ids in chunks(len(masks), models_per_step):
        results.append(run_chunk(x, y, xt, yt, masks, ids, arch=arch, seed=seed, init=init, pad_to=models_per_step,
                                 compile=compile, select=select, **recipe))
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def run_trials_sequential(x_train, y_train, x_test, y_test, masks, *, arch, seed, device, init="torch", **recipe):
    """The same trials, one model at a time with training.train: the reference the batched engine
    must match, and the baseline of benchmarks/trials.py."""
    x, y, xt, yt = _tensors(x_train, y_train, x_test, y_test, masks, device)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    train_correct = np.zeros(masks.shape, bool)
    test_correct = np.zeros((len(masks), len(y_test)), bool)
    for k, mask in enumerate(masks):
        subset = torch.from_numpy(np.flatnonzero(mask)).to(device)
        (model,) = init_models(arch, tuple(x.shape[1:]), num_classes, [k], seed, device, init)
        training.train(model, x[subset], y[subset], generator=data_order(seed, k), **recipe)
        train_correct[k] = (training.predict(model, x) == y).cpu().numpy()
        test_correct[k] = (training.predict(model, xt) == yt).cpu().numpy()
    return train_correct, test_correct


def _tensors(x_train, y_train, x_test, y_test, masks, device):
    if masks.ndim != 2 or masks.shape[1] != len(y_train):
        raise LongtailError(f"masks {masks.shape} must have one column per training example ({len(y_train)})")
    return (*training.tensors(x_train, y_train, device), *training.tensors(x_test, y_test, device))


def chunks(count: int, models_per_step: int) -> list[range]:
    """The trials each engine call trains together. Fixed by (count, models_per_step) alone, so a
    resumed or sharded run groups trials exactly as an uninterrupted one and gets the same bits."""
    return [range(start, min(start + models_per_step, count)) for start in range(0, count, models_per_step)]


def fingerprint(*arrays: np.ndarray, **settings) -> str:
    """A short hash of everything a trial's result depends on: the data, the masks, the recipe.
    Finished chunks are kept under it, so a changed param never reuses a stale chunk."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.dtype, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(sorted(settings.items())).encode())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


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
