"""The network's own loss landscape, as a page beside the decision boundary.

What the lecturer gets: one click on "Compute landscape" draws the real training loss of the
network on a plane through its current weights — along two random directions, filter-normalised
as in Li et al., 2018 but drawn from gdsim's own seeded generator, or the top two PCA directions
of the path the weights took (see ``core.teach.landscape``) — as a filled contour map, with that path projected onto it (a ring where
training started, a star where the weights are now). It works while training runs (the weights
are copied between two batches and the slice is computed on the copy) and after it paused or
finished.

Why built like this:
* The engine owns the network; the GUI must not read its tensors while the worker trains. So the
  tool asks the engine for a ``WeightsSnapshot`` (``request_weights`` returns a future the driver
  completes between two batches) and a ``BackgroundTask`` (``app.tasks``) waits for it and
  computes the slice on its own thread: the window never freezes, progress is a bar, Cancel is
  immediate, and a second click simply replaces the computation in progress.
* Plot items (heat map, contours, path, markers) are created once and updated with setData /
  setImage; the colours follow the theme (``theme.changed`` restyles them).
* Every failure — nothing trained yet, PCA with fewer than three snapshots, a diverged run — is
  one line in the page's message label; nothing raises into Qt. The label's colour comes from the
  theme (error red or the theme's text colour) and is set again on ``theme.changed``.
* The page's content scrolls (vertically only) when the page is shorter than it, at 200 % zoom
  say, instead of overlapping.

``install(view)`` builds it into a ``TrainingView`` and returns the ``LandscapeTool``; the view's
``shutdown()`` must call ``tool.shutdown()`` (it cancels the computation and waits ≤ 0.9 s).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QSize, Qt, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel
from app.tasks import BackgroundTask
from app.theme import ThemeManager, get_theme
from app.views.training_controls import ERROR_COLORS
from app.widgets.contour_map import ContourMap
from app.widgets.describe import describe
from core.engine.training import WeightsSnapshot
from core.errors import GdsimError, error_line
from core.state.training import TrainingModel
from core.teach.landscape import DEFAULT_RANDOM_SPAN, LandscapeSlice, compute_landscape

log = logging.getLogger("gdsim.landscape")

DEFAULT_GRID = 41
GRID_RANGE = (5, 101)
SPAN_MAX = 50.0
SNAPSHOT_TIMEOUT_S = 10.0  # the engine answers between two batches; this only guards a dead one
DIRECTION_CHOICES = (
    ("random", "Random (filter-normalised)"),
    ("pca", "PCA of the trajectory"),
)
MAP_TOOLTIP = (
    "The network's training loss at θ + a·d1 + b·d2 around its current weights θ (star); the "
    "line is the path training took, projected onto this plane (ring: the start) · wheel: zoom · "
    "Shift+drag or middle-drag: pan · right-click: view menu (View All)"
)


def _wait_for_snapshot(
    future: concurrent.futures.Future, cancelled, timeout_s: float = SNAPSHOT_TIMEOUT_S
) -> WeightsSnapshot | None:
    """The engine's answer (None if cancelled meanwhile); GdsimError if it never comes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if cancelled():
            future.cancel()
            return None
        try:
            return future.result(timeout=0.05)
        except concurrent.futures.TimeoutError:
            if time.monotonic() > deadline:
                future.cancel()
                raise GdsimError(
                    "the training engine did not hand over its weights; try again"
                ) from None


def landscape_job(
    report,
    cancelled,
    future: concurrent.futures.Future,
    directions: str,
    grid: int,
    span: float | None,
) -> LandscapeSlice | None:
    """What the background task runs: wait for the weights, then compute the slice."""
    report(0.0, "copying the weights")
    snapshot = _wait_for_snapshot(future, cancelled)
    if snapshot is None:
        return None
    if snapshot.steps == 0:
        raise GdsimError(
            "Nothing trained yet: press Start or Step, then compute the landscape of what the "
            "network learned."
        )
    return compute_landscape(
        snapshot,
        directions,
        n=grid,
        span=span,
        seed=snapshot.config.seed,
        report=report,
        cancelled=cancelled,
    )


class LandscapePage(QWidget):
    """The page: controls on top, the contour map, a message line. Widgets only."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("landscapePage")

        self.directions = describe(
            QComboBox(self),
            "landscapeDirections",
            "Landscape directions",
            "The plane through the weights: two random directions, filter-normalised as in Li "
            "et al., 2018 (scaled to each neuron's weights) but drawn from gdsim's own seeded "
            "generator (the run's seed), so not the paper's random numbers; or the two "
            "directions the training path moved in most",
        )
        for key, text in DIRECTION_CHOICES:
            self.directions.addItem(text, key)
        # as wide as the page gives, not as its longest text: that made the page, and so the
        # column it shares with the decision boundary, ~500 px wide at 100 % zoom
        self.directions.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.directions.setMinimumContentsLength(12)

        self.grid = describe(
            QSpinBox(self),
            "landscapeGrid",
            "Landscape grid size",
            "Points per side of the grid: each point is one evaluation of the loss over the "
            "training data (41 × 41 = 1681 networks)",
        )
        self.grid.setRange(*GRID_RANGE)
        self.grid.setValue(DEFAULT_GRID)

        self.span = describe(
            QDoubleSpinBox(self),
            "landscapeRange",
            "Landscape range",
            "How far the plane reaches each way from the current weights: ±1 along a random "
            f"direction is one weight norm per neuron; auto: ±{DEFAULT_RANDOM_SPAN:g} for random "
            "directions, the whole path for PCA",
        )
        self.span.setRange(0.0, SPAN_MAX)
        self.span.setDecimals(2)
        self.span.setSingleStep(0.25)
        self.span.setSpecialValueText("auto")
        self.span.setPrefix("± ")
        self.span.setValue(0.0)

        self.compute_button = describe(
            QPushButton("Compute landscape", self),
            "computeLandscapeButton",
            "Compute the loss landscape",
            "Copy the current weights (training goes on) and compute the loss on the plane "
            "through them, in the background",
        )
        self.cancel_button = describe(
            QPushButton("Cancel", self),
            "cancelLandscapeButton",
            "Cancel the loss landscape",
            "Stop computing the landscape (the last picture stays)",
        )
        self.cancel_button.setEnabled(False)

        self.progress = describe(
            QProgressBar(self),
            "landscapeProgress",
            "Loss landscape progress",
            "Rows of the grid evaluated so far",
        )
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")

        self.title = describe(
            PlainLabel("Loss landscape · not computed yet", self),
            "landscapeTitle",
            "Loss landscape title",
        )
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.map = describe(
            ContourMap(self, bands=14, theme=theme),
            "landscapeMap",
            "Loss landscape contour map",
            MAP_TOOLTIP,
        )
        self.map.setMinimumSize(160, 120)
        self.map.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        pi = self.map.getPlotItem()
        pi.setLabel("bottom", "a (along d1)")
        pi.setLabel("left", "b (along d2)")

        self.message = describe(PlainLabel("", self), "landscapeMessage", "Loss landscape message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)

        labels = []
        for text, buddy in (("Directions", self.directions), ("Grid", self.grid)):
            label = PlainLabel(text, self)
            label.setBuddy(buddy)
            label.setToolTip(buddy.toolTip())
            labels.append(label)
        range_label = PlainLabel("Range", self)
        range_label.setBuddy(self.span)
        range_label.setToolTip(self.span.toolTip())

        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(3)
        # two rows of their own: a column shared by "Directions" and "Grid" made this page (and
        # the plot column beside the loss curves) ~70 px wider than either row at 200 % zoom
        for row in ((labels[0], self.directions), (labels[1], self.grid, range_label, self.span)):
            line = QHBoxLayout()
            line.setSpacing(6)
            for widget in row:
                line.addWidget(widget, 0 if isinstance(widget, PlainLabel) else 1)
            controls.addLayout(line)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)

        # Everything sits in a frameless scroll area: when the page is shorter than its content
        # (200 % zoom in an 850 px window) it scrolls instead of laying the explanation over the
        # map's axis and clipping the title, which a plain layout does below its minimum
        # (word-wrapped labels need more height than the minimum Qt asks the parents for).
        self.body = QWidget()
        self.body.setObjectName("landscapeBody")
        lay = QVBoxLayout(self.body)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(3)
        lay.addLayout(controls)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)  # a row of its own: the page then fits the column beside
        # the loss plot at 1024×768 (the buttons and the bar side by side did not)
        lay.addWidget(self.title)
        lay.addWidget(self.map, 1)
        lay.addWidget(self.message)
        self.scroll = describe(QScrollArea(self), "landscapeScroll", "Loss landscape page")
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """As wide as the controls need (the page never scrolls sideways) and as tall as the
        content's plain minimum: what the page asked for before it scrolled, so the splitter
        shares the height as before and only the word-wrapped extra scrolls."""
        body = self.body.minimumSizeHint()
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        return QSize(body.width() + bar, body.height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        body = self.body.sizeHint()
        return QSize(
            body.width() + self.scroll.verticalScrollBar().sizeHint().width(), body.height()
        )


class LandscapeTool(QObject):
    """Controller of the landscape page: asks the engine for weights, runs the task, draws."""

    def __init__(self, model: TrainingModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = get_theme()
        self.page = LandscapePage(self.theme)
        self.task = BackgroundTask(self, name="gdsim-landscape")
        self.result: LandscapeSlice | None = None
        self._lane = 0
        self._closed = False

        self.path = pg.PlotDataItem()
        self.path.setZValue(20)
        self.page.map.addItem(self.path)
        self.current = pg.ScatterPlotItem(symbol="star", pxMode=True)
        self.current.setZValue(25)
        self.page.map.addItem(self.current)
        self._style_items()

        p = self.page
        p.compute_button.clicked.connect(self.compute)
        p.cancel_button.clicked.connect(self.cancel)
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_result)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)
        self.theme.changed.connect(self._on_theme)

    # -- commands --------------------------------------------------------------------------
    @Slot()
    def compute(self) -> None:
        """Snapshot the selected network's weights and compute its landscape in the background."""
        if self._closed:
            return
        p = self.page
        lane = self.model.focus_lane  # the network the decision boundary shows
        try:
            future = self.model.request_weights(lane)
        except GdsimError as exc:
            self._show_message(error_line(exc), True)
            return
        if future is None:
            self._show_message(
                "Nothing trained yet: press Start or Step, then compute the landscape.", True
            )
            return
        self.task.cancel()  # a computation in progress gives way to this one (no-op if idle)
        self._lane = lane
        self._show_message("")
        if self.task.start(
            landscape_job, future, p.directions.currentData(), p.grid.value(), self._span()
        ):
            p.progress.setValue(0)
            p.progress.setFormat("Copying the weights…")
            p.cancel_button.setEnabled(True)

    @Slot()
    def cancel(self) -> None:
        self.task.cancel()

    def shutdown(self) -> None:
        """Cancel a computation in progress and wait for its thread (≤ 0.9 s, never terminate)."""
        self._closed = True
        try:
            self.task.shutdown(900)
        except Exception:  # must not raise into the window's close
            log.exception("stopping the landscape task failed")

    def _span(self) -> float | None:
        value = self.page.span.value()
        return None if value <= 0 else float(value)

    # -- task reports ----------------------------------------------------------------------
    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        pct = int(round(fraction * 100))
        self.page.progress.setValue(pct)
        self.page.progress.setFormat(f"{pct} % · {text}" if text else f"{pct} %")

    @Slot(object)
    def _on_result(self, result: object) -> None:
        p = self.page
        p.cancel_button.setEnabled(False)
        if not isinstance(result, LandscapeSlice):
            return
        self.result = result
        p.progress.setValue(100)
        p.progress.setFormat(f"100 % · {result.seconds:.1f} s")
        p.map.set_field(result.xs, result.ys, result.loss, log_scale=_log_scale(result.loss))
        self._label_axes(result)
        self.path.setData(result.path[:, 0], result.path[:, 1])
        p.map.set_start((float(result.path[0, 0]), float(result.path[0, 1])))
        self.current.setData([0.0], [0.0])
        self._style_items()
        p.title.setText(_title(result))
        self._show_message(_explanation(result))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.page.cancel_button.setEnabled(False)
        self.page.progress.setValue(0)
        self.page.progress.setFormat("")
        self._show_message(message, True)

    @Slot()
    def _on_cancelled(self) -> None:
        self.page.cancel_button.setEnabled(False)
        self.page.progress.setValue(0)
        self.page.progress.setFormat("Cancelled")

    # -- drawing ---------------------------------------------------------------------------
    def _label_axes(self, result: LandscapeSlice) -> None:
        pi = self.page.map.getPlotItem()
        if result.kind == "pca" and result.explained is not None:
            e1, e2 = result.explained
            pi.setLabel("bottom", f"PC 1 ({e1:.0%} of the path)")
            pi.setLabel("left", f"PC 2 ({e2:.0%})")
        else:
            pi.setLabel("bottom", "a (along d1)")
            pi.setLabel("left", "b (along d2)")
        label = self.page.map.colorbar.getAxis("left")
        label.setLabel("loss − min (log)" if self.page.map.is_log_scale() else "loss")
        self.theme.style_plot(self.page.map)

    def _style_items(self) -> None:
        t = self.theme
        color = t.series_color(self._lane)
        outline = "#000000" if not t.is_dark else "#FFFFFF"
        self.path.setPen(t.pen(color, 2.5))
        self.path.setSymbol("o")
        self.path.setSymbolSize(t.size(6))
        self.path.setSymbolPen(t.pen(outline, 0.8))
        self.path.setSymbolBrush(pg.mkBrush(color))
        self.current.setSize(t.size(20))
        self.current.setPen(t.pen(outline, 1.2))
        self.current.setBrush(pg.mkBrush(color))

    @Slot()
    def _on_theme(self) -> None:
        self._style_items()
        self.page.updateGeometry()  # its minimum width follows the zoomed controls
        if self.page.message.isVisible():
            self._show_message(self.page.message.text(), bool(self.page.message.property("error")))

    def _show_message(self, text: str, error: bool = False) -> None:
        m = self.page.message
        m.setText(text)
        m.setProperty("error", error)
        color = explanation_color(self.theme, error)
        m.setStyleSheet(f"color: {color}; font-weight: {'bold' if error else 'normal'};")
        m.setVisible(bool(text))

    def message_text(self) -> str:
        m = self.page.message
        return m.text() if m.isVisible() else ""


def explanation_color(theme: ThemeManager, error: bool) -> str:
    """The message's colour, from the theme, never from the label: its palette already holds
    the colour of the previous style sheet, so reading it kept an explanation black after a
    switch to dark, or red after an error. Errors in the theme's error red (as the other views
    show them); other text in the theme's own text colour (the palette the theme applied)."""
    if error:
        return ERROR_COLORS.get(theme.name, ERROR_COLORS["light"])
    return QApplication.palette().color(QPalette.ColorRole.WindowText).name()


def _log_scale(loss: np.ndarray) -> bool:
    """Log colours when the loss spans more than a decade above its minimum (it usually does:
    a trained network sits in a basin far below the loss one weight norm away)."""
    finite = loss[np.isfinite(loss)]
    if finite.size == 0:
        return False
    low, high = float(finite.min()), float(finite.max())
    return high - low > 0 and (low <= 0 or high / low > 10)


def _title(r: LandscapeSlice) -> str:
    what = "random plane" if r.kind == "random" else "PCA plane"
    name = f"{r.lane_name} · " if r.lane_name else ""
    return f"{name}epoch {r.epoch}, batch {r.steps} · {what} · loss ★ {r.centre_loss:.4g}"


def _explanation(r: LandscapeSlice) -> str:
    n = len(r.xs)
    if r.kind == "pca" and r.explained is not None:
        e1, e2 = r.explained
        return (
            f"The plane the weights moved in most: PC 1 and PC 2 hold {e1:.0%} and {e2:.0%} of "
            f"the path's spread. {n}×{n} losses on {r.points} training points."
        )
    return (
        f"Random directions (seed {r.seed}) from gdsim's own generator, filter-normalised as in "
        "Li et al. 2018 (scaled to each neuron's weights). A random plane misses most of the "
        f"path — try PCA. {n}×{n} losses on {r.points} training points."
    )


def install(view) -> LandscapeTool:
    """Add the "Loss landscape" page to a ``TrainingView``; keep the returned tool referenced
    (e.g. ``view.landscape``) and call its ``shutdown()`` from the view's ``shutdown()``."""
    tool = LandscapeTool(view.model, view)
    view.add_plot_page(tool.page, "Loss landscape")
    return tool
