"""longtail: do the mistakes of a compressed network fall on the long tail of the data?

A folder per phase of the pipeline (data, train, estimate, compress, analysis, report) over a small
core (layout, artifacts, cli, checks, seeds, devices); params and the user commands on top, and the
stages of dvc.yaml (stages/) above them all (docs/DESIGN.md, "The package mirrors the pipeline").
"""


class LongtailError(Exception):
    """A bad input the user can fix: the message says what was wrong and how to fix it."""
