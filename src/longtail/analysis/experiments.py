"""Experiments side by side (the seed paper's Figures 4 and 6 across compression losses or methods),
from the JSON of `dvc exp show --json`. Pure: the compare command runs DVC and writes the files."""

from longtail import LongtailError
from longtail.analysis import front, stats
from longtail.analysis.cie import GROUPS

QUESTIONS = ("excess", "matched")  # Q1 and Q2 of metrics/ttest.json (analysis.questions)
PIE_GROUPS = ("pie", "shifted")  # the groups counted in metrics/pie.json; the others are in cie.json


def _runs(exp_show: list) -> list[tuple[str, dict]]:
    """(name, data) of every experiment in the `dvc exp show --json` output, baselines' order."""
    runs = []
    for baseline in exp_show:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data"):
                    runs.append((rev.get("name") or rev["rev"][:7], rev["data"]))
    return runs


def experiments(exp_show: list) -> list[dict]:
    """One record per experiment that has ttest metrics: name, method, loss, each group's two answers
    (Q1 `excess`, Q2 `matched`) and the paper's t-test, the CIE/PIE counts and its operating points
    on the harm-efficiency front (analysis.front.points). Experiments that failed or predate the metrics are skipped."""
    records = []
    for name, data in _runs(exp_show):
        params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
        metrics = {path: (m or {}).get("data") or {} for path, m in (data.get("metrics") or {}).items()}
        ttest, cie, pie = (metrics.get("metrics/ttest.json"), metrics.get("metrics/cie.json") or {},
                           metrics.get("metrics/pie.json") or {})
        if not ttest:
            continue
        compress = params.get("compress") or {}
        records.append({
            "name": name, "method": compress.get("method"), "loss": compress.get("loss"),
            "statistic": ttest.get("statistic"), "reliability": ttest.get("reliability"),
            "tests": {g: {k: (ttest.get(g) or {}).get(k) for k in ("t", "p", "n")}
                      | {q: dict((ttest.get(g) or {}).get(q) or {}) for q in QUESTIONS} for g in GROUPS},
            "counts": {k: (pie if k in PIE_GROUPS else cie).get(k) for k in GROUPS},
            "points": front.points(name, metrics.get("metrics/compress.json") or {}, pie, cie),
        })
    if not records:
        raise LongtailError("no experiment with metrics/ttest.json in `dvc exp show`: run some first, e.g. "
                            "`dvc exp run --queue -S compress.loss=ce,focal,kd,multipart,softadapt` "
                            "then `dvc queue start`")
    return records


def labels(records: list[dict]) -> list[str]:
    """A bar group's name: the loss when every experiment uses one method, the method when every one
    uses one loss, both otherwise; the experiment's name is added where two would look the same."""
    methods, losses = {r["method"] for r in records}, {r["loss"] for r in records}
    base = [r["loss"] if len(methods) == 1 else r["method"] if len(losses) == 1 else f"{r['method']}/{r['loss']}"
            for r in records]
    return [f"{b} ({r['name']})" if base.count(b) > 1 else b for b, r in zip(base, records)]


def adjust(records: list[dict]) -> list[dict]:
    """Benjamini-Hochberg across the whole comparison: the two questions as one family over
    experiments x groups x questions (each experiment's confirmatory CIE test is one of many here,
    so compare.md adjusts it too: `role` exploratory), and the paper's test apart. Each gets its own
    `p_bh`."""
    cells = [r["tests"][g] for r in records for g in GROUPS]
    for cell, adjusted in zip(cells, stats.benjamini_hochberg([c["p"] for c in cells])):
        cell["p_bh"] = adjusted
    answers = [cell[q] for cell in cells for q in QUESTIONS]
    size = sum(a.get("p") is not None for a in answers)
    for answer, adjusted in zip(answers, stats.benjamini_hochberg([a.get("p") for a in answers])):
        answer |= {"p_bh": adjusted, "role": "exploratory", "family": size}
    return records
