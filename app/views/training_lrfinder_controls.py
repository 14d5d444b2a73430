"""The LR finder's group in the Training view's control panel: the lr range and steps, *Find* and
*Cancel*, a progress bar and a status line (errors in the theme's error red)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.plaintext import PlainLabel
from app.theme import ThemeManager
from app.views.training_controls import ERROR_COLORS
from app.widgets.form_rows import wrapping_form
from app.widgets.slider_spin import SciDoubleSpinBox
from core.teach.lr_finder import (
    DEFAULT_LR_MAX,
    DEFAULT_LR_MIN,
    DEFAULT_STEPS,
    MAX_LR,
    MAX_STEPS,
    MIN_STEPS,
)


class LRFinderControls(QGroupBox):
    """``min_spin``, ``max_spin``, ``steps_spin``, ``find_button``, ``cancel_button``,
    ``progress`` and ``status``; the tool reads the request from them and reports back."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__("Learning-rate finder", parent)
        self.theme = theme
        self._status_error = False
        self.setObjectName("lrFinderBox")
        self.setAccessibleName("Learning-rate finder")
        self.setToolTip(
            "The LR range test (Smith, 2017): train a copy of this network briefly while the "
            "learning rate grows exponentially, and read a good value off the loss curve"
        )
        self.min_spin = SciDoubleSpinBox(self, digits=3)
        self.max_spin = SciDoubleSpinBox(self, digits=3)
        for spin, name, value, tip in (
            (self.min_spin, "lrFinderMin", DEFAULT_LR_MIN, "Learning rate of the first batch"),
            (
                self.max_spin,
                "lrFinderMax",
                DEFAULT_LR_MAX,
                "Learning rate of the last batch (the test stops earlier if the loss blows up)",
            ),
        ):
            spin.setRange(1e-12, MAX_LR)
            spin.setValue(value)
            spin.setObjectName(name)
            spin.setToolTip(tip)
            spin.setAccessibleName(tip.split(" (")[0])
            spin.setLabel(tip.split(" (")[0])
            spin.rejected.connect(self._on_rejected)  # a typed value it cannot take: say why
        self.steps_spin = QSpinBox(self)
        self.steps_spin.setRange(MIN_STEPS, min(MAX_STEPS, 10_000))
        self.steps_spin.setValue(DEFAULT_STEPS)
        self.steps_spin.setObjectName("lrFinderSteps")
        self.steps_spin.setAccessibleName("Learning-rate finder steps")
        self.steps_spin.setToolTip(
            "Batches to train, one learning rate each, spaced evenly on a log scale between "
            "the two values (the data is cycled if there are more steps than batches)"
        )
        range_row = QHBoxLayout()
        range_row.setContentsMargins(0, 0, 0, 0)
        range_row.addWidget(self.min_spin, 1)
        to = PlainLabel("to", self)
        to.setBuddy(self.max_spin)
        range_row.addWidget(to)
        range_row.addWidget(self.max_spin, 1)

        self.find_button = QPushButton("Find learning rate", self)
        self.find_button.setObjectName("findLrButton")
        self.find_button.setAccessibleName("Find learning rate")
        self.find_button.setToolTip(
            "Run the range test on a fresh copy of the network with the settings above (the "
            "selected race entry's optimizer); training, if running, is not disturbed"
        )
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("lrFinderCancel")
        self.cancel_button.setAccessibleName("Cancel the learning-rate finder")
        self.cancel_button.setToolTip("Stop the range test now (the curve so far stays)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.find_button, 1)
        buttons.addWidget(self.cancel_button)

        self.progress = QProgressBar(self)
        self.progress.setObjectName("lrFinderProgress")
        self.progress.setAccessibleName("Learning-rate finder progress")
        self.progress.setToolTip("Steps of the range test done")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(max(8, self.progress.fontMetrics().height() // 2))

        self.status = PlainLabel("", self)
        self.status.setObjectName("lrFinderStatus")
        self.status.setAccessibleName("Learning-rate finder status")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(1)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = wrapping_form(self)
        form.setContentsMargins(6, 6, 6, 6)
        lr_label = PlainLabel("lr from", self)
        lr_label.setBuddy(self.min_spin)
        form.addRow(lr_label, range_row)
        steps_label = PlainLabel("Steps", self)
        steps_label.setBuddy(self.steps_spin)
        form.addRow(steps_label, self.steps_spin)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow(self.status)
        theme.changed.connect(self._color_status)

    def request(self) -> tuple[float, float, int]:
        """(lr_min, lr_max, steps) as the fields hold them."""
        return float(self.min_spin.value()), float(self.max_spin.value()), self.steps_spin.value()

    def set_running(self, running: bool, closed: bool) -> None:
        """*Find* while idle (never after shutdown), *Cancel* and locked fields while running."""
        self.find_button.setEnabled(not running and not closed)
        self.cancel_button.setEnabled(running)
        for w in (self.min_spin, self.max_spin, self.steps_spin):
            w.setEnabled(not running)

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(round(fraction * self.progress.maximum())))

    def set_status(self, text: str, error: bool = False) -> None:
        self._status_error = error
        self.status.setText(text)
        self.status.setProperty("error", error)
        self._color_status()

    @Slot(str)
    def _on_rejected(self, text: str) -> None:
        self.set_status(text, error=True)

    @Slot()
    def _color_status(self) -> None:
        if self._status_error:
            self.status.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]}; font-weight: bold;")
        else:
            self.status.setStyleSheet("")
