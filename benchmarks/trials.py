"""The batched trial engine against a loop that trains one model at a time, side by side.

    python benchmarks/trials.py                 # both CPU workloads, 3 rounds (about 10 minutes on 2 cores)
    python benchmarks/trials.py --workload digits --models-per-step 16 --models-per-step 64

Same network, epochs, batch size, optimizer and data on both sides; each side trains its own
trials (the sequential loop fewer of them, it is slower) and reports trials per second and the
mean test accuracy. Model FLOPs utilisation (MFU): the engine's model FLOPs (3 x forward per
training example, 1 x forward per evaluated example, counted by torch's FlopCounterMode) per
second, over the machine's dense float32 matrix-product rate measured here.
"""

import platform
import time

import numpy as np
import torch
import typer
from torch.utils.flop_counter import FlopCounterMode

from longtail import devices
from longtail.data import datasets
from longtail.train import models, trials
from longtail.train.recipe import Recipe

WORKLOADS = {
    # Digits and the small MLP of the default pipeline, with the recipe runs A to F measured (25
    # epochs; params.yaml now trains 50 at lr 0.2 without weight decay: the same steps, twice as many).
    "digits": dict(arch="mlp", epochs=25, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4),
    # Feldman & Zhang's MNIST recipe (presets/mnist.yaml): MLP 784-512-256-10, Glorot-normal weights,
    # 10 epochs, batch 128, plain momentum 0.9 at a constant lr of 0.1, no weight decay, the last
    # partial batch kept. MNIST is not downloadable here: MNIST-shaped synthetic images, 6000 train.
    "mnist": dict(arch="mlp512", init="glorot_normal", epochs=10, batch_size=128, lr=0.1, momentum=0.9,
                  weight_decay=0.0, schedule="constant", nesterov=False, drop_last=False),
    # CIFAR-10-shaped (3x32x32, 50 000 train, 10 000 test; synthetic where CIFAR-10 is absent), 70%
    # subsets, augmentation on the device: for a GPU (seconds per trial and MFU; target on an H100:
    # at most 2 s per trial for airbench).
    "cifar_airbench": dict(arch="airbench", epochs=10, batch_size=512, lr=0.2, momentum=0.9, weight_decay=5e-4,
                           augment=True),
    # ResNet-20 with the trials recipe of presets/cifar10.yaml.
    "cifar_resnet20": dict(arch="resnet20", epochs=30, batch_size=256, lr=0.2, momentum=0.9, weight_decay=0.0,
                           augment=True),
}


def dataset(workload: str) -> dict[str, np.ndarray]:
    if workload == "digits":
        return datasets.load("digits")
    if workload.startswith("cifar"):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (60_000, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, 60_000)
        return {"x_train": x[:50_000], "y_train": y[:50_000], "x_test": x[50_000:], "y_test": y[50_000:]}
    x, y, rare = datasets.synthetic(classes=10, common=640, rare_groups=10, rare_size=3, side=28, seed=0)
    return datasets.split(x, y, rare=rare, test_fraction=1 / 7, seed=0)


def timed(device, fn, /, *args, **kwargs):
    """(fn(*args, **kwargs), its seconds), with CUDA's queued work finished on both sides."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


# The knobs a workload leaves out (training.train's defaults before the recipe became one value).
USUAL = dict(momentum=0.9, weight_decay=5e-4, augment=False, schedule="linear", nesterov=True, drop_last=True)


def recipe_of(name: str, epochs: int = 0) -> tuple[str, str, Recipe]:
    """(arch, init, recipe) of WORKLOADS[name]; epochs > 0 replaces the workload's."""
    knobs = dict(WORKLOADS[name]) | ({"epochs": epochs} if epochs else {})
    arch, init = knobs.pop("arch"), knobs.pop("init", "torch")
    return arch, init, Recipe(**(USUAL | knobs))


def matmul_rate(device, n: int = 2048, repeats: int = 10) -> float:
    """Best dense matrix-product rate, FLOP/s: float32 on a CPU, bfloat16 on CUDA (the engine's
    autocast precision there)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    n = 8192 if device.type == "cuda" else n
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats):
        best = max(best, 2 * n**3 / timed(device, torch.matmul, a, b)[1])
    return best


def forward_flops(arch: str, in_shape, num_classes: int) -> int:
    """Model FLOPs of one forward pass on one example."""
    with FlopCounterMode(display=False) as counter:
        models.build(arch, in_shape, num_classes)(torch.zeros(1, *in_shape))
    return counter.get_total_flops()


def measure(run, arrays, count, device, **kwargs):
    masks = trials.sample_masks(count, len(arrays["y_train"]), 0.7, seed=0)
    outcome, seconds = timed(device, run, arrays["x_train"], arrays["y_train"], arrays["x_test"],
                             arrays["y_test"], masks, seed=0, device=device, **kwargs)
    return count / seconds, outcome.test_correct.mean(), masks


def main(
    workload: list[str] = typer.Option(["digits", "mnist"], help=f"any of {', '.join(WORKLOADS)}"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    models_per_step: list[int] = typer.Option([32], help="K values to try"),
    batched_trials: int = typer.Option(0, help="trials per batched run (0: 8 x K on digits, K on mnist)"),
    sequential_trials: int = typer.Option(0, help="trials of the sequential loop (0: 32 on digits, 2 on mnist)"),
    compile_modes: list[str] = typer.Option(["off", "default"], help="trials.compile values to try"),
    rounds: int = typer.Option(3, min=1, help="rounds of (matmul rate, sequential, batched); medians reported"),
):
    device = devices.pick(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{platform.machine()}, {torch.get_num_threads()} threads")
    print(f"# {time.strftime('%Y-%m-%d')}, {where}, torch {torch.__version__}")
    for name in workload:
        (arch, init, recipe), arrays = recipe_of(name), dataset(name)
        recipe = dict(arch=arch, init=init, recipe=recipe)
        in_shape, classes = arrays["x_train"].shape[1:], int(arrays["y_train"].max()) + 1
        fwd = forward_flops(arch, in_shape, classes)
        n_eval = len(arrays["y_train"]) + len(arrays["y_test"])
        seq_count = sequential_trials or (32 if name == "digits" else 2)
        configs = [(k, compile) for k in models_per_step for compile in compile_modes]
        for k, compile in configs:  # one chunk first: compilation and warm-up, reported apart
            rate, _, _ = measure(trials.run_trials, arrays, k, device, models_per_step=k, compile=compile, **recipe)
            print(f"{name}: K={k} compile={compile}: first chunk {k / rate:.0f} s")
        # A shared host's speed drifts by tens of percent within minutes, so every round measures the
        # matmul rate and both engines back to back, and the ratio and MFU are taken within a round.
        results = {config: [] for config in configs}
        for r in range(rounds):
            peak = matmul_rate(device)
            seq_rate, seq_acc, _ = measure(trials.run_trials_sequential, arrays, seq_count, device, **recipe)
            print(f"{name} round {r + 1}: dense matmul {peak / 1e9:.0f} GFLOP/s; sequential {seq_rate:.2f} "
                  f"trials/s, test accuracy {seq_acc:.4f} ({seq_count} trials)")
            for k, compile in configs:
                count = batched_trials or (8 * k if name == "digits" else k)
                rate, acc, masks = measure(trials.run_trials, arrays, count, device, models_per_step=k,
                                           compile=compile, **recipe)
                flops = fwd * (3 * recipe["recipe"].epochs * masks.sum(1).mean() + n_eval)
                results[k, compile].append((rate, rate / seq_rate, flops * rate / peak))
                print(f"{name} round {r + 1}: batched K={k} compile={compile} {rate:.2f} trials/s = "
                      f"{1 / rate:.3f} s/trial ({rate / seq_rate:.1f}x), test accuracy {acc:.4f} ({count} trials); "
                      f"{flops * rate / 1e9:.1f} GFLOP/s, MFU {flops * rate / peak:.0%}")
        for (k, compile), rows in results.items():
            rate, ratio, mfu = np.median(rows, axis=0)
            print(f"{name}: batched K={k} compile={compile}, median of {rounds} rounds: {rate:.2f} trials/s, "
                  f"{ratio:.1f}x sequential, MFU {mfu:.0%}")


if __name__ == "__main__":
    typer.run(main)
