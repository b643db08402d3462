"""trials.until: a stopping rule. `trials.count` is the budget; train_trials checks the rule after each
chunk of trials, in chunk order, and stops at the first chunk boundary where it holds. Chunks are fixed
by (count, models_per_step) and trial k by (seed, k), so a run that stops after t trials has exactly the
arrays of a run of t trials, however it was resumed or sharded.

A rule reads "<measure> <op> <value>", e.g. "reliability_high >= 0.9", on the memorization (0/1
correctness, the paper's target: the trials do not know estimate.target) of the trials so far:

    reliability        split-half reliability of memorization over every defined example (>=)
    reliability_high   the same over the high-memorization examples, memorization >= until_high (>=)
    se_high            the median standard error of their memorization (<=), Agresti & Caffo's (2000):
                       one right and one wrong outcome added to each group of trials. The plain
                       binomial one (memorization_se) is 0 for an example right in every trial that
                       kept it and wrong in every other, a flipped label at 4 trials, and would stop
                       at the first chunk.

"High" is judged on all the trials so far. The split is halves of them drawn from the seed stream
(seed, STOPPING) (seeds.py), never the split the estimate publishes: a rule that stopped on the
published split's reliability would publish a value >= its threshold by construction (optional
stopping). until.json records the rule's `split_seed`; report.md says it.
A measure that is undefined (no high example yet, too few trials) does not meet the rule.
"""

import re
from dataclasses import dataclass

import numpy as np

from longtail import LongtailError, seeds
from longtail.estimate import influence
from longtail.estimate.halves import correlation, halves

MEASURES = {"reliability": ">=", "reliability_high": ">=", "se_high": "<="}  # measure -> the op that stops
_RULE = re.compile(r"^\s*(\w+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Rule:
    measure: str
    value: float
    high: float  # memorization at which an example is high

    def __str__(self):
        return f"{self.measure} {MEASURES[self.measure]} {self.value:g}"


def parse(text: str, high: float, key: str = "trials.until") -> Rule:
    """The Rule of `text`; LongtailError naming what to write where it is not one."""
    example = f'e.g. {key}: "reliability_high >= 0.9" or "se_high <= 0.05"'
    match = _RULE.match(str(text))
    if not match:
        raise LongtailError(f"{key} {text!r} is not a rule '<measure> <op> <value>' ({example})")
    measure, op, value = match.groups()
    if measure not in MEASURES:
        from longtail.checks import choose

        choose(f"{key}'s measure", measure, MEASURES)
    if op != MEASURES[measure]:
        raise LongtailError(f"{key} {text!r}: {measure} settles as it {'rises' if MEASURES[measure] == '>=' else 'falls'}"
                            f", so the rule is '{measure} {MEASURES[measure]} <value>'")
    try:
        value = float(value)
    except ValueError:
        raise LongtailError(f"{key} {text!r}: {value!r} is not a number ({example})") from None
    if not (0 < value <= 1 if measure.startswith("reliability") else value > 0):
        raise LongtailError(f"{key} {text!r}: the value must be in (0, 1] for a reliability, > 0 for a standard error")
    return Rule(measure, value, high)


def measure(rule: Rule, masks: np.ndarray, train_correct: np.ndarray, seed: int) -> float | None:
    """The rule's measure on these trials; None where undefined."""
    memorization = influence.memorization(masks, train_correct)
    high = memorization >= rule.high
    if rule.measure == "se_high":
        p_in, a, p_out, b = (v[high] for v in influence.proportions(masks, train_correct))
        if not len(a):
            return None
        p_in, p_out = (p_in * a + 1) / (a + 2), (p_out * b + 1) / (b + 2)
        return float(np.median(np.sqrt(p_in * (1 - p_in) / (a + 2) + p_out * (1 - p_out) / (b + 2))))
    if len(masks) < 4:
        return None
    a, b = (influence.memorization(masks[h], train_correct[h]) for h in halves(len(masks), split_seed(seed)))
    keep = high if rule.measure == "reliability_high" else slice(None)
    return correlation(a[keep], b[keep])


def split_seed(seed: int) -> int:
    """The seed of the rule's split-half: its own stream, not the estimate's (the module docstring)."""
    return seeds.derive(seed, seeds.STOPPING)


def check(rule: Rule, masks: np.ndarray, train_correct: np.ndarray, seed: int) -> dict:
    """{"until", "trials", "value", "met"}: the rule's state after these trials."""
    value = measure(rule, masks, train_correct, seed)
    met = value is not None and (value >= rule.value if MEASURES[rule.measure] == ">=" else value <= rule.value)
    return {"until": str(rule), "high": rule.high, "trials": len(masks), "value": value, "met": bool(met),
            "split_seed": split_seed(seed) if rule.measure != "se_high" else None}
