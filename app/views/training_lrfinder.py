"""The learning-rate finder in the Training view: run the range test, read the lr off the curve.

What the lecturer does: open "Learning-rate finder" in the control panel, press *Find learning
rate*; the "LR finder" page beside the decision boundary draws the loss against a learning rate
that grows exponentially (batch losses faint, their smoothed average bold, log lr axis) as the
test runs, then marks the suggested value (gdsim's steepest-descent rule, the idea of fastai's
``steep``) with a dashed line and fastai's ``valley`` suggestion with a dotted one, and says which
rule chose each (``core.teach.lr_finder`` says exactly how). *Use this learning rate* (or *Use
valley*) puts the value into the Training view's lr control — exactly as if the lecturer had
typed it there, so it goes to the selected race entry and, if that entry is training, applies
live from the next batch.

How it stays out of the way:
* The test is ``core.teach.lr_finder.find_lr`` on an ``app.tasks.BackgroundTask`` (its own QThread).
  It trains a fresh copy of the network built from the panel's settings, never the model that
  may be training meanwhile. The request is validated on the GUI thread first (one line in the
  status label; nothing starts).
* Points arrive through a per-run list the worker appends to (``on_step``); a 50 ms timer on the
  GUI thread feeds them to plot items created once. A cancelled run's late points land in its
  own list, which nobody reads any more.
* Cancel is immediate (the task forgets the run; the worker stops at the next batch); the
  partial curve stays on screen without a suggestion. ``shutdown()`` (from the view's
  ``shutdown()``) cancels and waits briefly for the thread.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel, RichLabel, esc
from app.tasks import BackgroundTask
from app.theme import ThemeManager, get_theme
from app.views.training_controls import ERROR_COLORS
from app.widgets.slider_spin import SciDoubleSpinBox, format_number
from core.engine.optimizers import parse_spec
from core.engine.training import TrainConfig
from core.errors import GdsimError, error_line
from core.state.training import TrainingModel
from core.teach.lr_finder import (
    DEFAULT_LR_MAX,
    DEFAULT_LR_MIN,
    DEFAULT_STEPS,
    MAX_LR,
    MAX_STEPS,
    MIN_STEPS,
    LRFinderResult,
    LRPoint,
    check_request,
    find_lr,
)

log = logging.getLogger("gdsim.lrfinder")

DRAW_MS = 50  # live curve refresh while the test runs
PAGE_TITLE = "LR finder"
MARKER_COLORS = {"light": "#C62828", "dark": "#FF6B6B"}  # the suggestion: the thing to look at
VALLEY_COLORS = {"light": "#6A1B9A", "dark": "#CE93D8"}  # fastai's valley, beside it


def _job(
    report,
    cancelled,
    config: TrainConfig,
    lane: int,
    lr_min: float,
    lr_max: float,
    steps: int,
    sink: list[LRPoint],
) -> LRFinderResult:
    """Runs on the task's worker thread: the range test, streaming its points into ``sink``."""
    return find_lr(
        config,
        lane,
        lr_min,
        lr_max,
        steps,
        report=report,
        cancelled=cancelled,
        on_step=sink.append,  # list.append is atomic: the GUI thread reads a prefix
    )


def _marker(
    plot: pg.PlotItem, name: str, height: float, anchor: tuple[int, int]
) -> pg.InfiniteLine:
    """A hidden vertical line with a label at ``height`` (0 bottom, 1 top) of the plot."""
    line = pg.InfiniteLine(
        pos=0.0,
        angle=90,
        movable=False,
        label="",
        labelOpts={"position": height, "anchors": [anchor, anchor]},
    )
    line.setObjectName(name)
    line.setVisible(False)
    plot.addItem(line, ignoreBounds=True)
    return line


def _round_lr(lr: float) -> float:
    """Three significant digits, like the lr slider's positions (0.201, not 0.20092330)."""
    return float(f"{lr:.3g}")


class LRFinderTool(QObject):
    """The finder's controls (a panel group), its plot page and the background task."""

    pageWanted = Signal(QWidget)  # a test started: its plot page should come to the front

    def __init__(
        self, model: TrainingModel, theme: ThemeManager | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme or get_theme()
        self.task = BackgroundTask(self, name="gdsim-lrfinder")
        self.result: LRFinderResult | None = None  # the last finished run
        self._sink: list[LRPoint] = []  # points of the current run (appended by the worker)
        self._drawn = 0  # points of the sink drawn so far
        self._live: tuple[list[float], list[float], list[float]] = ([], [], [])  # lr, loss, ema
        self._request: tuple[str, int, int] | None = None  # (optimizer, lane, steps) running
        self._stale = False  # settings changed since the shown result
        self._status_error = False
        self._closed = False  # after shutdown(): never start again
        self._build_box()
        self._build_page()
        self._timer = QTimer(self)
        self._timer.setInterval(DRAW_MS)
        self._timer.timeout.connect(self._draw_live)
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_succeeded)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)
        self.find_button.clicked.connect(self.find)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self.use_suggestion)
        self.valley_button.clicked.connect(self.use_valley)
        self.theme.changed.connect(self._on_theme)
        model.settings_edited.connect(self._on_settings_changed)
        model.lane_selected.connect(self._on_lane_selected)
        self._sync()

    # -- building --------------------------------------------------------------------------
    def _build_box(self) -> None:
        box = QGroupBox("Learning-rate finder")
        box.setObjectName("lrFinderBox")
        box.setAccessibleName("Learning-rate finder")
        box.setToolTip(
            "The LR range test (Smith, 2017): train a copy of this network briefly while the "
            "learning rate grows exponentially, and read a good value off the loss curve"
        )
        self.box = box
        self.min_spin = SciDoubleSpinBox(box, digits=3)
        self.max_spin = SciDoubleSpinBox(box, digits=3)
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
        self.steps_spin = QSpinBox(box)
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
        to = PlainLabel("to", box)
        to.setBuddy(self.max_spin)
        range_row.addWidget(to)
        range_row.addWidget(self.max_spin, 1)

        self.find_button = QPushButton("Find learning rate", box)
        self.find_button.setObjectName("findLrButton")
        self.find_button.setAccessibleName("Find learning rate")
        self.find_button.setToolTip(
            "Run the range test on a fresh copy of the network with the settings above (the "
            "selected race entry's optimizer); training, if running, is not disturbed"
        )
        self.cancel_button = QPushButton("Cancel", box)
        self.cancel_button.setObjectName("lrFinderCancel")
        self.cancel_button.setAccessibleName("Cancel the learning-rate finder")
        self.cancel_button.setToolTip("Stop the range test now (the curve so far stays)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.find_button, 1)
        buttons.addWidget(self.cancel_button)

        self.progress = QProgressBar(box)
        self.progress.setObjectName("lrFinderProgress")
        self.progress.setAccessibleName("Learning-rate finder progress")
        self.progress.setToolTip("Steps of the range test done")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(max(8, self.progress.fontMetrics().height() // 2))

        self.status = PlainLabel("", box)
        self.status.setObjectName("lrFinderStatus")
        self.status.setAccessibleName("Learning-rate finder status")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(1)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout(box)
        form.setContentsMargins(6, 6, 6, 6)
        lr_label = PlainLabel("lr from", box)
        lr_label.setBuddy(self.min_spin)
        form.addRow(lr_label, range_row)
        steps_label = PlainLabel("Steps", box)
        steps_label.setBuddy(self.steps_spin)
        form.addRow(steps_label, self.steps_spin)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow(self.status)

    def _build_page(self) -> None:
        page = QWidget()
        page.setObjectName("lrFinderPage")
        page.setAccessibleName("Learning-rate finder")
        self.page = page
        plot = pg.PlotWidget(page)
        plot.setObjectName("lrFinderPlot")
        plot.setAccessibleName("Loss against learning rate")
        plot.setToolTip(
            "Loss of each batch (faint) and its smoothed average (bold) while the learning "
            "rate grows; the dashed line marks the suggested learning rate (steepest descent "
            "of the smoothed loss), the dotted one fastai's 'valley' suggestion · wheel: zoom "
            "· right-click: View All"
        )
        plot.setMinimumSize(160, 120)
        plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot = plot
        pi = plot.getPlotItem()
        pi.setLogMode(x=True, y=False)
        pi.setLabel("bottom", "learning rate (log scale)")
        pi.setLabel("left", "loss (cross-entropy)")
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        # top left: the curve starts low there (the y range ends well above its start), while on
        # the right the marker's label and the blow-up need the room
        self.legend = pi.addLegend(offset=(6, 6), colCount=2)
        self.legend.setObjectName("lrFinderLegend")
        self.raw_curve = pi.plot([], [], name="batch loss")
        self.raw_curve.setObjectName("lrFinderRaw")
        self.smooth_curve = pi.plot([], [], name="smoothed")
        self.smooth_curve.setObjectName("lrFinderSmoothed")
        # a PlotDataItem (not a bare ScatterPlotItem) so the log-x transform applies to it too
        self.point = pi.plot([], [], pen=None, symbol="o")
        self.point.setObjectName("lrFinderPoint")
        self.point.setZValue(5)
        # the suggestion's label top right of its line; the valley's left of its line and low:
        # the valley lies below the suggestion's lr, and the plateau before it runs along the top
        self.marker = _marker(pi, "lrFinderMarker", 0.97, (0, 0))
        self.valley_marker = _marker(pi, "lrFinderValleyMarker", 0.3, (1, 0))

        self.result_label = RichLabel(
            "Press “Find learning rate” in the panel (Learning-rate finder) to run the range test.",
            page,
        )
        self.result_label.setObjectName("lrFinderResult")
        self.result_label.setAccessibleName("Suggested learning rate")
        self.result_label.setWordWrap(True)
        self.result_label.setMinimumWidth(1)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use this learning rate", page)
        self.use_button.setObjectName("useLrButton")
        self.use_button.setAccessibleName("Use the suggested learning rate")
        self.use_button.setToolTip(
            "Put the suggested value into the learning-rate control of the race entry the test "
            "ran for (it applies live if that entry is training)"
        )
        self.valley_button = QPushButton("Use valley", page)
        self.valley_button.setObjectName("useValleyButton")
        self.valley_button.setAccessibleName("Use the valley learning rate")
        self.valley_button.setToolTip(
            "Put fastai's 'valley' suggestion (the dotted line) into the learning-rate control "
            "instead, the same way"
        )
        buttons = QVBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.valley_button)
        buttons.addStretch(1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.result_label, 1)
        bottom.addLayout(buttons)
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(plot, 1)
        lay.addLayout(bottom)
        self._style_items()
        self.theme.style_plot(plot)

    # -- the user's commands ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task.running

    @Slot()
    def find(self) -> bool:
        """Validate the request and start the range test; False (reason shown) if refused."""
        try:
            if self.model.invalid:
                raise GdsimError(self.model.invalid)
            config, lane = self.model.config, self.model.selected_lane
            lr_min, lr_max = float(self.min_spin.value()), float(self.max_spin.value())
            steps = int(self.steps_spin.value())
            spec = check_request(config, lane, lr_min, lr_max, steps)
        except GdsimError as exc:
            self._set_status(error_line(exc), error=True)
            return False
        sink: list[LRPoint] = []
        if not self.task.start(_job, config, lane, lr_min, lr_max, steps, sink):
            return False  # shut down
        self._sink, self._drawn = sink, 0
        self._live = ([], [], [])
        self._request = (str(spec), lane, steps)
        self.result = None
        self._stale = False
        self._clear_plot()
        self.progress.setValue(0)
        self._set_status(f"Range test for {spec} from lr {format_number(lr_min, 3)} to "
                         f"{format_number(lr_max, 3)} in {steps} steps…")  # fmt: skip
        self.result_label.setText(f"Running the range test for {esc(self._lane_text(spec, lane))}…")
        self.pageWanted.emit(self.page)
        self._timer.start()
        self._sync()
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the running test at once (the worker ends at its next batch)."""
        self.task.cancel()  # emits cancelled -> _on_cancelled

    @Slot()
    def use_suggestion(self) -> bool:
        """Set the Training view's lr control to the suggestion, for the lane it was found for.

        Goes through the control itself (``lr_control.setValue``), so the panel's SPEC, the
        race list and a running engine all follow exactly as for a typed value.
        """
        return self._use(None if self.result is None else self.result.suggestion)

    @Slot()
    def use_valley(self) -> bool:
        """Like ``use_suggestion``, with fastai's valley value."""
        return self._use(None if self.result is None else self.result.valley)

    def _use(self, lr: float | None) -> bool:
        r = self.result
        if r is None or lr is None:
            return False
        specs = self.model.config.optimizers
        name = r.optimizer.split("(")[0]
        if r.lane >= len(specs) or parse_spec(specs[r.lane]).name != name:
            self._set_status(
                f"The race entry the test ran for ({name}) has changed: run the finder again.",
                error=True,
            )
            return False
        self.model.suggest_lr(r.lane, _round_lr(lr))  # the lr control then shows (and edits) it
        self._set_status(
            f"Learning rate set to {format_number(_round_lr(lr), 3)} for "
            f"{self._lane_text(name, r.lane)}."
        )
        return True

    def shutdown(self) -> None:
        """Cancel a running test and wait (≤ ~0.9 s) for its thread; the view calls this."""
        self._closed = True
        self._timer.stop()
        try:
            self.task.shutdown(900)
        except Exception:  # must not raise into the window's close
            log.exception("stopping the learning-rate finder failed")
        self._sync()

    # -- task reports (GUI thread) ---------------------------------------------------------
    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(fraction * self.progress.maximum())))
        if text and fraction < 1.0:
            self._set_status(text)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self._timer.stop()
        if not isinstance(result, LRFinderResult):
            return
        self.result = result
        self._show_result(result)
        self.progress.setValue(self.progress.maximum())
        self._set_status(self._summary(result))
        self._sync()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._timer.stop()
        self.progress.setValue(0)
        self._set_status(f"The range test could not run: {message}", error=True)
        self.result_label.setText("No result: see the message in the panel.")
        self._sync()

    @Slot()
    def _on_cancelled(self) -> None:
        self._timer.stop()
        self._draw_live()  # keep what was measured
        done = len(self._sink)
        total = self._request[2] if self._request else 0
        self._set_status(f"Cancelled after {done} of {total} steps: no suggestion.")
        self.result_label.setText(
            f"Cancelled after {done} of {total} steps — the curve so far, no suggestion."
        )
        self._sync()

    # -- drawing ---------------------------------------------------------------------------
    def _clear_plot(self) -> None:
        empty = np.zeros(0)
        self.raw_curve.setData(empty, empty)
        self.smooth_curve.setData(empty, empty)
        self.point.setData([], [])
        self.marker.setVisible(False)
        self.valley_marker.setVisible(False)

    @Slot()
    def _draw_live(self) -> None:
        """Append the points measured since the last frame (only new ones are converted)."""
        new = self._sink[self._drawn : len(self._sink)]
        if not new:
            return
        self._drawn += len(new)
        for p in new:
            self._live[0].append(p.lr)
            self._live[1].append(p.loss)
            self._live[2].append(p.smoothed)
        self._set_curves(*(np.asarray(v, dtype=np.float64) for v in self._live))

    def _set_curves(self, lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray) -> None:
        ok = np.isfinite(losses)
        self.raw_curve.setData(lrs[ok], losses[ok])
        ok = np.isfinite(smoothed)
        self.smooth_curve.setData(lrs[ok], smoothed[ok])
        self._fit_y(losses, smoothed)

    def _fit_y(self, losses: np.ndarray, smoothed: np.ndarray) -> None:
        """Show the interesting part: from the lowest batch loss to a little above where the
        curve started, so the blow-up leaves the top instead of flattening everything else."""
        sm = smoothed[np.isfinite(smoothed)]
        raw = losses[np.isfinite(losses)]
        if not len(sm) or not len(raw):
            return
        low = float(min(raw.min(), sm.min()))
        start = float(np.max(sm[: max(1, len(sm) // 10)]))
        high = max(float(np.max(sm)), start) if len(sm) < 3 else start * 1.6
        high = min(high, float(max(raw.max(), sm.max())))
        if not high > low:
            high = low + max(abs(low) * 0.1, 1e-3)
        pad = 0.05 * (high - low)
        self.plot.getPlotItem().setYRange(max(0.0, low - pad), high + pad, padding=0)
        self.plot.getPlotItem().enableAutoRange(axis="x")

    def _show_result(self, r: LRFinderResult) -> None:
        self._set_curves(r.lrs, r.losses, r.smoothed)
        for line, lr, name in (
            (self.marker, r.suggestion, "lr"),
            (self.valley_marker, r.valley, "valley"),
        ):
            if lr is None:
                continue
            line.setValue(math.log10(lr))  # a log-x plot's items live in log10 units
            line.setVisible(True)  # first: a hidden label ignores new text
            line.label.setFormat(f"{name} {format_number(_round_lr(lr), 3)}")
        if r.suggestion is not None:
            lr = r.suggestion
            at = int(np.argmin(np.abs(np.log(r.lrs) - math.log(lr))))
            y = r.smoothed[at]
            if math.isfinite(y) and r.rule == "steepest":
                self.point.setData([float(r.lrs[at])], [float(y)])
            else:
                self.point.setData([], [])
        self.result_label.setText(self._result_text(r))

    def _result_text(self, r: LRFinderResult) -> str:
        who = esc(self._lane_text(r.optimizer, r.lane))  # a rich label: quoted text escaped
        valley = (
            f" fastai's valley rule (dotted): {format_number(_round_lr(r.valley), 3)}."
            if r.valley is not None
            else ""
        )
        if r.suggestion is None:
            return f"No suggestion for {who}: {esc(r.reason)}.{valley}"
        best = r.best_index
        lowest = (
            f"lowest loss at lr {format_number(float(r.lrs[best]), 3)}" if best is not None else ""
        )
        if r.rule == "steepest":
            rule = f"steepest descent of the smoothed loss (the dot); {lowest}"
        else:
            rule = esc(f"{r.rule} — {r.reason}")
        stale = " <i>Settings changed since: run it again.</i>" if self._stale else ""
        return (
            f"<b>Suggested learning rate: {format_number(_round_lr(r.suggestion), 3)}</b> "
            f"for {who} · rule: {rule}.{valley}{stale}"
        )

    def _summary(self, r: LRFinderResult) -> str:
        how = {
            "completed": f"all {r.steps} steps",
            "diverged": f"{len(r.lrs)} of {r.steps} steps, stopped when the loss blew up at lr "
            f"{format_number(float(r.lrs[-1]), 3)}",
            "cancelled": f"cancelled after {len(r.lrs)} steps",
        }.get(r.stopped, r.stopped)
        return f"Done: {how} ({r.seconds:.1f} s on {r.device})."

    def _lane_text(self, spec: str, lane: int) -> str:
        many = len(self.model.config.optimizers) > 1
        return f"{spec} (race entry {lane + 1})" if many else str(spec)

    # -- state, theme ----------------------------------------------------------------------
    def _sync(self) -> None:
        running = self.task.running
        self.find_button.setEnabled(not running and not self._closed)
        self.cancel_button.setEnabled(running)
        has = self.result is not None and self.result.suggestion is not None and not running
        self.use_button.setEnabled(has)
        self.valley_button.setEnabled(
            self.result is not None and self.result.valley is not None and not running
        )
        for w in (self.min_spin, self.max_spin, self.steps_spin):
            w.setEnabled(not running)

    @Slot(str)
    def _on_rejected(self, text: str) -> None:
        self._set_status(text, error=True)

    def _set_status(self, text: str, error: bool = False) -> None:
        self._status_error = error
        self.status.setText(text)
        self.status.setProperty("error", error)
        self._color_status()

    def _color_status(self) -> None:
        if self._status_error:
            self.status.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]}; font-weight: bold;")
        else:
            self.status.setStyleSheet("")

    def _style_items(self) -> None:
        th = self.theme
        color = QColor(th.series_color(0))
        faint = QColor(color)
        faint.setAlpha(150 if th.is_dark else 110)  # thin lines fade more on a dark ground
        self.raw_curve.setPen(th.pen(faint, 1))
        self.smooth_curve.setPen(th.pen(color, 2.5))
        mark = MARKER_COLORS.get(th.name, MARKER_COLORS["light"])
        valley = VALLEY_COLORS.get(th.name, VALLEY_COLORS["light"])
        self.marker.setPen(th.pen(mark, 1.5, style=Qt.PenStyle.DashLine))
        self.valley_marker.setPen(th.pen(valley, 1.5, style=Qt.PenStyle.DotLine))
        self.point.setSymbolPen(th.pen(mark, 2))
        self.point.setSymbolBrush(pg.mkBrush(th.colors.background))
        self.point.setSymbolSize(th.size(10))
        back = QColor(th.colors.background)
        back.setAlpha(210)
        for line, color in ((self.marker, mark), (self.valley_marker, valley)):
            label = line.label
            label.setColor(color)
            label.fill = pg.mkBrush(back)
            label.textItem.setFont(th.font(0.95, bold=True))
            label.update()

    @Slot()
    def _on_theme(self) -> None:
        self._style_items()
        self._color_status()

    @Slot()
    def _on_settings_changed(self) -> None:
        if self.result is not None and self.result.suggestion is not None and not self._stale:
            self._stale = True
            self.result_label.setText(self._result_text(self.result))

    @Slot(int)
    def _on_lane_selected(self, _lane: int) -> None:
        self._sync()


def install(view) -> LRFinderTool:
    """Add the finder to a Training view: a group in its control panel, a page beside the
    decision boundary. Keep the returned object (e.g. ``view.lr_finder``) and call its
    ``shutdown()`` from the view's ``shutdown()``."""
    tool = LRFinderTool(view.model, parent=view)
    tool.pageWanted.connect(view.area.show_page)
    view.add_tool(tool.box)
    view.add_plot_page(tool.page, PAGE_TITLE)
    return tool
