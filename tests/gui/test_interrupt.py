"""Ctrl+C or SIGTERM while the window is open closes it like its close button (app.interrupt):
the settings are written, and a second signal would end the process at once."""

from __future__ import annotations

import gc
import os
import signal
import weakref

import pytest
from PySide6.QtWidgets import QWidget

from app.interrupt import CloseOnSignal
from app.settings import open_settings
from core.files.session import loads_session


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_closes_the_window_and_keeps_the_settings(qtbot, window, number):
    window.surface_view.set_speed(500)
    before = signal.getsignal(number)
    closer = CloseOnSignal(window)
    try:
        os.kill(os.getpid(), number)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
        assert closer.received == [number]
        assert signal.getsignal(number) is signal.SIG_DFL  # a second one would not wait
    finally:
        closer.uninstall()
    assert signal.getsignal(number) is before
    saved = loads_session(open_settings().value("views/surfaces/session"))
    assert saved.surfaces.speed == 500


def test_without_a_signal_nothing_happens(qtbot, window):
    closer = CloseOnSignal(window)
    try:
        qtbot.wait(200)
        assert window.isVisible() and closer.received == []
    finally:
        closer.uninstall()


def test_a_window_with_its_closer_is_freed_without_the_collector(qtbot):
    """The closer reaches its window through Qt's parent link. A Python reference back would
    make a cycle that only the cyclic collector frees, deleting the window inside it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        window = QWidget()
        closer = CloseOnSignal(window)
        closer.uninstall()
        ref = weakref.ref(window)
        del window, closer
        assert ref() is None
    finally:
        if was_enabled:
            gc.enable()
