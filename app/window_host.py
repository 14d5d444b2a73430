"""What the File-menu helpers (sessions, export, the code dock) may use of the window.

They take the window as a ``WindowHost``, not as ``MainWindow``: the window imports them, so they
must not import it back, and they reach only its public methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStatusBar

    from app.training_page import TrainingPage
    from app.views import ViewInterface
    from app.views.surface_view import SurfaceView
    from app.views.training_view import TrainingView


class WindowHost(Protocol):
    surface_view: SurfaceView
    training_page: TrainingPage

    @property
    def training_view(self) -> TrainingView: ...

    def current_key(self) -> str: ...

    def current_view(self) -> ViewInterface: ...

    def view(self, key: str) -> QWidget: ...

    def show_view(self, key: str) -> QWidget: ...

    def show_tab(self, key: str) -> None: ...

    def collapse_control_panel(self) -> QWidget | None: ...

    def statusBar(self) -> QStatusBar: ...  # noqa: N802


def make_action(
    window: QWidget,
    name: str,
    text: str,
    tip: str,
    slot: Callable,
    shortcuts: list[QKeySequence] | None = None,
    checkable: bool = False,
) -> QAction:
    """A named action of ``window`` with its tip in the status bar."""
    act = QAction(text, window)
    act.setObjectName(name)
    act.setToolTip(tip)
    act.setStatusTip(tip)
    act.setCheckable(checkable)
    if shortcuts:
        act.setShortcuts(shortcuts)
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    act.triggered.connect(slot)
    window.addAction(act)  # shortcuts work in full screen, where the menu bar may be hidden
    return act
