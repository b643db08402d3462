"""The run's figures (report.md embeds them; plots/ keeps them as PNG): the paper's Figures 1 and 3
to 6 and the run's own (most influential pairs, memorization, its stability, training curves)."""

import numpy as np

from longtail.estimate import influence
from longtail.report import plots

PAIRS_SHOWN = 4  # pairs per row of Figure 1
TOP_TESTS, TOP_TRAIN = 4, 4  # test examples and their most influential training examples
TOP_SHIFTED = 8  # the most shifted test examples shown (Hooker et al. 2020's audit)


def figures(matrix: np.ndarray, arrays: dict[str, np.ndarray], metrics: dict[str, dict], images: tuple, stability,
            phases: dict, *, bins: int, alpha: float) -> dict[str, tuple[str, object]]:
    """file name -> (caption, figure). matrix: the influence matrix (a memory map is read a block of
    rows at a time); arrays: memorization, the mean and max influences, and data/pie/shift.npz's
    shift and votes; metrics: each stage's
    metrics file by name; images: (x_train, y_train, x_test, y_test); stability: (trials, jaccard);
    phases: the training curves by phase (curves.read)."""
    ttest = {k: r for k, r in metrics["ttest"].items() if isinstance(r, dict)}
    rows = influence.default_chunk_rows(matrix.shape[1])
    extremes = influence.extreme_pairs((matrix[s : s + rows] for s in range(0, len(matrix), rows)), PAIRS_SHOWN)
    strongest = plots.most_influential(matrix, arrays["test_max_influence"], TOP_TESTS, TOP_TRAIN)
    statistic = metrics["ttest"]["statistic"]
    return {
        "influence_pairs.png": ("Pairs at the most negative, near-zero and most positive influence (Figure 1)",
                                plots.influence_pairs_figure(extremes, *images)),
        "most_influential.png": ("Test examples and their most influential training examples",
                                 plots.most_influential_figure(strongest, *images, arrays["memorization"])),
        "test_mean_influence.png": ("Mean influence on each test example (Figure 3)", plots.histogram_figure(
            arrays["test_mean_influence"], bins, xlabel="test_mean_influence", title="Mean influence on each test example",
            marks={f"{k} mean": r["mean"] for k, r in ttest.items()} if statistic == "mean_influence" else None)),
        "train_mean_influence.png": ("Mean influence of each training example (Figure 5)", plots.histogram_figure(
            arrays["train_mean_influence"], bins, xlabel="train_mean_influence",
            title="Mean influence of each training example")),
        "memorization.png": ("Memorization of each training example", plots.histogram_figure(
            arrays["memorization"], bins, xlabel="memorization", title="Memorization of each training example")),
        "ttest.png": (f"Are the groups more influenced? Q1, Q2 and the paper's t, {statistic} (Figure 4)",
                      plots.questions_figure({"this run": ttest}, statistic=statistic, alpha=alpha)),
        "memorization_stability.png": ("How the most memorized set settles as trials are added",
                                       plots.stability_figure(*stability, k=metrics["estimate"]["stability_k"])),
        "training_curves.png": ("Training curves of the reference and of the compression (dvclive/)",
                                plots.curves_figure(phases)),
        "cie_counts.png": ("CIE and PIE counts (Figure 6)", plots.grouped_bars(
            {"this run": {k: metrics["cie"][k] for k in ("cie", "cie_u", "cie_c", "cie_both_wrong")}
             | {k: metrics["pie"][k] for k in ("pie", "shifted")}}, ylabel="test examples",
            title="Compression impacted exemplars")),
        "most_shifted.png": ("The most shifted test examples, graded CIEs (Hooker et al. 2020)",
                             plots.shifted_figure(most_shifted(arrays, TOP_SHIFTED), images[2], images[3])),
    }


def most_shifted(arrays: dict[str, np.ndarray], k: int) -> list[tuple]:
    """The k test examples of largest shift (ties to the smaller index), each as (index, shift, the
    reference population's modal label and its share of the votes, the compressed population's)."""
    ref, comp = arrays["reference_votes"], arrays["compressed_votes"][-1]
    return [(int(i), float(arrays["shift"][i]), int(ref[i].argmax()), float(ref[i].max()), int(comp[i].argmax()),
             float(comp[i].max())) for i in np.argsort(-arrays["shift"], kind="stable")[:k]]
