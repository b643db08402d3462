"""ttest: does the influence on the CIEs (and on the PIEs) differ from the influence on the test
examples where both models (populations) agree? Per group: Student's t-test (as Dam et al. 2023),
Welch's t, Mann-Whitney U, Hedges' g with a bootstrap interval, Benjamini-Hochberg adjusted p
across the groups, and a random-subset control. The quantity tested is `ttest.statistic`."""

from pathlib import Path

import numpy as np

from longtail import LongtailError, cli, params, stats
from longtail.artifacts import load_npy, load_npz, outputs
from longtail.cie import KINDS

app = cli.app(__doc__)

# ttest.statistic -> the array estimate writes for it
FILES = {"mean_influence": "test_mean_influence.npy", "max_influence": "test_max_influence.npy",
         "top_memorization": "test_top_memorization.npy"}
TESTED = ("cie", "cie_u", "cie_c", "pie")


def groups(cie_masks: dict, pie: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each tested group with its comparison group: a CIE type against the examples where the two
    models agree (DESIGN.md), the PIEs against the examples where the populations agree."""
    agree = ~cie_masks["cie"]
    return {"cie": (cie_masks["cie"], agree), "cie_u": (cie_masks["cie_u"], agree),
            "cie_c": (cie_masks["cie_c"], agree), "pie": (pie, ~pie)}


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    influence_dir: Path = Path("data/influence"),
    cie_dir: Path = Path("data/cie"),
    pie_dir: Path = Path("data/pie"),
    prepared: Path = Path("data/prepared"),
    metrics: Path = Path("metrics/ttest.json"),
    plots_dir: Path = Path("plots"),
):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "ttest", params.Ttest), params.seed(p)
        values = load_npy(influence_dir / FILES[cfg.statistic], ndim=1)
        cie_masks = load_npz(cie_dir / "masks.npz", KINDS)
        pie = load_npz(pie_dir / "masks.npz", ["pie"])["pie"]
        rare = load_npz(prepared / "test.npz", ["y"]).get("rare")
        for name, mask in [("CIE masks", cie_masks["cie"]), ("PIE masks", pie)]:
            if len(mask) != len(values):
                raise LongtailError(f"{name} cover {len(mask)} test examples, {FILES[cfg.statistic]} "
                                    f"{len(values)}: rerun the pipeline (`dvc repro`)")

        results = {}
        for n, (kind, (group, comparison)) in enumerate(groups(cie_masks, pie).items()):
            with cli.warnings_said(kind):
                r = stats.two_sample_tests(values[group], values[comparison], bootstrap=cfg.bootstrap, seed=seed + n)
            r["control"] = stats.random_control(values, int(group.sum()), comparison, r["t"],
                                                draws=cfg.control_draws, seed=seed + n)
            if rare is not None:  # the synthetic set knows its long tail: is it over-represented?
                r["rare"] = stats.over_representation(group, rare)
            results[kind] = r
        for kind, adjusted in zip(results, stats.benjamini_hochberg([r["p"] for r in results.values()])):
            results[kind]["p_bh"] = adjusted

        with outputs() as out:
            out.json(metrics, {"statistic": cfg.statistic} | results)
            out.csv(plots_dir / "cie_counts.csv", ["type", "count"],
                    [(k, int(cie_masks[k].sum())) for k in KINDS] + [("pie", int(pie.sum()))])
            out.csv(plots_dir / "ttest.csv", ["group", "t", "p", "significant"],
                    ((k, r["t"], r["p"], r["p"] is not None and r["p"] <= cfg.alpha) for k, r in results.items()))
        for kind, r in results.items():
            t = "n/a" if r["t"] is None else (
                f"t = {r['t']:.3f}, p = {r['p']:.3g}, Welch p = {r['welch_p']:.3g}, Mann-Whitney p = {r['mw_p']:.3g}, "
                f"g = {r['hedges_g']:.2f} [{r['g_low']:.2f}, {r['g_high']:.2f}], "
                f"random sets as extreme: {r['control']['as_extreme']:.3f}")
            cli.say(f"{kind}: n = {r['n']}, {t}")


if __name__ == "__main__":
    app()
