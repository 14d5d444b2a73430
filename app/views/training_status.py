"""The Training view's progress bar and message line, both fed by the TrainingModel."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar, QWidget

from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, get_theme
from app.widgets.describe import describe
from core.state.training import TrainingModel

PROGRESS_EVERY_S = 0.1
PENDING_TEXT = "Settings changed: they apply when you press Reset (R)."


class ProgressLine(QProgressBar):
    """Epochs and batches done: 'Epoch 3/20 · batch 12/25'."""

    def __init__(self, model: TrainingModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._shown_t = -1e9
        describe(
            self,
            "epochProgress",
            "Training progress",
            "Epochs and batches done: one epoch is one pass over the data",
        )
        self.setTextVisible(True)
        self.setRange(0, 1)
        self.setValue(0)

    def follow(self, force: bool = False) -> None:
        m = self.model
        now = time.monotonic()
        if not force and now - self._shown_t < PROGRESS_EVERY_S and m.steps > 0:
            return  # its repaint also repaints the styled parents behind it: 10 Hz is plenty
        self._shown_t = now
        total = max(1, m.epochs * m.batches_per_epoch)
        if self.maximum() != total:
            self.setRange(0, total)
        self.setValue(min(m.steps, total))
        epoch, batch = m.epoch_batch()
        text = f"Epoch {epoch}/{m.epochs} · batch {batch}/{m.batches_per_epoch}"
        if self.format() != text:
            self.setFormat(text)


class MessageLine(PlainLabel):
    """One line under the transport bar: the model's messages, errors in bold red."""

    def __init__(self, model: TrainingModel, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.model = model
        describe(self, "trainMessage", "Training message")
        self.setWordWrap(True)
        self.setVisible(False)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        model.message.connect(self.show_message)
        model.cleared.connect(self.clear_message)

    def show_message(self, text: str, error: bool = False) -> None:
        self.setText(text)
        self.setProperty("error", error)
        color = (
            ERROR_COLORS[get_theme().name] if error else self.palette().windowText().color().name()
        )
        self.setStyleSheet(f"color: {color}; font-weight: {'bold' if error else 'normal'};")
        self.setVisible(bool(text))

    def clear_message(self, errors_too: bool = False) -> None:
        if errors_too or not self.property("error"):
            self.show_message("")
        if self.model.pending:
            self.show_message(PENDING_TEXT)

    def shown_text(self) -> str:
        return self.text() if self.isVisible() else ""

    def restyle(self) -> None:
        """A theme change: the error colour is the theme's."""
        if self.isVisible():
            self.show_message(self.text(), bool(self.property("error")))
