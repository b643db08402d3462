"""The batched trial engine: K models trained at once as one computation.

Each model keeps its own initialisation, subset and data order. Their parameters are stacked
([K, ...] per tensor, torch.func.stack_module_state) and one vmapped forward pass
(torch.func.functional_call) runs all K on their own minibatches, so every layer is one batched
matrix product instead of K small ones. The update is training.train's SGD (Nesterov momentum,
weight decay, learning rate decayed linearly to zero over each model's own steps), written out for
stacked tensors; a model whose subset needs fewer steps than the others sits out the extra ones.
Model k therefore follows the same trajectory as training.train would give it alone, up to
floating-point order.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


def schedule(subsets: list[torch.Tensor], epochs: int, batch_size: int, generators: list[torch.Generator]):
    """Each model's minibatches, padded to one grid: (index [T, K, B], weight [T, K, B], steps [K]).

    Model k's epoch is a fresh permutation of its subset from its own generator, cut into batches
    of batch_size (the last one smaller), exactly as training.train draws them; padding has weight 0.
    """
    steps = torch.tensor([epochs * -(-len(s) // batch_size) for s in subsets])
    index = torch.zeros(int(steps.max()), len(subsets), batch_size, dtype=torch.long)
    weight = torch.zeros(index.shape)
    for k, (subset, g) in enumerate(zip(subsets, generators)):
        t = 0
        for _ in range(epochs):
            for batch in subset[torch.randperm(len(subset), generator=g)].split(batch_size):
                index[t, k, : len(batch)] = batch
                weight[t, k, : len(batch)] = 1
                t += 1
    return index, weight, steps


def train(
    models: list[nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    subsets: list[torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    generators: list[torch.Generator],
) -> dict[str, torch.Tensor]:
    """Train models[k] on x[subsets[k]]; returns the stacked parameters [K, ...] (see `predict`)."""
    params, _ = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def forward(p, xb):
        return functional_call(base, p, (xb,))

    index, weight, steps = schedule(subsets, epochs, batch_size, generators)
    index, weight, steps = index.to(x.device), weight.to(x.device), steps.to(x.device)
    tensors = list(params.values())
    buffers = [torch.zeros_like(p) for p in tensors]
    for t in range(len(index)):
        xb, yb, wb = x[index[t]], y[index[t]], weight[t]  # [K, B, ...]
        logits = vmap(forward)(params, xb)  # [K, B, classes]
        losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view_as(wb)
        # Sum over models of each model's mean loss: model k's gradient is that of its own loss.
        loss = ((losses * wb).sum(1) / wb.sum(1).clamp_min(1)).sum()
        grads = torch.autograd.grad(loss, tensors)
        # SGD in place, a few passes over memory (the stacked parameters outgrow the caches). A model
        # past its last step gets learning rate 0: its weights stay, and its momentum is never used again.
        step_lr = lr * (1 - t / steps.clamp_min(1)) * (t < steps)
        with torch.no_grad():
            torch._foreach_add_(grads, tensors, alpha=weight_decay)
            if momentum > 0:
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, grads)
                torch._foreach_add_(grads, buffers, alpha=momentum)  # Nesterov
            torch._foreach_addcmul_(tensors, grads, [-step_lr.view((-1,) + (1,) * (p.dim() - 1)) for p in tensors])
    return {name: p.detach() for name, p in params.items()}


@torch.no_grad()
def predict(models: list[nn.Module], params: dict[str, torch.Tensor], x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Labels [K, N] that each of the K stacked models gives to every row of x."""
    base = copy.deepcopy(models[0]).to("meta").eval()

    def forward(p, xb):
        return functional_call(base, p, (xb,)).argmax(-1)

    return torch.cat([vmap(forward, in_dims=(0, None))(params, xc) for xc in x.split(chunk)], dim=1)
