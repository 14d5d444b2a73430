"""The one exception type for bad user input.

Everything a user can type (an expression, an optimizer SPEC, a device name, a file) is refused with
a ``GdsimError`` whose message is a single line fit to show in a label or on stderr. Callers catch
this type and only this type as "the user's mistake"; anything else is a bug and should surface.
"""

import re

#: A run of digits longer than this in a message is shortened: a 400-digit number typed as a
#: value is quoted back as ``100000…(401 digits)``, not as a screenful.
MAX_DIGITS_SHOWN = 20
_LONG_DIGITS = re.compile(rf"\d{{{MAX_DIGITS_SHOWN + 1},}}")


def shorten_numbers(text: str) -> str:
    """``text`` with every run of more than MAX_DIGITS_SHOWN digits shortened."""
    return _LONG_DIGITS.sub(lambda m: f"{m.group()[:6]}…({len(m.group())} digits)", text)


class GdsimError(ValueError):
    """Bad input, explained in one line (long numbers in it shortened)."""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (shorten_numbers(args[0]), *args[1:])
        super().__init__(*args)
