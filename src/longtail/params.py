"""params.yaml, read and checked before any work starts.

Each stage reads the sections it uses into a frozen dataclass. Unknown keys, wrong types and values
out of range raise LongtailError with the key, the value and what is allowed.
"""

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from longtail import LongtailError

DTYPES = ("float16", "float32")
SELECT = ("last", "best_test")

# Each name registry lives beside the code it names (models.ARCHS, losses.LOSSES, ...), imported in
# the checks below so that only the stages that train load torch.


def choose(key: str, value: str, choices) -> None:
    if value not in choices:
        raise LongtailError(f"unknown {key} {value!r}; choose one of: {', '.join(choices)}")


def check_range(key: str, value, low=None, high=None, *, low_open=False, high_open=False) -> None:
    """Raise unless low <= value <= high (with < where the bound is open)."""
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise LongtailError(f"{key} = {value!r} is out of range; it must satisfy {lo}{key}{hi}")


@dataclass(frozen=True)
class Data:
    dataset: str = "digits"
    test_fraction: float = 0.2  # digits and synthetic only; torchvision sets have their own split
    root: str = "data/raw"
    download: bool = False

    def check(self):
        from longtail.data import DATASETS

        choose("data.dataset", self.dataset, DATASETS)
        check_range("data.test_fraction", self.test_fraction, 0, 1, low_open=True, high_open=True)


@dataclass(frozen=True)
class Recipe:
    """How training.train runs: SGD with Nesterov momentum, learning rate decayed linearly to zero."""

    epochs: int = 25
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = False  # random crops (padding 4) and horizontal flips, for CIFAR

    def check(self, section, min_epochs=1):
        check_range(f"{section}.epochs", self.epochs, min_epochs)
        check_range(f"{section}.batch_size", self.batch_size, 1)
        check_range(f"{section}.lr", self.lr, 0, low_open=True)
        check_range(f"{section}.momentum", self.momentum, 0, 1, high_open=True)
        check_range(f"{section}.weight_decay", self.weight_decay, 0)

    def recipe(self) -> dict:
        """The keyword arguments of training.train."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Recipe)}


@dataclass(frozen=True)
class Training(Recipe):
    """A model trained from scratch: by each trial and by the reference."""

    arch: str = "mlp"

    def check(self, section):
        from longtail.models import ARCHS

        choose(f"{section}.arch", self.arch, ARCHS)
        super().check(section)


@dataclass(frozen=True)
class Trials(Training):
    count: int = 1000
    mask: str = "bernoulli"
    subset_ratio: float = 0.7
    fit_threshold: float = 0.99  # accuracy on its own subset that a trial must reach to count as fit
    models_per_step: int = 64  # trials trained at once by the batched engine
    compile: str = "default"  # off | default | max-autotune: torch.compile each training step
    select: str = "last"  # last | best_test: the weights of the epoch with the best test accuracy

    def check(self):
        from longtail.engine import COMPILE_MODES
        from longtail.trials import MASKS

        super().check("trials")
        check_range("trials.count", self.count, 2)
        choose("trials.mask", self.mask, MASKS)
        check_range("trials.subset_ratio", self.subset_ratio, 0, 1, low_open=True, high_open=True)
        check_range("trials.fit_threshold", self.fit_threshold, 0, 1)
        check_range("trials.models_per_step", self.models_per_step, 1)
        choose("trials.select", self.select, SELECT)
        choose("trials.compile", self.compile, COMPILE_MODES)


@dataclass(frozen=True)
class Reference(Training):
    def check(self):
        super().check("reference")


@dataclass(frozen=True)
class Estimate:
    dtype: str = "float32"
    pair_influence: float = 0.15
    pair_memorization: float = 0.25

    def check(self):
        choose("estimate.dtype", self.dtype, DTYPES)
        check_range("estimate.pair_influence", self.pair_influence, -1, 1)
        check_range("estimate.pair_memorization", self.pair_memorization, -1, 1)


@dataclass(frozen=True)
class Compress(Recipe):
    method: str = "magnitude"
    sparsity: float = 0.95
    loss: str = "ce"
    focal_gamma: float = 2.0
    epochs: int = 3  # fine-tuning after pruning; 0 skips it
    lr: float = 0.01

    def check(self):
        from longtail.compression import METHODS
        from longtail.losses import LOSSES

        choose("compress.method", self.method, METHODS)
        check_range("compress.sparsity", self.sparsity, 0, 1, high_open=True)
        choose("compress.loss", self.loss, LOSSES)
        check_range("compress.focal_gamma", self.focal_gamma, 0)
        super().check("compress", min_epochs=0)


@dataclass(frozen=True)
class Ttest:
    bins: int = 50  # histogram bins of test_mean_influence

    def check(self):
        check_range("ttest.bins", self.bins, 1)


def read(path="params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"params file {path} not found: run from the repository root or pass --params")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LongtailError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(params, dict):
        raise LongtailError(f"{path} must be a mapping of sections, found {type(params).__name__}")
    return params


def _typed(key: str, value, kind: type):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LongtailError(f"{key} = {value!r} must be of type {kind.__name__}")
    return value


def section(params: dict, name: str, cls):
    """Build and check the dataclass `cls` from params[name]; keys it does not list are errors."""
    raw = params.get(name)
    if not isinstance(raw, dict):
        raise LongtailError(f"params section {name!r} is missing or not a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            near = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(fields)}"
            raise LongtailError(f"unknown param {name}.{key}{hint}")
    values = {k: _typed(f"{name}.{k}", v, type(fields[k].default)) for k, v in raw.items()}
    result = cls(**values)
    result.check()
    return result


def seed(params: dict) -> int:
    return _typed("seed", params.get("seed", 0), int)


def device(params: dict) -> str:
    return _typed("device", params.get("device", "auto"), str)
