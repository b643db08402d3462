"""influence_free: the joint influence-free draws that the two questions' noise (ttest) and harm's
test need: every statistic on estimate.null_draws permutations of the trials' test targets against
their masks, computed for every tested example (the CIEs, the PIEs, the most shifted) and a uniform
random sample of the test set (estimate.null_sample), so that the draws keep which examples the same
trials get wrong. The estimate's null values come by counts (estimate.null); these draws are the
joint structure no count gives (null.sample_columns, null.influence_free)."""

from pathlib import Path

import numpy as np

from longtail import LongtailError, cli, devices, layout, params, seeds
from longtail.artifacts import load_npy, load_npz, load_trials, outputs
from longtail.estimate import influence, null

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    trials_dir: Path = Path(layout.TRIALS),
    influence_dir: Path = Path(layout.INFLUENCE),
    cie_dir: Path = Path(layout.CIE),
    pie_dir: Path = Path(layout.PIE),
    out: Path = Path(layout.JOINT_NULL),
):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "estimate", params.JointNull), params.seed(p)
        device = influence.on_device(devices.pick(params.device(p)))
        t = load_trials(trials_dir, cfg.target)
        masks, test_target = t["masks"], t["test_target"]
        memorization = load_npy(influence_dir / "memorization.npy", ndim=1)
        cie, pie = load_npz(cie_dir / "masks.npz", ["cie"]), load_npz(pie_dir / "masks.npz", ["pie", "shifted"])
        members = cie["cie"] | pie["pie"] | pie["shifted"]  # every tested group's (CIE-U and CIE-C are CIEs)
        if len(memorization) != masks.shape[1] or len(members) != test_target.shape[1]:
            raise LongtailError(f"memorization.npy has {len(memorization)} training examples and the CIE and PIE masks "
                                f"{len(members)} test examples, the trials {masks.shape[1]} and {test_target.shape[1]}: "
                                "rerun the pipeline (`dvc repro`)")
        columns, sampled = null.sample_columns(len(members), members, cfg.null_sample, seeds.derive(seed, seeds.NULL, 2))
        draws = null.influence_free(masks, test_target[:, columns], memorization, draws=cfg.null_draws,
                                    seed=seeds.derive(seed, seeds.NULL), device=device)
        with outputs() as written:  # the draws of a column are the whole test set's with the same permutations
            written.npz(out, columns=columns, sampled=sampled, **draws)
        cli.say(f"{cfg.null_draws} joint influence-free draws of {len(columns)} of {len(members)} test examples: "
                f"{int(members.sum())} tested, {int(sampled.sum())} drawn at random")


if __name__ == "__main__":
    app()
