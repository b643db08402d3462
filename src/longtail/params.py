"""params.yaml, read and checked before any work starts.

Each stage reads the sections it uses into a frozen dataclass. Unknown keys, wrong types and values
out of range raise LongtailError with the key, the value and what is allowed.
"""

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

import yaml

from longtail import LongtailError

DTYPES = ("float16", "float32")
# estimate.target: what each trial says of each example that the estimator averages (trials.SOFT_TARGETS
# and the 0/1 correctness; here so that the estimate stage needs no torch to check it)
TARGETS = ("correct", "probability", "margin")
SELECT = ("last", "best_test")

# Each name registry lives beside the code it names (models.ARCHS, losses.LOSSES, ...), imported in
# the checks below so that only the stages that train load torch.


def choose(key: str, value: str, choices) -> None:
    """Raise unless `value` is one of `choices`, naming them all and the nearest one."""
    if value not in choices:
        lower = {str(c).lower(): c for c in choices}  # FOCAL is focal misspelt by its case
        near = difflib.get_close_matches(str(value).lower(), list(lower), n=1)
        hint = f" (did you mean {lower[near[0]]!r}?)" if near else ""
        raise LongtailError(f"unknown {key} {value!r}; choose one of: {', '.join(choices)}{hint}")


def check_range(key: str, value, low=None, high=None, *, low_open=False, high_open=False) -> None:
    """Raise unless low <= value <= high (with < where the bound is open)."""
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise LongtailError(f"{key} = {value!r} is out of range; it must satisfy {lo}{key}{hi}")


# The dataclasses name each knob, its type and its checks; its value comes from params.yaml only
# (section() refuses a missing key), so no value written here can reach an output. A stage reads a
# section, or a view of it: a dataclass with some of the section's keys (Recipe of `reference`, Fit
# of `trials`), so that DVC reruns it only for the keys it reads (stages/deps.py lists them).


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
        from longtail.data import DATASETS

        choose(f"{section}.dataset", self.dataset, DATASETS)
        check_range(f"{section}.test_fraction", self.test_fraction, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.flip_labels", self.flip_labels, 0, 0.5)
        for key in ("train_size", "test_size"):
            if getattr(self, key) is not None:
                check_range(f"{section}.{key}", getattr(self, key), 1)


@dataclass(frozen=True)
class Recipe:
    """How training.train (and the trial engine) runs: SGD with momentum and weight decay."""

    MIN_EPOCHS: ClassVar[int] = 1
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    augment: bool  # random crops (padding 4) and horizontal flips, for CIFAR
    schedule: str  # linear: the learning rate decays to zero; constant: it stays lr
    nesterov: bool  # Nesterov's momentum, or plain (heavy-ball) momentum
    drop_last: bool  # drop each epoch's partial last batch, or train on it too

    def check(self, section):
        from longtail.training import SCHEDULES

        check_range(f"{section}.epochs", self.epochs, self.MIN_EPOCHS)
        check_range(f"{section}.batch_size", self.batch_size, 1)
        check_range(f"{section}.lr", self.lr, 0, low_open=True)
        check_range(f"{section}.momentum", self.momentum, 0, 1, high_open=True)
        check_range(f"{section}.weight_decay", self.weight_decay, 0)
        choose(f"{section}.schedule", self.schedule, SCHEDULES)

    def recipe(self) -> dict:
        """The keyword arguments of training.train."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Recipe)}


@dataclass(frozen=True)
class Training(Recipe):
    """A model trained from scratch: by each trial and by the reference."""

    arch: str
    init: str  # torch (each layer's default) | glorot_normal (stax's, Feldman & Zhang's MNIST code)

    def check(self, section):
        from longtail.models import ARCHS, INITS

        choose(f"{section}.arch", self.arch, ARCHS)
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

    def rule(self):
        """The stopping.Rule of `until`, or None."""
        from longtail import stopping

        return None if self.until is None else stopping.parse(self.until, self.until_high)

    def check(self, section):
        from longtail.engine import COMPILE_MODES
        from longtail.trials import MASKS

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
        from longtail.models import ARCHS

        choose(f"{section}.arch", self.arch, ARCHS)
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
    null_draws: int  # permutations of the trials against the masks: the influence-free null (longtail.null)
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
        from longtail.compression import METHODS
        from longtail.losses import LOSSES, SOFTADAPT_VARIANTS, USES_TEACHER

        choose(f"{section}.method", self.method, METHODS)
        choose(f"{section}.loss", self.loss, (*LOSSES, "none"))
        if self.method == "quantize" and self.loss != "none":
            raise LongtailError(f"compress.method quantize is post-training, with no fine-tuning: set "
                                f"compress.loss to none (it is {self.loss!r})")
        if self.method != "quantize" and self.loss == "none":
            raise LongtailError(f"compress.method {self.method} fine-tunes with a recovery loss: set "
                                f"compress.loss to one of: {', '.join(LOSSES)}")
        if self.method == "distill" and self.loss not in USES_TEACHER:
            raise LongtailError(f"compress.method distill learns from the reference: set compress.loss to "
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
    bootstrap: int  # resamples of the Hedges' g confidence interval
    control_draws: int  # random test subsets of the CIE set's size in the sanity control
    bins: int  # histogram bins

    def check(self, section):
        from longtail.stats import STATISTICS

        choose(f"{section}.statistic", self.statistic, STATISTICS)
        check_range(f"{section}.alpha", self.alpha, 0, 1, low_open=True, high_open=True)
        check_range(f"{section}.bootstrap", self.bootstrap, 100)
        check_range(f"{section}.control_draws", self.control_draws, 10)
        check_range(f"{section}.bins", self.bins, 1)


def check_statistic(params: dict) -> None:
    """Refuse the seed paper's mean_influence with fixed_size masks before any work: summed over the
    training examples, influence[i, j]'s two masked averages cancel except through the spread of the
    subset sizes (README), and fixed_size subsets all have the same size. Each stage checks its own
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

    def check(self, section):
        super().check(section)
        check_range(f"{section}.alpha", self.alpha, 0, 1, low_open=True, high_open=True)


@dataclass(frozen=True)
class Consistency(TrialSet):
    """Feldman & Zhang's consistency check: trials of a second architecture (arch, count) on the same data."""


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans and floats. DVC writes params.yaml (`dvc exp
    run -S trials.compile=off -S trials.weight_decay=5e-4`) with ruamel.yaml, a YAML 1.2 library:
    it leaves `off`, `on`, `yes` and `no` unquoted as strings, and writes 5e-4 as a float, where
    YAML 1.1 reads booleans and the string '5e-4'."""


_BOOL, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(  # YAML 1.2 core schema floats (an integer stays an integer)
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def _mapping(loader, node, deep=False):
    """A mapping whose keys are unique: YAML would keep the last of two `trials:` sections silently."""
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise LongtailError(f"{key!r} is given twice (line {key_node.start_mark.line + 1}): keep one")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_Yaml12Loader.construct_mapping = _mapping

# The sections of params.yaml, each with the dataclasses whose keys make it up; a stage reads one
# of them, or a view (a dataclass with some of the keys). The shared seed and device are top-level.
SECTIONS = {"data": (Data,), "trials": (Trials, Fit), "estimate": (Estimate,), "reference": (Reference,),
            "compress": (Compress,), "ttest": (Ttest,), "pie": (Pie,), "consistency": (Consistency,)}
TOP_LEVEL = ("seed", "device", *SECTIONS)


def keys(name: str) -> list[str]:
    """Every key of section `name`, in the order of its dataclasses' fields."""
    return [f.name for cls in SECTIONS[name] for f in dataclasses.fields(cls)]


def load_yaml(text: str):
    """YAML as DVC reads and writes it (YAML 1.2 booleans and floats), duplicate keys refused."""
    return yaml.load(text, Loader=_Yaml12Loader)


def read(path="params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"params file {path} not found: run from the repository root or pass --params")
    try:
        params = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LongtailError(f"{path} is not valid YAML: {e}") from None
    except LongtailError as e:
        raise LongtailError(f"{path}: {e}") from None
    if not isinstance(params, dict):
        raise LongtailError(f"{path} must be a mapping of sections, found {type(params).__name__}")
    for key in params:
        if key not in TOP_LEVEL:
            near = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known sections: {', '.join(TOP_LEVEL)}"
            raise LongtailError(f"{path}: unknown section {key!r}{hint}")
    return params


def _typed(key: str, value, kind: type):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LongtailError(f"{key} = {value!r} must be of type {kind.__name__}")
    if kind is float and not math.isfinite(value):
        raise LongtailError(f"{key} = {value!r} must be a finite number")
    return value


def _value(key: str, value, field: dataclasses.Field):
    """A param's value checked against its field's type; a field marked "list" also takes a list,
    one marked "optional" also null (None)."""
    kind = field.metadata.get("kind", field.type)
    if field.metadata.get("optional") and value is None:
        return None
    if field.metadata.get("list") and isinstance(value, list):
        return tuple(_typed(f"{key}[{i}]", v, kind) for i, v in enumerate(value))
    return _typed(key, value, kind)


def section(params: dict, name: str, cls):
    """The dataclass `cls` (section `name`, or a view of it), built from params[name] and checked.
    The whole section is checked for keys it does not know and for keys it lacks."""
    if name not in SECTIONS:
        raise LongtailError(f"unknown params section {name!r}; known sections: {', '.join(SECTIONS)}")
    raw = params.get(name)
    if not isinstance(raw, dict):
        raise LongtailError(f"params section {name!r} is missing or not a mapping")
    known = keys(name)
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(known)}"
            raise LongtailError(f"unknown param {name}.{key}{hint}")
    if missing := [key for key in known if key not in raw]:
        raise LongtailError(f"params section {name!r} lacks {', '.join(missing)}: every knob is set in params.yaml "
                            "(see the repository's params.yaml for each one's meaning and value)")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if extra := set(fields) - set(known):
        raise LongtailError(f"{cls.__name__} reads {', '.join(sorted(extra))}, which section {name!r} has not")
    result = cls(**{k: _value(f"{name}.{k}", raw[k], f) for k, f in fields.items()})
    result.check(name)
    return result


def _top(params: dict, key: str, kind: type):
    if key not in params:
        raise LongtailError(f"params lack `{key}`: set it at the top of params.yaml (see the repository's)")
    return _typed(key, params[key], kind)


def seed(params: dict) -> int:
    value = _top(params, "seed", int)
    check_range("seed", value, 0)  # numpy's generators take non-negative seeds only
    return value


def device(params: dict) -> str:
    value = _top(params, "device", str)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
        raise LongtailError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps")
    return value


def check_all(params: dict) -> None:
    """Every section as the stages read it, the top-level keys and the cross-section rule: what
    stages/check.py runs before any stage of the pipeline, so that a misspelt name or a bad value
    stops the run before DVC removes a single output."""
    seed(params)
    device(params)
    for name, classes in SECTIONS.items():
        for cls in classes:
            section(params, name, cls)
    check_statistic(params)
