"""What a network costs: its parameters (all, and nonzero), the FLOPs of one example and its bytes
on disk; metrics/compress.json compares them between the reference and each compressed model."""

import io

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """The (module, 'weight') pairs that pruning acts on: every conv and linear layer; biases stay."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@torch.no_grad()
def flops(model: nn.Module, in_shape) -> int:
    """FLOPs of one forward pass on one example, counted by torch on the actual network (a
    multiply-add is 2)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *in_shape, device=device))
    model.train(was_training)
    return int(counter.get_total_flops())


def size_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict as torch.save writes it (int8 weights count one byte each)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def footprint(model: nn.Module, in_shape) -> dict:
    """Parameters (all, and nonzero), FLOPs of one example and size in bytes of a float model."""
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "nonzero_parameters": sum(int(p.count_nonzero()) for p in model.parameters()),
        "flops": flops(model, in_shape),
        "size_bytes": size_bytes(model),
    }


@torch.no_grad()
def weights_kept(model: nn.Module) -> float:
    """Share of prunable weights that are nonzero."""
    weights = [getattr(m, name) for m, name in prunable(model)]
    return sum(int(w.count_nonzero()) for w in weights) / sum(w.numel() for w in weights)
