"""report: the paper's figures (plots/, with CSV data for `dvc plots`), report.md, the run's environment."""

import os
from dataclasses import asdict
from pathlib import Path

import typer

from longtail import cli, environment, layout, params
from longtail.artifacts import load_csv, load_json, load_npy, load_npz, load_prepared, outputs
from longtail.report import figures, markdown, plots
from longtail.train import curves

app = cli.app(__doc__)
HISTOGRAMS = ("test_mean_influence", "train_mean_influence", "memorization")  # also as CSV, for `dvc plots`


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    influence_dir: Path = Path(layout.INFLUENCE),
    metrics_dir: Path = Path(layout.METRICS),
    shift: Path = Path(f"{layout.PIE}/shift.npz"),
    plots_dir: Path = Path(layout.PLOTS),
    stability: Path = Path(layout.STABILITY),
    live_dirs: list[Path] = typer.Option([Path(layout.live("reference")), Path(layout.live("compress"))], "--live",
                                         help="DVCLive folders whose training curves the report draws"),
    out: Path = Path(layout.REPORT), environment_file: Path = Path(layout.ENVIRONMENT),
):
    with cli.errors():
        p = params.read(params_file)
        cfg = params.section(p, "ttest", params.Ttest)
        quoted = {"data": asdict(params.section(p, "data", params.Data)),  # the params the report quotes
                  "trials": asdict(params.section(p, "trials", params.Trials)) | asdict(params.section(p, "trials", params.Fit)),
                  "estimate": asdict(params.section(p, "estimate", params.Estimate)), "ttest": asdict(cfg)}
        train, test = load_prepared(prepared)
        arrays = {name: load_npy(influence_dir / f"{name}.npy", ndim=1) for name in (*HISTOGRAMS, "test_max_influence")}
        matrix = load_npy(influence_dir / "influence.npy", ndim=2, mmap=True, shape=(len(test["y"]), len(train["y"])))
        metrics = {name: load_json(metrics_dir / f"{name}.json")
                   for name in ("trials", "estimate", "compress", "cie", "ttest", "pie", "harm", "consistency")}
        trials, jaccard = load_csv(stability, ["trials", "jaccard"], float).T
        phases = {phase: table for folder in live_dirs for phase, table in curves.read(folder).items()}
        arrays |= load_npz(shift, ["shift", "reference_votes", "compressed_votes"])
        drawn = figures.figures(matrix, arrays, metrics, (train["x"], train["y"], test["x"], test["y"]),
                                (trials.astype(int), jaccard), phases, bins=cfg.bins, alpha=cfg.alpha)
        text = markdown.markdown(params=quoted, **metrics, figures={
            caption: Path(os.path.relpath(plots_dir / name, out.parent)).as_posix() for name, (caption, _) in drawn.items()})
        with outputs() as o:
            for name, (_, fig) in drawn.items():
                plots.save(fig, o.path(plots_dir / name))
            for name in HISTOGRAMS:
                o.csv(plots_dir / f"{name}.csv", [name, "count"], zip(*plots.histogram(arrays[name], cfg.bins)))
            o.path(out).write_text(text)
            o.json(environment_file, environment.describe())  # what `longtail verify` compares the machines by
        cli.say(f"report: {out} with {len(drawn)} figures in {plots_dir}/")


if __name__ == "__main__":
    app()
