"""Peak resident memory and time of the estimate stage at CIFAR-10 size, on random trial arrays.

    python benchmarks/estimate_memory.py                     # t = 2000, n_train = 50 000, n_test = 10 000
    python benchmarks/estimate_memory.py --dtype float16
    python benchmarks/estimate_memory.py --target margin --null-draws 2 --reliability-splits 2

Runs the real stage script in a child process and reads the child's peak RSS from the kernel
(getrusage), so the number includes Python, numpy and everything the stage loads. Target: 4 GB.
The child times the one pass over the influence blocks (the published matrix, its halves and the
held-out trials' predictions), the influence-free null's draws (by counts for 0/1 targets: a pass
over the masks each; an influence matrix each for a soft target) and the reliability spread's splits
(a pass each) apart from the rest of the stage and its total. Then the influence_free stage, which
every compression experiment reruns downstream: its joint draws of the tested examples (CIEs and
the most shifted, drawn at random here) and estimate.null_sample others, timed whole.
"""

import platform
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(trials: int = 2000, n_train: int = 50_000, n_test: int = 10_000, dtype: str = "float32",
         limit_gb: float = 4.0, target: str = "correct", null_draws: int = 0, reliability_splits: int = 0):
    """null_draws, reliability_splits: params.yaml's estimate values where 0; each draw and each split
    costs a pass over the influence blocks of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        (tmp / "trials").mkdir()
        masks = rng.random((trials, n_train), dtype=np.float32) < 0.7
        np.save(tmp / "trials/masks.npy", masks)
        # Correctness that depends on the masks a little, so influence is not all noise.
        np.save(tmp / "trials/train_correct.npy", masks | (rng.random((trials, n_train), dtype=np.float32) < 0.9))
        del masks
        np.save(tmp / "trials/test_correct.npy", rng.random((trials, n_test), dtype=np.float32) < 0.9)
        for side, n in (("train", n_train), ("test", n_test)):  # the soft targets train_trials keeps beside them
            np.save(tmp / f"trials/{side}_margin.npy", rng.normal(3, 2, (trials, n)).astype(np.float16))
            np.save(tmp / f"trials/{side}_probability.npy", rng.random((trials, n), dtype=np.float32).astype(np.float16))
        (tmp / "prepared").mkdir()  # the labels, 5% of them flipped: the planted-truth check runs too
        np.savez(tmp / "prepared/train.npz", x=np.zeros((n_train, 3, 32, 32), np.uint8),
                 y=rng.integers(0, 10, n_train), flipped=rng.random(n_train) < 0.05)
        np.savez(tmp / "prepared/test.npz", x=np.zeros((n_test, 3, 32, 32), np.uint8), y=rng.integers(0, 10, n_test))
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["estimate"]["dtype"] = dtype
        params["estimate"]["target"] = target
        for key, value in (("null_draws", null_draws), ("reliability_splits", reliability_splits)):
            params["estimate"][key] = value or params["estimate"][key]
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--child", "--params", str(tmp / "params.yaml"),
                        "--prepared", str(tmp / "prepared"), "--trials-dir", str(tmp / "trials"),
                        "--out-dir", str(tmp / "influence"), "--metrics", str(tmp / "estimate.json"),
                        "--stability", str(tmp / "stability.csv")], check=True)
        seconds = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # Linux: KiB
        size_gb = (tmp / "influence/influence.npy").stat().st_size / 1e9
        # The influence_free stage downstream (rerun by every compression experiment): its joint draws of
        # the tested examples (here CIEs 2% and the most shifted 5% of the test set, at random) and the sample.
        for folder, arrays in (("cie", {"cie": rng.random(n_test) < 0.02}), ("pie", {"shifted": rng.random(n_test) < 0.05})):
            (tmp / folder).mkdir()
            found = arrays | {k: np.zeros(n_test, bool) for k in ("cie_u", "cie_c", "cie_both_wrong", "pie")}
            np.savez(tmp / folder / "masks.npz", **found)
        start = time.perf_counter()
        joint = subprocess.run([sys.executable, str(ROOT / "stages/influence_free.py"), "--params", str(tmp / "params.yaml"),
                                "--trials-dir", str(tmp / "trials"), "--influence-dir", str(tmp / "influence"),
                                "--cie-dir", str(tmp / "cie"), "--pie-dir", str(tmp / "pie"),
                                "--out", str(tmp / "joint.npz")], check=True, capture_output=True, text=True)
        joint_seconds = time.perf_counter() - start
        joint_said = " ".join(joint.stderr.split()).removeprefix("influence_free: ")
        setting = {key: params["estimate"][key] for key in ("target", "null_draws", "reliability_splits", "holdout")}
    print(f"estimate t={trials} n_train={n_train} n_test={n_test} {dtype} {setting}: {seconds:.1f} s, "
          f"peak RSS {peak_gb:.2f} GB (limit {limit_gb} GB), influence.npy {size_gb:.2f} GB; "
          f"{platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores")
    print(f"influence_free stage downstream: {joint_seconds:.1f} s ({joint_said})")
    if peak_gb > limit_gb:
        raise SystemExit(f"peak RSS {peak_gb:.2f} GB is over the {limit_gb} GB target")


def child(argv: list[str]) -> None:
    """The stage, in this process, with the null and the spread timed apart (printed to stderr)."""
    from longtail.estimate import estimates, uncertainty

    spent = {}

    def timed(module, name):
        function = getattr(module, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            spent[name] = spent.get(name, 0) + time.perf_counter() - start
            return result

        setattr(module, name, wrapper)

    timed(estimates, "null_draws")
    timed(uncertainty, "split_half_spread")

    rows = estimates.influence_rows

    def timed_rows(*args, **kwargs):  # the one pass: the time spent computing its blocks (not writing them)
        blocks = rows(*args, **kwargs)
        while True:
            start = time.perf_counter()
            try:
                block = next(blocks)
            except StopIteration as done:
                spent["pass"] = spent.get("pass", 0) + time.perf_counter() - start
                return done.value
            spent["pass"] = spent.get("pass", 0) + time.perf_counter() - start
            yield block

    estimates.influence_rows = timed_rows
    start = time.perf_counter()
    sys.argv = [str(ROOT / "stages/estimate.py"), *argv]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise
    total = time.perf_counter() - start
    print(f"in the stage ({total:.1f} s): the pass {spent['pass']:.1f} s, null draws {spent['null_draws']:.1f} s, "
          f"reliability spread {spent['split_half_spread']:.1f} s, the rest {total - sum(spent.values()):.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        typer.run(main)
