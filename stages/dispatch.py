"""dispatch: train_trials' shards as Ray tasks, one per shard (one GPU each where the cluster has
GPUs), retried when a task or its worker dies; then the usual gather.

Each task runs `python stages/train_trials.py --shard i --num-shards n`, which saves every finished
chunk of trials as it goes, so a retried shard resumes where it stopped and nothing finished is
trained again. The gathered arrays are those of a single-process run with the same seed.

    python stages/dispatch.py                       # a local Ray: one worker per GPU (or per 2 CPUs)
    python stages/dispatch.py --address auto        # the Ray cluster this machine belongs to

Options after `--` go to train_trials (e.g. `-- --arch mlp512 --stream 1 --out-dir ...`)."""

import subprocess
import sys
from pathlib import Path

import typer

from longtail import LongtailError, cli

app = cli.app(__doc__)

TRAIN_TRIALS = Path(__file__).with_name("train_trials.py")


def run_shard(args: list[str], shard: int, num_shards: int) -> int:
    """One shard in its own process (Ray sets CUDA_VISIBLE_DEVICES to the task's GPU)."""
    subprocess.run([sys.executable, str(TRAIN_TRIALS), *args, "--shard", str(shard), "--num-shards", str(num_shards)],
                   check=True)
    return shard


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def main(
    ctx: typer.Context,
    params_file: Path = cli.PARAMS,
    num_shards: int = typer.Option(0, help="shards (0: one per GPU in the cluster, else one per 2 CPUs)"),
    address: str = typer.Option(None, help="Ray cluster to join ('auto', or host:port); default: start a local one"),
    num_cpus: int = typer.Option(None, help="CPUs of the local Ray (default: all)"),
    retries: int = typer.Option(3, help="times a failed shard is tried again"),
):
    with cli.errors():
        import ray

        if retries < 0:
            raise LongtailError(f"--retries {retries} must be >= 0")
        args = ["--params", str(params_file), *ctx.args]
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
        cli.say(f"shards {done} done; gathering")
        gather = subprocess.run([sys.executable, str(TRAIN_TRIALS), *args])
        if gather.returncode != 0:
            raise LongtailError("the gather (train_trials without --shard) failed; see its message above")


if __name__ == "__main__":
    app()
