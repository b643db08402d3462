import dataclasses
import pytest
import yaml

from longtail import LongtailError, params


SECTIONS = [(name, cls) for name, classes in params.SECTIONS.items() for cls in classes]
# The views the stages read: some of a section's keys, so that DVC reruns a stage only for those.
VIEWS = [("trials", params.Fit), ("trials", params.TrialSet), ("reference", params.Recipe), ("pie", params.Population)]


@pytest.fixture
def defaults(root):
    return params.read(root / "params.yaml")


def test_the_shipped_params_are_valid(defaults):
    for name, cls in SECTIONS + VIEWS:
        params.section(defaults, name, cls)
    assert params.seed(defaults) == 0 and params.device(defaults) == "auto"


def test_params_yaml_has_every_key_of_each_section_and_the_code_no_default(defaults):
    assert list(defaults) == list(params.TOP_LEVEL)
    for name in params.SECTIONS:
        assert sorted(defaults[name]) == sorted(params.keys(name)), name
    for _, cls in SECTIONS + VIEWS:  # a value comes from params.yaml or nowhere
        assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(cls)), cls


def test_a_view_reads_only_its_keys_but_the_whole_section_is_checked(defaults):
    assert params.section(defaults, "trials", params.Fit) == params.Fit(fit_threshold=0.99)
    with pytest.raises(LongtailError, match="unknown param trials.conut"):
        params.section(defaults | {"trials": defaults["trials"] | {"conut": 5}}, "trials", params.Fit)
    with pytest.raises(LongtailError, match="Estimate reads dtype, holdout, null_draws, pair_influence, pair_memorization, reliability_splits, target, "
                                                "which section "
                                            "'trials' has not"):
        params.section(defaults, "trials", params.Estimate)
    with pytest.raises(LongtailError, match="unknown params section 'trails'"):
        params.section(defaults, "trails", params.Fit)


def test_seed_and_device_must_be_set(defaults):
    for key in ("seed", "device"):
        with pytest.raises(LongtailError, match=f"params lack `{key}`: set it at the top of params.yaml"):
            getattr(params, key)({k: v for k, v in defaults.items() if k != key})


@pytest.mark.parametrize("section, key, value, message", [
    ("data", "dataset", "imagenet", "unknown data.dataset 'imagenet'; choose one of: digits, synthetic"),
    ("trials", "subset_ratio", 1.0, r"trials.subset_ratio = 1.0 is out of range; it must satisfy 0 < trials.subset_ratio < 1"),
    ("trials", "subset_ratio", 0, "trials.subset_ratio = 0"),
    ("trials", "count", 1, r"trials.count = 1 is out of range; it must satisfy 2 <= trials.count"),
    ("trials", "count", 2.5, "trials.count = 2.5 must be of type int"),
    ("trials", "arch", "resnet9000", "unknown trials.arch 'resnet9000'; choose one of: mlp, mlp512, cnn"),
    ("trials", "mask", "poisson", "choose one of: bernoulli, fixed_size"),
    ("data", "flip_labels", 0.6, r"data.flip_labels = 0.6 is out of range; it must satisfy 0 <= data.flip_labels <= 0.5"),
    ("data", "flip_labels", -0.1, "data.flip_labels = -0.1 is out of range"),
    ("data", "flip_labels", "5%", "data.flip_labels = '5%' must be of type float"),
    ("data", "train_size", -3, r"data.train_size = -3 is out of range; it must satisfy 1 <= data.train_size"),
    ("data", "test_size", "all", "data.test_size = 'all' must be of type int"),
    ("trials", "schedule", "cosine", "unknown trials.schedule 'cosine'; choose one of: linear, constant"),
    ("trials", "nesterov", "yes", "trials.nesterov = 'yes' must be of type bool"),
    ("trials", "drop_last", 1, "trials.drop_last = 1 must be of type bool"),
    ("trials", "init", "xavier", "unknown trials.init 'xavier'; choose one of: torch, glorot_normal"),
    ("reference", "init", "he", "unknown reference.init 'he'; choose one of: torch, glorot_normal"),
    ("compress", "schedule", "step", "unknown compress.schedule 'step'"),
    ("compress", "loss", "fcoal", "unknown compress.loss 'fcoal'; choose one of: ce, focal, kd, multipart, softadapt, none"),
    ("compress", "method", "prune", "unknown compress.method 'prune'; choose one of: group_sparsity, magnitude, quantize, distill"),
    ("compress", "sparsity", 1.0, "compress.sparsity = 1.0 is out of range"),
    ("compress", "sparsity", [0.5, 1.2], "compress.sparsity = 1.2 is out of range"),
    ("compress", "sparsity", [0.5, "x"], r"compress.sparsity\[1\] = 'x' must be of type float"),
    ("compress", "sparsity", [], "compress.sparsity is an empty list"),
    ("compress", "target_flops", 0.0, r"it must satisfy 0 < compress.target_flops <= 1"),
    ("compress", "target_flops", 1.5, r"it must satisfy 0 < compress.target_flops <= 1"),
    ("compress", "width", 1.5, r"it must satisfy 0 < compress.width <= 1"),
    ("compress", "loss", "none", "compress.method group_sparsity fine-tunes with a recovery loss"),
    ("estimate", "dtype", "float64", "choose one of: float16, float32"),
    ("trials", "conut", 5, "unknown param trials.conut; did you mean 'count'?"),
    ("compress", "softadapt_variant", "raw", "unknown compress.softadapt_variant 'raw'; choose one of: normalized, "
                                             "loss_weighted"),
    ("estimate", "null_draws", 1, r"it must satisfy 2 <= estimate.null_draws"),
    ("ttest", "statistic", "median_influence", "unknown ttest.statistic 'median_influence'; choose one of: "
                                               "mean_influence, max_influence, top_memorization"),
])
def test_bad_values_are_refused_with_what_to_fix(defaults, section, key, value, message):
    cls = {"data": params.Data, "trials": params.Trials, "reference": params.Reference, "compress": params.Compress,
           "estimate": params.Estimate, "ttest": params.Ttest}[section]
    bad = defaults | {section: defaults[section] | {key: value}}
    with pytest.raises(LongtailError, match=message):
        params.section(bad, section, cls)


def test_the_papers_statistic_is_refused_with_fixed_size_masks_and_allowed_otherwise(defaults):
    params.check_statistic(defaults)
    paper = defaults | {"ttest": defaults["ttest"] | {"statistic": "mean_influence"}}
    params.check_statistic(paper)  # bernoulli masks: subset sizes vary, the statistic is their slope
    with pytest.raises(LongtailError, match="cannot be tested with trials.mask fixed_size.*Choose ttest.statistic "
                                            "max_influence or top_memorization"):
        params.check_statistic(paper | {"trials": paper["trials"] | {"mask": "fixed_size"}})
    params.check_statistic(defaults | {"trials": defaults["trials"] | {"mask": "fixed_size"}})


@pytest.mark.parametrize("method, loss, message", [
    ("quantize", "ce", "compress.method quantize is post-training, with no fine-tuning: set compress.loss to none"),
    ("quantize", "kd", "set compress.loss to none"),
    ("distill", "ce", "compress.method distill learns from the reference: set compress.loss to one that uses it"),
    ("magnitude", "none", "set compress.loss to one of: ce, focal"),
])
def test_method_and_loss_pairs_that_make_no_sense_are_refused(defaults, method, loss, message):
    bad = defaults | {"compress": defaults["compress"] | {"method": method, "loss": loss}}
    with pytest.raises(LongtailError, match=message):
        params.section(bad, "compress", params.Compress)


@pytest.mark.parametrize("method, loss", [("quantize", "none"), ("distill", "kd"), ("distill", "softadapt"),
                                          ("magnitude", "focal"), ("group_sparsity", "multipart")])
def test_sensible_pairs_pass(defaults, method, loss):
    cfg = params.section(defaults | {"compress": defaults["compress"] | {"method": method, "loss": loss}},
                         "compress", params.Compress)
    assert (cfg.method, cfg.loss) == (method, loss)


def test_a_sparsity_list_is_a_sweep(defaults):
    cfg = params.section(defaults | {"compress": defaults["compress"] | {"sparsity": [0.3, 0.5, 0.7, 0.9]}},
                         "compress", params.Compress)
    assert cfg.sparsities == (0.3, 0.5, 0.7, 0.9)
    assert params.section(defaults, "compress", params.Compress).sparsities == (0.95,)


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


def test_params_read_yaml_as_dvc_writes_it(tmp_path, defaults):
    """`dvc exp run -S trials.compile=off -S trials.weight_decay=5e-4` writes `compile: off` and
    `weight_decay: 5e-4` (ruamel.yaml, YAML 1.2): the string 'off' and the float 0.0005, not YAML
    1.1's False and '5e-4'."""
    (tmp_path / "params.yaml").write_text("trials:\n  compile: off\n  nesterov: false\n  augment: true\n"
                                          "  lr: 0.2\n  weight_decay: 5e-4\n  epochs: 3\n")
    loaded = params.read(tmp_path / "params.yaml")["trials"]
    assert loaded == {"compile": "off", "nesterov": False, "augment": True, "lr": 0.2, "weight_decay": 5e-4,
                      "epochs": 3}
    assert isinstance(loaded["epochs"], int)
    assert params.section({"trials": defaults["trials"] | loaded}, "trials", params.Trials).compile == "off"


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_float_param_must_be_finite(defaults, value):
    number = params.load_yaml(f"x: {value}")["x"]  # as params.yaml spells it
    for section, cls, key in [("trials", params.Trials, "lr"), ("trials", params.Fit, "fit_threshold"),
                              ("ttest", params.Ttest, "alpha"), ("compress", params.Compress, "target_flops")]:
        with pytest.raises(LongtailError, match=f"{section}.{key} = .* must be a finite number"):
            params.section(defaults | {section: defaults[section] | {key: number}}, section, cls)


def test_exponent_notation_is_a_number(tmp_path, defaults):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(defaults).replace("  lr: 0.2", "  lr: 1e-3", 1))
    assert params.section(params.read(tmp_path / "params.yaml"), "trials", params.Trials).lr == 0.001


@pytest.mark.parametrize("seed, message", [(-1, r"seed = -1 is out of range; it must satisfy 0 <= seed"),
                                           (1.5, "seed = 1.5 must be of type int"), ("x", "must be of type int")])
def test_the_seed_is_a_non_negative_integer(defaults, seed, message):
    with pytest.raises(LongtailError, match=message):
        params.seed(defaults | {"seed": seed})


def test_unknown_and_duplicate_sections_are_refused(tmp_path, root):
    text = (root / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text + "\ntrails:\n  count: 5\n")
    with pytest.raises(LongtailError, match="unknown section 'trails'; did you mean 'trials'?"):
        params.read(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text + "\ntrials:\n  count: 5\n")
    with pytest.raises(LongtailError, match=r"params.yaml: 'trials' is given twice \(line \d+\): keep one"):
        params.read(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text.replace("  count: 1000", "  count: 1000\n  count: 5", 1))
    with pytest.raises(LongtailError, match="'count' is given twice"):
        params.read(tmp_path / "params.yaml")


def test_a_section_lacking_a_key_is_refused_so_no_default_of_the_code_reaches_an_output(defaults):
    partial = defaults | {"trials": {k: v for k, v in defaults["trials"].items() if k not in ("lr", "init")}}
    with pytest.raises(LongtailError, match="params section 'trials' lacks lr, init: every knob is set in params.yaml"):
        params.section(partial, "trials", params.Trials)


@pytest.mark.parametrize("key, value, message", [
    ("device", "gpu0", "unknown device 'gpu0'; use auto, cpu, cuda, cuda:N or mps"),
    ("device", "cuda:x", "unknown device 'cuda:x'"),
    ("seed", -1, "seed = -1 is out of range"),
])
def test_check_all_refuses_a_bad_top_level_key(defaults, key, value, message):
    with pytest.raises(LongtailError, match=message):
        params.check_all(defaults | {key: value})


def test_check_all_checks_every_section_and_the_cross_section_rule(defaults):
    params.check_all(defaults)
    for name in params.SECTIONS:  # a misspelt knob in any section
        first = params.keys(name)[0]
        bad = defaults | {name: defaults[name] | {first + "x": 1}}
        with pytest.raises(LongtailError, match=f"unknown param {name}.{first}x; did you mean '{first}'"):
            params.check_all(bad)
    rule = defaults | {"trials": defaults["trials"] | {"mask": "fixed_size"},
                       "ttest": defaults["ttest"] | {"statistic": "mean_influence"}}
    with pytest.raises(LongtailError, match="mean_influence cannot be tested with trials.mask fixed_size"):
        params.check_all(rule)


def test_an_unknown_name_is_answered_with_every_name_and_the_nearest_one():
    with pytest.raises(LongtailError, match=r"^unknown compress.loss 'fcoal'; choose one of: ce, focal, kd "
                                            r"\(did you mean 'focal'\?\)$"):
        params.choose("compress.loss", "fcoal", ("ce", "focal", "kd"))
    with pytest.raises(LongtailError, match=r"\(did you mean 'focal'\?\)$"):  # the case is a misspelling too
        params.choose("compress.loss", "FOCAL", ("ce", "focal", "kd"))
    with pytest.raises(LongtailError, match=r"choose one of: ce, focal, kd$"):  # nothing near: no guess
        params.choose("compress.loss", "zzzzzz", ("ce", "focal", "kd"))
