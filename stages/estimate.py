"""estimate: influence of every training example on every test example, and memorization, from the
trials (Feldman & Zhang 2020; definitions in DESIGN.md), with their uncertainty: the standard error
of each memorization estimate, the split-half reliability of memorization and of the per-test
statistics, the trials a target standard error needs, and how the most memorized set settles as
trials are added. Where the prepared data has flipped labels (data.flip_labels), how well
memorization finds them."""

from pathlib import Path

import numpy as np

from longtail import LongtailError, cli, influence, params, planted, uncertainty
from longtail.artifacts import load_npy, load_prepared, outputs

SE_TARGETS = (0.05, 0.02)  # standard errors whose trial counts metrics/estimate.json reports

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    trials_dir: Path = Path("data/trials"),
    out_dir: Path = Path("data/influence"),
    metrics: Path = Path("metrics/estimate.json"),
    stability: Path = Path("plots/memorization_stability.csv"),
    chunk_rows: int = 0,
):
    """chunk_rows: test rows per block of the influence matrix (0: as many as fit in 256 MB)."""
    with cli.errors():
        params.check_range("--chunk-rows", chunk_rows, 0)
        p = params.read(params_file)
        cfg, seed = params.section(p, "estimate", params.Estimate), params.seed(p)
        masks = load_npy(trials_dir / "masks.npy", dtype=bool, ndim=2)
        train_correct = load_npy(trials_dir / "train_correct.npy", dtype=bool, ndim=2)
        test_correct = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2)
        flipped = load_prepared(prepared)[0].get("flipped")
        if flipped is not None and flipped.shape != masks.shape[1:]:
            raise LongtailError(f"{prepared / 'train.npz'} has {len(flipped)} training examples, the trials "
                                f"{masks.shape[1]}: rerun the pipeline (`dvc repro`)")
        p_in, _, p_out, _ = influence.proportions(masks, train_correct)
        memorization = p_in - p_out
        memorization_se = influence.memorization_se(masks, train_correct)
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
            out.npy(out_dir / "memorization_se.npy", memorization_se.astype(np.float32))
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
            high_mask = memorization >= cfg.pair_memorization
            high = int(high_mask.sum())
            # The set whose settling the stability curve shows: the high-memorization examples, or
            # the top 1% where there are none.
            stability_k = high or max(1, round(0.01 * n_train))
            ms, jaccard = uncertainty.stability(masks, train_correct, k=stability_k)
            out.csv(stability, ["trials", "jaccard"], zip(ms.tolist(), jaccard.round(6).tolist()))
            # Over all examples the median se is often 0 (an example every trial gets right has none);
            # over the high-memorization ones, those the analysis is about, it says what trials they need.
            reliability = (uncertainty.split_half(masks, train_correct, test_correct, seed, rows)
                           | uncertainty.median_se(memorization_se, len(masks), SE_TARGETS)
                           | uncertainty.median_se(memorization_se[high_mask], len(masks), SE_TARGETS,
                                                   suffix="_high"))
            extra = {}
            if flipped is not None and flipped.any():
                extra["planted"] = planted.found(memorization, flipped, train_fit=p_in)
            out.json(metrics, {
                "trials": len(masks),
                "n_train": n_train,
                "n_test": n_test,
                "dtype": cfg.dtype,
                "undefined_train_examples": undefined,  # in every trial or in none
                "influence_nan": nan_count,
                "memorization_mean": float(np.nanmean(memorization)),
                "high_memorization": high,
                "test_mean_influence_mean": float(np.nanmean(test_mean)),
                "high_influence_pairs": len(table),
                "reliability": reliability,
                "stability_k": stability_k,  # the size of the set plots/memorization_stability.csv follows
                **extra,
            })
        r = reliability["memorization"]
        cli.say(f"influence [{n_test}, {n_train}] {cfg.dtype}; {len(table)} high-influence pairs; "
                f"{undefined} training examples undefined; split-half reliability of memorization "
                f"{'undefined' if r is None else f'{r:.3f}'}")
        if "planted" in extra:
            found = extra["planted"]
            cli.say(f"planted: {found['flipped']} flipped labels, memorization AUC {cli.number(found['auc'])}, "
                    f"precision at {found['flipped']} {cli.number(found['precision_at_k'])}")


if __name__ == "__main__":
    app()
