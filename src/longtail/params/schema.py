"""The schema of params.yaml: each section's knobs as a frozen dataclass with its type and its checks.
A stage reads a section, or a view of it (a dataclass with some of its keys), through
params.section, so that DVC reruns it only for the keys it reads (`longtail deps` lists them)."""

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from longtail import LongtailError, layout
from longtail.checks import check_range, choose
from longtail.train import recipe

DTYPES = ("float16", "float32")
# estimate.target: what each trial says of each example that the estimator averages
TARGETS = layout.TARGETS
SELECT = ("last", "best_test")

# Each name registry lives beside the code it names (models.ARCHS, losses.LOSSES, ...), imported in
# the checks below so that only the stages that train load torch.


# The dataclasses name each knob, its type and its checks; its value comes from params.yaml only
# (loader.section refuses a missing key), so no value written here can reach an output. A view is a
# dataclass with some of a section's keys (Recipe of `reference`, Fit of `trials`).


@dataclass(frozen=True)
class Data:
    dataset: str
    test_fraction: float  # digits and synthetic only; torchvision sets have their own split
    root: str
    download: bool
    flip_labels: float  # share of training labels moved to another class (planted truth)
    # a stratified, seeded subset of the loaded training and test sets; None: all of it
    train_size: int | None = field(metadata={"kind": int, "optional": True})
    test_size: int | None = field(metadata={"kind": int, "optional": True})

    def check(self, section):
        from longtail.data.datasets import check_name

        check_name(self.dataset, self.root, f"{section}.dataset")
        check_range(f"{section}.test_fraction", self.test_fraction, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.flip_labels", self.flip_labels, 0, 0.5)
        for key in ("train_size", "test_size"):
            if getattr(self, key) is not None:
                check_range(f"{section}.{key}", getattr(self, key), 1)


@dataclass(frozen=True)
class Recipe(recipe.Recipe):
    """How training.train (and the trial engine) runs: train.recipe.Recipe's knobs, checked."""

    MIN_EPOCHS: ClassVar[int] = 1

    def check(self, section):
        from longtail.train.training import SCHEDULES

        check_range(f"{section}.epochs", self.epochs, self.MIN_EPOCHS)
        check_range(f"{section}.batch_size", self.batch_size, 1)
        check_range(f"{section}.lr", self.lr, 0, low_open=True)
        check_range(f"{section}.momentum", self.momentum, 0, 1, high_open=True)
        check_range(f"{section}.weight_decay", self.weight_decay, 0)
        choose(f"{section}.schedule", self.schedule, SCHEDULES)

    def recipe(self) -> recipe.Recipe:
        """The recipe alone, as training.train and engine.train_stacked take it."""
        return recipe.of(self)


@dataclass(frozen=True)
class Training(Recipe):
    """A model trained from scratch: by each trial and by the reference."""

    arch: str
    init: str  # torch (each layer's default) | glorot_normal (stax's, Feldman & Zhang's MNIST code)

    def check(self, section):
        from longtail.train.models import INITS, check

        check(self.arch, f"{section}.arch")
        choose(f"{section}.init", self.init, INITS)
        super().check(section)


@dataclass(frozen=True)
class Trials(Training):
    """What train_trials reads: every key of `trials` but fit_threshold."""

    count: int
    mask: str
    subset_ratio: float
    models_per_step: int  # trials trained at once by the batched engine
    compile: str  # off | default | max-autotune: torch.compile each training step
    select: str  # last | best_test: the weights of the epoch with the best test accuracy
    # a stopping rule checked after each chunk (stopping.py); None trains all `count`
    until: str | None = field(metadata={"kind": str, "optional": True})
    until_high: float  # memorization at which an example is high for the rule

    def replaced(self, arch: str | None, count: int | None) -> "Trials":
        """These trials with train_trials' --arch and --count (None: the section's), checked."""
        from longtail.train.models import check

        if arch is not None:
            check(arch, "--arch")
        if count is not None:
            check_range("--count", count, 2)
        return dataclasses.replace(self, arch=arch or self.arch, count=count or self.count)

    def rule(self):
        """The stopping.Rule of `until`, or None."""
        from longtail.train import stopping

        return None if self.until is None else stopping.parse(self.until, self.until_high)

    def check(self, section):
        from longtail.train.engine import COMPILE_MODES
        from longtail.train.trials import MASKS

        super().check(section)
        check_range(f"{section}.until_high", self.until_high, -1, 1)
        self.rule()
        check_range(f"{section}.count", self.count, 2)
        choose(f"{section}.mask", self.mask, MASKS)
        check_range(f"{section}.subset_ratio", self.subset_ratio, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.models_per_step", self.models_per_step, 1)
        choose(f"{section}.select", self.select, SELECT)
        choose(f"{section}.compile", self.compile, COMPILE_MODES)


@dataclass(frozen=True)
class Fit:
    """The rest of `trials`: whether the trials fit their subsets, a summary that needs no training."""

    fit_threshold: float  # accuracy on its own subset that a trial must reach to count as fit

    def check(self, section):
        check_range(f"{section}.fit_threshold", self.fit_threshold, 0, 1)


@dataclass(frozen=True)
class TrialSet:
    """Which trials, of `trials` (or of `consistency`): the network and how many."""

    arch: str
    count: int

    def check(self, section):
        from longtail.train.models import check

        check(self.arch, f"{section}.arch")
        check_range(f"{section}.count", self.count, 2)


@dataclass(frozen=True)
class Reference(Training):
    pass


@dataclass(frozen=True)
class Estimate:
    target: str  # what the estimator averages: correct (0/1) | probability | margin
    dtype: str
    pair_influence: float
    pair_memorization: float
    reliability_splits: int  # further split-halves whose spread is each reliability's error bar
    null_draws: int  # permutations of the trials against the masks: the influence-free null (estimate.null)
    holdout: float  # share of the trials held out for the counterfactual check (LDS); 0: none

    def check(self, section):
        choose(f"{section}.target", self.target, TARGETS)
        choose(f"{section}.dtype", self.dtype, DTYPES)
        check_range(f"{section}.holdout", self.holdout, 0, 0.5)
        check_range(f"{section}.reliability_splits", self.reliability_splits, 2)
        check_range(f"{section}.null_draws", self.null_draws, 2)
        bound = None if self.target == "margin" else 1  # correct and probability lie in [0, 1]; a margin is a logit
        check_range(f"{section}.pair_influence", self.pair_influence, bound and -bound, bound)
        check_range(f"{section}.pair_memorization", self.pair_memorization, bound and -bound, bound)


@dataclass(frozen=True)
class NullSample:
    """The rest of `estimate`: the test examples the influence_free stage draws jointly beside the tested ones."""

    null_sample: int  # a uniform random sample of the test set (null.sample_columns)

    def check(self, section):
        check_range(f"{section}.null_sample", self.null_sample, 3)


@dataclass(frozen=True)
class JointNull:
    """What the influence_free stage reads of `estimate` (a view): the target, the draws, the sample."""

    target: str
    null_draws: int
    null_sample: int

    def check(self, section):
        choose(f"{section}.target", self.target, TARGETS)
        check_range(f"{section}.null_draws", self.null_draws, 2)
        NullSample(self.null_sample).check(section)


@dataclass(frozen=True)
class Compress(Recipe):
    """How the reference is compressed (compress.method) and recovered (compress.loss); the Recipe
    fields are the recovery fine-tuning's (epochs 0 skips it)."""

    MIN_EPOCHS: ClassVar[int] = 0
    method: str
    # group_sparsity: group-lasso sparsify phase, then channels removed down to target_flops
    target_flops: float
    group_lambda: float
    sparsify_epochs: int
    # magnitude: share of weights set to zero; a list sweeps several (the last one goes on to cie)
    sparsity: float | tuple[float, ...] = field(metadata={"kind": float, "list": True})
    # quantize: training examples that calibrate the activation ranges
    calibration_size: int
    # distill: the student's width relative to the reference
    width: float
    # the recovery loss and its knobs
    loss: str
    focal_gamma: float
    kd_temperature: float
    kd_ce_weight: float
    kd_weight: float
    multipart_ce: float
    multipart_kd: float
    multipart_mse: float
    softadapt_beta: float
    softadapt_every: int
    softadapt_variant: str  # normalized | loss_weighted (losses.SOFTADAPT_VARIANTS)

    @property
    def sparsities(self) -> tuple[float, ...]:
        return self.sparsity if isinstance(self.sparsity, tuple) else (self.sparsity,)

    def check(self, section):
        from longtail.compress.methods import METHODS
        from longtail.train.losses import LOSSES, SOFTADAPT_VARIANTS, USES_TEACHER

        choose(f"{section}.method", self.method, METHODS)
        choose(f"{section}.loss", self.loss, (*LOSSES, "none"))
        method = METHODS[self.method]
        if not method.fine_tunes and self.loss != "none":
            raise LongtailError(f"compress.method {self.method} is post-training, with no fine-tuning: set "
                                f"compress.loss to none (it is {self.loss!r})")
        if method.fine_tunes and self.loss == "none":
            raise LongtailError(f"compress.method {self.method} fine-tunes with a recovery loss: set "
                                f"compress.loss to one of: {', '.join(LOSSES)}")
        if method.teacher and self.loss not in USES_TEACHER:
            raise LongtailError(f"compress.method {self.method} learns from the reference: set compress.loss to "
                                f"one that uses it ({', '.join(USES_TEACHER)}), not {self.loss!r}")
        check_range(f"{section}.target_flops", self.target_flops, 0, 1, low_open=True)
        check_range(f"{section}.group_lambda", self.group_lambda, 0)
        check_range(f"{section}.sparsify_epochs", self.sparsify_epochs, 0)
        if not self.sparsities:
            raise LongtailError("compress.sparsity is an empty list; give a number or a list of numbers")
        for value in self.sparsities:
            check_range(f"{section}.sparsity", value, 0, 1, high_open=True)
        check_range(f"{section}.calibration_size", self.calibration_size, 1)
        check_range(f"{section}.width", self.width, 0, 1, low_open=True)
        check_range(f"{section}.focal_gamma", self.focal_gamma, 0)
        check_range(f"{section}.kd_temperature", self.kd_temperature, 0, low_open=True)
        for key in ("kd_ce_weight", "kd_weight", "multipart_ce", "multipart_kd", "multipart_mse", "softadapt_beta"):
            check_range(f"{section}.{key}", getattr(self, key), 0)
        check_range(f"{section}.softadapt_every", self.softadapt_every, 1)
        choose(f"{section}.softadapt_variant", self.softadapt_variant, SOFTADAPT_VARIANTS)
        super().check(section)


@dataclass(frozen=True)
class Ttest:
    statistic: str  # the per-test-example quantity tested (stats.STATISTICS)
    alpha: float  # significance level of the stars and of the "affected" lists
    control_draws: int  # random test subsets of the CIE set's size in the sanity control
    bins: int  # histogram bins

    def check(self, section):
        from longtail.analysis.stats import STATISTICS

        choose(f"{section}.statistic", self.statistic, STATISTICS)
        check_range(f"{section}.alpha", self.alpha, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.control_draws", self.control_draws, 10)
        check_range(f"{section}.bins", self.bins, 1)


def check_statistic(params: dict) -> None:
    """Refuse the seed paper's mean_influence with fixed_size masks before any work: summed over the
    training examples, influence[i, j]'s two masked averages cancel except through the spread of the
    subset sizes (docs/questions.md), and fixed_size subsets all have the same size. Each stage checks its own
    sections: a missing key here is left to the stage that reads it."""
    mask = (params.get("trials") or {}).get("mask")
    statistic = (params.get("ttest") or {}).get("statistic")
    if statistic == "mean_influence" and mask == "fixed_size":
        raise LongtailError(
            "ttest.statistic mean_influence cannot be tested with trials.mask fixed_size: mean_influence "
            "measures only how a test example's correctness changes with the size of the training subset, and "
            "fixed_size subsets all have the same size, so it is zero up to noise for every test example. "
            "Choose ttest.statistic max_influence or top_memorization (or trials.mask bernoulli)")


@dataclass(frozen=True)
class Population:
    """Pruning identified exemplars (Hooker et al. 2019): populations of reference and compressed models."""

    population: int  # models per population (Hooker et al. used 30)

    def check(self, section):
        check_range(f"{section}.population", self.population, 2)


@dataclass(frozen=True)
class Pie(Population):
    alpha: float  # significance level of the per-class recall tests
    shifted: float  # share of the test set, the largest taxicab shifts: ttest's group `shifted`
    bootstrap: int  # resamples of the population members for CEV's and SDE's intervals

    def check(self, section):
        super().check(section)
        check_range(f"{section}.alpha", self.alpha, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.shifted", self.shifted, 0, 1, low_open=True)
        check_range(f"{section}.bootstrap", self.bootstrap, 100)


@dataclass(frozen=True)
class Harm:
    """Does memorization predict compression's harm beyond cheap signals? (analysis.harm)"""

    folds: int  # cross-validation folds of the logistic models (fewer where the harmed are fewer)
    early: float  # EL2N read after this share of the reference recipe's epochs (Paul et al. 2021)

    def check(self, section):
        check_range(f"{section}.folds", self.folds, 2)
        check_range(f"{section}.early", self.early, 0, 1, low_open=True)


@dataclass(frozen=True)
class Consistency(TrialSet):
    """Feldman & Zhang's consistency check: trials of a second architecture (arch, count) on the same data."""


# The sections of params.yaml, each with the dataclasses whose keys make it up; a stage reads one
# of them, or a view (a dataclass with some of the keys). The shared seed and device are top-level.
SECTIONS = {"data": (Data,), "trials": (Trials, Fit), "estimate": (Estimate, NullSample), "reference": (Reference,),
            "compress": (Compress,), "ttest": (Ttest,), "pie": (Pie,), "harm": (Harm,),
            "consistency": (Consistency,)}
TOP_LEVEL = ("seed", "device", *SECTIONS)


