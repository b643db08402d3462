"""CPU inference time of a float model and of its int8 version (compress.method quantize: torchao's
PT2E flow, lowered to onednn's int8 kernels), per network and input size; accuracy is the tests'.

    python benchmarks/quantize.py                 # mlp and cnn on digits' 8x8, resnet20 on 32x32
    python benchmarks/quantize.py --repeats 50

Times the median of `repeats` passes over `n` examples, in batches of 256 (the batch the int8
model is lowered for), on all the CPU's threads, after two warm-up passes."""

import platform
import statistics
import time

import torch
import typer

from longtail.compress import quantize, size
from longtail.train import models, training

app = typer.Typer(add_completion=False)

CASES = [("mlp", (1, 8, 8), 359), ("cnn", (1, 8, 8), 359), ("resnet20", (3, 32, 32), 1024)]


def seconds(model, x, repeats):
    for _ in range(2):
        training.predict(model, x, batch_size=256)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        training.predict(model, x, batch_size=256)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@app.command()
def main(repeats: int = 20):
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| network | input | examples | float ms | int8 ms | int8 / float | size int8 / float |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for arch, shape, n in CASES:
        torch.manual_seed(0)
        model = models.build(arch, shape, 10).eval()
        x = torch.rand(n, *shape)
        int8 = quantize.quantize(model, x[:512])
        f, q = seconds(model, x, repeats), seconds(int8, x, repeats)
        ratio = size.size_bytes(int8) / size.size_bytes(model)
        print(f"| {arch} | {list(shape)} | {n} | {1000 * f:.1f} | {1000 * q:.1f} | {q / f:.2f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    app()
