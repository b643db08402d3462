"""Figures as PNG (matplotlib) and the small tables DVC plots draw. Every function takes arrays and
returns a figure; `save` writes it."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = ("tab:red", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")


def histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, rounded to 6 decimals for the CSV `dvc plots` draws, counts) of the finite values."""
    counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
    return ((edges[:-1] + edges[1:]) / 2).round(6), counts


def histogram_figure(values: np.ndarray, bins: int, *, xlabel: str, title: str, marks: dict | None = None):
    """A histogram with a log count axis (the long tail is in the sparse bins), and optional
    vertical lines {label: x}, e.g. the means of the CIE groups."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.hist(values[np.isfinite(values)], bins=bins, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    for (label, x), color in zip((marks or {}).items(), COLORS):
        if x is not None:
            ax.axvline(x, color=color, linestyle="--", label=f"{label}: {x:.2g}")
    if marks:
        ax.legend(fontsize=8)
    ax.set(xlabel=xlabel, ylabel="count (log)", title=title)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))  # influences are ~1e-4: no crowded ticks
    fig.tight_layout()
    return fig


def grouped_bars(values: dict[str, dict[str, float | None]], *, ylabel: str, title: str):
    """One group of bars per outer key (an experiment, or the current run), one bar per inner key
    (a CIE type), the value printed on each bar (the seed paper's Figure 6). A missing value (None)
    leaves a gap."""
    groups = list(values)
    kinds = list(dict.fromkeys(k for inner in values.values() for k in inner))
    width = 0.8 / max(len(kinds), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(groups) * max(len(kinds), 1) * 0.5 + 2), 4), dpi=120)
    for n, (kind, color) in enumerate(zip(kinds, COLORS * 4)):
        xs = np.arange(len(groups)) + (n - (len(kinds) - 1) / 2) * width
        heights = [values[g].get(kind) for g in groups]
        bars = ax.bar(xs, [np.nan if h is None else h for h in heights], width, color=color, label=kind)
        for bar, group, h in zip(bars, groups, heights):
            if h is None:
                continue
            ax.annotate(f"{h:.3g}", (bar.get_x() + bar.get_width() / 2, h), ha="center",
                        va="bottom" if h >= 0 else "top", fontsize=7)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(np.arange(len(groups)), groups, rotation=20 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
    ax.set(ylabel=ylabel, title=title)
    ax.margins(y=0.15)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


QUESTIONS = (("excess", "Q1: beyond the estimator's noise", "excess over the influence-free null"),
             ("matched", "Q2: at equal difficulty", "difference at equal trial accuracy"),
             ("t", "the paper's Student t (raw statistic)", "Student's t"))


def questions_figure(results: dict[str, dict[str, dict]], *, statistic: str, alpha: float):
    """The ttest's answers side by side (report.md's Figure 4, make compare's compare_ttest.png): per
    group, Q1's and Q2's difference from the agreeing examples with its 95% interval, and the paper's
    Student t, confounded by the estimator's noise, beside them, never alone. One colour per row of
    `results` (this run, or each experiment: {label: {group: ttest result}}); a zero line; a star
    where p <= alpha (Benjamini-Hochberg adjusted where `p_bh` is given)."""
    labels = list(results)
    groups = list(dict.fromkeys(g for inner in results.values() for g in inner))
    width = 0.8 / max(len(labels), 1)
    fig, axes = plt.subplots(1, 3, figsize=(min(18, max(12, 0.6 * len(groups) * len(labels) + 6)), 4), dpi=120)
    for ax, (key, title, ylabel) in zip(axes, QUESTIONS):
        if key != "t":
            _interval_limits(ax, [(r.get(key) or {}) for inner in results.values() for r in inner.values()])
        for n, label in enumerate(labels):
            color = f"C{n % 10}"
            for x, group in zip(np.arange(len(groups)) + (n - (len(labels) - 1) / 2) * width, groups):
                r = results[label].get(group) or {}
                answer = r if key == "t" else r.get(key) or {}
                value = answer.get(key if key == "t" else "diff")
                if value is None:
                    continue
                p = answer.get("p_bh", answer.get("p"))
                if key == "t":
                    ax.bar(x, value, width, color=color, label=label if group == groups[0] else None)
                else:
                    ax.errorbar(x, value, yerr=[[value - answer["diff_low"]], [answer["diff_high"] - value]], fmt="o",
                                color=color, capsize=3, label=label if group == groups[0] else None)
                if p is not None and p <= alpha:
                    top = value if key == "t" else answer["diff_high"]
                    ax.annotate("*", (x, top), ha="center", va="bottom", fontsize=11)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(groups)), groups)
        ax.set(title=title, ylabel=ylabel)
        if key == "t":
            ax.margins(y=0.15)
    if len(labels) > 1:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"{statistic}: each group against the agreeing test examples (95% intervals; "
                 f"* Benjamini-Hochberg adjusted p <= {alpha})", fontsize=9)
    fig.tight_layout()
    return fig


def _interval_limits(ax, answers: list[dict]) -> None:
    """y limits that show the intervals of the informative answers: one more than five times as wide
    as the median interval (a group of two) would flatten the rest; it runs off the axes instead."""
    shown = [a for a in answers if a.get("diff") is not None]
    if not shown:
        return
    widths = np.array([a["diff_high"] - a["diff_low"] for a in shown])
    kept = [a for a, w in zip(shown, widths) if w <= 5 * np.median(widths)]
    low, high = min(min(a["diff_low"] for a in kept), 0.0), max(max(a["diff_high"] for a in kept), 0.0)
    pad = 0.1 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)


def stability_figure(trials: np.ndarray, jaccard: np.ndarray, *, k: int):
    """How the k most memorized examples of the first m trials approach those of all trials, m on a
    log axis: where the curve flattens near 1, more trials no longer change the set."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(trials, jaccard, marker="o", color="tab:blue")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set(xlabel="trials m (log)", ylabel="Jaccard with all trials",
           title=f"The {k} most memorized examples of the first m trials")
    fig.tight_layout()
    return fig


def _show(ax, image: np.ndarray, caption: str) -> None:
    """A uint8 [C, H, W] image (grey when C = 1) with a caption, no axes; float values (a user's
    features) are scaled to [0, 1] by their own range."""
    if image.dtype != np.uint8:
        low, high = float(image.min()), float(image.max())
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
    ax.set_title(caption, fontsize=7)
    ax.axis("off")


def influence_pairs_figure(extremes: dict[str, np.ndarray], x_train, y_train, x_test, y_test):
    """The seed paper's Figure 1: for each kind of pair (most negative, nearest zero, most positive
    influence), the test example beside the training example, with labels and the influence value.
    `extremes` maps a kind to rows (test_index, train_index, influence)."""
    titles = {"negative": "most negative influence", "zero": "influence nearest zero", "positive": "most positive influence"}
    k = max(len(rows) for rows in extremes.values())
    fig = plt.figure(figsize=(2.2 * k, 2.0 * len(extremes)), dpi=120)
    for sub, (kind, rows) in zip(np.atleast_1d(fig.subfigures(len(extremes), 1)), extremes.items()):
        sub.suptitle(titles.get(kind, kind), fontsize=9)
        axes = sub.subplots(1, 2 * k, squeeze=False)[0]
        for ax in axes:
            ax.axis("off")
        for n, (i, j, value) in enumerate(rows):
            i, j = int(i), int(j)
            _show(axes[2 * n], x_test[i], f"test {i}, y={y_test[i]}\ninfl {value:+.3f}")
            _show(axes[2 * n + 1], x_train[j], f"train {j}, y={y_train[j]}")
    return fig


def most_influential_figure(rows: list[tuple[int, list[tuple[int, float]]]], x_train, y_train, x_test, y_test,
                            memorization: np.ndarray):
    """Feldman & Zhang's figure: each row a test example, then its most influential training examples
    with their influence and memorization."""
    k = max(len(top) for _, top in rows)
    fig, axes = plt.subplots(len(rows), k + 1, figsize=(1.6 * (k + 1), 1.8 * len(rows)), dpi=120, squeeze=False)
    for ax_row, (i, top) in zip(axes, rows):
        for ax in ax_row:
            ax.axis("off")
        _show(ax_row[0], x_test[i], f"TEST {i}, y={y_test[i]}")
        for ax, (j, value) in zip(ax_row[1:], top):
            _show(ax, x_train[j], f"train {j}, y={y_train[j]}\ninfl {value:.2f}, mem {memorization[j]:.2f}")
    fig.suptitle("Test examples and their most influential training examples", fontsize=9)
    fig.tight_layout()
    return fig


def shifted_figure(rows: list[tuple], x_test, y_test):
    """Hooker et al. 2020's audit: the test examples of largest taxicab shift, each with its label, its
    shift and each population's modal label with the share of its models that vote for it. rows:
    (index, shift, reference label, its share, compressed label, its share)."""
    fig, axes = plt.subplots(1, len(rows), figsize=(1.7 * max(len(rows), 1), 2.3), dpi=120, squeeze=False)
    for ax, (i, shift, ref, ref_share, comp, comp_share) in zip(axes[0], rows):
        _show(ax, x_test[i], f"test {i}, y={y_test[i]}\nshift {shift:.2f}\n"
                             f"ref {ref} ({ref_share:.0%}) → {comp} ({comp_share:.0%})")
    for ax in axes[0][len(rows):]:
        ax.axis("off")
    fig.suptitle("The most shifted test examples: the populations' votes moved most", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))  # room for the title above the captions
    return fig


def front_figure(points: list[dict], costs: dict[str, str], harms: dict[str, tuple[str, int]]):
    """The harm-efficiency front (analysis.front): one panel per cost (rows) and harm (columns), every
    operating point coloured by its experiment's label, the non-dominated ones ringed and joined."""
    labels = list(dict.fromkeys(p["label"] for p in points))
    fig, axes = plt.subplots(len(costs), len(harms), figsize=(3.2 * len(harms), 2.9 * len(costs)), dpi=120,
                             squeeze=False)
    for ax_row, (cost, cost_name) in zip(axes, costs.items()):
        for ax, (harm, (harm_name, _)) in zip(ax_row, harms.items()):
            shown = [p for p in points if p[cost] is not None and p[harm] is not None]
            for label, color in zip(labels, COLORS * 4):
                mine = [p for p in shown if p["label"] == label]
                ax.scatter([p[cost] for p in mine], [p[harm] for p in mine], color=color, s=18, label=label)
            best = sorted((p for p in shown if harm in p["front"][cost]), key=lambda p: (p[cost], p[harm]))
            ax.plot([p[cost] for p in best], [p[harm] for p in best], color="black", linewidth=0.8,
                    drawstyle="steps-post" if len(best) > 1 else "default")
            ax.scatter([p[cost] for p in best], [p[harm] for p in best], facecolors="none", edgecolors="black",
                       s=70, linewidths=1.0)
            ax.set(xlabel=cost_name, ylabel=harm_name)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Harm against efficiency: every level of every experiment; ringed, the non-dominated", fontsize=9)
    fig.tight_layout()
    return fig


def curves_figure(phases: dict[str, dict[str, np.ndarray]]):
    """Each training phase's loss (on its training batches) and test accuracy by epoch, a line per
    phase (the reference, then the compression's sparsify and recovery), one after the other."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=120)
    start = 0
    for name, metrics in phases.items():
        epochs = start + np.arange(1, len(metrics["train_loss"]) + 1)
        loss_ax.plot(epochs, metrics["train_loss"], marker=".", label=name)
        acc_ax.plot(epochs, metrics["test_accuracy"], marker=".", label=name)
        start = epochs[-1]
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="Loss by epoch")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy by epoch")
    for ax in (loss_ax, acc_ax):
        if phases:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "nothing trained", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def save(fig, path) -> None:
    fig.savefig(path, format="png")
    plt.close(fig)


def most_influential(matrix: np.ndarray, max_influence: np.ndarray, tests: int,
                     train: int) -> list[tuple[int, list[tuple[int, float]]]]:
    """The `tests` test examples with the largest single influence on them, each with its `train` most
    influential training examples (rows read one at a time: the matrix may be a memory map of gigabytes)."""
    rows = []
    for i in np.argsort(-np.nan_to_num(max_influence, nan=-np.inf), kind="stable")[:tests]:
        row = np.nan_to_num(np.asarray(matrix[i], dtype=np.float64), nan=-np.inf)
        top = np.argsort(-row, kind="stable")[:train]
        rows.append((int(i), [(int(j), float(row[j])) for j in top]))
    return rows
