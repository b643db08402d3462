"""The first steps of a preset's trials on this machine: compilation, seconds per step, MFU, peak
memory, and the seconds per trial and per preset they extrapolate to.

    python benchmarks/first_steps.py cifar10                 # the preset's trials (ResNet-20, K = 16)
    python benchmarks/first_steps.py cifar10 --consistency   # its consistency trials (airbench)

The preset's trials recipe (presets/<name>.yaml over params.yaml) trains with the batched engine on
random data of the preset's dataset's shape: a step's speed does not depend on the pixels, and the
datasets cannot be downloaded everywhere. One call of warm-up (compilation) is timed apart, then
`--steps` steps. On a GPU this is the preset's first chunk; on a CPU, where one CIFAR trial takes
hours, it checks that the preset's configuration compiles and fits in memory, and measures its rate.
"""

import dataclasses
import resource
import time
from pathlib import Path

import torch
import typer
from trials import forward_flops, matmul_rate, timed  # benchmarks/trials.py, beside this script

from longtail import LongtailError, cli, devices, params
from longtail.train import engine, training
from longtail.train import trials as longtail_trials

ROOT = Path(__file__).resolve().parents[1]
# dataset -> (image shape, classes, training examples, test examples)
SHAPES = {"cifar10": ((3, 32, 32), 10, 50_000, 10_000), "cifar100": ((3, 32, 32), 100, 50_000, 10_000),
          "mnist": ((1, 28, 28), 10, 60_000, 10_000)}


def main(
    preset: str = typer.Argument(..., help="a preset: the name of a file in presets/"),
    steps: int = typer.Option(8, min=1, help="steps timed after the warm-up call"),
    consistency: bool = typer.Option(False, help="time the preset's consistency trials (consistency.arch)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    compile: str = typer.Option("", help="trials.compile instead of the preset's (off: no compilation)"),
):
    with cli.errors():
        run(preset, steps, consistency, device, compile)


def run(preset: str, steps: int, consistency: bool, device: str, compile: str):
    available = sorted(p.stem for p in (ROOT / "presets").glob("*.yaml"))
    if preset not in available:
        raise LongtailError(f"unknown preset {preset!r}; choose one of: {', '.join(available)}")
    p, over = params.read(ROOT / "params.yaml"), params.load_yaml((ROOT / "presets" / f"{preset}.yaml").read_text())
    for section in ("trials", "consistency"):
        p[section] = p[section] | over.get(section, {})
    p["trials"] |= {"compile": compile} if compile else {}
    cfg = params.section(p, "trials", params.Trials)
    arch = params.section(p, "consistency", params.Consistency).arch if consistency else cfg.arch
    count = params.section(p, "consistency", params.Consistency).count if consistency else cfg.count
    in_shape, classes, n_train, n_test = SHAPES[over["data"]["dataset"]]
    device = devices.pick(device)
    k, batch = cfg.models_per_step, cfg.batch_size
    recipe = dataclasses.replace(cfg.recipe(), epochs=1)

    x = torch.rand(n_train, *in_shape, device=device)
    y = torch.randint(0, classes, (n_train,), device=device)
    nets = longtail_trials.init_models(arch, in_shape, classes, range(k), 0, device)
    generators = [longtail_trials.data_order(0, i) for i in range(k)]

    def train(n_steps):  # K models, n_steps steps each (one epoch over a subset of n_steps batches)
        subsets = [torch.randperm(n_train, generator=g)[: n_steps * batch].to(device) for g in generators]
        return engine.train_stacked(nets, x, y, subsets, recipe, generators=generators, compile=cfg.compile)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _, warmup = timed(device, train, engine.STEPS_PER_CALL)
    (state, _), seconds = timed(device, train, steps)
    _, eval_seconds = timed(device, engine.predict_stacked, nets, state, x[:4096])

    per_step = seconds / steps
    fwd = forward_flops(arch, in_shape, classes)
    mfu = 3 * fwd * k * batch / per_step / matmul_rate(device)
    steps_per_trial = cfg.epochs * training.steps_per_epoch(int(cfg.subset_ratio * n_train), batch)
    per_trial = (per_step * steps_per_trial + eval_seconds * (n_train + n_test) / 4096) / k
    memory = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
              else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {time.strftime('%Y-%m-%d')}, {where}, torch {torch.__version__}")
    print(f"{preset} {'consistency' if consistency else 'trials'}: {arch}, K={k}, batch {batch}, "
          f"augment {cfg.augment}, compile {cfg.compile}")
    print(f"warm-up call ({engine.STEPS_PER_CALL} steps, compilation): {warmup:.1f} s; "
          f"{per_step:.3f} s per step of K models ({k * batch / per_step:.0f} images/s), MFU {mfu:.0%}; "
          f"peak memory {memory / 2**30:.1f} GiB")
    print(f"extrapolated: {per_trial:.1f} s per trial ({cfg.epochs} epochs, {steps_per_trial} steps, evaluation "
          f"included), {per_trial * count / 3600:.2f} h for {count} trials")


if __name__ == "__main__":
    typer.run(main)
