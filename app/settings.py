"""Persistent settings (QSettings, INI format) that can never crash the app.

Why so defensive: a settings file outlives versions of the app, gets copied between machines
and can be truncated by a crash. Every read here is type-checked and falls back to a default
with a logged warning, so an old or corrupt file costs the user their preferences, never
their lecture.

* ``open_settings()`` — the one QSettings the app uses. Organisation from ``$GDSIM_SETTINGS_ORG``
  (tests set it) else "gdsim"; application "gdsim"; always INI so the file is portable and
  readable. ``set_settings_file(path)`` (or ``open_settings(path)``) redirects it, and so does
  ``QSettings.setPath(IniFormat, UserScope, dir)``, which the GUI tests use.
* ``read_float/read_int/read_bool/read_str/read_bytes/read_str_list`` — typed reads with defaults;
  views use them in ``restore_settings``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from core.files.atomic import check_regular

log = logging.getLogger("gdsim.settings")

APPLICATION = "gdsim"
ORG_ENV = "GDSIM_SETTINGS_ORG"
SETTINGS_VERSION = 1

MAX_INT_DIGITS = 30  # a whole number longer than this is garbage, never a setting
_WHOLE = re.compile(r"^\s*[-+]?[0-9]+\s*$")
_PROBE = ".gdsim-no-such-organisation"  # see _user_files

_file_override: Path | None = None
T = TypeVar("T")


def organization() -> str:
    """The QSettings organisation: ``$GDSIM_SETTINGS_ORG`` if set (tests), else "gdsim"."""
    return os.environ.get(ORG_ENV) or "gdsim"


def set_settings_file(path: str | os.PathLike | None) -> None:
    """Send every later ``open_settings()`` to this INI file (None: back to the default)."""
    global _file_override
    _file_override = Path(path) if path is not None else None


def open_settings(path: str | os.PathLike | None = None) -> QSettings:
    """The app's QSettings: ``path`` if given, else the override, else the per-user INI file.

    GdsimError if a file it would read is there but is not a regular file: Qt reads it as it
    opens it, and a fifo would block that read (and the start) forever.
    """
    target = Path(path) if path is not None else _file_override
    for name in [target] if target is not None else _user_files():
        check_regular(name, "settings file", missing_ok=True)
    if target is not None:
        s = QSettings(str(target), QSettings.Format.IniFormat)
    else:
        s = QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, organization(), APPLICATION
        )
    if s.status() != QSettings.Status.NoError:
        log.warning("settings file %s is unreadable (%s); using defaults", s.fileName(), s.status())
    return s


def _user_files() -> list[Path]:
    """The per-user INI files Qt reads for us, found without reading them: a QSettings for an
    organisation that has none names the folder Qt uses (its default, or ``QSettings.setPath``)."""
    probe = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, _PROBE, APPLICATION)
    folder = Path(probe.fileName()).parent.parent
    org = organization()
    return [folder / org / f"{APPLICATION}.ini", folder / f"{org}.ini"]


def _key(s: QSettings, key: str) -> str:
    group = s.group()
    return f"{group}/{key}" if group else key


def _raw(s: QSettings, key: str) -> Any:
    try:
        return s.value(key)
    except Exception as exc:  # a value PySide cannot convert (e.g. an unknown @Variant)
        log.warning("ignoring setting %s: unreadable (%s)", _key(s, key), exc)
        return None


def _reject(s: QSettings, key: str, value: Any, why: str, default: T) -> T:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    log.warning("ignoring setting %s=%s: %s; using %r", _key(s, key), text, why, default)
    return default


def read_float(
    s: QSettings,
    key: str,
    default: float,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """A finite float in [low, high], else ``default`` (with a warning if something was there)."""
    value = _raw(s, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return _reject(s, key, value, "not a number", default)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return _reject(s, key, value, "not a number", default)
    if not math.isfinite(number):
        return _reject(s, key, value, "not finite", default)
    if (low is not None and number < low) or (high is not None and number > high):
        return _reject(s, key, value, f"outside [{low}, {high}]", default)
    return number


def read_int(
    s: QSettings, key: str, default: int, low: int | None = None, high: int | None = None
) -> int:
    """An int in [low, high] ("3" and 3.0 accepted, 3.5 not), else ``default``."""
    value = _raw(s, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return _reject(s, key, value, "not an integer", default)
    if isinstance(value, str) and _WHOLE.match(value):  # exactly: float() would round 10**24
        if len(value.strip().lstrip("+-")) > MAX_INT_DIGITS:
            return _reject(s, key, value, "too large", default)
        value = int(value)
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError, OverflowError):
        return _reject(s, key, value, "not an integer", default)
    if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
        return _reject(s, key, value, "not an integer", default)
    number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        return _reject(s, key, value, f"outside [{low}, {high}]", default)
    return number


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def read_bool(s: QSettings, key: str, default: bool) -> bool:
    """True/False (also "true"/"false"/"1"/"0", as INI files store them), else ``default``."""
    value = _raw(s, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return _reject(s, key, value, "not a boolean", default)


def read_str(s: QSettings, key: str, default: str, choices: Iterable[str] | None = None) -> str:
    """A string (one of ``choices`` if given), else ``default``."""
    value = _raw(s, key)
    if value is None:
        return default
    if not isinstance(value, str):
        return _reject(s, key, value, "not text", default)
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            return _reject(s, key, value, f"not one of {allowed}", default)
    return value


def read_str_list(s: QSettings, key: str, default: list[str]) -> list[str]:
    """A list of strings (INI stores one item as a bare string), else ``default``."""
    value = _raw(s, key)
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return _reject(s, key, value, "not a list of text", list(default))


def read_bytes(s: QSettings, key: str) -> QByteArray | None:
    """A QByteArray (window geometry/state), else None."""
    value = _raw(s, key)
    if value is None:
        return None
    if isinstance(value, QByteArray):
        return value
    if isinstance(value, (bytes, bytearray)):
        return QByteArray(bytes(value))
    return _reject(s, key, value, "not binary data", None)
