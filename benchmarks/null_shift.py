"""Does the null by counts move the ttest's answers? On a finished run (`dvc repro` first).

    python benchmarks/null_shift.py                      # the workspace's run, 10 seeds each way
    python benchmarks/null_shift.py --run ../mnist --seeds 3
    python benchmarks/null_shift.py --seeds 20 --draws 128    # what more draws buy

Every tested group's two answers (Q1 and Q2: p, difference, interval, design effect) as the ttest
stage computes them (questions.compare), under two nulls:

    new  the pipeline's: the null values from the estimate's draws by counts (null.by_count), the
         noise from the influence_free stage's joint draws of the tested examples and a uniform
         sample of the rest (estimate.null_sample). Seed 0 is the run's own streams (NULL, 1),
         (NULL) and (NULL, 2), so its answers are metrics/ttest.json's; seed k > 0 moves all three.
    old  the pipeline's before the counts: influence_free's joint draws of every test example, whose
         means are the null values and whose leave-one-out excesses the noise. Seed 0 is the run's
         stream (NULL), the estimate's draws as they were; seed k > 0 another.

A number's Monte-Carlo error under a null is its sd over that null's seeds (estimate.null_draws
draws each). "moved" is the run's answer (new, seed 0) minus the old null's at the run's seed, and
z that move over the sd of a difference of two independent draws, sqrt(sd_new^2 + sd_old^2): the
new null is exact in distribution if z spreads as a standard normal (|z| > 2 about one time in
twenty). "bias" is the difference of the two nulls' means over the seeds, in units of its own
standard error: what the seeds can say of a systematic shift. For a p, "at alpha" is the share of
each null's seeds where it is at or below ttest.alpha: how often the verdict holds. --jackknife
also asks whether one run could estimate its p's error itself: the jackknife over its joint draws
(jackknife), against the sd over the seeds.
"""

import math
from pathlib import Path

import numpy as np
import typer

from longtail import layout, params, seeds
from longtail.analysis import questions
from longtail.analysis.cie import KINDS
from longtail.artifacts import load_npy, load_npz, load_prepared, load_trials
from longtail.estimate import null

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = ("p", "diff", "diff_low", "diff_high", "design_effect")


def answers(results: dict) -> dict[tuple[str, str, str], float]:
    """(group, question, number) -> its value (NaN where the test gave none)."""
    return {(group, q, k): math.nan if r[q].get(k) is None else float(r[q][k])
            for group, r in results.items() for q in ("excess", "matched") for k in NUMBERS}


def jackknife(values, null_values, joint: dict, tested: dict, difficulty) -> dict[tuple[str, str, str], float]:
    """(group, question, "p_mc_sd") -> the jackknife standard error of its p over the joint draws: the
    two questions asked again with each draw left out (questions.two_questions on R - 1 draws, the
    null values kept), sqrt((R - 1) / R * sum (p_j - mean)^2). What a run could say of its own p's
    Monte-Carlo error; the seeds say what it is."""
    excess, centre = null.excess(values, null_values), np.asarray(null_values, np.float64).mean(0)
    out = {}
    for name, (group, comparison) in tested.items():
        left_out = [questions.two_questions(excess, np.delete(joint["draws"], j, axis=0), group, comparison & ~group,
                                            difficulty, means=centre, columns=joint["columns"], sampled=joint["sampled"])
                    for j in range(len(joint["draws"]))]
        for i, question in enumerate(("excess", "matched")):
            p = np.array([math.nan if a[i]["p"] is None else a[i]["p"] for a in left_out])
            out[(name, question, "p_mc_sd")] = float(np.sqrt((len(p) - 1) / len(p) * np.sum((p - p.mean()) ** 2)))
    return out


def main(run: Path = typer.Option(ROOT, help="the repository whose data/ holds a finished run"),
         seeds_: int = typer.Option(10, "--seeds", min=2, help="seeds of each null"),
         draws: int = typer.Option(0, min=0, help="draws of each null (0: the run's estimate.null_draws)"),
         jackknife_: bool = typer.Option(False, "--jackknife", help="also each p's jackknife error over one run's "
                                         "draws, against its sd over the seeds")):
    p = params.read(run / "params.yaml")
    cfg, seed = params.section(p, "ttest", params.Ttest), params.seed(p)
    joint_cfg = params.section(p, "estimate", params.JointNull)
    if joint_cfg.target != "correct":
        raise SystemExit(f"estimate.target is {joint_cfg.target}: the null by counts is for 0/1 correctness only")
    t = load_trials(run / layout.TRIALS)
    masks, test_correct = t["masks"], t["test_correct"]
    influence_dir = run / layout.INFLUENCE
    memorization = load_npy(influence_dir / "memorization.npy", ndim=1)
    values = load_npy(influence_dir / layout.statistic_file(cfg.statistic), ndim=1)
    cie, pie = load_npz(run / layout.CIE / "masks.npz", KINDS), load_npz(run / layout.PIE / "masks.npz", ["pie", "shifted"])
    tested = questions.groups(cie, pie)
    members = cie["cie"] | pie["pie"] | pie["shifted"]
    rare, difficulty = load_prepared(run / layout.PREPARED)[1].get("rare"), test_correct.mean(0)
    draws = draws or joint_cfg.null_draws

    def ask(null_values, joint=None):
        return answers(questions.compare(values, null_values, tested, difficulty, rare, cfg, seed,
                                         trials=len(test_correct), joint=joint))

    new, old = [], []
    for k in range(seeds_):
        stream = (seeds.NULL,) if k == 0 else (seeds.NULL, 100 + k)  # (NULL, 100 + k): no stream the run uses
        by_count = null.by_count(masks, test_correct, memorization, draws=draws,
                                 seed=seeds.derive(seed, seeds.NULL, 1) if k == 0 else seeds.derive(seed, *stream, 1))
        columns, sampled = null.sample_columns(len(values), members, joint_cfg.null_sample,
                                               seeds.derive(seed, seeds.NULL, 2) if k == 0 else seeds.derive(seed, *stream, 2))
        joint = null.influence_free(masks, test_correct[:, columns], memorization, draws=draws,
                                    seed=seeds.derive(seed, *stream))
        drawn = {"columns": columns, "sampled": sampled, "draws": joint[cfg.statistic]}
        new.append(ask(by_count[cfg.statistic], drawn))
        if jackknife_:
            new[-1] |= jackknife(values, by_count[cfg.statistic], drawn, tested, difficulty)
        full = null.influence_free(masks, test_correct, memorization, draws=draws, seed=seeds.derive(seed, *stream))
        old.append(ask(full[cfg.statistic]))
    print(f"{run}: {len(masks)} trials, {len(values)} test examples ({len(columns)} in the joint draws), "
          f"{cfg.statistic}, {draws} draws a null, {seeds_} seeds of each\n")
    print("| group | question | number | run (new, seed 0) | old, seed 0 | moved | z | new: mean ± sd | "
          "old: mean ± sd | bias (se) | at alpha: new, old |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    zs = []
    for key in old[0]:
        a, b = (np.array([row[key] for row in rows]) for rows in (new, old))
        if np.isnan(a).all() or np.isnan(b).all():
            continue
        sd_a, sd_b = np.nanstd(a, ddof=1), np.nanstd(b, ddof=1)
        spread = math.hypot(sd_a, sd_b)
        z = (a[0] - b[0]) / spread if spread > 0 else 0.0
        zs.append(z)
        se = math.sqrt(sd_a**2 / np.isfinite(a).sum() + sd_b**2 / np.isfinite(b).sum())
        bias = (np.nanmean(a) - np.nanmean(b)) / se if se > 0 else 0.0
        verdicts = f"{np.mean(a <= cfg.alpha):.2f}, {np.mean(b <= cfg.alpha):.2f}" if key[2] == "p" else ""
        print(f"| {' | '.join(key)} | {a[0]:.4g} | {b[0]:.4g} | {a[0] - b[0]:+.3g} | {z:+.2f} | "
              f"{np.nanmean(a):.4g} ± {sd_a:.2g} | {np.nanmean(b):.4g} ± {sd_b:.2g} | {bias:+.2f} | {verdicts} |")
    zs = np.array(zs)
    print(f"\n{len(zs)} numbers: |z| above 2 for {int((np.abs(zs) > 2).sum())}, largest {np.abs(zs).max():.2f}; "
          f"mean z^2 {np.mean(zs**2):.2f} (1 if the run's move is one null's noise)")
    if not jackknife_:
        return
    print("\nEach p's jackknife error over one run's draws (p_mc_sd) against the sd of p over the seeds, "
          "by counts:\n")
    print("| group | question | sd of p over the seeds | p_mc_sd at the run's seed | p_mc_sd, mean over the seeds | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for group, q, number in old[0]:
        if number == "p":
            p_values, jack = (np.array([row[(group, q, k)] for row in new]) for k in ("p", "p_mc_sd"))
            if np.isfinite(p_values).all() and np.isfinite(jack).all():
                sd = np.std(p_values, ddof=1)
                print(f"| {group} | {q} | {sd:.3g} | {jack[0]:.3g} | {jack.mean():.3g} | "
                      f"{jack.mean() / sd if sd > 0 else math.nan:.2f} |")


if __name__ == "__main__":
    typer.run(main)
