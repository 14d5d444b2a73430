"""The Training tab's page: the Training view once it is built, and its setup until then.

Building the Training view costs ~0.3-0.5 s, so the window builds it only when it is first shown
(a switch to its tab, or right after the page's first paint when the window starts on it).
Until then the page keeps the setup that sessions and the settings give it, as a Qt-free
``PendingTraining``: File ▸ Save, "Back to the previous session" and the settings read and write
that, and never build the view to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.views import training_settings
from core.state.training import PendingTraining

if TYPE_CHECKING:
    from app.views.training_view import TrainingView
    from core.engine.training import TrainConfig


class TrainingPage(QWidget):
    """Holds the Training view, or the setup waiting for it."""

    #: The page was painted without its view: the window builds it now that the screen is up.
    paintedEmpty = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingTab")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.view: TrainingView | None = None
        self.pending: PendingTraining | None = None  # None: the panel's own defaults

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.view is None:  # after this frame is on screen, not inside its painting
            QTimer.singleShot(0, self, self.paintedEmpty.emit)

    def config(self) -> TrainConfig:
        """The setup on this page: the panel's (GdsimError if it is not valid right now), else
        the pending one, unchanged."""
        if self.view is not None:
            return self.view.controls.config()
        return (self.pending or PendingTraining()).config

    def apply(self, config: TrainConfig) -> None:
        """Show a session's setup: at once if the view is built, else when it is."""
        if self.view is not None:
            self.view.apply_config(config)
        else:
            self.pending = PendingTraining(config, loaded=True)

    def adopt(self, view: TrainingView) -> None:
        """The view is built: it goes on the page (the setup follows with ``show_pending``)."""
        self.layout().addWidget(view)
        view.show()  # a child added to a shown page stays hidden until shown
        self.view = view

    def show_pending(self) -> None:
        """The built view (its tools installed, its layout restored) shows the kept setup."""
        pending, self.pending = self.pending, None
        if self.view is None or pending is None:
            return
        if pending.loaded:
            self.view.apply_config(pending.config)
        else:
            self.view.show_settings(pending.config)

    # -- settings (inside the views/training group) -----------------------------------------
    def save_settings(self, s: QSettings) -> None:
        """The setup as one session: the panel's last valid one, or the pending one."""
        if self.view is not None:
            training_settings.save(self.view.model.config, s)
        elif self.pending is not None:
            training_settings.save(self.pending.config, s)

    def restore_settings(self, s: QSettings) -> None:
        """The saved setup, kept for the view (a session given at start-up replaces it)."""
        config = training_settings.read(s)
        if config is None:
            return
        if self.view is not None:
            self.view.show_settings(config)
        else:
            self.pending = PendingTraining(config)
