"""The registry of compress.method. A method is a module of this package that owns its compress ->
recover sequence and names its knobs (its METHOD, a method.Method); adding one is that module and
its line below. The params users type stay flat (compress.method, compress.target_flops, ...)."""

from longtail import LongtailError
from longtail.compress import distill, group_sparsity, magnitude, quantize
from longtail.compress.method import Method

METHODS: dict[str, Method] = {m.name: m for m in (
    group_sparsity.METHOD,
    magnitude.METHOD,
    quantize.METHOD,
    distill.METHOD,
)}


def register(method: Method) -> Method:
    """Add `method` to the registry (a method defined outside this package, or a test's toy): from
    then on compress.method accepts its name. Its name must be new."""
    if method.name in METHODS:
        raise LongtailError(f"compress.method {method.name!r} is registered already")
    METHODS[method.name] = method
    return method
