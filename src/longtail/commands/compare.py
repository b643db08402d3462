"""compare: the experiments of `dvc exp show` side by side: each group's two answers (Q1, beyond the
estimator's noise; Q2, at equal difficulty) with the paper's Student t beside them (its Figure 4),
the CIE and PIE counts (Figure 6), one colour or bar group per compression loss or method, with
Benjamini-Hochberg adjusted p-values across all experiments and groups, and the harm-efficiency
front of every level of every experiment, its non-dominated points marked (compare.md).

It reads the experiments, which `dvc exp run` makes: run it after them (`longtail compare`, or
`make compare`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import typer

from longtail import LongtailError, cli, params
from longtail.analysis import experiments, front
from longtail.report import comparison, plots
from longtail.artifacts import outputs


def exp_show() -> list:
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise LongtailError(f"`dvc exp show --json` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def main(
    params_file: Path = cli.PARAMS,
    from_json: Path = typer.Option(None, "--from-json", help="read this saved `dvc exp show --json` output instead"),
    plots_dir: Path = Path("plots"),
    out: Path = Path("compare.md"),
):
    with cli.errors():
        alpha = params.section(params.read(params_file), "ttest", params.Ttest).alpha
        if from_json is not None and not from_json.exists():
            raise LongtailError(f"--from-json {from_json} not found")
        records = experiments.adjust(experiments.experiments(json.loads(from_json.read_text()) if from_json else exp_show()))
        names = experiments.labels(records)
        counts = {n: r["counts"] for n, r in zip(names, records)}
        points = front.mark([p | {"label": n} for n, r in zip(names, records) for p in r["points"]])
        figures = ("compare_ttest.png", "compare_counts.png", "compare_front.png")
        text = comparison.document(records, names, points, alpha, {
            name: Path(os.path.relpath(plots_dir / name, out.parent)).as_posix() for name in figures})
        with outputs() as o:
            plots.save(plots.questions_figure({n: r["tests"] for n, r in zip(names, records)},
                                              statistic=", ".join(sorted({str(r["statistic"]) for r in records})),
                                              alpha=alpha),
                       o.path(plots_dir / "compare_ttest.png"))
            plots.save(plots.grouped_bars(counts, ylabel="test examples", title="CIE and PIE counts per experiment"),
                       o.path(plots_dir / "compare_counts.png"))
            plots.save(plots.front_figure(points, front.COSTS, front.HARMS), o.path(plots_dir / "compare_front.png"))
            with open(o.path(out), "w") as f:
                f.write(text)
        cli.say(f"{len(records)} experiments, {len(points)} operating points compared: {out}, "
                f"{plots_dir}/compare_ttest.png, compare_counts.png, compare_front.png")

