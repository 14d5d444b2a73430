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


#: Line breaks and other control characters a user put in a name or key are quoted (``\\n``), so
#: the message stays one line.
_ESCAPES = {c: repr(chr(c))[1:-1] for c in [*range(32), 0x7F, 0x85, 0x2028, 0x2029]}


def shorten_numbers(text: str) -> str:
    """``text`` with every run of more than MAX_DIGITS_SHOWN digits shortened."""
    return _LONG_DIGITS.sub(lambda m: f"{m.group()[:6]}…({len(m.group())} digits)", text)


class GdsimError(ValueError):
    """Bad input, explained in one line (long numbers shortened, control characters quoted)."""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (shorten_numbers(args[0]).translate(_ESCAPES), *args[1:])
        super().__init__(*args)


def error_line(exc: BaseException, name_type: bool = False) -> str:
    """``exc`` as the one line a label, status bar or log shows: its message's first line (its
    type's name if it has none). ``name_type`` prefixes anything but a GdsimError with its type, so
    a bug reads as one ("TypeError: ...") and can be reported."""
    lines = str(exc).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if isinstance(exc, GdsimError):
        return first or "invalid input"
    name = type(exc).__name__
    if not first:
        return name
    return f"{name}: {first}" if name_type else first
