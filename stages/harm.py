"""harm: does memorization predict compression's harm beyond cheap signals? For the CIEs and the most
shifted test examples: each cheap signal's AUC (the reference's margin and loss, its population's
agreement, early EL2N and forgetting events over the population's epochs, the trials' accuracy) and
each influence statistic's, then a cross-validated logistic model of the cheap signals and one with
the influence statistics added, their difference tested against the influence-free draws
(analysis.harm)."""

from pathlib import Path

from longtail import cli, layout, params, stage
from longtail.analysis import harm
from longtail.artifacts import load_npy, load_npz, outputs
from longtail.train import models, reference

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    model_path: Path = Path(layout.REFERENCE),
    epochs: Path = Path(layout.REFERENCE_EPOCHS),
    pie_dir: Path = Path(layout.PIE),
    cie_dir: Path = Path(layout.CIE),
    trials_dir: Path = Path(layout.TRIALS),
    influence_dir: Path = Path(layout.INFLUENCE),
    joint_null: Path = Path(layout.JOINT_NULL),
    out_dir: Path = Path(layout.HARM),
    metrics: Path = Path(layout.metrics("harm")),
):
    with cli.errors():
        run = stage.start(params_file, prepared)
        cfg = params.section(run.params, "harm", params.Harm)
        _, _, xt, yt = run.tensors()
        scored = reference.signals(models.load(model_path, run.device), xt, yt)
        difficulty = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2).mean(0)
        cheap = harm.cheap_signals(scored, load_npz(epochs, ["correct", "el2n"]),
                                   load_npz(pie_dir / "shift.npz", ["reference_votes"])["reference_votes"], difficulty,
                                   cfg.early)
        influence = {s: load_npy(influence_dir / layout.statistic_file(s), ndim=1) for s in layout.STATISTICS}
        joint = load_npz(joint_null, ["columns", "sampled", *layout.STATISTICS])  # influence-free [R, m] each
        targets = {"cie": load_npz(cie_dir / "masks.npz", ["cie"])["cie"],
                   "shifted": load_npz(pie_dir / "masks.npz", ["shifted"])["shifted"]}
        found = harm.predicts(cheap, influence, {s: joint[s] for s in layout.STATISTICS}, targets, folds=cfg.folds,
                              seed=run.seed, columns=joint["columns"], sampled=joint["sampled"])
        with outputs() as out:
            out.npz(out_dir / "signals.npz", **cheap)
            out.json(metrics, found)
        for name in targets:
            a = found[name]["added"]
            cli.say(f"{name} ({found[name]['n']} of {found[name]['of']}): cheap signals AUC {cli.number(a['cheap'], '.3f')}"
                    f", with influence {cli.number(a['both'], '.3f')}, added {cli.number(a['delta'], '+.3f')}; "
                    f"beyond influence-free draws p = {cli.number(a['p'], '.3f')}")


if __name__ == "__main__":
    app()
