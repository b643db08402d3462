"""Are the ttest's two questions calibrated, and do they find planted truth? (docs/questions.md: "Two
questions"; figures in BENCHMARKS.md.)

1. Calibration on a finished run of the workspace (`dvc repro` first). Fake "CIE" groups of each
   size are drawn from the agreeing test examples with probability rising with difficulty (1 - trial
   accuracy + 0.01: hard examples, as real CIEs are, and nothing else):
   - Q1 (`excess`) on influence-free trials: the test correctness permuted across trials, the masks
     kept (each example's trial accuracy kept, no influence left). The paper's raw Student t and
     Welch's t on the statistic are shown beside it: they reject far more.
   - Q2 (`matched`) on the real trials, beside the strata test it replaced
     (benchmarks/baselines/strata.py); and Q2 on groups drawn by the difficulty of independent
     trials (the consistency check's, when the run has them), as real CIEs are chosen by models
     outside the trials.
2. Power on the synthetic set, whose rare test examples hang on a memorized sibling: trials, the
   reference and 90% magnitude pruning for each seed, and every test of its CIEs.
3. Power and calibration on a planted effect whose size is set: the synthetic set with class
   overlap (datasets.synthetic(overlap=...)), where difficulty has two sources, rarity (one memorized
   sibling explains it) and class overlap (none does). Groups of each size take a share pi of
   hard rare examples and 1 - pi of hard overlap examples, against every other test example that
   is not rare. pi sets the effect: at pi = 1 the group is more influenced than comparison examples
   of its difficulty, at pi = 0 it is like them (Q2 must reject about alpha; Q1 measures what the
   overlap examples' excess is).

Every test reads the null as the pipeline does (pipeline_null): each example's null value by
counts, the noise from joint draws of each group's members and a uniform sample of
`--null-sample` test examples (the influence_free stage's estimate.null_sample; below a test set's
size the comparison is measured on a sample, as on 10 000 MNIST test images). `--null joint` asks
with the null it replaced, the joint draws of every test example alone, on the same trials.

    python benchmarks/calibration.py                          # everything, on the workspace's run
    python benchmarks/calibration.py --draws 1000 --synthetic-seeds "" --planted-trials 0
    python benchmarks/calibration.py --null-sample 100        # the sampled comparison on digits
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import typer
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines.strata import matched_test as strata_test  # noqa: E402

from longtail import devices, params, seeds  # noqa: E402
from longtail.analysis import cie, questions  # noqa: E402
from longtail.analysis.stats import STATISTICS  # noqa: E402
from longtail.artifacts import load_npy, load_npz  # noqa: E402
from longtail.compress.recipe import compress  # noqa: E402
from longtail.data import datasets  # noqa: E402
from longtail.estimate import estimates, influence, null, uncertainty  # noqa: E402
from longtail.train import training, trials  # noqa: E402
from longtail.train.reference import reference_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NULL_DRAWS = params.section(params.read(ROOT / "params.yaml"), "estimate", params.Estimate).null_draws
NULL_SAMPLE = params.section(params.read(ROOT / "params.yaml"), "estimate", params.JointNull).null_sample
NULLS = ("counts", "joint")  # the pipeline's null; the one it replaced (main's --null)
NULL_KIND = {"null": "counts"}


def pipeline_null(masks, test_correct, memorization, seed) -> tuple[dict, dict]:
    """The null as the pipeline draws it: (means, joint), statistic -> [R, n] each. means: the
    estimate's draws, whose means are the null values (by counts for 0/1 correctness,
    estimates.null_draws); joint: the influence_free stage's joint draws of every test example, of
    which two_questions takes the columns the stage keeps (a draw of a column is the same whichever
    columns are drawn with it). With --null joint, the null before the counts: the joint draws are
    also the means (each example's null value their mean, the noise their leave-one-out excess)."""
    if NULL_KIND["null"] == "joint":
        joint = null.influence_free(masks, test_correct, memorization, draws=NULL_DRAWS, seed=seeds.derive(seed, seeds.NULL))
        return joint, joint
    means = estimates.null_draws(masks, test_correct, memorization, draws=NULL_DRAWS, seed=seed)
    joint = null.influence_free(masks, test_correct, memorization, draws=NULL_DRAWS, seed=seeds.derive(seed, seeds.NULL))
    return means, joint


def two_questions(values, means, joint, group, rest, difficulty, sample=NULL_SAMPLE, seed=0):
    """questions.two_questions as the ttest stage asks it: the excess over the means' null values,
    the noise from the joint draws measured against the same null values, on the columns the
    influence_free stage keeps: the group's and a uniform sample of `sample` test examples
    (null.sample_columns with `seed`; every column where the test set is no larger)."""
    centre = np.asarray(means, np.float64).mean(0)
    columns, sampled = null.sample_columns(len(values), group, sample, seed)
    return questions.two_questions(values - centre, np.asarray(joint)[:, columns], group, rest, difficulty,
                                   means=None if NULL_KIND["null"] == "joint" else centre, columns=columns,
                                   sampled=sampled)


def fake_sets(pool: np.ndarray, difficulty: np.ndarray, size: int, draws: int, seed: int) -> list[np.ndarray]:
    """`draws` bool masks of `size` examples of `pool` each, drawn without replacement with
    probability proportional to 1 - difficulty + 0.01: hard examples first, nothing else."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(pool)
    weight = 1 - difficulty[candidates] + 0.01
    sets = []
    for _ in range(draws):
        mask = np.zeros(len(pool), bool)
        mask[rng.choice(candidates, size, replace=False, p=weight / weight.sum())] = True
        sets.append(mask)
    return sets


def wilson(k: int, n: int) -> str:
    """k / n with its 95% Wilson interval."""
    z, p = 1.96, k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.3f} [{max(0, centre - half):.3f}, {min(1, centre + half):.3f}]"


def clustered(hits: list[list[bool]]) -> str:
    """The share rejected over realizations (each a list of its groups' outcomes), with the 95% t
    interval of the mean of the realizations' own rates: groups drawn on one realization share its
    noise, so their rate varies more than a binomial of all groups would say."""
    rates_ = np.array([np.mean(h) for h in hits])
    share = float(np.mean(np.concatenate(hits)))
    if len(rates_) < 2:
        return f"{share:.3f} (one realization)"
    half = float(scipy_stats.t.ppf(0.975, len(rates_) - 1) * rates_.std(ddof=1) / math.sqrt(len(rates_)))
    return f"{share:.3f} [{max(0.0, share - half):.3f}, {min(1.0, share + half):.3f}]"


def student_p(values, group, rest, equal_var=True) -> float:
    a, b = values[group], values[rest]
    return float(scipy_stats.ttest_ind(a[np.isfinite(a)], b[np.isfinite(b)], equal_var=equal_var).pvalue)


def tests(values, draws, group, rest, difficulty, permutations, seed, only, sample=NULL_SAMPLE) -> dict[str, float | None]:
    """The p of each comparison in `only` for one group (draws: pipeline_null's (means, joint) of the
    statistic): the raw Student and Welch t (the paper's), Q1,
    Q2 (as the ttest stage runs them, analysis.questions, the joint draws on `sample` columns), and
    the strata test Q2 replaced (on the raw statistic, as it ran)."""
    out = {}
    if "raw" in only:
        out["raw"] = student_p(values, group, rest)
    if "raw_welch" in only:
        out["raw_welch"] = student_p(values, group, rest, equal_var=False)
    if {"q1", "q2"} & set(only):
        q1, q2 = two_questions(values, *draws, group, rest, difficulty, sample, seed)
        out |= {"q1": q1["p"], "q2": q2["p"]}
    if "strata" in only:
        out["strata"] = strata_test(values, group, rest, difficulty, width=0.02, draws=permutations, seed=seed)["p"]
    return {name: p for name, p in out.items() if name in only}


def rates(sets, values, draws, pool, difficulty, alpha, permutations, seed,
          only=("raw", "raw_welch", "q1", "q2", "strata"), sample=NULL_SAMPLE) -> dict[str, str]:
    """Each comparison's share of rejections at alpha over the groups `sets` (against `pool` outside
    each), with its Wilson interval."""
    counts = dict.fromkeys(only, 0)
    for n, group in enumerate(sets):
        for name, p in tests(values, draws, group, pool & ~group, difficulty, permutations, seed + n, only, sample).items():
            counts[name] += p is not None and p <= alpha
    return {name: wilson(k, len(sets)) for name, k in counts.items()}


def influence_free_trials(masks, test_correct, seed):
    """The test correctness with its trials permuted against the masks: each example keeps its trial
    accuracy, and no training example influences any test example."""
    return test_correct[np.random.default_rng(seed).permutation(len(test_correct))]


def calibration(label, masks, train_correct, test_correct, agree, independent, *, sizes, draws, alpha, permutations,
                seed, realizations, sample=NULL_SAMPLE):
    """Section 1: the calibration tables of one finished run."""
    difficulty = test_correct.mean(0)
    memorization = influence.memorization(masks, train_correct)
    real = uncertainty.estimates(masks, train_correct, test_correct)
    free = pipeline_null(masks, test_correct, memorization, seed)
    print(f"\n## {label}: {len(masks)} trials, {len(agree)} test examples, {agree.sum()} agreeing\n")
    per = max(1, draws // realizations)
    print(f"Fake groups drawn from the agreeing examples with probability 1 - trial accuracy + 0.01; alpha {alpha}.\n")
    print(f"Q1 on influence-free trials: {realizations} independent realizations (each its own permutation of the "
          f"test correctness across trials, the masks kept, and its own {NULL_DRAWS} null draws), {per} groups per "
          "size on each. Share rejected, with the 95% t interval over the realizations' rates (groups of one "
          "realization share its noise).\n")
    if sample < len(agree):
        print(f"The joint draws of each group are its own members' and a uniform sample of {sample} of the "
              f"{len(agree)} test examples (estimate.null_sample), as the influence_free stage keeps them.\n")
    hits = {(name, size, test): [] for name in STATISTICS for size in sizes for test in ("raw", "raw_welch", "q1")}
    for r in range(realizations):
        shuffled_correct = influence_free_trials(masks, test_correct, seed + 10**6 + r)
        shuffled = uncertainty.estimates(masks, train_correct, shuffled_correct)
        drawn = pipeline_null(masks, shuffled_correct, memorization, seed + 2 * 10**6 + r)
        for name in STATISTICS:
            for size in sizes:
                outcomes = {test: [] for test in ("raw", "raw_welch", "q1")}
                for n, group in enumerate(fake_sets(agree, difficulty, size, per, seed + size + 1000 * r)):
                    found = tests(shuffled[name], (drawn[0][name], drawn[1][name]), group, agree & ~group, difficulty, permutations,
                                  seed + n, ("raw", "raw_welch", "q1"), sample)
                    for test, p in found.items():
                        outcomes[test].append(p is not None and p <= alpha)
                for test, o in outcomes.items():
                    hits[(name, size, test)].append(o)
    print("| statistic | size | raw Student t (paper) | raw Welch t | Q1: Welch t of the excess |")
    print("| --- | --- | --- | --- | --- |")
    for name in STATISTICS:
        for size in sizes:
            cells = [clustered(hits[(name, size, test)]) for test in ("raw", "raw_welch", "q1")]
            print(f"| {name} | {size} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nQ2 on the real trials (groups drawn by this run's trial accuracy; {draws} per size), beside the strata "
          "test it replaced. One realization (the run's trials): the Wilson interval is over its groups, which share "
          "the run's noise, so it is narrower than the rate's real uncertainty.\n")
    print("| statistic | size | Q2: difficulty-adjusted excess | strata test (0.02, raw statistic) |"
          + (" Q2, groups drawn by independent trials' accuracy |" if independent is not None else ""))
    print("| --- | --- | --- | --- |" + (" --- |" if independent is not None else ""))
    for name in STATISTICS:
        for size in sizes:
            r = rates(fake_sets(agree, difficulty, size, draws, seed + size), real[name], (free[0][name], free[1][name]), agree,
                      difficulty, alpha, permutations, seed, only=("q2", "strata"), sample=sample)
            row = f"| {name} | {size} | {r['q2']} | {r['strata']} |"
            if independent is not None:
                other = rates(fake_sets(agree, independent, size, draws, seed + size), real[name], (free[0][name], free[1][name]), agree,
                              difficulty, alpha, permutations, seed, only=("q2",), sample=sample)
                row += f" {other['q2']} |"
            print(row, flush=True)


def train(split, count, seed, device, recipe: dict):
    """The trials (params.yaml's recipe, updated by `recipe`) on a split: (masks, train_correct, test_correct)."""
    p = params.read(ROOT / "params.yaml")
    cfg = params.section({"trials": p["trials"] | recipe}, "trials", params.Trials)
    masks = trials.sample_masks(count, len(split["y_train"]), cfg.subset_ratio, kind=cfg.mask, seed=seed)
    outcome = trials.run_trials(split["x_train"], split["y_train"], split["x_test"], split["y_test"], masks, recipe=cfg.recipe(), arch=cfg.arch, init=cfg.init, seed=seed, device=devices.pick(device), models_per_step=cfg.models_per_step, compile=cfg.compile, select=cfg.select)
    return masks, outcome.train_correct, outcome.test_correct


def pruned_cies(split, seed, device) -> dict[str, np.ndarray]:
    """The CIE masks of the reference (params.yaml's recipe) against its 90% magnitude pruning."""
    p = params.read(ROOT / "params.yaml")
    dev = devices.pick(device)
    x, y = devices.tensors(split["x_train"], split["y_train"], dev)
    xt, _ = devices.tensors(split["x_test"], split["y_test"], dev)
    ref_cfg = params.section(p, "reference", params.Reference)
    reference = reference_model(ref_cfg.arch, ref_cfg.recipe(), x, y, 10, seed, ref_cfg.init)
    prune = params.section({"compress": p["compress"] | {"method": "magnitude", "sparsity": 0.9, "loss": "ce"}},
                           "compress", params.Compress)
    reference_pred = training.predict(reference, xt).cpu().numpy()
    [pruned] = compress(reference, None, prune, ref_cfg.recipe(), x, y, seed)
    return cie.cie_masks(reference_pred, pruned.predict(xt).cpu().numpy(), split["y_test"])


def synthetic(seeds, count, device, permutations, recipe, sample=NULL_SAMPLE):
    """Section 2: the synthetic set's CIEs after 90% magnitude pruning, every test, per seed."""
    print(f"\n## Synthetic set, {count} trials, 90% magnitude pruning: the CIEs (all tests on max_influence)\n")
    print("| seed | CIEs (rare) | Q1 excess diff [95%] | Q1 p | Q2 diff [95%] | Q2 p (extrapolated) | strata p "
          "(matched) | raw Student p |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in seeds:
        split = datasets.load("synthetic", seed=seed)
        masks, c, d = train(split, count, seed, device, recipe)
        memorization = influence.memorization(masks, c)
        values = uncertainty.estimates(masks, c, d)["max_influence"]
        means, joint = (draws["max_influence"] for draws in pipeline_null(masks, d, memorization, seed))
        masks_cie = pruned_cies(split, seed, device)
        group, agree, difficulty = masks_cie["cie"], ~masks_cie["cie"], d.mean(0)
        q1, q2 = two_questions(values, means, joint, group, agree, difficulty, sample, seed)
        s = strata_test(values, group, agree, difficulty, width=0.02, draws=permutations, seed=seed)
        print(f"| {seed} | {group.sum()} ({(group & split['rare_test']).sum()}) | {interval(q1)} | {number(q1['p'])} | "
              f"{interval(q2)} | {number(q2['p'])} ({q2['extrapolated']}) | {number(s['p'])} ({s['n']} of {group.sum()}) | "
              f"{number(student_p(values, group, agree) if group.sum() >= 2 else None)} |", flush=True)


def interval(q: dict) -> str:
    return "n/a" if q["diff"] is None else f"{q['diff']:+.3f} [{q['diff_low']:+.3f}, {q['diff_high']:+.3f}]"


def number(p) -> str:
    return "n/a" if p is None else f"{p:.2g}"


def planted(count, seed, device, recipe, *, sizes, draws, alpha, permutations, overlap=40, shares=(1.0, 0.5, 0.0),
            sample=NULL_SAMPLE):
    """Section 3: groups mixing hard rare examples (influenced) and hard overlap examples (not) in
    share pi, on the synthetic set with class overlap."""
    x, y, rare = datasets.synthetic(seed=seed, rare_groups=20, rare_size=5, overlap=overlap)
    split = datasets.split(x, y, rare=rare, seed=seed)
    overlap_test = datasets.split(rare == -2, y, rare=rare, seed=seed)["x_test"]  # the same split, of the flags
    masks, c, d = train(split, count, seed, device, recipe)
    memorization = influence.memorization(masks, c)
    values = uncertainty.estimates(masks, c, d)["max_influence"]
    draws_null = tuple(draws["max_influence"] for draws in pipeline_null(masks, d, memorization, seed))
    difficulty, not_rare = d.mean(0), ~split["rare_test"]
    hard = difficulty < 0.95
    rare_hard, overlap_hard = hard & split["rare_test"], hard & overlap_test
    excess = null.excess(values, draws_null[0])
    print(f"\n## Planted: synthetic set with class overlap ({len(split['y_train'])} training, {len(difficulty)} test "
          f"examples, {count} trials, max_influence)\n")
    print(f"Hard (trial accuracy < 0.95) rare test examples: {rare_hard.sum()}, trial accuracy "
          f"{difficulty[rare_hard].mean():.2f}, excess {np.nanmean(excess[rare_hard]):+.3f}; hard overlap examples: "
          f"{overlap_hard.sum()}, trial accuracy {difficulty[overlap_hard].mean():.2f}, excess "
          f"{np.nanmean(excess[overlap_hard]):+.3f}; all others: excess {np.nanmean(excess[~hard]):+.3f}.\n")
    print(f"Groups of a share pi of hard rare and 1 - pi of hard overlap examples ({draws} per cell), each against "
          f"every other test example that is not rare; share rejected at alpha {alpha}, 95% Wilson interval.\n")
    print("| pi | size | Q1 | Q2 | strata test (0.02) | raw Student t |")
    print("| --- | --- | --- | --- | --- | --- |")
    rng = np.random.default_rng(seed)
    for share in shares:
        for size in sizes:
            k = round(share * size)
            if k > rare_hard.sum() or size - k > overlap_hard.sum():
                print(f"| {share} | {size} | too few examples | | | |")
                continue
            sets = []
            for _ in range(draws):
                group = np.zeros(len(difficulty), bool)
                group[rng.choice(np.flatnonzero(rare_hard), k, replace=False)] = True
                group[rng.choice(np.flatnonzero(overlap_hard), size - k, replace=False)] = True
                sets.append(group)
            r = rates(sets, values, draws_null, not_rare, difficulty, alpha, permutations, seed, sample=sample)
            print(f"| {share} | {size} | {r['q1']} | {r['q2']} | {r['strata']} | {r['raw']} |", flush=True)


def main(
    run: Path = typer.Option(ROOT, help="the repository whose data/ and metrics/ hold a finished run"),
    draws: int = typer.Option(200, min=10, help="fake or planted groups per size"),
    realizations: int = typer.Option(20, min=1, help="independent influence-free realizations of Q1's calibration"),
    null_sample: int = typer.Option(NULL_SAMPLE, min=2, help="test examples the joint draws keep beside each group's "
                                    "(estimate.null_sample); below a test set's size it checks the sampled comparison"),
    sizes: str = typer.Option("5,10,30,100", help="group sizes, comma-separated"),
    alpha: float = typer.Option(0.05),
    permutations: int = typer.Option(1000, min=100, help="permutations of each strata test"),
    seed: int = typer.Option(0),
    synthetic_seeds: str = typer.Option("0,1,2", help="seeds of the synthetic CIE check (empty skips it)"),
    synthetic_trials: int = typer.Option(1000, min=2),
    planted_trials: int = typer.Option(512, min=0, help="trials of the planted check (0 skips it)"),
    device: str = typer.Option("auto"),
    null_kind: str = typer.Option("counts", "--null", help="counts: the pipeline's null (by counts, joint draws "
                                  "for the noise); joint: the joint draws alone, the null before the counts"),
    recipe: str = typer.Option("{}", help="JSON updates of the trials section, e.g. '{\"epochs\": 2}' for a quick check"),
):
    start = time.perf_counter()
    if null_kind not in NULLS:
        raise typer.BadParameter(f"--null is one of {', '.join(NULLS)}, not {null_kind!r}")
    NULL_KIND["null"] = null_kind
    size_list = [int(s) for s in sizes.split(",") if s]
    masks = load_npy(run / "data/trials/masks.npy", dtype=bool, ndim=2)
    train_correct = load_npy(run / "data/trials/train_correct.npy", dtype=bool, ndim=2)
    test_correct = load_npy(run / "data/trials/test_correct.npy", dtype=bool, ndim=2)
    agree = ~load_npz(run / "data/cie/masks.npz", ["cie"])["cie"]
    other = run / "data/consistency/trials/test_correct.npy"
    independent = load_npy(other, dtype=bool, ndim=2).mean(0) if other.exists() else None
    dataset = params.read(run / "params.yaml")["data"]["dataset"]
    calibration(f"{dataset} ({run.name})", masks, train_correct, test_correct, agree,
                independent if independent is not None and len(independent) == len(agree) else None,
                sizes=[s for s in size_list if s <= agree.sum() // 4], draws=draws, alpha=alpha,
                permutations=permutations, seed=seed, realizations=realizations, sample=null_sample)
    if synthetic_seeds:
        synthetic([int(s) for s in synthetic_seeds.split(",")], synthetic_trials, device, permutations,
                  json.loads(recipe), null_sample)
    if planted_trials:
        planted(planted_trials, seed, device, json.loads(recipe), sizes=size_list, draws=draws, alpha=alpha,
                permutations=permutations, sample=null_sample)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    typer.run(main)
