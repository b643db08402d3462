"""Where the work runs: the device params.yaml asks for, and the prepared arrays on it."""

import numpy as np
import torch

from longtail import LongtailError


def pick(spec: str = "auto") -> torch.device:
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
    """uint8 images [N, C, H, W] and int64 labels to float inputs in [0, 1] and labels, on the device;
    float32 inputs (a user's feature values) are taken as they are."""
    inputs = torch.from_numpy(x).to(device).float()
    return (inputs.div_(255) if x.dtype == np.uint8 else inputs), torch.from_numpy(y).to(device)
