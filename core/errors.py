"""The one exception type for bad user input.

Everything a user can type (an expression, an optimizer SPEC, a device name, a file) is refused with
a ``GdsimError`` whose message is a single line fit to show in a label or on stderr. Callers catch
this type and only this type as "the user's mistake"; anything else is a bug and should surface.
"""


class GdsimError(ValueError):
    """Bad input, explained in one line."""
