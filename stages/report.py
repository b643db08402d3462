"""report: the paper's figures (PNG under plots/, with their data as CSV for `dvc plots`) and a
markdown report of the run (report.md) that embeds them and reads each test in plain words."""

import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

from longtail import LongtailError, cli, params
from longtail.estimate import influence
from longtail.report import markdown, plots
from longtail.train import curves
from longtail.artifacts import load_csv, load_json, load_npy, load_prepared, outputs

app = cli.app(__doc__)

PAIRS_SHOWN = 4  # pairs per row of Figure 1
TOP_TESTS, TOP_TRAIN = 4, 4  # test examples and their most influential training examples


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    influence_dir: Path = Path("data/influence"),
    metrics_dir: Path = Path("metrics"),
    plots_dir: Path = Path("plots"),
    stability: Path = Path("plots/memorization_stability.csv"),
    live_dirs: list[Path] = typer.Option([Path("dvclive/reference"), Path("dvclive/compress")], "--live",
                                         help="DVCLive folders whose training curves the report draws"),
    out: Path = Path("report.md"),
):
    with cli.errors():
        p = params.read(params_file)
        cfg = params.section(p, "ttest", params.Ttest)
        read = {"data": params.section(p, "data", params.Data), "estimate": params.section(p, "estimate", params.Estimate),
                "trials": params.section(p, "trials", params.Trials), "fit": params.section(p, "trials", params.Fit)}
        # the params the report quotes, by section
        quoted = {"data": asdict(read["data"]), "trials": asdict(read["trials"]) | asdict(read["fit"]),
                  "estimate": asdict(read["estimate"]), "ttest": asdict(cfg)}
        train, test = load_prepared(prepared)
        arrays = {name: load_npy(influence_dir / f"{name}.npy", ndim=1) for name in
                  ("memorization", "test_mean_influence", "train_mean_influence", "test_max_influence")}
        matrix = load_npy(influence_dir / "influence.npy", ndim=2, mmap=True)
        if matrix.shape != (len(test["y"]), len(train["y"])):
            raise LongtailError(f"influence.npy is {matrix.shape}, the prepared data "
                                f"[{len(test['y'])}, {len(train['y'])}]: rerun the pipeline (`dvc repro`)")
        metrics = {name: load_json(metrics_dir / f"{name}.json")
                   for name in ("trials", "estimate", "compress", "cie", "ttest", "pie", "consistency")}
        ttest = {k: r for k, r in metrics["ttest"].items() if isinstance(r, dict)}
        trials, jaccard = load_csv(stability, ["trials", "jaccard"], float).T
        curve = trials.astype(int), jaccard
        images = (train["x"], train["y"], test["x"], test["y"])

        rows = influence.default_chunk_rows(matrix.shape[1])
        extremes = influence.extreme_pairs((matrix[s : s + rows] for s in range(0, len(matrix), rows)), PAIRS_SHOWN)
        strongest = plots.most_influential(matrix, arrays["test_max_influence"], TOP_TESTS, TOP_TRAIN)
        statistic = metrics["ttest"]["statistic"]
        phases = {phase: table for folder in live_dirs for phase, table in curves.read(folder).items()}
        figures = {  # file name -> (caption, figure)
            "influence_pairs.png": ("Pairs at the most negative, near-zero and most positive influence (Figure 1)",
                                    plots.influence_pairs_figure(extremes, *images)),
            "most_influential.png": ("Test examples and their most influential training examples",
                                     plots.most_influential_figure(strongest, *images, arrays["memorization"])),
            "test_mean_influence.png": ("Mean influence on each test example (Figure 3)", plots.histogram_figure(
                arrays["test_mean_influence"], cfg.bins, xlabel="test_mean_influence",
                title="Mean influence on each test example",
                marks={f"{k} mean": r["mean"] for k, r in ttest.items()} if statistic == "mean_influence" else None)),
            "train_mean_influence.png": ("Mean influence of each training example (Figure 5)", plots.histogram_figure(
                arrays["train_mean_influence"], cfg.bins, xlabel="train_mean_influence",
                title="Mean influence of each training example")),
            "memorization.png": ("Memorization of each training example", plots.histogram_figure(
                arrays["memorization"], cfg.bins, xlabel="memorization", title="Memorization of each training example")),
            "ttest.png": (f"Are the groups more influenced? Q1, Q2 and the paper's t, {statistic} (Figure 4)",
                          plots.questions_figure({"this run": ttest}, statistic=statistic, alpha=cfg.alpha)),
            "memorization_stability.png": ("How the most memorized set settles as trials are added",
                                           plots.stability_figure(*curve, k=metrics["estimate"]["stability_k"])),
            "training_curves.png": ("Training curves of the reference and of the compression (dvclive/)",
                                    plots.curves_figure(phases)),
            "cie_counts.png": ("CIE and PIE counts (Figure 6)", plots.grouped_bars(
                {"this run": {k: metrics["cie"][k] for k in ("cie", "cie_u", "cie_c", "cie_both_wrong")}
                 | {"pie": metrics["pie"]["pie"]}}, ylabel="test examples", title="Compression impacted exemplars")),
        }
        text = markdown.markdown(params=quoted, **metrics, figures={
            caption: Path(os.path.relpath(plots_dir / name, out.parent)).as_posix()
            for name, (caption, _) in figures.items()})
        with outputs() as o:
            for name, (_, fig) in figures.items():
                plots.save(fig, o.path(plots_dir / name))
            for name in ("test_mean_influence", "train_mean_influence", "memorization"):
                centres, counts = plots.histogram(arrays[name], cfg.bins)
                o.csv(plots_dir / f"{name}.csv", [name, "count"], zip(centres.round(6), counts))
            with open(o.path(out), "w") as f:
                f.write(text)
        cli.say(f"report: {out} with {len(figures)} figures in {plots_dir}/")


if __name__ == "__main__":
    app()
