"""estimate: influence of every training example on every test example, and memorization, from the
trials (Feldman & Zhang 2020; definitions in DESIGN.md)."""

from pathlib import Path

import numpy as np

from longtail import cli, influence, params
from longtail.artifacts import load_npy, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    trials_dir: Path = Path("data/trials"),
    out_dir: Path = Path("data/influence"),
    metrics: Path = Path("metrics/estimate.json"),
    chunk_rows: int = 0,
):
    """chunk_rows: test rows per block of the influence matrix (0: as many as fit in 256 MB)."""
    with cli.errors():
        cfg = params.section(params.read(params_file), "estimate", params.Estimate)
        masks = load_npy(trials_dir / "masks.npy", dtype=bool, ndim=2)
        train_correct = load_npy(trials_dir / "train_correct.npy", dtype=bool, ndim=2)
        test_correct = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2)
        memorization = influence.memorization(masks, train_correct)
        test_mean, train_mean = influence.mean_influences(masks, test_correct)
        n_test, n_train = test_correct.shape[1], masks.shape[1]

        rows = chunk_rows or influence.default_chunk_rows(n_train)
        pairs, strongest, nan_count = [], [], 0

        def blocks(advance):  # stream blocks to disk, counting NaNs, collecting pairs and row maxima
            nonlocal nan_count
            row = 0
            for block in influence.influence_blocks(masks, test_correct, rows):
                nan_count += int(np.isnan(block).sum())
                pairs.append(influence.high_influence_pairs(
                    block, row, memorization,
                    min_influence=cfg.pair_influence, min_memorization=cfg.pair_memorization))
                strongest.append(influence.strongest_influence(block))
                row += len(block)
                yield block
                advance()

        what = f"influence [{n_test}, {n_train}] in blocks of {min(rows, n_test)} rows"
        with outputs() as out, cli.progress(-(-n_test // rows), what) as advance:
            out.npy_chunks(out_dir / "influence.npy", (n_test, n_train), cfg.dtype, blocks(advance))
            out.npy(out_dir / "memorization.npy", memorization)
            out.npy(out_dir / "test_mean_influence.npy", test_mean)
            out.npy(out_dir / "train_mean_influence.npy", train_mean)
            max_influence, top_train = (np.concatenate(parts) for parts in zip(*strongest))
            out.npy(out_dir / "test_max_influence.npy", max_influence)
            out.npy(out_dir / "test_top_memorization.npy", influence.top_memorization(top_train, memorization))
            table = np.concatenate(pairs) if pairs else np.empty((0, 4))
            table = table[np.argsort(-table[:, 2], kind="stable")]
            out.csv(out_dir / "high_influence_pairs.csv", ["train_index", "test_index", "influence", "memorization"],
                    ([int(a), int(b), f"{c:.6g}", f"{d:.6g}"] for a, b, c, d in table))
            undefined = int(np.isnan(memorization).sum())
            out.json(metrics, {
                "trials": len(masks),
                "n_train": n_train,
                "n_test": n_test,
                "dtype": cfg.dtype,
                "undefined_train_examples": undefined,  # in every trial or in none
                "influence_nan": nan_count,
                "memorization_mean": float(np.nanmean(memorization)),
                "high_memorization": int((memorization >= cfg.pair_memorization).sum()),
                "test_mean_influence_mean": float(np.nanmean(test_mean)),
                "high_influence_pairs": len(table),
            })
        cli.say(f"influence [{n_test}, {n_train}] {cfg.dtype}; {len(table)} high-influence pairs; "
                f"{undefined} training examples undefined")


if __name__ == "__main__":
    app()
