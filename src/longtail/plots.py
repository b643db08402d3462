"""Figures as PNG (matplotlib) and the small tables DVC plots draw."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, counts) of the finite values."""
    counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
    return (edges[:-1] + edges[1:]) / 2, counts


def histogram_figure(values: np.ndarray, bins: int, *, xlabel: str, title: str, marks: dict | None = None):
    """A histogram with a log count axis (the long tail is in the sparse bins), and optional
    vertical lines {label: x}, e.g. the means of the CIE groups."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.hist(values[np.isfinite(values)], bins=bins, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    for (label, x), color in zip((marks or {}).items(), ("tab:red", "tab:orange", "tab:green", "tab:purple")):
        if x is not None:
            ax.axvline(x, color=color, linestyle="--", label=f"{label}: {x:.2g}")
    if marks:
        ax.legend(fontsize=8)
    ax.set(xlabel=xlabel, ylabel="count (log)", title=title)
    fig.tight_layout()
    return fig


def save(fig, path) -> None:
    fig.savefig(path, format="png")
    plt.close(fig)
