"""The checks every layer shares: a name among its registry's, a number in its range. A leaf (no
module of the package below it), so that the library checks its own arguments without importing the
params schema that sits on top of it."""

import difflib

from longtail import LongtailError


def choose(key: str, value: str, choices, *, also: str = "", why: str = "") -> None:
    """Raise unless `value` is one of `choices`, naming them all (and `also`, what else the key takes)
    and the nearest one, then `why` (what was found instead)."""
    if value not in choices:
        lower = {str(c).lower(): c for c in choices}  # FOCAL is focal misspelt by its case
        near = difflib.get_close_matches(str(value).lower(), list(lower), n=1)
        hint = f" (did you mean {lower[near[0]]!r}?)" if near else ""
        raise LongtailError(f"unknown {key} {value!r}; choose one of: {', '.join(choices)}{also}{hint}"
                            + (f"; {why}" if why else ""))


def check_range(key: str, value, low=None, high=None, *, low_open=False, high_open=False) -> None:
    """Raise unless low <= value <= high (with < where the bound is open)."""
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise LongtailError(f"{key} = {value!r} is out of range; it must satisfy {lo}{key}{hi}")
