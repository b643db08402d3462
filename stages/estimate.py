"""estimate: influence of every training example on every test example, and memorization, from the
trials (Feldman & Zhang 2020; docs/DESIGN.md), of the target estimate.target chooses, with their
uncertainty (standard errors, split-half reliabilities, the stability curve), Data-OOB and the MSR
Banzhaf value from the same masks, the counterfactual check (LDS), and where data.flip_labels
planted flips, how well memorization finds them (longtail.estimate)."""

from pathlib import Path

from longtail import cli, devices, layout, params
from longtail.artifacts import load_prepared, load_trials, outputs
from longtail.estimate import estimates, influence

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    trials_dir: Path = Path(layout.TRIALS),
    out_dir: Path = Path(layout.INFLUENCE),
    metrics: Path = Path(layout.metrics("estimate")),
    stability: Path = Path(layout.STABILITY),
    chunk_rows: int = 0,
):
    """chunk_rows: test rows per block of the influence matrix (0: as many as fit in 256 MB)."""
    with cli.errors():
        params.check_range("--chunk-rows", chunk_rows, 0)
        p = params.read(params_file)
        cfg, seed = params.section(p, "estimate", params.Estimate), params.seed(p)
        device = influence.on_device(devices.pick(params.device(p)))  # the products on a GPU where there is one
        t = load_trials(trials_dir, cfg.target)
        masks, train_target, test_target = t["masks"], t["train_target"], t["test_target"]
        per = estimates.per_example(masks, train_target, test_target, t["train_correct"])
        n_test, n_train = test_target.shape[1], masks.shape[1]
        rows = chunk_rows or influence.default_chunk_rows(n_train)
        with outputs() as out, cli.progress(-(-n_test // rows), f"influence [{n_test}, {n_train}] in blocks of "
                                                                f"{min(rows, n_test)} rows") as advance:
            halves, held, spread = estimates.split(len(masks), cfg, seed)
            blocks = estimates.influence_rows(masks, test_target, per["memorization"], rows, halves=halves, held=held,
                                              advance=advance, min_influence=cfg.pair_influence,
                                              min_memorization=cfg.pair_memorization, device=device, spread=spread)
            reduced = out.npy_chunks(out_dir / "influence.npy", (n_test, n_train), cfg.dtype, blocks)
            result = estimates.finish(masks, train_target, test_target, per, reduced, cfg=cfg, seed=seed, rows=rows,
                                      flipped=load_prepared(prepared)[0].get("flipped"), device=device)
            for name in layout.ESTIMATES:
                out.npy(out_dir / f"{name}.npy", result.arrays[name])
            out.csv(out_dir / "high_influence_pairs.csv", ["train_index", "test_index", "influence", "memorization"],
                    ([int(a), int(b), f"{c:.6g}", f"{d:.6g}"] for a, b, c, d in result.pairs))
            ms, jaccard = result.stability
            out.csv(stability, ["trials", "jaccard"], zip(ms.tolist(), jaccard.round(6).tolist()))
            out.json(metrics, result.summary)
        for line in estimates.said(result.summary, cfg, (n_test, n_train)):
            cli.say(line)
        if warning := estimates.margin_warning(cfg, result.summary, n_train):
            cli.warn(warning)


if __name__ == "__main__":
    app()
