"""Where the Training view's plots sit: loss on the left, the decision boundary (with its race
entry chooser) over the accuracy on the right, each at a readable size or else as tabs."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from app.plaintext import PlainLabel
from app.settings import read_bytes
from app.theme import ThemeManager
from app.views.training_controls import swatch
from app.views.training_plots import TrainingPlots, lane_label
from app.widgets.describe import describe
from app.widgets.plot_deck import PlotDeck
from app.widgets.plot_pages import PlotPages

log = logging.getLogger("gdsim.training")


class PlotArea(QWidget):
    """The plot deck and the chooser of whose decision boundary is shown."""

    boundaryLaneChanged = Signal(int)

    def __init__(self, plots: TrainingPlots, theme: ThemeManager, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots, self.theme = plots, theme
        self.splitters_restored = False
        self.boundary_lane_combo = describe(
            QComboBox(self),
            "boundaryLaneCombo",
            "Decision boundary of",
            "Whose network the decision boundary shows",
        )
        self.boundary_lane_label = PlainLabel("Boundary of", self)
        self.boundary_lane_label.setBuddy(self.boundary_lane_combo)

        loss_plot, acc_plot, boundary_plot = plots.widgets()
        # the loss plot (the one the lecture is about) gets the full height on the left; the
        # boundary (wider than tall for most data sets) and the accuracy share the right
        box = QWidget(self)
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        bl.addWidget(plots.boundary_title)
        bl.addWidget(boundary_plot, 1)
        lane_row = QHBoxLayout()
        lane_row.addWidget(self.boundary_lane_label)
        lane_row.addWidget(self.boundary_lane_combo, 1)
        bl.addLayout(lane_row)
        # loss | boundary over accuracy while each keeps a readable size (see PlotDeck),
        # else tabs; the widths and heights are the lecturer's to drag
        self._right = right = PlotDeck(Qt.Orientation.Vertical, self)
        right.addItem(box, "Decision boundary", stretch=3)
        right.addItem(acc_plot, "Accuracy", stretch=2)
        self.deck = PlotDeck(Qt.Orientation.Horizontal, self)
        self.deck.setObjectName("trainingPlotDeck")
        self.deck.addItem(loss_plot, "Loss", stretch=3)
        self.deck.addItem(right, "Boundary and accuracy", stretch=2)
        self.splitter = self.deck.splitter
        self.splitter.setObjectName("trainingSplitter")
        self.right_splitter = right.splitter
        self.right_splitter.setObjectName("trainingRightSplitter")
        self.pages = PlotPages(
            right, box, "Decision boundary", "Decision boundary", "trainingPlotTabs"
        )
        self._plot_widgets = (loss_plot, acc_plot, boundary_plot)
        for w in self._plot_widgets:
            w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.deck)
        self.fit_minimums()
        self.show_lanes([])
        self.boundary_lane_combo.currentIndexChanged.connect(self._on_lane)

    @Slot(QWidget)
    def show_page(self, widget: QWidget) -> None:
        """Bring a page beside the decision boundary to the front (a tab of its own when the
        plots are tabs)."""
        self.deck.show_widget(widget)

    def show_lanes(self, names: list[str], current: int = 0) -> None:
        """One chooser entry per race lane (the chooser only shows for a race)."""
        combo = self.boundary_lane_combo
        combo.blockSignals(True)
        combo.clear()
        size = max(10, self.fontMetrics().height() - 4)
        for i, n in enumerate(names):
            combo.addItem(swatch(self.theme.series_color(i), size), lane_label(n))
        combo.setCurrentIndex(current)
        combo.blockSignals(False)
        race = len(names) > 1
        combo.setVisible(race)
        self.boundary_lane_label.setVisible(race)

    def rename_lane(self, lane: int, text: str) -> None:
        if lane < self.boundary_lane_combo.count():
            self.boundary_lane_combo.setItemText(lane, text)

    def select_lane(self, lane: int) -> None:
        if lane < self.boundary_lane_combo.count():
            self.boundary_lane_combo.setCurrentIndex(lane)

    def boundary_lane(self) -> int:
        return max(0, self.boundary_lane_combo.currentIndex())

    @Slot(int)
    def _on_lane(self, index: int) -> None:
        if index >= 0:
            self.boundaryLaneChanged.emit(index)

    def fit_minimums(self) -> None:
        """No plot below the readable minimum at this zoom: the decks reflow to tabs."""
        least = self.theme.min_plot_size()
        for w in self._plot_widgets:
            w.setMinimumSize(least)
        self.deck.schedule_refit()
        self._right.schedule_refit()

    @Slot()
    def fit_splitters(self) -> None:
        """First show: loss 60 % of the width, boundary 55 % of the right column's height
        (Qt would otherwise split by the plots' size hints)."""
        w = self.splitter.width()
        if w > 0:
            self.splitter.setSizes([int(w * 0.6), w - int(w * 0.6)])
        h = self.right_splitter.height()
        if h > 0:
            self.right_splitter.setSizes([int(h * 0.55), h - int(h * 0.55)])

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("rightSplitter", self.right_splitter.saveState())

    def restore_settings(self, settings: QSettings) -> None:
        for key, splitter in (("splitter", self.splitter), ("rightSplitter", self.right_splitter)):
            state = read_bytes(settings, key)
            if state is not None:
                if splitter.restoreState(state):
                    self.splitters_restored = True
                else:
                    log.warning("ignoring setting %s: not a saved splitter state", key)
