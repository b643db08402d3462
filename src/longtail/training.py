"""Training and evaluating one model: plain minibatch SGD, data resident on the device."""

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from longtail import LongtailError

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pick_device(spec: str = "auto") -> torch.device:
    """`auto` picks CUDA when it is available, else the CPU; anything else is taken as given."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise LongtailError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LongtailError(f"device {spec!r} asked for, but CUDA is not available here; use device: auto or cpu")
    return device


def tensors(x: np.ndarray, y: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, C, H, W] and int64 labels to float inputs in [0, 1] and labels, on the device."""
    return torch.from_numpy(x).to(device).float().div_(255), torch.from_numpy(y).to(device)


def derive_seed(seed: int, *stream: int) -> int:
    """An independent seed for each (seed, stream...): trial k's initialisation is (seed, TRIALS, k, 0)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def generator(seed: int, *stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, *stream))


# Streams of randomness, so that no two uses of the shared seed draw the same numbers.
MASKS, TRIALS, REFERENCE, COMPRESS = range(4)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    loss: Loss = F.cross_entropy,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """SGD with Nesterov momentum and a linear decay of the learning rate to zero. epochs = 0 returns
    the model untouched (compress.epochs: 0 evaluates pruning without fine-tuning)."""
    if epochs == 0:
        return model
    n = len(y)
    steps_per_epoch = max(1, -(-n // batch_size))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=momentum > 0,
                          weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / (epochs * steps_per_epoch))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(x.device)
        for batch in order.split(batch_size):
            opt.zero_grad(set_to_none=True)
            loss(model(x[batch]), y[batch]).backward()
            opt.step()
            schedule.step()
    return model


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    model.eval()
    return torch.cat([model(chunk).argmax(1) for chunk in x.split(batch_size)])
