"""The batched trial engine: K models trained at once as one computation.

Each model keeps its own initialisation, subset, data order and augmentation. Their parameters and
buffers are stacked ([K, ...] per tensor, torch.func.stack_module_state) and one vmapped step
(torch.func.functional_call, grad) trains all K on their own minibatches, so every layer is one
batched matrix product or convolution instead of K small ones. The update is training.train's SGD
(momentum, Nesterov's or plain, weight decay, the learning rate decayed linearly to zero over each
model's own steps or held constant); a model whose subset needs fewer steps than the others sits
out the extra ones, and a partial last batch (drop_last False) is padded with weight-0 examples.
BatchNorm running statistics update in place per model. Model k therefore follows the trajectory
training.train gives it alone, up to floating-point order.
"""

import copy
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from longtail import LongtailError
from longtail.train import training
from longtail.train.recipe import Recipe

CURVES = ("train_loss", "train_accuracy")  # train_stacked's per-epoch curves of each model
STEPS_PER_CALL = 4  # compiled steps per call: 4 measured best on digits (8 compiles twice as long for no gain)

# trials.compile -> torch.compile's mode (CUDA graphs stay off: BatchNorm updates buffers in place).
COMPILE_MODES = {"off": None, "default": None, "max-autotune": "max-autotune-no-cudagraphs"}


@dataclass
class Schedule:
    """Every model's minibatches on one grid of T steps, and its augmentation draws; a model with
    fewer steps than T idles at the end (weight 0). steps[k]: model k's own number of steps;
    epoch_end[t, k]: step t ends one of model k's epochs."""

    index: torch.Tensor  # [T, K, B] long
    weight: torch.Tensor  # [T, K, B] float
    flip: torch.Tensor  # [T, K, B] bool
    shift: torch.Tensor  # [T, K, B, 2] long, crop offsets in [0, 2 * pad]
    steps: torch.Tensor  # [K] long
    epoch_end: torch.Tensor  # [T, K] bool

    def to(self, device):
        return Schedule(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def batch_plan(subsets, epochs: int, batch_size: int, generators, augment: bool = False,
               drop_last: bool = True) -> Schedule:
    """Draws each model's batches (and augmentations) from its own generator through
    training.epoch_plan, exactly as training.train draws them for that model alone."""
    steps = torch.tensor([epochs * training.steps_per_epoch(len(s), batch_size, drop_last) for s in subsets])
    T, K = int(steps.max()), len(subsets)
    out = Schedule(torch.zeros(T, K, batch_size, dtype=torch.long), torch.zeros(T, K, batch_size),
                   torch.zeros(T, K, batch_size, dtype=torch.bool),
                   torch.zeros(T, K, batch_size, 2, dtype=torch.long), steps, torch.zeros(T, K, dtype=torch.bool))
    for k, (subset, g) in enumerate(zip(subsets, generators)):
        t = 0
        for _ in range(epochs):
            batches, flips, shifts = training.epoch_plan(len(subset), batch_size, g, augment, drop_last=drop_last)
            t, start = t + len(batches), t
            out.index[start:t, k], out.weight[start:t, k] = subset[batches.clamp_min(0)], (batches >= 0).float()
            if augment:
                out.flip[start:t, k], out.shift[start:t, k] = flips, shifts
            out.epoch_end[t - 1, k] = True
    return out


def train_stacked(
    models: list[nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    subsets: list[torch.Tensor],
    recipe: Recipe,
    *,
    generators: list[torch.Generator],
    select: str = "last",
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    compile: str = "off",
):
    """Train models[k] on x[subsets[k]]; returns (state, curves): the stacked (parameters, buffers)
    for `predict_stacked`, and each model's training curve, {"train_loss", "train_accuracy"} -> float
    [K, epochs], as training.train's on_epoch gives them (the mean loss of an epoch's steps, the share of
    its examples right in their batch). The curves come from the steps themselves, kept on the device
    and read once at the end: they cost no extra pass and no synchronisation.

    augment: random crop (padding 4) and horizontal flip, drawn per example, applied batched on
    the device. select: `last` keeps the final weights; `best_test` keeps each model's weights from
    the end of the epoch with its highest accuracy on (x_test, y_test), as the seed paper did (this
    peeks at the test set). compile: `default` runs STEPS_PER_CALL steps per torch.compile'd
    call, which fuses the elementwise work around the batched products, for a one-off compilation
    per process and model count; `max-autotune` also tunes the matrix-product kernels (a longer compilation;
    BENCHMARKS.md says when it pays); `off` runs eagerly.
    """
    epochs, batch_size, drop_last, augment = recipe.epochs, recipe.batch_size, recipe.drop_last, recipe.augment
    if not drop_last and any(len(s) % batch_size for s in subsets) and _has_batchnorm(models[0]):
        raise LongtailError(
            "trials.drop_last: false pads each trial's partial last batch with weight-0 examples, which "
            "would enter BatchNorm's batch statistics; this network has BatchNorm: set trials.drop_last: true")
    params, buffers = stack_module_state(models)
    params = {name: p.detach() for name, p in params.items()}
    momentum_buffers = {name: torch.zeros_like(p) for name, p in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    run = _steps_fn(base, recipe.momentum, recipe.weight_decay, recipe.nesterov, augment, bf16=x.device.type == "cuda")
    # Compiled, several steps go in one call: fewer guard checks and dispatches, more fusion
    # (1.4x on digits). best_test looks at every epoch's end, so it takes one step at a time.
    per_call = STEPS_PER_CALL if compile != "off" and select == "last" else 1
    if compile != "off":
        run = _compiled_or_eager(run, compile)
    plan = batch_plan(subsets, epochs, batch_size, generators, augment, drop_last).to(x.device)
    t = torch.arange(-(-len(plan.index) // per_call) * per_call, device=x.device)[:, None]
    active = t < plan.steps  # [T, K], padded to whole calls with idle steps
    # Model k's learning rate follows the schedule over its own steps; past its last step it is 0,
    # so its weights stay (its momentum buffer drifts, but is never used again).
    lrs = training.learning_rate(recipe.schedule, recipe.lr, t, plan.steps.clamp_min(1)) * active
    grid = [_pad(part, len(t)) for part in (plan.index, plan.weight, plan.flip, plan.shift)]
    best, losses, rights = None, [], []
    if select == "best_test":
        best = {"acc": torch.full((len(models),), -1.0, device=x.device), "state": None}
    for start in range(0, len(t), per_call):
        call = slice(start, start + per_call)
        params, momentum_buffers, loss, right = run(params, buffers, momentum_buffers, x, y,
                                                    *(part[call] for part in grid), active[call], lrs[call])
        losses.append(loss)
        rights.append(right)
        if best is not None and plan.epoch_end[start].any():
            _keep_best(best, plan.epoch_end[start], (params, buffers), models, x_test, y_test)
    state = best["state"] if best is not None else (params, buffers)
    if not losses:  # no model had a step to take
        losses = rights = [torch.zeros(0, len(models))]
    return state, epoch_curves(torch.cat(losses), torch.cat(rights), plan, epochs)


def epoch_curves(loss: torch.Tensor, right: torch.Tensor, plan: Schedule, epochs: int) -> dict[str, np.ndarray]:
    """Per-step batch losses and right counts [T, K] -> each model's per-epoch curves [K, epochs].
    Model k's epochs are steps[k] / epochs steps each (its subset, hence its batches, is fixed)."""
    loss, right, seen = (v.float().cpu().numpy() for v in (loss, right, plan.weight.sum(-1)))
    out = {name: np.zeros((len(plan.steps), epochs)) for name in CURVES}
    for k, steps in enumerate(plan.steps.tolist()):
        per = steps // epochs
        if per == 0:  # an empty subset trains no step
            out["train_loss"][k] = out["train_accuracy"][k] = np.nan
            continue
        out["train_loss"][k] = loss[:steps, k].reshape(epochs, per).mean(1)
        out["train_accuracy"][k] = right[:steps, k].reshape(epochs, per).sum(1) / seen[:steps, k].reshape(epochs, per).sum(1)
    return out


def _pad(part: torch.Tensor, length: int) -> torch.Tensor:
    """`part` [T, ...] extended with zeros (weight 0: idle steps) to `length` steps."""
    return torch.cat([part, part.new_zeros((length - len(part), *part.shape[1:]))])


def _keep_best(best: dict, ended: torch.Tensor, state, models, x_test, y_test) -> None:
    """For the models whose epoch just ended, keep their state if their test accuracy is the best yet."""
    acc = (predict_stacked(models, state, x_test) == y_test).float().mean(1)
    better = ended & (acc > best["acc"])
    best["acc"] = torch.where(better, acc, best["acc"])
    if best["state"] is None:
        best["state"] = tuple({n: v.clone() for n, v in part.items()} for part in state)
        return
    for kept, now in zip(best["state"], state):
        for name, value in now.items():
            mask = better.view((-1,) + (1,) * (value.dim() - 1))
            kept[name] = torch.where(mask, value, kept[name])


def unstackable(models: list[nn.Module], x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why the engine cannot train these models as one (vmap of a gradient step over their stacked
    state fails: data-dependent control flow, .item(), in-place ops vmap does not support), as the
    error torch gives; None where it can. Tried on copies and two examples, so nothing is changed."""
    copies = [copy.deepcopy(m) for m in models[:2]]
    params, buffers = stack_module_state(copies)
    base = copy.deepcopy(copies[0]).to("meta")

    def loss(p, b, xb, yb):
        return F.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    try:
        # each model its own batch, as the engine trains them: data-dependent code meets a batched tensor
        vmap(grad_and_value(loss))(params, buffers, x[:2].expand(len(copies), *x[:2].shape), y[:2].expand(len(copies), 2))
    except Exception as e:  # noqa: BLE001 -- whatever vmap refuses in a user's network
        return f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    return None


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _steps_fn(base: nn.Module, momentum: float, weight_decay: float, nesterov: bool, augment: bool, bf16: bool):
    """Consecutive SGD steps of all K models, one per row of (index, weight, flip, shift, active, lrs)."""
    step = _step_fn(base, momentum, weight_decay, nesterov, bf16)

    def run(params, buffers, momentum_buffers, x, y, index, weight, flip, shift, active, lrs):
        losses, rights = [], []  # each step's batch loss and right count per model: the curves
        for s in range(len(index)):
            xb = training.crop_flip(x[index[s]], flip[s], shift[s]) if augment else x[index[s]]
            before = {name: b.clone() for name, b in buffers.items()}
            params, momentum_buffers, loss, right = step(params, buffers, momentum_buffers, xb, y[index[s]],
                                                         weight[s], lrs[s])
            losses.append(loss)
            rights.append(right)
            for name, b in buffers.items():  # an idle model's forward pass must not move its BatchNorm statistics
                b.copy_(torch.where(active[s].view((-1,) + (1,) * (b.dim() - 1)), b, before[name]))
        return params, momentum_buffers, torch.stack(losses), torch.stack(rights)

    return run


def _step_fn(base: nn.Module, momentum: float, weight_decay: float, nesterov: bool, bf16: bool):
    """One SGD step of all K models at once: vmap of one model's step over the stacked state.
    bf16: the forward pass under bfloat16 autocast (on CUDA; the weights stay float32). Unlike
    training.train, no channels_last: vmap turns each convolution into a grouped one (groups = K,
    several input channels per group), which channels_last can slow down many-fold; inductor's
    layout optimisation skips such graphs too (decide_layout_opt in torch/_inductor/graph.py)."""

    def loss(p, b, xb, yb, wb):
        """One model's mean loss over the real (weight 1) examples of its batch, and how many of them it
        got right."""
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            logits = functional_call(base, (p, b), (xb,))  # BatchNorm updates b in place
        logits = logits.float()
        losses = F.cross_entropy(logits, yb, reduction="none")
        mean = (losses * wb).sum() / wb.sum().clamp_min(1)
        # right: its logit is the largest, the maximum cross-entropy's log-softmax takes anyway
        right = logits.gather(-1, yb[:, None])[:, 0] >= logits.amax(-1)
        return mean, (mean.detach(), (right * wb).sum())

    def model_step(p, b, buf, xb, yb, wb, lr):
        """training.train's update, torch.optim.SGD's: weight decay, then momentum, Nesterov's or
        plain (v = m v + g; p -= lr v, as Feldman & Zhang's optimizer); plain SGD at momentum 0."""
        g, (_, (value, right)) = grad_and_value(loss, has_aux=True)(p, b, xb, yb, wb)
        new_p, new_buf = {}, {}
        for name in p:
            g_name = g[name] + weight_decay * p[name]
            new_buf[name] = momentum * buf[name] + g_name
            direction = g_name + momentum * new_buf[name] if nesterov else new_buf[name]
            new_p[name] = p[name] - lr * direction
        return new_p, new_buf, value, right

    return vmap(model_step)


def _compiled_or_eager(step, mode: str):
    """torch.compile(step) in `mode`, falling back to `step` itself, with a warning, where compilation fails
    (no C++ compiler, an unsupported operation): a slow run beats a crashed one."""
    compiled = torch.compile(step, dynamic=False, mode=COMPILE_MODES[mode])
    chosen = None

    def run(*args):
        nonlocal chosen
        if chosen is None:
            try:
                result = compiled(*args)
                chosen = compiled
                return result
            except Exception as e:  # noqa: BLE001 - any compiler failure
                warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); running uncompiled")
                chosen = step
        return chosen(*args)

    return run


@torch.no_grad()
def scores_stacked(models: list[nn.Module], state, x: torch.Tensor, y: torch.Tensor,
                   chunk: int = 1024) -> dict[str, torch.Tensor]:
    """What each of the K stacked models says of each example's label y: training.label_scores of
    its logits, each [K, N]."""
    base = copy.deepcopy(models[0]).to("meta").eval()

    def forward(p, b, xb):
        return functional_call(base, (p, b), (xb,))

    params, buffers = state
    parts = [training.label_scores(vmap(forward, in_dims=(0, 0, None))(params, buffers, xc), yc)
             for xc, yc in zip(x.split(chunk), y.split(chunk))]
    return {name: torch.cat([part[name] for part in parts], dim=1) for name in parts[0]}


@torch.no_grad()
def predict_stacked(models: list[nn.Module], state, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Labels [K, N] that each of the K stacked models (state: parameters, buffers) gives to x."""
    base = copy.deepcopy(models[0]).to("meta").eval()

    def forward(p, b, xb):
        return functional_call(base, (p, b), (xb,)).argmax(-1)

    params, buffers = state
    return torch.cat([vmap(forward, in_dims=(0, 0, None))(params, buffers, xc) for xc in x.split(chunk)], dim=1)
