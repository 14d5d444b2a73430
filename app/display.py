"""Can Qt open a window here, and the import order gdsim starts Qt in.

Checked before any Qt call: without a display, or with an X11 library missing, Qt aborts the
process with a message that names neither the library nor the fix.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
    "libxkbcommon-x11-0"
)


def display_problem() -> str | None:
    """Why Qt could not open a window here, in one line, or None when it should.

    Without a display, or with PySide6's X11 plugin missing a system library (common on a fresh
    Linux desktop: the pip wheels do not carry libxcb's helpers), Qt aborts the process with a
    message that names neither the library nor the fix. Checked before any Qt call."""
    if _qt_app_running() or not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, …: Qt reports those itself
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "no display to open the window on (DISPLAY is not set); headless, use "
            "'gdsim render' or 'gdsim --screenshot', or set QT_QPA_PLATFORM=offscreen"
        )
    try:
        import PySide6
    except ImportError:
        return None  # the import error itself is clearer
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        missing = str(exc).split(":")[0].strip()
        return (
            f"Qt's X11 plugin cannot load a system library ({missing}); on Debian/Ubuntu: "
            f"sudo apt-get install {XCB_PACKAGES}"
        )
    display = os.environ["DISPLAY"]
    if x_server_answers(display) is False:  # Qt would abort, blaming libxcb-cursor0
        return (
            f"no X server answers on DISPLAY={display}; start one or set DISPLAY to a running "
            "display (headless: 'gdsim render', 'gdsim --screenshot' or QT_QPA_PLATFORM=offscreen)"
        )
    return None


def x_server_answers(display: str) -> bool | None:
    """Whether an X server accepts a connection on ``display`` (None: cannot tell here), asked
    through libxcb, which Qt's X11 plugin itself uses."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(display.encode(), None)  # never NULL: an error object at worst
        try:
            return xcb.xcb_connection_has_error(conn) == 0
        finally:
            xcb.xcb_disconnect(conn)
    except (OSError, AttributeError, TypeError, UnicodeError):
        return None


def _qt_app_running() -> bool:
    """A QApplication already runs (tests, an embedding program): its display works."""
    qt = sys.modules.get("PySide6.QtWidgets")
    return qt is not None and qt.QApplication.instance() is not None


def import_torch_before_qt() -> None:
    """Import torch before PySide6 does anything: PySide6 replaces ``__import__`` with its
    ``__feature_import__`` wrapper, and torch's ~1,000 modules imported through it took ~0.15 s
    longer here (10 % of the start-up)."""
    import torch  # noqa: F401
