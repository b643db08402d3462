"""The machine and the software a run came from (metrics/environment.json, which the report stage
writes): what `longtail verify` prints for the committed run and the fresh one before it judges a
number, since another CPU, GPU or torch is the usual reason two runs of one commit differ in their
last bits (docs/reproducibility.md)."""

import os
import platform
from importlib import metadata


def _cpu() -> str:
    """The CPU's model name as Linux reports it (platform.processor() is often empty there)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, object]:
    """longtail's version, Python's, torch's (with its CUDA build), numpy's, the CPU and the GPU."""
    import numpy
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"longtail": metadata.version("longtail"), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": torch.version.cuda, "numpy": numpy.__version__,
            "os": f"{platform.system()} {platform.machine()}", "cpu": _cpu(), "cpus": os.cpu_count(), "gpu": gpu}


def differences(committed: dict | None, fresh: dict | None) -> list[str]:
    """The keys whose values the two environments disagree on, in describe()'s order."""
    committed, fresh = committed or {}, fresh or {}
    keys = list(dict.fromkeys([*fresh, *committed]))
    return [k for k in keys if committed.get(k) != fresh.get(k)]


def line(env: dict | None) -> str:
    """One line of an environment, as verify prints it."""
    if not env:
        return "not recorded"
    gpu = env.get("gpu") or "no GPU"
    return (f"longtail {env.get('longtail')}, Python {env.get('python')}, torch {env.get('torch')}, "
            f"numpy {env.get('numpy')}; {env.get('cpu')} ({env.get('cpus')} CPUs), {gpu}")
