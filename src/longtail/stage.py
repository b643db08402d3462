"""What the stages that train start with (stage.start): params read and checked, the shared seed,
the device, and the prepared data (as numpy arrays, and on the device as training tensors). At the
edge with the stages: it reads files and params, and the library below it takes values."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from longtail import devices, params
from longtail.artifacts import load_prepared


@dataclass(frozen=True)
class Run:
    params: dict  # params.yaml as read: each stage takes its sections with params.section
    seed: int
    device: torch.device
    train: dict[str, np.ndarray]  # data/prepared/train.npz
    test: dict[str, np.ndarray]  # data/prepared/test.npz

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, y, x_test, y_test) on the device: inputs in [0, 1], int64 labels."""
        return (*devices.tensors(self.train["x"], self.train["y"], self.device),
                *devices.tensors(self.test["x"], self.test["y"], self.device))


def start(params_file: Path, prepared: Path) -> Run:
    p = params.read(params_file)
    seed, device = params.seed(p), devices.pick(params.device(p))
    return Run(p, seed, device, *load_prepared(prepared))
