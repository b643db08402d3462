"""ttest: does the influence on the CIEs (and on the PIEs) differ from the influence on the test
examples where both models (populations) agree? Per group: Student's t-test (as Dam et al. 2023),
Welch's t, Mann-Whitney U, Hedges' g with a bootstrap interval, Benjamini-Hochberg adjusted p
across the groups, a random-subset control, and the difficulty-controlled comparison (`matched`:
against agreeing examples of the same trial accuracy, longtail.matched). The quantity tested is
`ttest.statistic`; its split-half reliability (metrics/estimate.json) is written beside the tests."""

from pathlib import Path

from longtail import LongtailError, cli, comparisons, params, stats
from longtail.artifacts import load_json, load_npy, load_npz, load_prepared, outputs
from longtail.cie import KINDS

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    influence_dir: Path = Path("data/influence"),
    cie_dir: Path = Path("data/cie"),
    pie_dir: Path = Path("data/pie"),
    prepared: Path = Path("data/prepared"),
    trials_dir: Path = Path("data/trials"),
    estimate_metrics: Path = Path("metrics/estimate.json"),
    metrics: Path = Path("metrics/ttest.json"),
    plots_dir: Path = Path("plots"),
):
    with cli.errors(), cli.warnings_said():
        p = params.read(params_file)
        params.check_statistic(p)
        cfg, seed = params.section(p, "ttest", params.Ttest), params.seed(p)
        values = load_npy(influence_dir / stats.FILES[cfg.statistic], ndim=1)
        # Difficulty: each test example's trial accuracy, the share of the trials that get it right.
        difficulty = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2).mean(0)
        reliability = load_json(estimate_metrics).get("reliability", {}).get(cfg.statistic)
        cie_masks = load_npz(cie_dir / "masks.npz", KINDS)
        pie = load_npz(pie_dir / "masks.npz", ["pie"])["pie"]
        rare = load_prepared(prepared)[1].get("rare")
        for name, mask in [("CIE masks", cie_masks["cie"]), ("PIE masks", pie), ("test_correct.npy", difficulty)]:
            if len(mask) != len(values):
                raise LongtailError(f"{name} cover {len(mask)} test examples, {stats.FILES[cfg.statistic]} "
                                    f"{len(values)}: rerun the pipeline (`dvc repro`)")

        results = comparisons.compare(values, comparisons.groups(cie_masks, pie), difficulty, rare, cfg, seed)

        with outputs() as out:
            out.json(metrics, {"statistic": cfg.statistic, "reliability": reliability} | results)
            out.csv(plots_dir / "cie_counts.csv", ["type", "count"],
                    [(k, int(cie_masks[k].sum())) for k in KINDS] + [("pie", int(pie.sum()))])
            out.csv(plots_dir / "ttest.csv", ["group", "t", "p", "significant", "matched_p", "matched_diff"],
                    ((k, r["t"], r["p"], r["p"] is not None and r["p"] <= cfg.alpha, r["matched"]["p"],
                      r["matched"]["diff"]) for k, r in results.items()))
        cli.say(f"{cfg.statistic}: split-half reliability {cli.number(reliability, '.3f')}")
        for kind, r in results.items():
            t = "n/a" if r["t"] is None else (
                f"t = {r['t']:.3f}, p = {r['p']:.3g}, Welch p = {r['welch_p']:.3g}, Mann-Whitney p = {r['mw_p']:.3g}, "
                f"g = {r['hedges_g']:.2f} [{r['g_low']:.2f}, {r['g_high']:.2f}], "
                f"random sets as extreme: {r['control']['as_extreme']:.3f}")
            m = r["matched"]
            cli.say(f"{kind}: n = {r['n']}, {t}; against agreeing examples of the same difficulty: "
                    f"diff = {cli.number(m['diff'])}, p = {cli.number(m['p'])} ({m['n']} matched, "
                    f"{m['unmatched']} unmatched)")


if __name__ == "__main__":
    app()
