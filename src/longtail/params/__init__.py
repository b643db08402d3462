"""params.yaml on top of the library: its schema (schema: each section's knobs, types and checks) and
its loader (loader: YAML 1.2 as DVC writes it, each section built and checked). Only the stages and
the user commands import it; the library below takes the values it needs as arguments.

    p = params.read("params.yaml")
    cfg = params.section(p, "estimate", params.Estimate)
"""

import dataclasses

from longtail.checks import check_range, choose  # noqa: F401
from longtail.params.loader import check_all, device, keys, load_yaml, read, section, seed  # noqa: F401
from longtail.params.schema import (  # noqa: F401
    DTYPES, SECTIONS, SELECT, TARGETS, TOP_LEVEL, Compress, Consistency, Data, Estimate, Fit, Harm, JointNull, NullSample, Pie, Population, Recipe,
    Reference, Training, TrialSet, Trials, Ttest, check_statistic)


def knobs() -> frozenset[str]:
    """The name of every knob of params.yaml (the schema's fields) and the top-level ones (seed,
    device): settings, which `longtail verify` requires identical wherever a metrics file repeats one."""
    return frozenset({f.name for sections in SECTIONS.values() for section in sections
                      for f in dataclasses.fields(section)} | set(TOP_LEVEL))
