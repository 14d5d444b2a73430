"""Numbers as a lecturer reads them (shared by the models' labels and the window's controls)."""

from __future__ import annotations

import math


def format_number(value: float, digits: int = 4) -> str:
    """Compact text with ``digits`` significant digits: 0.0003, 0.1, 2.5e-06, 1e+04 -> 1e4."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    text = f"{value:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    return text


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= x (a plot's round upper end)."""
    k = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**k >= x:
            return float(m * 10**k)
    return float(10 ** (k + 1))


def thin(n: int) -> str:
    """1234567 -> '1 234 567' (narrow no-break spaces read well on a projector)."""
    return f"{n:,}".replace(",", "\u202f")
