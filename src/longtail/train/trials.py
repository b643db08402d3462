"""Trials (Feldman & Zhang 2020): many models, each trained from scratch on a random subset of the
training set, and which examples each one classifies correctly.

Trials run `models_per_step` at a time through the batched engine (engine.py). Trial k's
initialisation and data order come from (seed, k) alone, so any trial can be rerun by itself.
run_trials is the one loop the stage, the tests and the benchmarks call: with a store it keeps each
finished chunk, resumes after an interruption, and trains shards apart for a later gather.
"""

import hashlib
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from longtail import LongtailError, devices, layout, seeds
from longtail.artifacts import outputs
from longtail.train import engine, models, stopping, training
from longtail.train.recipe import Recipe

MASKS = ("bernoulli", "fixed_size")
CURVES = engine.CURVES  # the per-epoch curves of each trial, kept with each chunk
# The soft targets (estimate.target) kept beside the 0/1 correctness, float16, training.label_scores'.
SOFT_TARGETS, SOFT = layout.SOFT_TARGETS, layout.SOFT
# In the fingerprint: a store of an older layout is never read (2: chunks keep curves; 3: chunks say
# where they were trained, and the device and torch version left the fingerprint; 4: and the soft targets).
STORE_FORMAT = 4


class Outcome(NamedTuple):
    """What trials give: which examples each one classifies right, what it says of their labels, and
    its training curves."""

    train_correct: np.ndarray  # C, bool [t, n_train]
    test_correct: np.ndarray  # D, bool [t, n_test]
    soft: dict[str, np.ndarray]  # SOFT -> float16 [t, n]: each trial's probability and margin of each label
    curves: dict[str, np.ndarray]  # CURVES -> float [t, epochs]: each trial's per-epoch loss and accuracy
    trained: int = 0  # how many of the trials this call trained; the others were finished chunks of a store
    trained_on: tuple[str, ...] = ()  # where the chunks were trained ("cpu, torch 2.14.1"), each once
    stop: dict | None = None  # with `until`: where the trials stopped and why (stopping.check)


def sample_masks(trials: int, n: int, subset_ratio: float, *, kind: str = "bernoulli", seed: int = 0) -> np.ndarray:
    """M, bool [trials, n]. `bernoulli` keeps each example with probability subset_ratio (the seed
    paper's Algorithm 1); `fixed_size` keeps exactly round(subset_ratio * n) per trial (Feldman & Zhang)."""
    rng = np.random.default_rng([seed, seeds.MASKS])
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
    return seed if stream == 0 else seeds.derive(seed, seeds.TRIALS, stream, 2)


def init_models(arch: str, in_shape, num_classes: int, trial_ids, seed: int, device,
                init: str = "torch") -> list[torch.nn.Module]:
    """Freshly initialised models for the given trials: trial k's weights depend on (seed, k) alone."""
    out = []
    for k in trial_ids:
        torch.manual_seed(seeds.derive(seed, seeds.TRIALS, int(k), 0))
        out.append(models.build(arch, in_shape, num_classes, init=init).to(device))
    return out


def data_order(seed: int, k: int) -> torch.Generator:
    """Trial k's data order."""
    return seeds.generator(seed, seeds.TRIALS, int(k), 1)


def run_chunk(x, y, xt, yt, masks: np.ndarray, trial_ids, *, arch: str, seed: int, recipe: Recipe,
              init: str = "torch", pad_to: int = 0, compile: str = "off", select: str = "last"):
    """Train the trials `trial_ids` (rows of `masks`) together with the batched engine; returns their
    Outcome (K rows).

    pad_to: when compiling, train copies of the last trial alongside (results dropped) up to this
    many models, so a short last chunk keeps the shape that torch.compile compiled for.
    """
    n = len(trial_ids)
    if compile != "off":
        trial_ids = list(trial_ids) + [trial_ids[-1]] * max(0, pad_to - len(trial_ids))
    num_classes = int(max(y.max(), yt.max())) + 1
    nets = init_models(arch, tuple(x.shape[1:]), num_classes, trial_ids, seed, x.device, init)
    subsets = [torch.from_numpy(np.flatnonzero(masks[k])).to(x.device) for k in trial_ids]
    if arch not in models.ARCHS and (reason := engine.unstackable(nets, x, y)):  # a user's network file
        return _one_at_a_time(nets[:n], x, y, xt, yt, subsets[:n], trial_ids[:n], seed=seed, recipe=recipe,
                              select=select, arch=arch, reason=reason)
    state, curves = engine.train_stacked(nets, x, y, subsets, recipe, generators=[data_order(seed, k) for k in trial_ids],
                                         compile=compile, select=select, x_test=xt, y_test=yt)
    train, test = (engine.scores_stacked(nets, state, inputs, labels) for inputs, labels in ((x, y), (xt, yt)))
    return _outcome(train, test, n, {name: curves[name][:n].astype(np.float32) for name in CURVES})


def _one_at_a_time(nets, x, y, xt, yt, subsets, trial_ids, *, seed: int, recipe: Recipe, select: str, arch: str,
                   reason: str) -> Outcome:
    """The chunk's trials trained one at a time with training.train (each with its own data order,
    as the engine would draw it), for a network the engine cannot stack: slower, the same recipe."""
    if select != "last":
        raise LongtailError(f"trials.select = {select} needs the batched engine, which cannot stack {arch} ({reason}): "
                            "set trials.select: last, or make the network vmap-able")
    warnings.warn(f"{arch} cannot be trained K at a time by the batched engine ({reason}): its trials train one at a "
                  "time, slower")
    curves = {name: np.zeros((len(nets), recipe.epochs), np.float32) for name in CURVES}
    train, test = [], []
    for i, (model, subset, k) in enumerate(zip(nets, subsets, trial_ids)):
        def record(epoch, _, stats, i=i):
            curves["train_loss"][i, epoch], curves["train_accuracy"][i, epoch] = stats["loss"], stats["accuracy"]

        training.train(model, x[subset], y[subset], recipe, generator=data_order(seed, k), on_epoch=record)
        train.append(training.scores(model, x, y))
        test.append(training.scores(model, xt, yt))
    stack = lambda parts: {key: torch.stack([p[key] for p in parts]) for key in parts[0]}  # noqa: E731
    return _outcome(stack(train), stack(test), len(nets), curves)


def _outcome(train: dict, test: dict, n: int, curves: dict) -> Outcome:
    """The Outcome of the first n rows of training.label_scores' tensors on the training and test sets."""
    def rows(v):
        return v[:n].cpu().numpy()

    return Outcome(rows(train["correct"]), rows(test["correct"]),
                   {f"{side}_{target}": _float16(rows(scores[target]))
                    for side, scores in (("train", train), ("test", test)) for target in SOFT_TARGETS}, curves)


def _float16(values: np.ndarray) -> np.ndarray:
    """A soft target as stored: float16, a margin beyond its range (|margin| > 65504) clipped, not inf."""
    limit = np.finfo(np.float16).max
    return np.clip(values, -limit, limit).astype(np.float16)


def run_trials(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    masks: np.ndarray,
    *,
    arch: str,
    seed: int,
    device,
    recipe: Recipe,
    init: str = "torch",
    models_per_step: int = 32,
    compile: str = "off",
    select: str = "last",
    store: Path | None = None,
    shard: int | None = None,
    num_shards: int = 1,
    progress=None,
    until: stopping.Rule | None = None,
) -> Outcome | None:
    """The Outcome of the trials of `masks` (one row each), trained `models_per_step` at a time (the
    groups of chunks()), each with `recipe` (engine.train_stacked's).

    store: a folder that keeps each finished chunk as it finishes, under a fingerprint of everything
    the chunk's trials are defined by (data, masks, seed, arch and a network file's code, init,
    recipe, models_per_step, compile, select), so that a rerun after an interruption trains only what is missing; an
    unreadable chunk is moved aside (with a warning) and trained again. The device and the torch
    version are not in it: chunks trained on GPUs are gathered by a process on a CPU (a SLURM gather
    job), and each chunk records where it was trained (Outcome.trained_on). Chunks of two devices or
    torch versions are the same trials, equal in distribution, not bit for bit. shard: train only the chunks
    c with c % num_shards == shard into the store and return None (several processes or machines
    share the work); a run without shard trains whatever is missing and gathers them all.
    progress(total, done): a context manager yielding advance(n), for the `total` trials to train
    (`done` were found finished). until: a stopping rule (stopping.py), checked after each chunk in
    chunk order; the Outcome then holds the trials up to the first chunk that met it (all of them
    when none did), and Outcome.stop says where and why (a shard trains all its chunks)."""
    if shard is not None and not 0 <= shard < num_shards:
        raise LongtailError(f"--shard {shard} must satisfy 0 <= shard < --num-shards ({num_shards})")
    if shard is not None and store is None:
        raise LongtailError("a shard leaves its chunks in a store: give run_trials a store folder")
    groups = chunks(len(masks), models_per_step)
    _check_masks(masks, y_train)
    device = torch.device(device)
    folder = None if store is None else Path(store) / fingerprint(
        masks, x_train, y_train, x_test, y_test, arch=arch, init=init, seed=seed, models_per_step=models_per_step,
        compile=compile, select=select, store_format=STORE_FORMAT, **recipe.settings(),
        **({"network": models.source(arch)} if arch not in models.ARCHS else {}))  # an edited network file
    here = f"{device.type}, torch {torch.__version__}"
    mine = [c for c in range(len(groups)) if shard is None or c % num_shards == shard]
    path = {c: None if folder is None else folder / f"chunk-{c:05d}.npz" for c in mine}
    shapes = ({"train_correct": len(y_train), "test_correct": len(y_test)} | dict.fromkeys(CURVES, recipe.epochs)
              | {name: len(y_train) if name.startswith("train") else len(y_test) for name in SOFT})
    results = {c: r for c in mine if (r := _finished(path[c], len(groups[c]), shapes))}
    tensors = None
    done = sum(len(groups[c]) for c in results)
    # A shard trains all its chunks: where the rule stops is known only in chunk order, at the gather.
    rule = until if shard is None else None
    trained, stop = [], None
    with (progress or _silent)(sum(len(groups[c]) for c in mine if c not in results), done) as advance:
        for c in mine:
            if c not in results:
                if tensors is None:
                    tensors = (*devices.tensors(x_train, y_train, device), *devices.tensors(x_test, y_test, device))
                results[c] = run_chunk(*tensors, masks, groups[c], arch=arch, seed=seed, recipe=recipe, init=init,
                                       pad_to=models_per_step, compile=compile, select=select)._replace(
                                           trained_on=(here,))
                trained.append(c)
                if folder is not None:
                    with outputs() as out:  # one finished chunk at a time, never half a file
                        out.npz(path[c], train_correct=results[c].train_correct, test_correct=results[c].test_correct,
                                trained_on=np.array(here), **results[c].soft, **results[c].curves)
                advance(len(groups[c]))
            if rule is not None:
                end = groups[c].stop
                so_far = np.concatenate([results[d].train_correct for d in mine if d <= c])
                stop = stopping.check(rule, masks[:end], so_far, seed)
                if stop["met"]:
                    break
    if shard is not None:
        return None
    gathered = [results[c] for c in mine if c in results and (stop is None or groups[c].stop <= stop["trials"])]
    if stop is not None:
        stop |= {"count": len(masks), "stopped": "the rule was met" if stop["met"] else "the budget ran out"}
    return _gather(gathered)._replace(trained=sum(len(groups[c]) for c in trained),
                                      trained_on=tuple(dict.fromkeys(r.trained_on[0] for r in gathered)), stop=stop)


def _gather(parts: list[Outcome]) -> Outcome:
    """The Outcomes of consecutive chunks as one."""
    def cat(name):
        return {key: np.concatenate([getattr(p, name)[key] for p in parts]) for key in getattr(parts[0], name)}

    return Outcome(np.concatenate([p.train_correct for p in parts]), np.concatenate([p.test_correct for p in parts]),
                   cat("soft"), cat("curves"))


@contextmanager
def _silent(total: int, done: int):
    yield lambda n=1: None


def _finished(chunk: Path | None, rows: int, columns: dict[str, int]) -> Outcome | None:
    """A chunk of an earlier run, or None when there is none to use. One that cannot be read (a crash
    of the disk, not of training: chunks are written whole) is moved aside, with a warning.
    columns: each array's name -> its number of columns."""
    if chunk is None or not chunk.exists():
        return None
    try:
        with np.load(chunk) as f:
            parts = {name: f[name] for name in columns}
            trained_on = str(f["trained_on"])
        for name, part in parts.items():
            dtype = bool if name.endswith("_correct") else np.float16 if name in SOFT else np.float32
            if part.dtype != dtype or part.shape != (rows, columns[name]):
                raise ValueError(f"{name} is {part.dtype} {part.shape}, expected {np.dtype(dtype)} {(rows, columns[name])}")
    except Exception as e:  # noqa: BLE001 -- whatever makes it unreadable, the cure is to train it again
        aside = chunk.with_name(chunk.name + ".corrupt")
        os.replace(chunk, aside)
        warnings.warn(f"{chunk} cannot be read ({type(e).__name__}: {e}); moved to {aside.name}, training it again",
                      stacklevel=2)
        return None
    return Outcome(parts["train_correct"], parts["test_correct"], {name: parts[name] for name in SOFT},
                   {name: parts[name] for name in CURVES}, trained_on=(trained_on,))


def run_trials_sequential(x_train, y_train, x_test, y_test, masks, *, arch, seed, device, recipe: Recipe,
                          init="torch"):
    """The same trials, one model at a time with training.train: the reference the batched engine
    must match (its Outcome, curves included), and the baseline of benchmarks/trials.py."""
    _check_masks(masks, y_train)
    x, y, xt, yt = (*devices.tensors(x_train, y_train, device), *devices.tensors(x_test, y_test, device))
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    out = Outcome(np.zeros(masks.shape, bool), np.zeros((len(masks), len(y_test)), bool),
                  {name: np.zeros((len(masks), len(y_train) if name.startswith("train") else len(y_test)), np.float16)
                   for name in SOFT},
                  {name: np.zeros((len(masks), recipe.epochs), np.float32) for name in CURVES})
    for k, mask in enumerate(masks):
        subset = torch.from_numpy(np.flatnonzero(mask)).to(device)
        (model,) = init_models(arch, tuple(x.shape[1:]), num_classes, [k], seed, device, init)

        def record(epoch, _, stats, k=k):
            out.curves["train_loss"][k, epoch], out.curves["train_accuracy"][k, epoch] = stats["loss"], stats["accuracy"]

        training.train(model, x[subset], y[subset], recipe, generator=data_order(seed, k), on_epoch=record)
        for side, inputs, labels in (("train", x, y), ("test", xt, yt)):
            scores = training.scores(model, inputs, labels)
            getattr(out, f"{side}_correct")[k] = scores["correct"].cpu().numpy()
            for target in SOFT_TARGETS:
                out.soft[f"{side}_{target}"][k] = _float16(scores[target].cpu().numpy())
    return out


def _check_masks(masks, y_train):
    if masks.ndim != 2 or masks.shape[1] != len(y_train):
        raise LongtailError(f"masks {masks.shape} must have one column per training example ({len(y_train)})")


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
    return h.hexdigest()[:16]


def arrays(outcome: Outcome, masks: np.ndarray) -> dict[str, np.ndarray]:
    """data/trials/<name>.npy of a gathered Outcome: the masks of the trials it kept, their 0/1
    correctness and soft targets (layout.trial_files)."""
    return ({"masks": masks[: len(outcome.train_correct)], "train_correct": outcome.train_correct,
             "test_correct": outcome.test_correct} | outcome.soft)


def until(outcome: Outcome, count: int) -> dict:
    """data/trials/until.json: where trials.until stopped the run, or that it trained all `count`."""
    return outcome.stop or {"until": None, "count": count, "trials": len(outcome.train_correct)}


def said(outcome: Outcome, count: int, arch: str, folder) -> list[str]:
    """What train_trials says of a gathered run: how many trials, trained where, and where
    trials.until stopped it."""
    used = len(outcome.train_correct)
    lines = [f"{used} trials of {arch} in {folder} ({outcome.trained} trained now, {used - outcome.trained} from finished "
             f"chunks; trained on {' and '.join(outcome.trained_on)}); how well they fit: the fit stage"]
    if stop := outcome.stop:
        value = "n/a" if stop["value"] is None else f"{stop['value']:.3f}"
        lines.append(f"until {stop['until']}: {stop['stopped']} after {used} of {count} trials ({value})")
    return lines


def cautions(outcome: Outcome, count: int) -> list[str]:
    """What a user must know of a gathered run: a budget spent before trials.until was met, chunks of
    several devices."""
    said = []
    if outcome.stop and not outcome.stop["met"]:
        said.append(f"the budget of {count} trials ran out before trials.until ({outcome.stop['until']}) was met: the "
                    "estimates have not settled as asked; raise trials.count")
    if len(outcome.trained_on) > 1:
        said.append(f"the chunks were trained on {' and '.join(outcome.trained_on)}: the same trials of the same recipe, "
                    "equal in distribution but not bit for bit to a run on one of them")
    return said
