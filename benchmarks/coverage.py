"""Does every interval the tool prints cover what it claims? (BENCHMARKS.md: "Coverage".)

Each check simulates a world whose truth is known, draws `replicates` independent realizations of
it (never groups drawn from one realization: they would share its noise), computes the interval as
the tool does (the library's own functions), and counts how often it holds the truth. Every size
the tool accepts is included, the smallest first. A rate carries its Clopper-Pearson 95% interval.

    Q1        analysis.questions.two_questions' `excess` on excesses with influence-free draws: the
              group's mean excess minus the comparison's, normal noise, independent or shared
              within the group (a common factor per draw, the CIEs' shared trials); truth delta.
    Q2        its `matched`: excess = f(difficulty) + delta in the group, the group harder than the
              comparison, the noise's spread growing with difficulty; truth delta.
    CEV, SDE  analysis.bias.measure on longtail.worlds.populations; truth from the expected rates.
    g         analysis.stats.two_sample_tests' Hedges' g interval, normal values; truth delta / sd.
    LDS       estimate.counterfactual.lds' jackknife over h held-out trials of a fixed linear
              datamodel; truth the LDS over 20 000 fresh trials of the same world.
    AUC       analysis.harm.auc (DeLong), normal scores; truth Phi(delta / sqrt 2).

    python benchmarks/coverage.py                    # every check, 200 realizations each
    python benchmarks/coverage.py --replicates 20 --only q1,cev
"""

import math
import sys
import time

import numpy as np
import typer
from scipy import stats

from longtail import worlds
from longtail.analysis import bias, harm, questions
from longtail.analysis import stats as tool_stats
from longtail.estimate import counterfactual


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    low = 0.0 if k == 0 else float(stats.beta.ppf(0.025, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(0.975, k + 1, n - k))
    return low, high


def q1(rng, size: int, delta: float, shared: float = 0.0, n: int = 200, draws: int = 32,
       spread: float = 0.0) -> tuple[bool, bool]:
    """(covered, rejected at 0.05) of Q1 on one realization; `spread`: each group member's own
    difference drawn around delta with this sd (heterogeneous examples; the truth is their mean
    over the population of such examples, delta)."""
    group = np.zeros(n, bool)
    group[:size] = True

    def noise(rows):
        return rng.normal(0, 1, (rows, n)) + shared * group * rng.normal(0, 1, (rows, 1))

    null_draws = noise(draws)
    observed = noise(1)[0] + (delta + spread * rng.normal(0, 1, n)) * group
    answer = questions.two_questions(observed - null_draws.mean(0), null_draws, group, ~group, np.full(n, 0.5))[0]
    return answer["diff_low"] <= delta <= answer["diff_high"], answer["p"] <= 0.05


def design_effects(replicates: int, seed: int, sizes=(2, 3, 5, 10, 30), n: int = 200, draws: int = 32) -> dict:
    """size -> (median, 10th and 90th percentile) of Q1's design effect on independent normal noise,
    where it should be 1."""
    out = {}
    for size in sizes:
        rng = np.random.default_rng([seed, 99, size])
        group = np.zeros(n, bool)
        group[:size] = True
        found = [questions.two_questions(*_noise_excess(rng, n, draws), group, ~group, np.full(n, 0.5))[0]["design_effect"]
                 for _ in range(replicates)]
        out[size] = tuple(float(q) for q in np.quantile(found, [0.5, 0.1, 0.9]))
    return out


def _noise_excess(rng, n: int, draws: int):
    null_draws = rng.normal(0, 1, (draws, n))
    return rng.normal(0, 1, n) - null_draws.mean(0), null_draws


def q2(rng, size: int, delta: float, n: int = 300, draws: int = 32) -> tuple[bool, bool]:
    """(covered, rejected) of Q2: excess = 0.3 (1 - difficulty)^2 + delta in the group + noise whose sd
    grows with 1 - difficulty; the group drawn from the hard end."""
    difficulty = rng.beta(5, 1, n)
    group = np.zeros(n, bool)
    group[rng.choice(n, size, replace=False, p=(1 - difficulty + 0.01) / (1 - difficulty + 0.01).sum())] = True
    sd = 0.2 + (1 - difficulty)

    def noise(rows):
        return rng.normal(0, 1, (rows, n)) * sd

    null_draws = noise(draws) + 0.3 * (1 - difficulty) ** 2  # the null keeps the difficulty trend
    observed = noise(1)[0] + 0.3 * (1 - difficulty) ** 2 + delta * group
    excess = observed - null_draws.mean(0)  # the trend cancels: excess = noise + delta in the group
    answer = questions.two_questions(excess, null_draws, group, ~group, difficulty)[1]
    if answer["p"] is None:
        return None, None
    return answer["diff_low"] <= delta <= answer["diff_high"], answer["p"] <= 0.05


def cev_sde(rng, members: int, harm_size: float, n: int = 400, classes: int = 10) -> tuple[bool, bool, bool]:
    """(CEV covered, SDE covered, cev_p <= 0.05) on one realization of longtail.worlds.populations."""
    reference, compressed, y, truth = worlds.populations(rng, members=members, n=n, classes=classes, harm=harm_size)
    m = bias.measure(reference, compressed, y, classes, bootstrap=200, seed=int(rng.integers(2**31)))
    if m["cev_low"] is None:
        return None, None, None
    covered = [m[f"{k}_low"] <= t <= m[f"{k}_high"] for k, t in zip(("cev", "sde"), truth)]
    return covered[0], covered[1], m["cev_p"] is not None and m["cev_p"] <= 0.05


def hedges(rng, size: int, delta: float, comparison: int = 200) -> tuple[bool, bool]:
    """(covered, rejected: the interval excludes 0) of Hedges' g's interval."""
    r = tool_stats.two_sample_tests(rng.normal(delta, 1, size), rng.normal(0, 1, comparison))
    if r["g_low"] is None:
        return None, None
    return r["g_low"] <= delta <= r["g_high"], not (r["g_low"] <= 0 <= r["g_high"])


class Datamodel:
    """A fixed linear datamodel world: test outcome [k, i] = 1 where a_i + M_k . beta_i + noise > 0,
    each trial's mask M_k keeping training examples with probability 0.7; the influence matrix read
    is beta plus estimation noise, fixed, so the LDS's truth is its value over infinitely many
    held-out trials: measured on 20 000."""

    def __init__(self, rng, n_train: int = 40, n_test: int = 30):
        self.rng = rng
        self.beta = rng.normal(0, 1, (n_test, n_train)) * (rng.random((n_test, n_train)) < 0.2)
        self.offset = -0.7 * self.beta.sum(1)
        self.read = self.beta + rng.normal(0, 0.7, self.beta.shape)
        masks, actual = self.trials(20_000)
        self.truth = float(np.nanmean(counterfactual.spearman_columns(masks @ self.read.T, actual)))

    def trials(self, h: int):
        masks = (self.rng.random((h, self.beta.shape[1])) < 0.7).astype(np.float64)
        latent = self.offset + masks @ self.beta.T + self.rng.normal(0, 1.5, (h, self.beta.shape[0]))
        return masks, (latent > 0).astype(np.float64)


def lds(world: Datamodel, held: int) -> tuple[bool, bool]:
    masks, actual = world.trials(held)
    r = counterfactual.lds(masks @ world.read.T, actual)
    if r["low"] is None:
        return None, None
    return r["low"] <= world.truth <= r["high"], r["low"] > 0


def auc(rng, positives: int, delta: float, negatives: int = 300) -> tuple[bool, bool]:
    target = np.r_[np.ones(positives, bool), np.zeros(negatives, bool)]
    score = np.r_[rng.normal(delta, 1, positives), rng.normal(0, 1, negatives)]
    r = harm.auc(score, target)
    truth = float(stats.norm.cdf(delta / math.sqrt(2)))
    return r["low"] <= truth <= r["high"], r["low"] > 0.5


def rate(k: int, n: int) -> str:
    low, high = clopper_pearson(k, n)
    return f"{k / n:.3f} [{low:.3f}, {high:.3f}]"


CHECKS = {
    # name: (what the truth is, [(world label, size, function of rng -> tuple of bools)])
    "q1": ("the group's mean excess minus the comparison's, delta", [
        (f"delta {d}, shared {s}", size, lambda rng, size=size, d=d, s=s: q1(rng, size, d, s))
        for d, s in ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)) for size in (2, 3, 5, 10, 30, 100)] + [
        ("delta 0.5 +- 1 per member", size, lambda rng, size=size: q1(rng, size, 0.5, spread=1.0))
        for size in (2, 3, 5, 10, 30, 100)]),
    "q2": ("the group's excess at equal difficulty, delta", [
        (f"delta {d}", size, lambda rng, size=size, d=d: q2(rng, size, d))
        for d in (0.0, 0.5) for size in (2, 3, 5, 10, 30)]),
    "cev": ("Blakeney et al.'s CEV and SDE of the expected rates (CEV, SDE covered; cev_p rejects)", [
        (f"harm {h}", members, lambda rng, members=members, h=h: cev_sde(rng, members, h))
        for h in (0.0, 0.1, 0.3) for members in (2, 3, 5, 10, 30)]),
    "g": ("the standardized difference delta / sd", [
        (f"delta {d}", size, lambda rng, size=size, d=d: hedges(rng, size, d))
        for d in (0.0, 1.0) for size in (2, 3, 5, 10, 30, 100)]),
    "lds": ("the LDS over 20 000 fresh held-out trials", [
        ("linear datamodel", held, lambda rng, held=held: lds(Datamodel(rng), held)) for held in (2, 3, 5, 10, 25, 100)]),
    "auc": ("Phi(delta / sqrt 2)", [
        (f"delta {d}", size, lambda rng, size=size, d=d: auc(rng, size, d))
        for d in (0.0, 1.0) for size in (2, 3, 5, 10, 30, 100)]),
}
COLUMNS = {"q1": ["covered", "rejected (p ≤ 0.05)"], "q2": ["covered", "rejected (p ≤ 0.05)"],
           "cev": ["CEV covered", "SDE covered", "cev_p ≤ 0.05"], "g": ["covered", "excludes 0"],
           "lds": ["covered", "low > 0"], "auc": ["covered", "low > 0.5"]}


def measure(name: str, replicates: int, seed: int, sizes=None) -> list[dict]:
    """Each world and size (those in `sizes`, or all) of check `name`: {world, size, counts [per
    column, over the realizations with an interval], replicates (those), missing (realizations the
    tool gave no interval: too few values, no spread)}."""
    rows = []
    for index, (world, size, draw) in enumerate(CHECKS[name][1]):
        if sizes is not None and size not in sizes:
            continue
        rng = np.random.default_rng([seed, index, size])
        outcomes = [draw(rng) for _ in range(replicates)]
        defined = np.array([o for o in outcomes if o[0] is not None], dtype=bool).reshape(-1, len(COLUMNS[name]))
        rows.append({"world": world, "size": size, "counts": defined.sum(0).tolist(), "replicates": len(defined),
                     "missing": replicates - len(defined)})
    return rows


def main(replicates: int = typer.Option(200, min=2, help="independent realizations per world and size"),
         only: str = typer.Option(",".join(CHECKS), help="checks to run, comma-separated: " + ", ".join(CHECKS)),
         seed: int = typer.Option(0)):
    start = time.perf_counter()
    names = [n for n in only.split(",") if n]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(f"unknown check {unknown[0]!r}; choose from: {', '.join(CHECKS)}", file=sys.stderr)
        raise typer.Exit(2)
    for name in names:
        if name == "q1":
            print(f"\n## Q1's design effect on independent normal noise (where it is 1); {replicates} realizations\n")
            print("| size | median | 10% | 90% |\n| --- | --- | --- | --- |")
            for size, (median, low, high) in design_effects(replicates, seed).items():
                print(f"| {size} | {median:.2f} | {low:.2f} | {high:.2f} |")
        print(f"\n## {name}: truth {CHECKS[name][0]}; {replicates} realizations each, 95% intervals "
              "(Clopper-Pearson on the rates)\n")
        print("| world | size | " + " | ".join(COLUMNS[name]) + " | no interval |")
        print("| --- | --- |" + " --- |" * (len(COLUMNS[name]) + 1))
        for row in measure(name, replicates, seed):
            cells = [rate(k, row["replicates"]) if row["replicates"] else "—" for k in row["counts"] or [0] * len(COLUMNS[name])]
            print(f"| {row['world']} | {row['size']} | " + " | ".join(cells) + f" | {row['missing']} |", flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    typer.run(main)
