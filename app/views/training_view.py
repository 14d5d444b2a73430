"""Training view: a small network learning a 2-D data set live (placeholder until the view lands).

Implements the interface documented in ``app.views`` so the window, its shortcuts, settings
and shutdown path can be built and tested before the view itself.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.widgets.collapsible_panel import CollapsiblePanel


class TrainingView(QWidget):
    """Placeholder: a label where the plots go and an empty control panel."""

    statusChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPage")
        placeholder = QLabel("Training view: coming soon", self)
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._panel = CollapsiblePanel("Controls", self, content=QLabel("No controls yet."))
        lay = QHBoxLayout(self)
        lay.addWidget(placeholder, 1)
        lay.addWidget(self._panel)

    def status_text(self) -> str:
        return "Training: nothing running"

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        return {"run": None, "step": None, "reset": None}

    def control_panel(self) -> CollapsiblePanel:
        return self._panel

    def save_settings(self, settings: QSettings) -> None:
        pass

    def restore_settings(self, settings: QSettings) -> None:
        pass

    def shutdown(self) -> None:
        pass
