import pytest
import yaml

from longtail import LongtailError, params


SECTIONS = [("data", params.Data), ("trials", params.Trials), ("reference", params.Reference),
            ("estimate", params.Estimate), ("compress", params.Compress), ("ttest", params.Ttest)]


@pytest.fixture
def defaults(root):
    return params.read(root / "params.yaml")


def test_the_shipped_params_are_valid(defaults):
    for name, cls in SECTIONS:
        params.section(defaults, name, cls)
    assert params.seed(defaults) == 0 and params.device(defaults) == "auto"


def test_params_yaml_lists_every_field_with_the_library_default(defaults):
    for name, cls in SECTIONS:
        assert defaults[name] == params.dataclasses.asdict(cls()), name


@pytest.mark.parametrize("section, key, value, message", [
    ("data", "dataset", "imagenet", "unknown data.dataset 'imagenet'; choose one of: digits, synthetic"),
    ("trials", "subset_ratio", 1.0, r"trials.subset_ratio = 1.0 is out of range; it must satisfy 0 < trials.subset_ratio < 1"),
    ("trials", "subset_ratio", 0, "trials.subset_ratio = 0"),
    ("trials", "count", 1, r"trials.count = 1 is out of range; it must satisfy 2 <= trials.count"),
    ("trials", "count", 2.5, "trials.count = 2.5 must be of type int"),
    ("trials", "arch", "resnet9000", "unknown trials.arch 'resnet9000'; choose one of: mlp, mlp512, cnn"),
    ("trials", "mask", "poisson", "choose one of: bernoulli, fixed_size"),
    ("compress", "loss", "fcoal", "unknown compress.loss 'fcoal'; choose one of: ce, focal"),
    ("compress", "sparsity", 1.0, "compress.sparsity = 1.0 is out of range"),
    ("estimate", "dtype", "float64", "choose one of: float16, float32"),
    ("trials", "conut", 5, "unknown param trials.conut; did you mean 'count'?"),
])
def test_bad_values_are_refused_with_what_to_fix(defaults, section, key, value, message):
    cls = {"data": params.Data, "trials": params.Trials, "compress": params.Compress, "estimate": params.Estimate}[section]
    bad = defaults | {section: defaults[section] | {key: value}}
    with pytest.raises(LongtailError, match=message):
        params.section(bad, section, cls)


def test_a_missing_params_file_says_where_to_run(tmp_path):
    with pytest.raises(LongtailError, match="not found"):
        params.read(tmp_path / "params.yaml")


def test_invalid_yaml_is_reported(tmp_path):
    (tmp_path / "params.yaml").write_text("data: [unclosed")
    with pytest.raises(LongtailError, match="not valid YAML"):
        params.read(tmp_path / "params.yaml")


def test_integers_are_accepted_where_floats_are_expected(defaults):
    cfg = params.section(defaults | {"compress": defaults["compress"] | {"focal_gamma": 3}}, "compress", params.Compress)
    assert cfg.focal_gamma == 3.0 and isinstance(cfg.focal_gamma, float)
    yaml.safe_dump(defaults)  # the file round-trips
