"""core.errors.error_line: the one-line form of every error the app and the CLI show."""

import pytest

from core.errors import GdsimError, error_line


@pytest.mark.parametrize(
    ("exc", "name_type", "line"),
    [
        (GdsimError("lr must be > 0"), True, "lr must be > 0"),  # the user's mistake: as written
        (RuntimeError("weights are missing\nsecond"), False, "weights are missing"),
        (RuntimeError("weights are missing\nsecond"), True, "RuntimeError: weights are missing"),
        (OSError(), False, "OSError"),  # no message: its type
        (RuntimeError("\n  \n"), True, "RuntimeError"),
        (ValueError("  padded  "), False, "padded"),
    ],
)
def test_error_line_is_the_first_line_and_names_bugs_when_asked(exc, name_type, line):
    assert error_line(exc, name_type=name_type) == line
