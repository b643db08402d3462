"""prepare: load `data.dataset` and write data/prepared/{train,test}.npz (x uint8 [N, C, H, W], y int64 [N])."""

from pathlib import Path

from longtail import cli, data, params
from longtail.artifacts import outputs

app = cli.app(__doc__)


@app.command()
def main(params_file: Path = cli.PARAMS, out_dir: Path = Path("data/prepared")):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "data", params.Data), params.seed(p)
        arrays = data.load(cfg.dataset, root=cfg.root, download=cfg.download,
                           test_fraction=cfg.test_fraction, seed=seed)
        with outputs() as out:
            for split in ("train", "test"):
                extra = {"rare": arrays[f"rare_{split}"]} if f"rare_{split}" in arrays else {}
                out.npz(out_dir / f"{split}.npz", x=arrays[f"x_{split}"], y=arrays[f"y_{split}"], **extra)
        x = arrays["x_train"]
        cli.say(f"{cfg.dataset}: {len(x)} train, {len(arrays['x_test'])} test, images {tuple(x.shape[1:])}")


if __name__ == "__main__":
    app()
