"""ttest: are the CIEs (and the PIEs) more influenced than the test examples where both models
(populations) agree? Per group, Q1 (`excess`, beyond the estimator's noise) and Q2 (`matched`, at
equal difficulty), then the seed paper's Student's t on the raw statistic (Dam et al. 2023) with
Welch's t, Mann-Whitney U, Hedges' g and a random-subset control; Benjamini-Hochberg across the
groups (analysis.questions). `ttest.statistic` is tested, its split-half reliability beside."""

from pathlib import Path

from longtail import cli, layout, params
from longtail.analysis import questions
from longtail.analysis.cie import KINDS
from longtail.artifacts import load_json, load_npy, load_npz, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    influence_dir: Path = Path(layout.INFLUENCE), joint_null: Path = Path(layout.JOINT_NULL),
    cie_dir: Path = Path(layout.CIE),
    pie_dir: Path = Path(layout.PIE),
    prepared: Path = Path(layout.PREPARED),
    trials_dir: Path = Path(layout.TRIALS), estimate_metrics: Path = Path(layout.metrics("estimate")),
    metrics: Path = Path(layout.metrics("ttest")),
    plots_dir: Path = Path(layout.PLOTS),
):
    with cli.errors(), cli.warnings_said():
        p = params.read(params_file)
        params.check_statistic(p)
        cfg, seed = params.section(p, "ttest", params.Ttest), params.seed(p)
        values = load_npy(influence_dir / layout.statistic_file(cfg.statistic), ndim=1)
        draws = load_npy(influence_dir / layout.null_file(cfg.statistic), ndim=2)  # influence-free [R, n_test]: the null
        joint = load_npz(joint_null, ["columns", "sampled", cfg.statistic])  # the joint draws [R, m]: its noise
        test_correct = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2)
        difficulty = test_correct.mean(0)  # each test example's trial accuracy
        reliability = load_json(estimate_metrics).get("reliability", {}).get(cfg.statistic)
        cie_masks, pie = load_npz(cie_dir / "masks.npz", KINDS), load_npz(pie_dir / "masks.npz", ["pie", "shifted"])
        questions.check_inputs(values, draws, cfg.statistic, **{"CIE masks": cie_masks["cie"], "PIE masks": pie["pie"],
                                                                 "the most shifted": pie["shifted"],
                                                                 "test_correct.npy": difficulty})
        joint["draws"] = joint.pop(cfg.statistic)
        results = questions.compare(values, draws, questions.groups(cie_masks, pie), difficulty,
                                    load_prepared(prepared)[1].get("rare"), cfg, seed, trials=len(test_correct), joint=joint)
        with outputs() as out:
            out.json(metrics, {"statistic": cfg.statistic, "reliability": reliability} | results)
            out.csv(plots_dir / "cie_counts.csv", ["type", "count"],
                    [(k, int(cie_masks[k].sum())) for k in KINDS] + [(k, int(v.sum())) for k, v in pie.items()])
            out.csv(plots_dir / "ttest.csv", ["group", "excess_diff", "excess_p", "matched_diff", "matched_p", "t", "p",
                                              "significant"], questions.rows(results, cfg.alpha))
        cli.say(f"{cfg.statistic}: split-half reliability {cli.number(reliability, '.3f')}")
        for kind, r in results.items():
            q1, q2, t = r["excess"], r["matched"], "n/a" if r["t"] is None else f"t = {r['t']:.3f}, p = {r['p']:.3g}"
            cli.say(f"{kind}: n = {r['n']}; beyond the estimator's noise: diff = {cli.number(q1['diff'])}, "
                    f"p = {cli.number(q1['p'])}; at equal difficulty: diff = {cli.number(q2['diff'])}, "
                    f"p = {cli.number(q2['p'])} ({q2['extrapolated']} of {q2['n']} extrapolated); the paper's raw {t}")


if __name__ == "__main__":
    app()
