"""The Surfaces view's loss plot under its title, with the "log y" box that switches its axis.

A loss below the log axis' reference (f*, or the lowest value on the map) would be drawn clamped
at the floor, looking converged: the box then turns itself off and the model says why.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from app.plaintext import PlainLabel
from app.views.surface_plots import RacePlots
from core.state.surfaces import SurfacesModel


class LossBox(QWidget):
    """``plots.loss`` with ``log_check`` (``surfaceLossLogCheck``) above it."""

    def __init__(
        self, model: SurfacesModel, plots: RacePlots, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.plots = plots
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 4, 0)
        title = PlainLabel("Loss per step", self)
        title.setObjectName("lossTitle")
        self.log_check = QCheckBox("log y", self)
        self.log_check.setObjectName("surfaceLossLogCheck")
        self.log_check.setAccessibleName("Logarithmic loss axis")
        self.log_check.setToolTip(
            "Show the loss on a log axis (the gap to the known minimum, f − f*, where the surface "
            "knows it), so convergence rates appear as slopes."
        )
        self.log_check.setChecked(True)
        self.log_check.toggled.connect(self._on_log_toggled)
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.log_check)
        lay.addLayout(head)
        lay.addWidget(plots.loss, 1)
        plots.referenceChanged.connect(self._on_reference_changed)

    def log_off_if_below(self) -> None:
        """After a redraw: off (with the model's note) if a loss went below the reference."""
        if self.plots.below_reference and self.log_check.isChecked():
            self.log_check.setChecked(False)  # redraws on a linear axis
            what = "f*" if self.plots.reference_known else "the lowest value on the map"
            self.model.set_note(
                f"log y off: a loss went below {what}, which a log axis cannot show"
            )

    @Slot()
    def _on_reference_changed(self) -> None:
        self._on_log_toggled(self.log_check.isChecked())  # the loss curves, from the new f*

    @Slot(bool)
    def _on_log_toggled(self, on: bool) -> None:
        self.plots.set_log_y(on, self.model.entries.values(), self.model.generation)
        self.log_off_if_below()  # ticked again on a race that already went below
