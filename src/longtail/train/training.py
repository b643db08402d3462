"""Training and evaluating one model: plain minibatch SGD, data resident on the device."""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from longtail import LongtailError
from longtail.train.losses import cross_entropy
from longtail.train.recipe import Recipe

# loss(logits, labels, teacher_logits) -> scalar; teacher_logits is None when training has no teacher.
Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


SCHEDULES = ("linear", "constant")


def steps_per_epoch(n: int, batch_size: int, drop_last: bool = True) -> int:
    """drop_last: full batches only, the remainder of each epoch's permutation dropped (BatchNorm
    statistics of a tiny last batch are noise); otherwise the last, partial batch is kept too, as
    Feldman & Zhang's code does."""
    if drop_last and n < batch_size:
        raise LongtailError(f"a training set of {n} examples is smaller than batch_size = {batch_size}; "
                            "lower the batch size")
    if n == 0:
        raise LongtailError("a training set of 0 examples cannot be trained on")
    return n // batch_size if drop_last else -(-n // batch_size)


def learning_rate(schedule: str, lr: float, step, total_steps):
    """The learning rate at `step` (0-based) of `total_steps`: `linear` decays it to zero over the
    run, `constant` keeps it (Feldman & Zhang's MNIST code)."""
    if schedule == "linear":
        return lr * (1 - step / total_steps)
    if schedule == "constant":
        return lr + 0 * step  # shaped like `step`: a number, or the engine's tensor of steps
    raise LongtailError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")


def epoch_plan(n: int, batch_size: int, generator: torch.Generator | None, augment: bool = False, pad: int = 4,
               drop_last: bool = True):
    """One epoch's random draws, in a fixed order: a permutation of range(n) cut into batches
    [S, B] (with drop_last False, the last one partial, padded with -1); with `augment`, then
    horizontal flips [S, B] and crop offsets [S, B, 2] in [0, 2 pad]. training.train and the
    batched engine both draw through here, so a model trained in either sees the same batches and
    augmentations."""
    steps = steps_per_epoch(n, batch_size, drop_last)
    order = torch.randperm(n, generator=generator)
    if drop_last:
        batches = order[: steps * batch_size]
    else:
        batches = torch.cat([order, order.new_full((steps * batch_size - n,), -1)])
    batches = batches.view(steps, batch_size)
    if not augment:
        return batches, None, None
    flips = torch.rand(steps, batch_size, generator=generator) < 0.5
    shifts = torch.randint(0, 2 * pad + 1, (steps, batch_size, 2), generator=generator)
    return batches, flips, shifts


def crop_flip(x: torch.Tensor, flip: torch.Tensor, shift: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """x [..., C, H, W]: each image padded by `pad` with zeros, cropped back to H x W at offset
    `shift`, and mirrored where `flip`. One gather for the whole batch of all models."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    x, flip, shift = x.reshape(-1, c, h, w), flip.reshape(-1), shift.reshape(-1, 2)
    padded = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)  # [N, H + 2p, W + 2p, C]
    rows = (shift[:, 0:1] + torch.arange(h, device=x.device))[:, :, None]
    cols = shift[:, 1:2] + torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]
    out = padded[torch.arange(len(x), device=x.device)[:, None, None], rows, cols]
    return out.permute(0, 3, 1, 2).reshape(*lead, c, h, w)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    *,
    loss: Loss = cross_entropy,
    generator: torch.Generator | None = None,
    teacher: nn.Module | None = None,
    penalty: Callable[[], torch.Tensor] | None = None,
    fast: bool | None = None,
    on_epoch: Callable[[int, nn.Module, dict], None] | None = None,
) -> nn.Module:
    """SGD with momentum (Nesterov's where `nesterov`) and weight decay, the learning rate decayed
    linearly to zero (schedule `linear`) or held (`constant`); `drop_last` False also trains on each
    epoch's last, partial batch. `augment`: random crops (padding 4) and horizontal flips. With a
    `teacher` (in eval mode, frozen) the loss also gets its logits on the same batch; `penalty()` is
    added to the loss at every step (the group lasso of group_sparsity). epochs = 0 returns the
    model untouched (compress.epochs: 0 evaluates pruning without fine-tuning). fast: forward passes under bfloat16 autocast (the weights, the
    loss and the update stay float32) and, for image models, channels_last tensors, which tensor
    cores run fastest; None turns it on where it pays, on CUDA. on_epoch(epoch, model, stats) is
    called after each epoch with stats {"loss": the mean loss of its steps, "accuracy": the share of
    its examples the model got right in their batch}; the model is back in train mode after it."""
    epochs, batch_size, drop_last, augment = recipe.epochs, recipe.batch_size, recipe.drop_last, recipe.augment
    if epochs == 0:
        return model
    fast = x.device.type == "cuda" if fast is None else fast
    channels_last = fast and any(p.dim() == 4 for p in model.parameters())  # a convolutional network
    if channels_last:
        model.to(memory_format=torch.channels_last)
    n = len(y)
    total_steps = epochs * steps_per_epoch(n, batch_size, drop_last)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          nesterov=recipe.nesterov and recipe.momentum > 0, weight_decay=recipe.weight_decay)
    # LambdaLR evaluates step 0 at once: an unknown schedule fails here, before any training.
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: learning_rate(recipe.schedule, 1.0, step, total_steps))
    model.train()
    if teacher is not None:
        teacher.eval()
    for epoch in range(epochs):
        # On the device, read once per epoch: the curves cost no synchronisation per step.
        loss_sum, right, seen = torch.zeros((), device=x.device), torch.zeros((), device=x.device), 0
        plan = epoch_plan(n, batch_size, generator, augment, drop_last=drop_last)
        batches, flips, shifts = (t if t is None else t.to(x.device) for t in plan)
        for s, batch in enumerate(batches):
            real = slice(None)
            if not drop_last and s == len(batches) - 1:  # the last batch may be partial: drop its padding
                real = batch >= 0
            batch = batch[real]
            xb = x[batch] if not augment else crop_flip(x[batch], flips[s][real], shifts[s][real])
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=fast):
                with torch.no_grad():
                    teacher_logits = None if teacher is None else teacher(xb).float()
                logits = model(xb).float()
            objective = loss(logits, y[batch], teacher_logits)
            (objective if penalty is None else objective + penalty()).backward()
            opt.step()
            decay.step()
            if on_epoch is not None:
                loss_sum += objective.detach()
                right += (logits.detach().argmax(1) == y[batch]).sum()
                seen += len(batch)
        if on_epoch is not None:
            on_epoch(epoch, model, {"loss": loss_sum.item() / len(batches), "accuracy": right.item() / seen})
            model.train()
    return model


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """float32 [N, C]: `model`'s logits on x in eval mode, without gradients, batch_size at a time
    (the memory of one batch's activations, whatever N)."""
    model.eval()
    return torch.cat([model(chunk) for chunk in x.split(batch_size)]).float()


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    return logits(model, x, batch_size).argmax(1)


def scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> dict[str, torch.Tensor]:
    """label_scores of `model` on (x, y), each [N]."""
    return label_scores(logits(model, x, batch_size), y)


def label_scores(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """What a model says of each example's label y (logits [..., N, C], y [N]), each [..., N]:
    correct, the argmax is y (predict's; a tie goes to the first class, as argmax); probability,
    softmax(logits)[y]; margin, logits[y] minus the largest other logit (> 0 where y wins outright).
    The estimator's targets (estimate.target): the two soft ones are what the 0/1 correctness
    rounds, without the coin flip of the argmax."""
    logits = logits.float()
    label = y.expand(logits.shape[:-1])[..., None]
    own = logits.gather(-1, label)[..., 0]
    other = logits.scatter(-1, label, float("-inf")).amax(-1)
    return {"correct": logits.argmax(-1) == y, "probability": logits.softmax(-1).gather(-1, label)[..., 0],
            "margin": own - other}


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of (x, y) that `model` classifies right."""
    return (predict(model, x) == y).float().mean().item()
