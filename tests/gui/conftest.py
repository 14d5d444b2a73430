"""GUI test isolation: no error dialogs, settings in a temp dir, theme reset after each test."""

from __future__ import annotations

import os

import pytest

from tests.gui.helpers import shown

os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")  # errors are logged/recorded, never shown


@pytest.fixture(scope="module")
def warm_torch():
    """The first optimizer of a process imports torch's compiler stack (~2 s): a module that
    waits on training pays it once, up front (pytestmark = pytest.mark.usefixtures(...))."""
    from core.engine.training import TrainConfig, TrainingEngine

    TrainingEngine(TrainConfig(samples=40, epochs=1, device="cpu")).step(1)


@pytest.fixture(autouse=True)
def _isolated_settings(qapp, tmp_path):
    """Every test gets its own settings directory and leaves light theme at 100 % behind."""
    from PySide6.QtCore import QSettings

    import app.settings as settings_mod
    import app.theme as theme_mod

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    settings_mod.set_settings_file(None)
    yield tmp_path / "qs"
    settings_mod.set_settings_file(None)
    if theme_mod._THEME is not None and (
        theme_mod._THEME.name != "light" or theme_mod._THEME.scale != 1.0
    ):
        theme_mod._THEME.reset()


@pytest.fixture(autouse=True)
def _delete_closed_windows(qapp):
    """After each test, really delete the windows it made. pytest-qt closes the widgets a test
    registered and calls deleteLater(), but deferred deletes run only in an event loop, which
    tests never start: every window lived on for the rest of the session, each with its key
    guard on the application and its slots on the theme, so every later window was built and
    styled more slowly (setup grew from 1.5 s to 5 s across one test file)."""
    yield
    from PySide6.QtCore import QEvent

    from app.main_window import MainWindow

    for widget in qapp.topLevelWidgets():
        if isinstance(widget, MainWindow):
            widget.close()  # saves settings, stops workers; nothing if already closed
            widget.deleteLater()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


@pytest.fixture
def window(qtbot):
    """A shown MainWindow at 1280×800, closed (and its views shut down) after the test."""
    from app.main_window import MainWindow

    win = shown(qtbot, MainWindow())
    win.activateWindow()
    yield win
    win.close()
