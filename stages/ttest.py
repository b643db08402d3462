"""ttest: is test_mean_influence different on the CIEs than on the test examples where both models
agree? Student's t-test (as Dam et al. 2023) and Welch's, per CIE type; and the plots."""

import warnings
from pathlib import Path

from longtail import LongtailError, cli, params, plots, stats
from longtail.artifacts import load_npy, load_npz, outputs
from longtail.cie import KINDS

app = cli.app(__doc__)

TESTED = ("cie", "cie_u", "cie_c")


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    influence_dir: Path = Path("data/influence"),
    cie_dir: Path = Path("data/cie"),
    metrics: Path = Path("metrics/ttest.json"),
    plots_dir: Path = Path("plots"),
):
    with cli.errors():
        cfg = params.section(params.read(params_file), "ttest", params.Ttest)
        test_mean = load_npy(influence_dir / "test_mean_influence.npy", ndim=1)
        masks = load_npz(cie_dir / "masks.npz", KINDS)
        if len(masks["cie"]) != len(test_mean):
            raise LongtailError(f"CIE masks cover {len(masks['cie'])} test examples, "
                                    f"test_mean_influence {len(test_mean)}: rerun the pipeline (`dvc repro`)")
        agree = test_mean[~masks["cie"]]
        results = {}
        for kind in TESTED:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results[kind] = stats.two_sample_tests(test_mean[masks[kind]], agree)
            for w in caught:
                cli.say(f"[yellow]warning:[/] {kind}: {w.message}")

        centres, counts = plots.histogram(test_mean, cfg.bins)
        figure = plots.histogram_figure(
            test_mean, cfg.bins, xlabel="test_mean_influence", title="Mean influence on each test example",
            marks={"agree mean": results["cie"]["comparison_mean"]} | {
                f"{k} mean": results[k]["mean"] for k in TESTED})
        with outputs() as out:
            out.json(metrics, results)
            out.csv(plots_dir / "test_mean_influence.csv", ["test_mean_influence", "count"],
                    zip(centres.round(6), counts))
            out.csv(plots_dir / "cie_counts.csv", ["type", "count"], ((k, int(masks[k].sum())) for k in KINDS))
            plots.save(figure, out.path(plots_dir / "test_mean_influence.png"))
        for kind, r in results.items():
            t = "n/a" if r["t"] is None else f"t = {r['t']:.3f}, p = {r['p']:.3g}"
            cli.say(f"{kind}: n = {r['n']}, {t}")


if __name__ == "__main__":
    app()
