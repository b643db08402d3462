"""The batched trial engine against a loop that trains one model at a time, side by side.

    python benchmarks/trials.py                 # both CPU workloads (about 5 minutes on 2 cores)
    python benchmarks/trials.py --workload digits --models-per-step 16 32 64 128

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

from longtail import data, models, trials

WORKLOADS = {
    # The default pipeline: digits, the small MLP, params.yaml's recipe.
    "digits": dict(arch="mlp", epochs=25, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4),
    # Feldman & Zhang's MNIST recipe: MLP 784-512-256-10, 10 epochs, batch 128, SGD momentum 0.9,
    # lr 0.1, 70% subsets. MNIST is not downloadable here: MNIST-shaped synthetic images, 6000 train.
    "mnist": dict(arch="mlp512", epochs=10, batch_size=128, lr=0.1, momentum=0.9, weight_decay=0.0),
}


def dataset(workload: str) -> dict[str, np.ndarray]:
    if workload == "digits":
        return data.load("digits")
    x, y, rare = data.synthetic(classes=10, common=640, rare_groups=10, rare_size=3, side=28, seed=0)
    return data.split(x, y, rare=rare, test_fraction=1 / 7, seed=0)


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    """Best dense float32 matrix-product rate, FLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def forward_flops(arch: str, in_shape, num_classes: int) -> int:
    """Model FLOPs of one forward pass on one example."""
    with FlopCounterMode(display=False) as counter:
        models.build(arch, in_shape, num_classes)(torch.zeros(1, *in_shape))
    return counter.get_total_flops()


def measure(run, arrays, count, **kwargs):
    masks = trials.sample_masks(count, len(arrays["y_train"]), 0.7, seed=0)
    start = time.perf_counter()
    _, test_correct = run(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], masks,
                          seed=0, device=torch.device("cpu"), **kwargs)
    seconds = time.perf_counter() - start
    return count / seconds, test_correct.mean(), masks


def main(
    workload: list[str] = typer.Option(list(WORKLOADS), help="digits and/or mnist"),
    models_per_step: list[int] = typer.Option([64], help="K values to try"),
    batched_trials: int = typer.Option(0, help="trials per batched run (0: 4 x K on digits, K on mnist)"),
    sequential_trials: int = typer.Option(0, help="trials of the sequential loop (0: 16 on digits, 2 on mnist)"),
):
    peak = matmul_rate()
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; dense float32 matmul {peak / 1e9:.0f} GFLOP/s")
    for name in workload:
        recipe, arrays = WORKLOADS[name], dataset(name)
        in_shape, classes = arrays["x_train"].shape[1:], int(arrays["y_train"].max()) + 1
        fwd = forward_flops(recipe["arch"], in_shape, classes)
        n_eval = len(arrays["y_train"]) + len(arrays["y_test"])
        seq_count = sequential_trials or (16 if name == "digits" else 2)
        seq_rate, seq_acc, _ = measure(trials.run_trials_sequential, arrays, seq_count, **recipe)
        print(f"{name}: sequential {seq_rate:.2f} trials/s, test accuracy {seq_acc:.4f} ({seq_count} trials)")
        for k in models_per_step:
            for compile in (False, True):
                count = batched_trials or (4 * k if name == "digits" else k)
                start = time.perf_counter()  # one chunk first: compilation and warm-up, reported apart
                measure(trials.run_trials, arrays, k, models_per_step=k, compile=compile, **recipe)
                warmup = time.perf_counter() - start
                rate, acc, masks = measure(trials.run_trials, arrays, count, models_per_step=k, compile=compile,
                                           **recipe)
                flops = fwd * (3 * recipe["epochs"] * masks.sum(1).mean() + n_eval)
                print(f"{name}: batched K={k} compile={compile} {rate:.2f} trials/s ({rate / seq_rate:.1f}x), "
                      f"test accuracy {acc:.4f} ({count} trials; first chunk {warmup:.0f} s); "
                      f"{flops * rate / 1e9:.1f} GFLOP/s, MFU {flops * rate / peak:.0%}")


if __name__ == "__main__":
    typer.run(main)
