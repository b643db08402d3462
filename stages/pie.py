"""pie: pruning identified exemplars (Hooker et al. 2019): the test examples where the modal labels
of the reference population and of a compressed population differ, and the classes whose recall
the compression changes more than it changes accuracy (Welch's t-test at `pie.alpha`). Graded CIEs
(Hooker et al. 2020): each example's taxicab shift between the populations' label distributions,
and the most shifted share `pie.shifted`; the bias metrics CEV and SDE (Blakeney et al. 2021) with
the per-class recall and false-positive changes (analysis.bias).

One PIE mask and shift per compressed level of data/populations/predictions.npz; `pie`, `shift` and
`shifted` are the last level's (the one that goes on, like compress's last level). Where
data/prepared/test.npz holds `rare` (the synthetic set's long tail), each level also says whether
its PIEs and its most shifted over-represent the rare examples (Fisher's exact test, one-sided)."""

from pathlib import Path

from longtail import cli, layout, params
from longtail.analysis import pie
from longtail.artifacts import load_npz, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    populations: Path = Path(layout.POPULATIONS),
    prepared: Path = Path(layout.PREPARED),
    out_dir: Path = Path(layout.PIE),
    metrics: Path = Path(layout.metrics("pie")),
):
    with cli.errors():
        p = params.read(params_file)
        cfg = params.section(p, "pie", params.Pie)
        predictions = load_npz(populations / "predictions.npz", ["reference", "compressed", "levels", "labels"])
        _, test = load_prepared(prepared)
        arrays, summary = pie.levels(predictions["reference"], predictions["compressed"], predictions["labels"],
                                     predictions["levels"], test["y"], cfg.alpha, shifted=cfg.shifted,
                                     bootstrap=cfg.bootstrap, seed=params.seed(p), rare=test.get("rare"))
        with outputs() as out:
            out.npz(out_dir / "masks.npz", pie=arrays["pie_levels"][-1], shifted=arrays["shifted_levels"][-1],
                    pie_levels=arrays["pie_levels"], shifted_levels=arrays["shifted_levels"])
            out.npz(out_dir / "shift.npz", shift=arrays["shift_levels"][-1], **{
                k: arrays[k] for k in ("shift_levels", "reference_votes", "compressed_votes")})
            out.json(metrics, summary)
        for label, r in summary["levels"].items():
            rare = r.get("shifted_rare")
            cli.say(f"{label}: {r['pie']} PIEs of {summary['n_test']}, shift mass {r['shift_mass']:.1f}, CEV "
                    f"{cli.number(r['cev'])} [{cli.number(r['cev_low'])}, {cli.number(r['cev_high'])}] (plug-in "
                    f"{cli.number(r['cev_plugin'])}, noise floor {cli.number(r['cev_null'])}, p = {cli.number(r['cev_p'])})"
                    f", SDE {cli.number(r['sde'])}, affected classes {r['affected_classes']}"
                    + (f"; rare examples are {rare['share']:.2f} of the {r['shifted']} most shifted, "
                       f"{rare['overall_share']:.2f} of the test set (Fisher p = {rare['fisher_p']:.3g})"
                       if rare and r["shifted"] else ""))


if __name__ == "__main__":
    app()
