"""Where every artifact lives and what it is called, written once: each stage's inputs and outputs.
The stage scripts take their option defaults from here, artifacts names the stage that writes a
file from here, and `longtail deps` writes dvc.yaml from here (a test fails where dvc.yaml was
edited by hand). A leaf: the library's modules take their array names from it, and it imports none
of them, so that a change to a path never reruns a stage's science.

A path is a plain string, as dvc.yaml writes it; `${section.key}` is a param DVC fills in."""

from dataclasses import dataclass

# What each trial says of each example (estimate.target): its 0/1 correctness, and the soft targets
# the trials record beside it (training.label_scores).
TARGETS = ("correct", "probability", "margin")
SOFT_TARGETS = TARGETS[1:]
SOFT = tuple(f"{side}_{target}" for side in ("train", "test") for target in SOFT_TARGETS)

# The per-test-example statistics ttest can compare (ttest.statistic): the estimate writes each one
# as test_<name>.npy and its influence-free draws (estimate.null) as test_<name>_null.npy, whose means
# are the null values (by counts for 0/1 targets: not joint; the influence_free stage's are).
STATISTICS = ("mean_influence", "max_influence", "top_memorization")


def statistic_file(name: str) -> str:
    return f"test_{name}.npy"


def null_file(name: str) -> str:
    return f"test_{name}_null.npy"


# The estimate's arrays (data/influence/<name>.npy, docs/DESIGN.md), the matrix aside.
PER_TRAIN = ("memorization", "memorization_se", "train_mean_influence", "data_oob", "data_oob_se", "banzhaf",
             "banzhaf_se")
ESTIMATES = (*PER_TRAIN, *(statistic_file(s)[:-4] for s in STATISTICS), *(null_file(s)[:-4] for s in STATISTICS))

CHECKED = "data/params.checked"
RAW = "${data.root}/${data.dataset}"  # the dataset's own folder, whatever data.dataset is
NETWORKS = "models"  # the users' network files (models/FILE.py:FUNCTION), a dep of every stage that builds networks
PREPARED = "data/prepared"
TRIALS = "data/trials"
INFLUENCE = "data/influence"
CONSISTENCY_TRIALS = "data/consistency/trials"
CONSISTENCY_INFLUENCE = "data/consistency/influence"
REFERENCE = "data/reference/model.pt"
COMPRESS = "data/compress"
CIE = "data/cie"
REFERENCE_POPULATION = "data/reference_population/models.pt"
REFERENCE_EPOCHS = "data/reference_population/epochs.npz"  # each member's test predictions per epoch
POPULATIONS = "data/populations"
PIE = "data/pie"
HARM = "data/harm"
JOINT_NULL = "data/influence_free/draws.npz"  # the joint draws of the tested and sampled test examples
METRICS = "metrics"
PLOTS = "plots"
REPORT = "report.md"
STABILITY = "plots/memorization_stability.csv"
ENVIRONMENT = "metrics/environment.json"  # the machine and software of the run (environment.py)


def metrics(name: str) -> str:
    """A stage's metrics file, metrics/<name>.json."""
    return f"{METRICS}/{name}.json"


def live(phase: str) -> str:
    """The DVCLive folder of a stage's training curves."""
    return f"dvclive/{phase}"


def prepared_files(folder: str = PREPARED) -> tuple[str, ...]:
    return f"{folder}/train.npz", f"{folder}/test.npz"


def trial_files(folder: str, targets: tuple[str, ...] = SOFT) -> tuple[str, ...]:
    """The trials' arrays (masks, 0/1 correctness, `targets` of the soft ones) and until.json."""
    return (*(f"{folder}/{name}.npy" for name in ("masks", "train_correct", "test_correct", *targets)),
            f"{folder}/until.json")


def estimate_files(folder: str) -> tuple[str, ...]:
    return (f"{folder}/influence.npy", *(f"{folder}/{name}.npy" for name in ESTIMATES),
            f"{folder}/high_influence_pairs.csv")


@dataclass(frozen=True)
class Stage:
    """One stage of dvc.yaml: `script` (stages/<script>.py) run with `options`; what it reads
    besides its code (`deps`: files and folders) and writes: `outs` (DVC-cached), `kept` (kept in
    git, cache: false), `metrics`, its DVCLive folder `curves`. `about`: its comment in dvc.yaml."""

    script: str
    about: str = ""
    options: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    curves: str | None = None
    persist: bool = False  # DVC leaves the outputs in place while the stage runs (check's)


def _trials(folder: str, curves: str, options=()) -> Stage:
    return Stage("train_trials", options=options, deps=prepared_files(), outs=trial_files(folder), curves=curves)


def _fit(folder: str, metrics: str, options=()) -> Stage:
    return Stage("fit", options=options, deps=trial_files(folder, ()), metrics=(metrics,),
                 about="Did the trials fit their subsets (trials.fit_threshold)? A summary: changing the threshold "
                       "retrains nothing." if not options else "")


def _estimate(trials: str, folder: str, metrics: str, stability: str, options=()) -> Stage:
    outs = (*estimate_files(folder), *((stability,) if stability.startswith(folder) else ()))
    return Stage("estimate", options=options, deps=(*prepared_files(), *trial_files(trials)[:-1]), outs=outs,
                 kept=() if stability.startswith(folder) else (stability,), metrics=(metrics,))


# The pipeline, stage by stage, in the order dvc.yaml lists them.
STAGES = {
    "check": Stage(
        "check", deps=("params.yaml",), outs=(CHECKED,), persist=True,
        about="params.yaml checked whole before any stage runs: a misspelt name stops the run here with one line, "
              "before DVC removes an output or resolves a dep named after a param. Its output never changes, so a "
              "passing check reruns nothing."),
    "prepare": Stage(
        "prepare", deps=(CHECKED, RAW), outs=prepared_files(),
        about=f"The dataset's own folder ({RAW}) is a dep: a replaced file reruns prepare, and DVC's run-cache never "
              "restores arrays made from other files (data/raw/README.md)."),
    "train_trials": _trials(TRIALS, live("trials")),
    "fit": _fit(TRIALS, f"{METRICS}/trials.json"),
    "estimate": _estimate(TRIALS, INFLUENCE, f"{METRICS}/estimate.json", STABILITY),
    "consistency_trials": _trials(
        CONSISTENCY_TRIALS, live("consistency_trials"),
        ("--arch ${consistency.arch}", "--count ${consistency.count}", "--stream 1",
         f"--out-dir {CONSISTENCY_TRIALS}", f"--live {live('consistency_trials')}")),
    "consistency_fit": _fit(CONSISTENCY_TRIALS, f"{METRICS}/consistency_trials.json",
                            (f"--trials-dir {CONSISTENCY_TRIALS}", f"--metrics {METRICS}/consistency_trials.json")),
    "consistency_estimate": _estimate(
        CONSISTENCY_TRIALS, CONSISTENCY_INFLUENCE, f"{METRICS}/consistency_estimate.json",
        f"{CONSISTENCY_INFLUENCE}/memorization_stability.csv",
        (f"--trials-dir {CONSISTENCY_TRIALS}", f"--out-dir {CONSISTENCY_INFLUENCE}",
         f"--metrics {METRICS}/consistency_estimate.json",
         f"--stability {CONSISTENCY_INFLUENCE}/memorization_stability.csv")),
    "consistency": Stage(
        "consistency",
        deps=(*(f"{folder}/{name}" for folder in (INFLUENCE, CONSISTENCY_INFLUENCE)
                for name in ("memorization.npy", "high_influence_pairs.csv")),
              f"{TRIALS}/until.json", f"{CONSISTENCY_TRIALS}/until.json"),
        metrics=(f"{METRICS}/consistency.json",),
        about="Feldman & Zhang's consistency check: independent trials of a second architecture (stream 1 of the "
              "seed: other masks, initialisations and data orders; the trials recipe), their estimates, and the "
              "comparison with the main ones."),
    "reference": Stage("reference", deps=prepared_files(), outs=(REFERENCE,), curves=live("reference")),
    "compress": Stage("compress", deps=(REFERENCE, *prepared_files()),
                      outs=(f"{COMPRESS}/reference_pred.npy", f"{COMPRESS}/compressed_pred.npy"),
                      metrics=(f"{METRICS}/compress.json",), curves=live("compress")),
    "cie": Stage("cie", deps=(f"{COMPRESS}/reference_pred.npy", f"{COMPRESS}/compressed_pred.npy", *prepared_files()),
                 outs=(f"{CIE}/masks.npz",), metrics=(f"{METRICS}/cie.json",)),
    "reference_population": Stage(
        "reference_population", deps=prepared_files(), outs=(REFERENCE_POPULATION, REFERENCE_EPOCHS),
        curves=live("reference_population"),
        about="Pruning identified exemplars (Hooker et al. 2019): pie.population reference models and as many "
              "compressed ones (each from its own reference), trained with the reference and compress params."),
    "populations": Stage("populations", deps=(*prepared_files(), REFERENCE_POPULATION),
                         outs=(f"{POPULATIONS}/predictions.npz",), metrics=(f"{METRICS}/populations.json",),
                         curves=live("populations")),
    "pie": Stage("pie", deps=(f"{POPULATIONS}/predictions.npz", *prepared_files()),
                 outs=(f"{PIE}/masks.npz", f"{PIE}/shift.npz"), metrics=(f"{METRICS}/pie.json",)),
    "influence_free": Stage(
        "influence_free", deps=(*trial_files(TRIALS)[:-1], f"{INFLUENCE}/memorization.npy", f"{CIE}/masks.npz",
                                f"{PIE}/masks.npz"), outs=(JOINT_NULL,),
        about="The joint influence-free draws of the tested test examples and a uniform sample of the rest: the two "
              "questions' noise and harm's test (estimate.null_sample)."),
    "ttest": Stage(
        "ttest",
        deps=(f"{TRIALS}/test_correct.npy", f"{METRICS}/estimate.json",
              *(f"{INFLUENCE}/{statistic_file(s)}" for s in STATISTICS),
              *(f"{INFLUENCE}/{null_file(s)}" for s in STATISTICS), JOINT_NULL, f"{CIE}/masks.npz", f"{PIE}/masks.npz",
              *prepared_files()),
        kept=(f"{PLOTS}/cie_counts.csv", f"{PLOTS}/ttest.csv"), metrics=(f"{METRICS}/ttest.json",)),
    "harm": Stage(
        "harm",
        deps=(*prepared_files(), REFERENCE, REFERENCE_EPOCHS, f"{TRIALS}/test_correct.npy",
              *(f"{INFLUENCE}/{statistic_file(s)}" for s in STATISTICS),
              JOINT_NULL, f"{CIE}/masks.npz", f"{PIE}/masks.npz", f"{PIE}/shift.npz"),
        outs=(f"{HARM}/signals.npz",), metrics=(f"{METRICS}/harm.json",),
        about="Does memorization predict compression's harm beyond cheap signals (analysis.harm)?"),
    "report": Stage(
        "report",
        deps=(*prepared_files(), f"{INFLUENCE}/influence.npy",
              *(f"{INFLUENCE}/{name}.npy" for name in ("memorization", "test_mean_influence", "train_mean_influence",
                                                       "test_max_influence")),
              STABILITY, f"{PIE}/shift.npz", *(f"{METRICS}/{name}.json" for name in
                           ("trials", "estimate", "compress", "cie", "ttest", "pie", "harm", "consistency")),
              *(f"{live(phase)}/{name}" for phase in ("reference", "compress")
                for name in ("metrics.json", "plots/metrics"))),
        kept=(REPORT, ENVIRONMENT, *(f"{PLOTS}/{name}.png" for name in (
            "influence_pairs", "most_influential", "test_mean_influence", "train_mean_influence", "memorization",
            "ttest", "cie_counts", "most_shifted", "memorization_stability", "training_curves")),
              *(f"{PLOTS}/{name}.csv" for name in ("test_mean_influence", "train_mean_influence", "memorization"))),
        about="The figures and report.md, from every stage's outputs (drawing only: seconds)."),
}


# What `dvc plots show` draws beside each stage's own curves (dvc.yaml's top-level plots).
PLOTS_SHOWN = [
    {"Mean influence on each test example (Figure 3; count axis symlog)": {
        "template": "histogram_log", "x": "test_mean_influence", "y": {f"{PLOTS}/test_mean_influence.csv": "count"}}},
    {"Mean influence of each training example (Figure 5; count axis symlog)": {
        "template": "histogram_log", "x": "train_mean_influence", "y": {f"{PLOTS}/train_mean_influence.csv": "count"}}},
    {"Memorization of each training example (count axis symlog)": {
        "template": "histogram_log", "x": "memorization", "y": {f"{PLOTS}/memorization.csv": "count"}}},
    {"How the most memorized set settles as trials are added (Jaccard with all trials)": {
        "x": "trials", "y": {STABILITY: "jaccard"}}},
    {"CIE and PIE counts (Figure 6)": {"template": "bar_horizontal", "x": "count", "y": {f"{PLOTS}/cie_counts.csv": "type"}}},
    {"Student's t per group (Figure 4)": {"template": "bar_horizontal", "x": "t", "y": {f"{PLOTS}/ttest.csv": "group"}}},
    f"{PLOTS}/influence_pairs.png",
    f"{PLOTS}/most_influential.png",
]


def writes(stage: Stage) -> tuple[str, ...]:
    """Everything `stage` writes: its outputs, metrics and curves' folder."""
    return (*stage.outs, *stage.kept, *stage.metrics, *((stage.curves,) if stage.curves else ()))


def writer(path) -> str:
    """The stage that writes `path` (a file, or a folder of them, wherever the project is), for the
    message that says what to rerun; "<stage>" where no stage does."""
    path = "/" + str(path).replace("\\", "/").strip("/")
    for name, stage in STAGES.items():
        if any(path.endswith("/" + p) or ("/" + p).startswith(path + "/") for p in writes(stage)):
            return name
    for part in reversed(path.split("/")):  # a folder of another place, named as a stage's (data/trials)
        for name, stage in STAGES.items():
            if any(f"/{part}/" in f"/{p}" for p in stage.outs):
                return name
    return "<stage>"
