"""Training curves: each epoch's loss and accuracy, on the training batches and on the test set,
of every phase a stage trains (the reference; sparsify and recovery; each population member; the
trials, on their training batches only: a test pass per epoch would cost them a share of their
training time), written as a DVCLive directory (metrics.json, plots/metrics/<phase>/<metric>.tsv),
so that `dvc plots show` draws them and `dvc exp show` lists their final values."""

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from longtail import LongtailError

METRICS = ("train_loss", "train_accuracy", "test_accuracy")


class Curves:
    """phase -> metric -> one value per epoch. A phase trained several times (a population's
    members) keeps each run's curve, and `table` gives their mean and standard deviation."""

    def __init__(self, test_accuracy: Callable):
        self.test_accuracy = test_accuracy  # model -> its accuracy on the test set
        self.runs: dict[str, list[dict[str, list[float]]]] = defaultdict(list)

    def epoch(self, phase: str):
        """The on_epoch callback of training.train for a new run of `phase`."""
        run = {name: [] for name in METRICS}
        self.runs[phase].append(run)

        def record(epoch: int, model, stats: dict) -> None:
            run["train_loss"].append(stats["loss"])
            run["train_accuracy"].append(stats["accuracy"])
            run["test_accuracy"].append(self.test_accuracy(model))

        return record

    def table(self) -> dict[str, dict[str, np.ndarray]]:
        """phase -> metric -> values [epochs]; with several runs, metric and metric_std over them."""
        out = {}
        for phase, runs in self.runs.items():
            runs = [r for r in runs if r["train_loss"]]  # a phase of 0 epochs draws nothing
            if runs:
                out[phase] = summary({name: np.array([r[name] for r in runs]) for name in METRICS})
        return out


def summary(runs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """metric -> values [runs, epochs] to metric -> the mean over the runs [epochs], and with several
    runs metric_std, their standard deviation: one phase of a `table`."""
    out = {name: v.mean(0) for name, v in runs.items()}
    if len(next(iter(runs.values()))) > 1:
        out |= {f"{name}_std": v.std(0, ddof=1) for name, v in runs.items()}
    return out


def write(folder: Path, table: dict[str, dict[str, np.ndarray]]) -> None:
    """The curves as a DVCLive directory (a fresh one: its files are the stage's output). DVCLive
    writes the files alone: dvc.yaml declares them, and the stage runs inside `dvc repro` or `dvc
    exp run`, so there is no dvc.yaml to edit and no experiment to save; its look for the repository
    (which fails in a git repository without commits, and outside one runs `dvc init`) is skipped."""
    from dvclive import Live

    class Files(Live):
        def _init_dvc(self):  # DVCLive's repository integration: see above
            self._dvc_file = None

    with Files(str(folder), save_dvc_exp=False, dvcyaml=False, report=None) as live:
        # dvc.yaml declares plots/metrics: a stage that trains nothing (quantize) leaves it empty
        (Path(folder) / "plots" / "metrics").mkdir(parents=True, exist_ok=True)
        for phase, metrics in table.items():
            for step in range(len(metrics["train_loss"])):
                live.step = step
                for name, values in metrics.items():
                    live.log_metric(f"{phase}/{name}", float(values[step]), plot=True)


def read(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """The table `write` wrote to a DVCLive directory (phase -> metric -> values by step), its phases
    in the order they trained (metrics.json keeps the order they were logged in); {} where its stage
    trained nothing (quantize)."""
    folder = Path(folder)
    if not (folder / "metrics.json").is_file():
        raise LongtailError(f"missing input {folder}/metrics.json: run the stage that writes its training curves "
                            "(`dvc repro`)")
    order = [key for key in json.loads((folder / "metrics.json").read_text()) if key != "step"]
    table = {}
    for phase in order:
        for tsv in sorted((folder / "plots" / "metrics" / phase).glob("*.tsv")):
            with open(tsv, newline="") as f:
                rows = list(csv.reader(f, delimiter="\t"))
            table.setdefault(phase, {})[tsv.stem] = np.array([float(r[1]) for r in rows[1:]])
    return table
