"""dispatch: a trials stage's shards as Ray tasks, one per shard (one GPU each where the cluster has
GPUs), retried when a task or its worker dies. It trains, and leaves the gather to `dvc repro`.

Each task runs the stage's own command from dvc.yaml (`--stage train_trials`, or
`consistency_trials`), its params filled in as DVC fills them, plus `--shard i --num-shards n`. A
shard saves every finished chunk of trials as it goes, so a retried shard resumes where it stopped
and nothing finished is trained again. Then `dvc repro` runs the stage, which finds every chunk done,
trains nothing and gathers them into the arrays DVC records: those of a single-process run with the
same seed. The shards read data/prepared/ as it is: after a change to the data or the seed, run
`dvc repro prepare` first, or the gather finds other data and trains every trial again. (Outside
DVC, run the stage's command as dvc.yaml gives it to gather.)

    longtail dispatch && dvc repro                  # a local Ray: one worker per GPU (or per 2 CPUs)
    longtail dispatch --address auto && dvc repro   # the Ray cluster this machine belongs to
    longtail dispatch --stage consistency_trials    # the second architecture's trials"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import typer
import yaml

from longtail import LongtailError, cli, params
from longtail.commands import ROOT

TRAIN_TRIALS = "stages/train_trials.py"  # as dvc.yaml's commands name it
SCRIPT = ROOT / "stages" / "train_trials.py"


def stage_args(dvc_file: Path, stage: str, params_file: Path) -> list[str]:
    """The arguments train_trials gets from `stage`'s command in `dvc_file`, its `${section.key}`
    filled in from `params_file` as DVC fills them: the shards train exactly the trials that `dvc
    repro` will look for."""
    if not dvc_file.exists():
        raise LongtailError(f"{dvc_file} not found: run from the repository root or pass --dvc-file")
    try:
        stages = (yaml.safe_load(dvc_file.read_text()) or {}).get("stages", {})
    except yaml.YAMLError as e:
        raise LongtailError(f"{dvc_file} is not valid YAML: {e}") from None
    commands = {name: " ".join(c) if isinstance(c, list) else str(c)
                for name, s in stages.items() if isinstance(s, dict) and (c := s.get("cmd"))}
    trials = [name for name, cmd in commands.items() if any(Path(w).name == SCRIPT.name for w in cmd.split())]
    if stage not in trials:
        raise LongtailError(f"--stage {stage!r} is not a stage of {dvc_file} that trains trials; choose one of: "
                            f"{', '.join(trials)}")
    p = params.read(params_file)

    def value(match):
        found = p
        for part in match.group(1).split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if found is None or isinstance(found, dict):
            raise LongtailError(f"{dvc_file}: stage {stage} names ${{{match.group(1)}}}, which {params_file} lacks")
        return str(found).lower() if isinstance(found, bool) else str(found)  # as DVC writes true and false

    words = shlex.split(re.sub(r"\$\{([\w.]+)\}", value, commands[stage]))
    script = next(i for i, w in enumerate(words) if Path(w).name == SCRIPT.name)
    return [*words[script + 1:], "--params", str(params_file)]


def run_shard(args: list[str], shard: int, num_shards: int) -> int:
    """One shard in its own process (Ray sets CUDA_VISIBLE_DEVICES to the task's GPU)."""
    subprocess.run([sys.executable, str(SCRIPT), *args, "--shard", str(shard), "--num-shards", str(num_shards)],
                   check=True)
    return shard


def main(
    stage: str = typer.Option("train_trials", help="the dvc.yaml stage whose trials to train"),
    dvc_file: Path = typer.Option(Path("dvc.yaml"), help="the pipeline that names the stage"),
    num_shards: int = typer.Option(0, help="shards (0: one per GPU in the cluster, else one per 2 CPUs)"),
    address: str = typer.Option(None, help="Ray cluster to join ('auto', or host:port); default: start a local one"),
    num_cpus: int = typer.Option(None, help="CPUs of the local Ray (default: all)"),
    retries: int = typer.Option(3, help="times a failed shard is tried again"),
):
    with cli.errors():
        if retries < 0:
            raise LongtailError(f"--retries {retries} must be >= 0")
        if num_shards < 0:
            raise LongtailError(f"--num-shards {num_shards} must be >= 0 (0: one per GPU, else one per 2 CPUs)")
        # params.yaml, as `dvc repro` reads it: the shards' chunks are keyed by what the gather will ask for
        args = stage_args(dvc_file, stage, Path("params.yaml"))
        import ray

        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 log_to_driver=True)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        shards = num_shards or gpus or max(1, int(resources.get("CPU", 1)) // 2)
        # A GPU per shard where there are GPUs; otherwise CPUs, so that shards do not fight over threads.
        task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1 if gpus else max(1, int(resources["CPU"]) // shards),
                          max_retries=retries, retry_exceptions=True)(run_shard)
        cli.say(f"dispatching {shards} shards on Ray ({gpus} GPUs, {int(resources.get('CPU', 0))} CPUs)")
        try:
            done = ray.get([task.remote(args, i, shards) for i in range(shards)])
        except ray.exceptions.RayTaskError as e:
            raise LongtailError(f"a shard failed {retries + 1} times; its finished chunks are kept, run again to "
                                f"resume: {e.cause}") from None
        finally:
            ray.shutdown()
        cli.say(f"shards {done} of {stage} done; `dvc repro` gathers them and trains nothing")

