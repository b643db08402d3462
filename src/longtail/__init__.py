"""longtail: do the mistakes of a compressed network fall on the long tail of the data?

The library core takes arrays and returns arrays; files, params and printing live in stages/.
"""


class LongtailError(Exception):
    """A bad input the user can fix: the message says what was wrong and how to fix it."""
