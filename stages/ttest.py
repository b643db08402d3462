"""ttest: are the CIEs (and the PIEs) more influenced than the test examples where both models
(populations) agree? Per group, two questions (longtail.comparisons): `excess` (Q1), beyond the
estimator's noise (each example's excess over its influence-free null); `matched` (Q2), beyond
their difficulty (that excess at equal trial accuracy, every member used). Then the seed paper's
Student's t-test (Dam et al. 2023) on the raw statistic, with Welch's t, Mann-Whitney U, Hedges' g
with a bootstrap interval and a random-subset control. Benjamini-Hochberg adjusts each question's p
across the groups. The quantity tested is `ttest.statistic`; its split-half reliability
(metrics/estimate.json) is written beside the tests."""

from pathlib import Path

from longtail import LongtailError, cli, params
from longtail.analysis import questions, stats
from longtail.artifacts import load_json, load_npy, load_npz, load_prepared, outputs
from longtail.analysis.cie import KINDS

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
        draws = load_npy(influence_dir / stats.NULL_FILES[cfg.statistic], ndim=2)  # influence-free [R, n_test]
        # Difficulty: each test example's trial accuracy, the share of the trials that get it right.
        test_correct = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2)
        difficulty = test_correct.mean(0)
        reliability = load_json(estimate_metrics).get("reliability", {}).get(cfg.statistic)
        cie_masks = load_npz(cie_dir / "masks.npz", KINDS)
        pie = load_npz(pie_dir / "masks.npz", ["pie"])["pie"]
        rare = load_prepared(prepared)[1].get("rare")
        if draws.shape[1] != len(values) or len(draws) < 3:
            raise LongtailError(f"{stats.NULL_FILES[cfg.statistic]} holds {draws.shape[0]} influence-free draws of "
                                f"{draws.shape[1]} test examples, {stats.FILES[cfg.statistic]} {len(values)} (at least 3 "
                                "draws needed): rerun the stage that writes them (`dvc repro --force estimate`)")
        for name, mask in [("CIE masks", cie_masks["cie"]), ("PIE masks", pie), ("test_correct.npy", difficulty)]:
            if len(mask) != len(values):
                raise LongtailError(f"{name} cover {len(mask)} test examples, {stats.FILES[cfg.statistic]} "
                                    f"{len(values)}: rerun the pipeline (`dvc repro`)")

        results = questions.compare(values, draws, questions.groups(cie_masks, pie), difficulty, rare, cfg, seed,
                                      trials=len(test_correct))

        with outputs() as out:
            out.json(metrics, {"statistic": cfg.statistic, "reliability": reliability} | results)
            out.csv(plots_dir / "cie_counts.csv", ["type", "count"],
                    [(k, int(cie_masks[k].sum())) for k in KINDS] + [("pie", int(pie.sum()))])
            out.csv(plots_dir / "ttest.csv", ["group", "excess_diff", "excess_p", "matched_diff", "matched_p", "t", "p",
                                              "significant"],
                    ((k, r["excess"]["diff"], r["excess"]["p"], r["matched"]["diff"], r["matched"]["p"], r["t"], r["p"],
                      r["p"] is not None and r["p"] <= cfg.alpha) for k, r in results.items()))
        cli.say(f"{cfg.statistic}: split-half reliability {cli.number(reliability, '.3f')}")
        for kind, r in results.items():
            q1, q2 = r["excess"], r["matched"]
            t = "n/a" if r["t"] is None else f"t = {r['t']:.3f}, p = {r['p']:.3g}"
            cli.say(f"{kind}: n = {r['n']}; beyond the estimator's noise: diff = {cli.number(q1['diff'])}, "
                    f"p = {cli.number(q1['p'])}; at equal difficulty: diff = {cli.number(q2['diff'])}, "
                    f"p = {cli.number(q2['p'])} ({q2['extrapolated']} of {q2['n']} extrapolated); the paper's raw {t}")


if __name__ == "__main__":
    app()
