"""prepare: load `data.dataset` and write data/prepared/{train,test}.npz (x uint8 [N, C, H, W], y int64 [N]);
with `data.train_size` or `data.test_size`, a stratified subset of that many examples.

train.npz also holds `flipped` (bool [n_train]): with `data.flip_labels` > 0 that share of the
training labels is moved to another class (chosen by the seed), so that the pipeline can be checked
on a known answer: memorization must find them."""

from pathlib import Path

from longtail import cli, layout, params
from longtail.data import datasets, planted, prepared
from longtail.artifacts import outputs

app = cli.app(__doc__)


@app.command()
def main(params_file: Path = cli.PARAMS, out_dir: Path = Path(layout.PREPARED)):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "data", params.Data), params.seed(p)
        arrays = datasets.load(cfg.dataset, root=cfg.root, download=cfg.download,
                           test_fraction=cfg.test_fraction, seed=seed)
        for split, size in (("train", cfg.train_size), ("test", cfg.test_size)):
            arrays = datasets.subset(arrays, split, size, seed, cfg.dataset)
        num_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
        arrays["y_train"], arrays["flipped_train"] = planted.flip_labels(arrays["y_train"], cfg.flip_labels,
                                                                         num_classes, seed)
        splits = {split: {key: arrays[f"{key}_{split}"] for key in ("x", "y", "rare", "flipped")
                          if f"{key}_{split}" in arrays} for split in ("train", "test")}
        where = f"data.dataset {cfg.dataset} (in {datasets.folder_of(cfg.dataset, cfg.root)})"
        prepared.check(splits["train"], splits["test"], where, classes=datasets.classes(cfg.dataset, arrays))
        with outputs() as out:
            for split, split_arrays in splits.items():
                out.npz(out_dir / f"{split}.npz", **split_arrays)
        x, flips = arrays["x_train"], int(arrays["flipped_train"].sum())
        cli.say(f"{cfg.dataset}: {len(x)} train, {len(arrays['x_test'])} test, images {tuple(x.shape[1:])}"
                + (f"; {flips} training labels flipped" if flips else ""))
        if cfg.flip_labels > 0 and flips == 0:
            cli.warn(f"data.flip_labels = {cfg.flip_labels} flips no label of {len(x)}: raise it")


if __name__ == "__main__":
    app()
