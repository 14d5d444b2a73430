"""Training view: a small network learning a 2-D data set live, the tutorial's loop made visible.

What the lecturer sees: a transport bar (Start/Pause, Step, Reset, the learning rate as a log
slider that acts *live*), the epoch/batch progress, the loss curves (per batch raw and smoothed,
validation per epoch) with markers where the learning rate changed and where validation stopped
improving, accuracy beside them, and the network's decision boundary over the data, redrawn a
few times a second. Several optimizers can race on identical networks.

How it stays smooth (see ``app.worker`` and ``app.views.training_plots``):
* Training runs in ``TrainingController``'s worker thread. The GUI never waits on it: commands
  go through the engine's thread-safe API, and one ~30 Hz ``QTimer`` here drains the engine's
  events and feeds plot items created once. The decision boundary is *requested* at most four
  times a second, so it never slows training.
* A reset is asynchronous: until the engine confirms it (``ResetDone``), everything drained
  belongs to the old run and is dropped, and Start/Step pressed meanwhile wait for it. That
  keeps the old run's last points out of the new curves.
* Settings that define the run (data, model, optimizer type, race lanes, epochs...) apply on
  Reset; changed while nothing has been trained yet (or after the run ended) they reset at
  once. The learning rate, the other optimizer hyperparameters and the device apply live.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel, RichLabel, esc
from app.settings import read_bytes
from app.theme import get_theme
from app.views.training_controls import ERROR_COLORS, TrainingControls, swatch
from app.views.training_plots import TrainingPlots, lane_label, lane_short
from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.plot_deck import PlotDeck
from app.widgets.slider_spin import LogSliderSpin
from app.worker import TrainingController
from core.engine.commands import Pause, RequestBoundary, Reset, Resume, SetDevice, SetHparams, Step
from core.engine.devices import resolve_device
from core.engine.optimizers import get_optimizer
from core.engine.schedulers import RunShape, parse_scheduler
from core.engine.training import (
    DeviceChanged,
    Diverged,
    EarlyStop,
    EpochEnd,
    Error,
    HparamsChanged,
    ResetDone,
    TrainConfig,
    Update,
)
from core.errors import GdsimError, error_line

log = logging.getLogger("gdsim.training")

TICK_MS = 33  # the display timer: ~30 Hz whatever the training speed
BOUNDARY_EVERY_S = 0.25  # decision-boundary requests while training (a few per second)
BOUNDARY_GRID = 80  # grid cells per side
STATUS_EVERY_S = 0.25
PROGRESS_EVERY_S = 0.1
LR_SEND_MS = 60  # a slider drag sends at most ~16 lr changes a second
DONE = ("finished", "diverged")
STATE_WORDS = {
    "idle": "Training ready",
    "ready": "Training ready",
    "paused": "Training paused",
    "running": "Training",
    "stopped": "Training stopped",
    "finished": "Training finished",
    "diverged": "Training diverged",
}
BAR_GAP = 12  # px between the transport buttons and the learning rate on one row
LR_LABEL, LR_LABEL_SHORT = "Learning rate", "lr"  # the short one when the window is narrow
INTENT_S = 1.0  # a clicked state wins over stale engine states for at most this long


def _thousands(n: float) -> str:
    """1850 -> '1 850' (a thin, unambiguous separator for a projector)."""
    return f"{n:,.0f}".replace(",", "\u202f")


class TrainingView(QWidget):
    """The Training tab. Implements the view interface documented in ``app.views``."""

    statusChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPage")
        self.theme = get_theme()
        self.controller = TrainingController(self)
        self.controller.failed.connect(self._on_worker_failed)
        self.controller.finished.connect(self._on_worker_finished)
        self.controls = TrainingControls()
        self._panel = CollapsiblePanel("Training", self, content=self.controls)
        self.plots = TrainingPlots(self.theme, self)

        # run state as the GUI knows it (the engine's, from the last drain, plus optimism)
        self._state = "idle"
        self._steps = 0
        self._epochs = 0
        self._bpe = 1
        self._rate = math.nan
        self._device = "cpu"
        self._lane_names: list[str] = []  # as the engine built them at the last reset
        self._lane_optimizers: list[str] = []  # their optimizers' names ("Adam")
        self._lane_lrs: list[float] = []
        self._sched_name: str | None = None  # the run's scheduler (markers; see _plan_...)
        self._hold_at: int | None = None
        self._hold_name = ""
        self._marked: set[tuple] = set()
        self._awaiting_reset = False
        self._after_reset: list[str] = []
        # live changes made while a reset is on its way: the reset's config predates them
        self._after_reset_hparams: dict[int, dict] = {}
        self._pending = False  # structural settings changed mid-run: apply on Reset
        self._diverged_text = ""
        self._boundary_lane = 0
        self._boundary_req_t = -1e9
        self._boundary_req_step = -1
        self._status = ""
        self._status_t = -1e9
        self._status_state = ""
        self._progress_t = -1e9
        self._shown_once = False
        self._closed = False  # after shutdown(): never start a worker again
        self._splitters_restored = False
        self._setting_lr = False
        self._lr_error = ""  # the message a refused lr entry showed (cleared by a good one)
        self._lr_pending: tuple[int, float] | None = None
        self._intent: tuple[str, float] | None = None  # (state a click asked for, deadline)
        self.ticks = 0  # display-timer ticks handled
        self.tick_times: deque[float] = deque(maxlen=4000)  # seconds per tick (benchmarks)
        self.tick_log: list[tuple[float, float]] | None = None  # (start, seconds), benchmarks

        self._build_ui()
        self._connect()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._lr_timer = QTimer(self)
        self._lr_timer.setSingleShot(True)
        self._lr_timer.setInterval(LR_SEND_MS)
        self._lr_timer.timeout.connect(self._send_lr)
        self._show_config_preview()
        self._sync_buttons()

    # -- building --------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.run_button = QPushButton("Start", self)
        self.run_button.setObjectName("trainRunButton")
        self.run_button.setAccessibleName("Start or pause training")
        self.run_button.setToolTip("Start training, or pause it between two batches (Space)")
        self.step_button = QPushButton("Step", self)
        self.step_button.setObjectName("trainStepButton")
        self.step_button.setAccessibleName("Train one batch")
        self.step_button.setToolTip(
            "Train exactly one batch: one forward pass, one backward pass, one optimizer.step() "
            "(S or →)"
        )
        self.reset_button = QPushButton("Reset", self)
        self.reset_button.setObjectName("trainResetButton")
        self.reset_button.setAccessibleName("Reset training")
        self.reset_button.setToolTip(
            "Start over from the same initial weights, applying any changed settings (R)"
        )
        lr_info = get_optimizer("SGD").hparam("lr")
        low, high = lr_info.slider_range()
        self.lr_label = PlainLabel(LR_LABEL, self)
        self.lr_label.setObjectName("trainLrLabel")
        # the box explains a refused value itself (rejected); the view shows it in its message
        # line with its other errors, so the transport bar keeps its height
        self.lr_control = LogSliderSpin(low, high, 0.01, show_message=False, parent=self)
        self.lr_control.setValidRange(  # typed: anything SGD's lr takes, beyond the slider's ends
            lr_info.low,
            lr_info.high,
            low_inclusive=lr_info.low_inclusive,
            high_inclusive=lr_info.high_inclusive,
        )
        self.lr_control.setCheck(lr_info.check)
        self.lr_control.setLabel(LR_LABEL)
        self.lr_control.setObjectNames("trainLrSlider", "trainLrSpin")
        self.lr_control.setObjectName("trainLr")
        self.lr_control.setAccessibleName("Learning rate")
        self.lr_control.setToolTip(
            "How big a step the optimizer takes along the negative gradient; too small crawls, "
            "too large oscillates or diverges — applies live, from the next batch"
        )
        self.lr_label.setBuddy(self.lr_control.spin)
        self.lr_label.setToolTip(self.lr_control.toolTip())
        self.lr_lane = RichLabel("", self)
        self.lr_lane.setObjectName("trainLrLane")
        self.lr_lane.setToolTip(
            "The race entry the learning rate applies to (select it in the list)"
        )

        self.lr_now = PlainLabel("", self)  # the scheduled lr in force (the control shows the base)
        self.lr_now.setObjectName("trainLrNow")
        self.lr_now.setToolTip(
            "The learning rate the scheduler has set for the current batch; the control beside "
            "it is the base rate the schedule scales"
        )
        self.lr_now.setVisible(False)

        # The transport bar: one row when it fits, else the learning rate on a row of its own
        # (a 800×600 or 640×480 window squeezed "0.05" to "0." and the label to "Learning rat")
        self.transport = QWidget(self)
        self.transport.setObjectName("trainTransport")
        self._buttons_row = QHBoxLayout()
        self._buttons_row.addWidget(self.run_button)
        self._buttons_row.addWidget(self.step_button)
        self._buttons_row.addWidget(self.reset_button)
        self._buttons_row.addStretch(1)  # only takes room when the lr has its own row
        self._lr_row = QHBoxLayout()
        self._lr_row.addWidget(self.lr_label)
        self._lr_row.addWidget(self.lr_lane)
        self._lr_row.addWidget(self.lr_control, 1)
        self._lr_row.addWidget(self.lr_now)
        self._bar = QBoxLayout(QBoxLayout.Direction.LeftToRight, self.transport)
        self._bar.setContentsMargins(0, 0, 0, 0)
        self._bar.addLayout(self._buttons_row, 0)
        self._bar_gap = QSpacerItem(BAR_GAP, 0)  # between buttons and lr on one row only
        self._bar.addSpacerItem(self._bar_gap)
        self._bar.addLayout(self._lr_row, 1)
        self.transport.installEventFilter(self)
        self.lr_control.rejected.connect(self._on_lr_rejected)
        self.lr_control.spin.reverted.connect(self._on_lr_reverted)

        self.progress = QProgressBar(self)
        self.progress.setObjectName("epochProgress")
        self.progress.setAccessibleName("Training progress")
        self.progress.setToolTip("Epochs and batches done: one epoch is one pass over the data")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

        self.message = PlainLabel("", self)
        self.message.setObjectName("trainMessage")
        self.message.setAccessibleName("Training message")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.boundary_lane_combo = QComboBox(self)
        self.boundary_lane_combo.setObjectName("boundaryLaneCombo")
        self.boundary_lane_combo.setAccessibleName("Decision boundary of")
        self.boundary_lane_combo.setToolTip("Whose network the decision boundary shows")
        self.boundary_lane_label = PlainLabel("Boundary of", self)
        self.boundary_lane_label.setBuddy(self.boundary_lane_combo)

        loss_plot, acc_plot, boundary_plot = self.plots.widgets()
        # the loss plot (the one the lecture is about) gets the full height on the left; the
        # boundary (wider than tall for most data sets) and the accuracy share the right
        boundary_box = QWidget(self)
        bl = QVBoxLayout(boundary_box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        bl.addWidget(self.plots.boundary_title)
        bl.addWidget(boundary_plot, 1)
        lane_row = QHBoxLayout()
        lane_row.addWidget(self.boundary_lane_label)
        lane_row.addWidget(self.boundary_lane_combo, 1)
        bl.addLayout(lane_row)
        # loss | boundary over accuracy while each keeps a readable size (see PlotDeck),
        # else tabs; the widths and heights are the lecturer's to drag
        right = PlotDeck(Qt.Orientation.Vertical, self)
        right.addItem(boundary_box, "Decision boundary", stretch=3)
        right.addItem(acc_plot, "Accuracy", stretch=2)
        self.deck = PlotDeck(Qt.Orientation.Horizontal, self)
        self.deck.setObjectName("trainingPlotDeck")
        self.deck.addItem(loss_plot, "Loss", stretch=3)
        self.deck.addItem(right, "Boundary and accuracy", stretch=2)
        self.splitter = self.deck.splitter
        self.splitter.setObjectName("trainingSplitter")
        self.right_splitter = right.splitter
        self.right_splitter.setObjectName("trainingRightSplitter")
        self._right_deck = right
        self._boundary_box = boundary_box
        self.plot_tabs: QTabWidget | None = None  # made by add_plot_page()
        for w in (loss_plot, acc_plot, boundary_plot):
            w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._plot_widgets = (loss_plot, acc_plot, boundary_plot)
        self._fit_minimums()

        area = QVBoxLayout()
        area.setContentsMargins(4, 4, 4, 4)
        area.setSpacing(4)
        area.addWidget(self.transport)
        area.addWidget(self.progress)
        area.addWidget(self.message)
        area.addWidget(self.deck, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(area, 1)
        lay.addWidget(self._panel)
        edges = area.contentsMargins().left() + area.contentsMargins().right()
        self._panel.leave_room(lambda: self.deck.split_need().width() + edges)
        self._show_lane_row(False)
        self.plots.lr_plot.setMinimumSize(160, 120)
        self.add_plot_page(self.plots.lr_plot, "Learning rate")

    def add_tool(self, widget: QWidget) -> None:
        """Put a teaching tool's controls (a group box) at the bottom of the control panel."""
        lay = self.controls.layout()
        lay.insertWidget(lay.count() - 1, widget)  # above the stretch

    def add_plot_page(self, widget: QWidget, title: str) -> None:
        """Show ``widget`` as a page beside the decision boundary (tabs appear on first use)."""
        if self.plot_tabs is None:
            tabs = QTabWidget(self)
            tabs.setObjectName("trainingPlotTabs")
            tabs.setDocumentMode(True)
            self._right_deck.replaceItem(self._boundary_box, tabs, "Decision boundary")
            tabs.addTab(self._boundary_box, "Decision boundary")
            self.plot_tabs = tabs
        self.plot_tabs.addTab(widget, title)

    def _connect(self) -> None:
        self.run_button.clicked.connect(self.toggle_run)
        self.step_button.clicked.connect(self.step_once)
        self.reset_button.clicked.connect(self.reset_run)
        self.lr_control.valueChanged.connect(self._on_lr)
        c = self.controls
        c.structuralChanged.connect(self._on_structural)
        c.hparamChanged.connect(self._on_hparam)
        c.deviceChanged.connect(self._on_device)
        c.laneSelected.connect(self._on_lane_selected)
        c.lanesChanged.connect(self._show_lr_lane)
        c.displayChanged.connect(self._on_display)
        self.boundary_lane_combo.currentIndexChanged.connect(self._on_boundary_lane)
        self.theme.connect_when_shown(self, self._on_theme)

    # -- the view interface ----------------------------------------------------------------
    def status_text(self) -> str:
        word = STATE_WORDS.get(self._state, self._state.capitalize())
        lanes = len(self._lane_names)
        if lanes > 1:
            word = f"{word} · {lanes} optimizers racing"
        parts = [word]
        if self._epochs:
            epoch, _batch = self._epoch_batch()
            parts.append(f"epoch {epoch}/{self._epochs}")
        if self._state == "running" and math.isfinite(self._rate) and self._rate > 0:
            parts.append(f"{_thousands(self._rate)} steps/s")
        if self._diverged_text:
            parts.append(self._diverged_text)
        parts.append(self._device)
        return " · ".join(parts)

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        return {"run": self.toggle_run, "step": self.step_once, "reset": self.reset_run}

    def control_panel(self) -> CollapsiblePanel:
        return self._panel

    def save_settings(self, settings: QSettings) -> None:
        self.controls.save_settings(settings)
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("rightSplitter", self.right_splitter.saveState())

    def restore_settings(self, settings: QSettings) -> None:
        self.controls.restore_settings(settings)
        for key, splitter in (("splitter", self.splitter), ("rightSplitter", self.right_splitter)):
            state = read_bytes(settings, key)
            if state is not None:
                if splitter.restoreState(state):
                    self._splitters_restored = True
                else:
                    log.warning("ignoring setting %s: not a saved splitter state", key)
        self._on_lane_selected(self.controls.current_lane())
        self._on_display()
        if self.controller.alive:
            self.reset_run()
        else:
            self._show_config_preview()

    def shutdown(self) -> None:
        """Stop the display timer and the worker (≤ ~0.9 s; never terminate())."""
        self._closed = True
        self._timer.stop()
        self._lr_timer.stop()
        try:
            self.controller.shutdown(900)
        except Exception:  # must not raise into the window's close
            log.exception("stopping the training worker failed")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._splitters_restored:
                QTimer.singleShot(0, self, self._fit_splitters)
            # build the engine now, in its thread, so the first Start is instant and the
            # untrained network's boundary is already on screen
            QTimer.singleShot(0, self, self._ensure_engine)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Fit the transport bar to its width."""
        if watched is self.transport and event.type() in (
            QEvent.Type.Resize,
            QEvent.Type.LayoutRequest,
        ):
            self._fit_transport()
        return super().eventFilter(watched, event)

    @Slot(str)
    def _on_lr_rejected(self, text: str) -> None:
        """A typed lr the box refused: say why where the view's other errors are said."""
        self._lr_error = text
        self._show_message(text, error=True)

    @Slot()
    def _on_lr_reverted(self) -> None:
        """Escape in the lr box: the value in force is shown, so a refusal said earlier is stale
        (it stayed red after the value was restored)."""
        if self._lr_error and self.message_text() == self._lr_error:
            self._clear_message(errors_too=True)
        self._lr_error = ""

    def _fit_transport(self) -> None:
        """Buttons and learning rate on one row if their minimum widths fit; else two rows,
        and at the narrowest the label shortened to "lr" (the control and its number keep
        their room: a squeezed layout takes from its widest item first)."""
        avail = self.transport.width()
        if avail <= 0:
            return
        fm = self.lr_label.fontMetrics()
        label_now = self.lr_label.minimumSizeHint().width()
        lr_min = self._lr_row.minimumSize().width() - label_now + fm.horizontalAdvance(LR_LABEL)
        gap = BAR_GAP + self._bar.spacing()  # spacers get no spacing of their own
        one_row = self._buttons_row.minimumSize().width() + gap + lr_min
        one_line = one_row <= avail
        if one_line:
            direction, label = QBoxLayout.Direction.LeftToRight, LR_LABEL
        else:
            direction = QBoxLayout.Direction.TopToBottom
            label = LR_LABEL if lr_min <= avail else LR_LABEL_SHORT
        if self._bar.direction() != direction:
            self._bar_gap.changeSize(BAR_GAP if one_line else 0, 0)
            self._bar.setDirection(direction)
        if self.lr_label.text() != label:
            self.lr_label.setText(label)

    @Slot()
    def _fit_splitters(self) -> None:
        """First show: loss 60 % of the width, boundary 55 % of the right column's height
        (Qt would otherwise split by the plots' size hints)."""
        w = self.splitter.width()
        if w > 0:
            self.splitter.setSizes([int(w * 0.6), w - int(w * 0.6)])
        h = self.right_splitter.height()
        if h > 0:
            self.right_splitter.setSizes([int(h * 0.55), h - int(h * 0.55)])

    # -- commands --------------------------------------------------------------------------
    @Slot()
    def toggle_run(self) -> None:
        """Start / pause / resume; after the run ended: reset and start again."""
        if self._state != "running" and self._check_device() is None:
            return
        if self._awaiting_reset:
            if "start" in self._after_reset:
                self._after_reset.remove("start")
            else:
                self._after_reset.append("start")
            return
        if self._state == "running":
            self.controller.send(Pause())
            self._set_state("paused")
            return
        if self._state in DONE:
            self.reset_run(then="start")
            return
        if not self._ensure_engine():
            return
        self._clear_message(errors_too=True)
        self.controller.send(Resume())
        self._set_state("running")

    @Slot()
    def step_once(self) -> None:
        """Exactly one batch (pauses a running run first)."""
        if self._awaiting_reset:
            self._after_reset.append("step")
            return
        if self._state in DONE:
            self._show_message(f"The run has {self._state}: press Reset (R) to train again.")
            return
        if self._check_device() is None or not self._ensure_engine():
            return
        self.controller.send(Step(1))
        self._set_state("paused")

    def apply_config(self, config: TrainConfig) -> None:
        """Show a session's training setup and start over with it (paused at step 0)."""
        if self._state == "running":
            self.controller.send(Pause())
            self._set_state("paused")
        note = self.controls.set_config(config)
        self.controls.lanesChanged.emit()
        self.controls.laneSelected.emit(0)
        self.reset_run()
        if note:
            self._show_message(note)

    @Slot()
    def reset_run(self, then: str | None = None) -> None:
        """Start over from the seed with the current settings."""
        config = self._config()
        if config is None:
            return
        self._pending = False
        self._diverged_text = ""
        self._clear_message(errors_too=True)
        if not self.controller.alive:
            if self._closed:
                return
            self._launch(config)
            if then == "start":
                self.controller.send(Resume())
                self._set_state("running")
            return
        try:
            self.controller.send(Reset(config))
        except GdsimError as exc:
            self._show_message(error_line(exc), error=True)
            return
        self._after_reset = []  # a second Reset while one is on its way drops a queued Start
        self._after_reset_hparams = {}  # the config just sent holds every change made so far
        if then and then not in self._after_reset:
            self._after_reset.append(then)
        self._awaiting_reset = True
        self._set_state("ready")

    # -- helpers for commands --------------------------------------------------------------
    def _config(self) -> TrainConfig | None:
        """The panel's settings, validated; None (with the reason shown) if something is off."""
        try:
            config = self.controls.config()
            _check_schedulers(config)
        except GdsimError as exc:
            self._show_message(error_line(exc), error=True)
            return None
        return config

    def _check_device(self) -> str | None:
        name = self.controls.device()
        try:
            resolve_device(name)
        except GdsimError as exc:
            self._show_message(f"Cannot train: {error_line(exc)}", error=True)
            return None
        return name

    @Slot()
    def _ensure_engine(self) -> bool:
        """A live worker exists (launched now if needed); False if the settings are invalid."""
        if self.controller.alive:
            return True
        if self._closed:  # e.g. a queued first-show launch arriving after the window closed
            return False
        config = self._config()
        if config is None:
            return False
        try:
            resolve_device(config.device)
        except GdsimError:
            config = _with_device(config, "cpu")  # show the preview; Start will say why not
        self._launch(config)
        return True

    def _launch(self, config: TrainConfig) -> None:
        try:
            resolve_device(config.device)
        except GdsimError:
            config = _with_device(config, "cpu")  # show the run; Start says why it cannot go
        self.controller.launch(config)
        self._awaiting_reset = False
        self._after_reset = []
        self._after_reset_hparams = {}
        self._pending = False
        data = config.make_data()
        n_train = int(len(data.train_idx))
        bpe = max(1, math.ceil(n_train / config.batch_size))
        names, kinds = _lane_names(config.optimizers), _optimizer_names(config)
        self._start_run_display(names, bpe, data, config.epochs, kinds)
        self._plan_schedule_markers(config.scheduler, bpe, config.epochs)
        self._device = str(resolve_device(config.device))
        self._set_state("ready")
        self._timer.start()

    def _start_run_display(
        self, names: list[str], bpe: int, data, epochs: int, optimizers: list[str]
    ) -> None:
        self._lane_names = list(names)
        self._lane_optimizers = list(optimizers)  # each lane's optimizer, for live changes
        self._lane_lrs = [math.nan] * len(names)
        self._bpe, self._epochs, self._steps, self._rate = bpe, epochs, 0, math.nan
        self._diverged_text = ""
        self.plots.set_log_y(self.controls.log_y())
        self.plots.set_raw_visible(self.controls.raw_visible())
        self.plots.reset(names, bpe, data, epochs)
        self._boundary_req_step = -1
        self._boundary_req_t = -1e9
        self.boundary_lane_combo.blockSignals(True)
        self.boundary_lane_combo.clear()
        size = max(10, self.fontMetrics().height() - 4)
        for i, n in enumerate(names):
            self.boundary_lane_combo.addItem(
                swatch(self.theme.series_color(i), size), lane_label(n)
            )
        self._boundary_lane = min(self.controls.current_lane(), len(names) - 1)
        self.boundary_lane_combo.setCurrentIndex(self._boundary_lane)
        self.boundary_lane_combo.blockSignals(False)
        self.plots.set_focus_lane(self._boundary_lane)
        self._show_lane_row(len(names) > 1)
        self.plots.set_boundary_title("Decision boundary · untrained")
        self._update_progress(force=True)

    def _show_config_preview(self) -> None:
        """Before any engine exists: show the data the first run will use."""
        data = self.controls.preview_data
        if data is None:
            return
        try:
            config = self.controls.config()
        except GdsimError:
            return
        bpe = max(1, math.ceil(len(data.train_idx) / config.batch_size))
        names, kinds = _lane_names(config.optimizers), _optimizer_names(config)
        self._start_run_display(names, bpe, data, config.epochs, kinds)
        self._device = config.device
        self._show_lr_lane()

    def _set_state(self, state: str) -> None:
        """A state the user just asked for: shown at once, and kept over drained states that
        predate the command (the engine applies it before its next batch)."""
        self._state = state
        self._intent = (state, time.monotonic() + INTENT_S)
        self._sync_buttons()
        self._emit_status(force=True)

    def _sync_buttons(self) -> None:
        s = self._state
        if s == "running":
            text, tip = "Pause", "Pause training between two batches (Space)"
        elif s in DONE:
            text, tip = "Restart", "Reset to the initial weights and train again (Space)"
        elif s in ("paused", "stopped") and self._steps > 0:
            text, tip = "Resume", "Continue training from here (Space)"
        else:
            text, tip = "Start", "Start training (Space)"
        self.run_button.setText(text)
        self.run_button.setToolTip(tip)
        self.step_button.setEnabled(s not in DONE)
        pending = " — settings changed: press Reset to apply them" if self._pending else ""
        self.reset_button.setText("Reset •" if self._pending else "Reset")
        self.reset_button.setToolTip(
            "Start over from the same initial weights, applying any changed settings (R)" + pending
        )

    # -- messages --------------------------------------------------------------------------
    def _show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("error", error)
        color = (
            ERROR_COLORS[self.theme.name] if error else self.palette().windowText().color().name()
        )
        self.message.setStyleSheet(f"color: {color}; font-weight: {'bold' if error else 'normal'};")
        self.message.setVisible(bool(text))

    def _clear_message(self, errors_too: bool = False) -> None:
        if errors_too or not self.message.property("error"):
            self._show_message("")
        if self._pending:
            self._show_message("Settings changed: they apply when you press Reset (R).")

    def message_text(self) -> str:
        return self.message.text() if self.message.isVisible() else ""

    # -- control panel reactions -----------------------------------------------------------
    @Slot()
    def _on_structural(self) -> None:
        if not self.controller.alive:
            if self._shown_once:
                self._ensure_engine()
            else:
                self._show_config_preview()
            self._sync_buttons()
            return
        fresh = self._awaiting_reset or (
            self._state != "running" and (self._steps == 0 or self._state in DONE)
        )
        if fresh:
            self.reset_run()
        else:
            self._pending = True
            self._clear_message()
            self._sync_buttons()

    @Slot(float)
    def _on_lr(self, value: float) -> None:
        if self._setting_lr:
            return
        lane = self.controls.current_lane()
        try:
            self.controls.set_lane_lr(lane, value)
        except GdsimError as exc:
            self._show_message(error_line(exc), error=True)
            return
        if self._lr_error and self.message_text() == self._lr_error:
            self._clear_message(errors_too=True)  # a good value replaced the refused one
        self._lr_error = ""
        self._lr_pending = (lane, value)
        if not self._lr_timer.isActive():
            self._lr_timer.start()

    @Slot()
    def _send_lr(self) -> None:
        if self._lr_pending is None:
            return
        lane, value = self._lr_pending
        self._lr_pending = None
        self._live_hparams(lane, {"lr": value})

    @Slot(int, str, object)
    def _on_hparam(self, lane: int, name: str, value: object) -> None:
        self._live_hparams(lane, {name: value})

    def _live_hparams(self, lane: int, changes: dict) -> None:
        """Send a live change to the engine if that lane is training the same optimizer."""
        if not self.controller.alive:
            return  # the launch reads the panel
        if self._awaiting_reset:
            self._after_reset_hparams.setdefault(lane, {}).update(changes)
            return
        if lane >= len(self._lane_names) or lane >= len(self.controls.specs):
            return  # the lane exists only in the panel (or no more): applies on Reset
        if self._lane_optimizers[lane] != self.controls.specs[lane].name:
            return  # a different optimizer is pending: its settings apply on Reset
        try:
            self.controller.send(SetHparams(lane, changes))
        except GdsimError as exc:
            self._show_message(error_line(exc), error=True)

    @Slot(str)
    def _on_device(self, name: str) -> None:
        try:
            resolve_device(name)
        except GdsimError as exc:
            self._show_message(f"Cannot use this device: {error_line(exc)}", error=True)
            return
        self._clear_message(errors_too=True)
        if self.controller.alive and not self._awaiting_reset:
            try:
                self.controller.send(SetDevice(name))
            except GdsimError as exc:
                self._show_message(error_line(exc), error=True)

    @Slot(int)
    def _on_lane_selected(self, lane: int) -> None:
        self._setting_lr = True
        try:
            if 0 <= lane < len(self.controls.specs):  # the slider spans this optimizer's lr range
                self.lr_control.setRange(*self.controls.specs[lane].info.hparam("lr").slider_range())
            self.lr_control.setValue(self.controls.lane_lr(lane))
        finally:
            self._setting_lr = False
        self._show_lr_lane()
        if lane < self.boundary_lane_combo.count():
            self.boundary_lane_combo.setCurrentIndex(lane)

    def _show_lr_now(self) -> None:
        """With a scheduler, say which lr is in force now (the control holds the base lr)."""
        lane = self.controls.current_lane()
        lr = self._lane_lrs[lane] if lane < len(self._lane_lrs) else math.nan
        scheduled = self.controls.scheduler_combo.currentData() is not None
        text = f"now {lr:.3g}" if scheduled and lr is not None and math.isfinite(lr) else ""
        if text != self.lr_now.text():
            self.lr_now.setText(text)
            self.lr_now.setVisible(bool(text))

    @Slot()
    def _show_lr_lane(self) -> None:
        specs = self.controls.specs
        lane = self.controls.current_lane()
        if len(specs) > 1:
            color = self.theme.series_color(lane)
            self.lr_lane.setText(f"<span style='color:{color}'>●</span> {esc(specs[lane].name)}")
            self.lr_lane.setVisible(True)
        else:
            self.lr_lane.setVisible(False)

    @Slot()
    def _on_display(self) -> None:
        self.plots.set_log_y(self.controls.log_y())
        self.plots.set_raw_visible(self.controls.raw_visible())

    @Slot(int)
    def _on_boundary_lane(self, index: int) -> None:
        if index >= 0:
            self._boundary_lane = index
            self.plots.set_focus_lane(index)
            self._boundary_req_step = -1
            self._boundary_req_t = -1e9

    def _show_lane_row(self, on: bool) -> None:
        self.boundary_lane_combo.setVisible(on)
        self.boundary_lane_label.setVisible(on)

    def _fit_minimums(self) -> None:
        """No plot below the readable minimum at this zoom: the decks reflow to tabs."""
        least = self.theme.min_plot_size()
        for w in self._plot_widgets:
            w.setMinimumSize(least)
        self.deck.schedule_refit()
        self._right_deck.schedule_refit()

    @Slot()
    def _on_theme(self) -> None:
        self._fit_minimums()
        if self.message.isVisible():
            self._show_message(self.message.text(), bool(self.message.property("error")))
        self._show_lr_lane()

    # -- worker reports --------------------------------------------------------------------
    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self._show_message(f"Training could not run: {message}", error=True)

    @Slot(str)
    def _on_worker_finished(self, state: str) -> None:
        if state == "failed":
            self._awaiting_reset = False
            self._after_reset = []
            self._after_reset_hparams = {}
            self._set_state("idle")

    # -- the display timer -----------------------------------------------------------------
    @Slot()
    def _tick(self) -> None:
        t0 = time.perf_counter()
        self.ticks += 1
        upd = self.controller.drain()
        if upd is not None:
            self._apply(upd)
        if self.isVisible():
            self.plots.redraw()
        self._emit_status()
        took = time.perf_counter() - t0
        self.tick_times.append(took)
        if self.tick_log is not None:
            self.tick_log.append((t0, took))

    def _apply(self, upd: Update) -> None:
        events = upd.events
        resets = [i for i, e in enumerate(events) if isinstance(e, ResetDone)]
        fresh_curves = True
        if resets:
            r = events[resets[-1]]
            self._awaiting_reset = False
            names = [lane.name for lane in upd.lanes]
            kinds = [lane.optimizer for lane in upd.lanes]
            self._start_run_display(names, upd.batches_per_epoch, r.data, upd.epochs, kinds)
            self._plan_schedule_markers(
                r.config.get("scheduler"), upd.batches_per_epoch, upd.epochs
            )
            events = events[resets[-1] + 1 :]
            fresh_curves = False  # points in this drain were flushed by the old run
        elif self._awaiting_reset:
            for e in events:  # everything else belongs to the run being replaced
                if isinstance(e, Error):
                    self._awaiting_reset = False  # the reset itself failed: start afresh
                    self._show_message(e.message, error=True)
                    self.controller.shutdown()
                    self._set_state("idle")
            return

        for e in events:
            self._apply_event(e)
        if fresh_curves:
            for c in upd.curves:
                self.plots.add_losses(c.lane, c.steps, c.losses)
                self.plots.add_lrs(c.lane, c.steps, c.lrs)
            self._mark_hold(upd.steps)
            for b in upd.boundaries:
                if b.lane == self._boundary_lane:
                    self.plots.set_boundary(b.xs, b.ys, b.probs, b.step)
                    when = f"epoch {b.step / max(1, upd.batches_per_epoch):.1f}"
                    self.plots.set_boundary_title(
                        f"Decision boundary · {when if b.step else 'untrained'}"
                    )
        previous = self._state
        intent = self._intent
        state = upd.state
        if state == "paused" and upd.steps == 0 and self._state in ("idle", "ready"):
            # the worker parks a new engine as "paused" (engine.run(paused=True)); nobody has
            # pressed Start or Step yet, so for the user it is ready, not paused
            state = "ready"
        if (
            intent is None
            or state == intent[0]
            or state in DONE
            or resets
            or time.monotonic() > intent[1]
        ):
            self._intent = None
            self._state = state
        self._steps, self._epochs, self._bpe = upd.steps, upd.epochs, upd.batches_per_epoch
        self._rate, self._device = upd.steps_per_second, upd.device
        self._lane_lrs = [lane.lr for lane in upd.lanes]
        self._show_lr_now()
        if resets:  # lr changes, Start/Step made while the reset was on its way
            changes, self._after_reset_hparams = self._after_reset_hparams, {}
            for lane, lane_changes in changes.items():
                self._live_hparams(lane, lane_changes)
            after, self._after_reset = self._after_reset, []
            for command in after:
                if command == "start" and self._state != "running":
                    self.controller.send(Resume())
                    self._set_state("running")
                elif command == "step":
                    self.controller.send(Step(1))
                    self._set_state("paused")
        if self._state != previous:
            self._sync_buttons()
        self._update_progress(force=self._state != previous)
        self._maybe_request_boundary(upd)

    def _plan_schedule_markers(self, text: str | None, bpe: int, epochs: int) -> None:
        """What the loss and lr plots mark for this run's schedule: its lr jumps at epoch ends
        and, for OneCycleLR, the batch after which its last lr is held."""
        self._sched_name, self._hold_at, self._marked = None, None, set()
        if text is None:
            return
        try:
            spec = parse_scheduler(text)
            hold_at = spec.held_after(spec.resolved(RunShape(epochs, bpe, 1.0)))
        except GdsimError:  # the engine refused it already: nothing to mark
            return
        self._hold_at, self._hold_name = hold_at, spec.name
        if spec.interval != "batch":  # a per-batch schedule changes gradually: no jumps
            self._sched_name = spec.name

    def _mark_hold(self, steps: int) -> None:
        if self._hold_at is not None and steps > self._hold_at:
            self.plots.add_hold_marker(self._hold_at, self._hold_name)
            self._hold_at = None

    def _mark_schedule_step(self, e: EpochEnd) -> None:
        """A marker where an epoch-end schedule step changed the lr by a jump (StepLR's drops,
        a plateau's cut, a SequentialLR milestone); gradual schedules show in the lr plot."""
        lr, new = e.lr, e.next_lr
        if self._sched_name is None or e.epoch >= e.epochs:  # no batch uses the last step's lr
            return
        if not (lr > 0 and new > 0) or 2 / 3 < new / lr < 1.5:
            return
        key = (e.steps, lr, new)
        if key not in self._marked:
            self._marked.add(key)
            self.plots.add_schedule_marker(
                e.steps, lr, new, self._sched_name, lane_short(e.lane_name)
            )

    def _apply_event(self, e) -> None:
        if isinstance(e, EpochEnd):
            self.plots.add_epoch(e.lane, e.epoch, e.val_loss, e.val_accuracy, e.train_accuracy)
            self._mark_schedule_step(e)
        elif isinstance(e, HparamsChanged):
            name = e.lane_name  # the engine renames a lane on a live change: "Adam(lr=100)"
            if "lr" in e.changes:
                old = self._lane_lrs[e.lane] if e.lane < len(self._lane_lrs) else None
                old = old if old is not None and math.isfinite(old) else None
                if e.step > 0:  # before the lane's first batch the new lr is simply its lr
                    self.plots.add_lr_marker(e.step, old, e.lr, lane_short(name))
                self.plots.set_lane_lr(e.lane, e.lr)
                if e.lane < len(self._lane_lrs):
                    self._lane_lrs[e.lane] = e.lr
            if e.lane < self.boundary_lane_combo.count():
                self.boundary_lane_combo.setItemText(e.lane, lane_label(name, e.lr))
        elif isinstance(e, EarlyStop):
            self.plots.add_early_stop_marker(
                e.best_epoch, e.epoch, e.patience, lane_short(e.lane_name)
            )
            who = f"{lane_label(e.lane_name)}: " if len(self._lane_names) > 1 else ""
            what = "training stopped" if e.stopped else "training goes on (overfitting from here)"
            self._show_message(
                f"{who}validation loss has not improved for {e.patience} epochs "
                f"(best {e.best_val_loss:.4g} at epoch {e.best_epoch}); {what}."
            )
        elif isinstance(e, Diverged):
            self.plots.set_diverged(e.lane)
            where = f"epoch {e.epoch}, batch {e.batch + 1}" if e.batch >= 0 else f"epoch {e.epoch}"
            self._diverged_text = f"{lane_short(e.lane_name)} diverged ({e.reason}) at {where}"
            self._show_message(
                f"{lane_label(e.lane_name)} diverged at {where}: {e.explanation}. "
                "Lower the learning rate and press Reset (R).",
                error=True,
            )
        elif isinstance(e, DeviceChanged):
            self._show_message(f"Training moved from {e.previous} to {e.device} at batch {e.step}.")
        elif isinstance(e, Error):
            self._show_message(e.message, error=True)

    def _maybe_request_boundary(self, upd: Update) -> None:
        lane = self._boundary_lane
        if lane >= len(upd.lanes) or upd.steps == self._boundary_req_step:
            return
        now = time.monotonic()
        if now - self._boundary_req_t < BOUNDARY_EVERY_S and upd.state == "running":
            return  # throttled while it trains; once it stops, the last step is always drawn
        self._boundary_req_t = now
        self._boundary_req_step = upd.steps
        self.controller.send(RequestBoundary(BOUNDARY_GRID, (lane,)))

    def _epoch_batch(self) -> tuple[int, int]:
        """(current epoch 1-based, batches done in it): 'Epoch 3/20 · batch 12/25'."""
        if self._steps <= 0:
            return 1, 0
        epoch = (self._steps - 1) // self._bpe + 1
        return min(epoch, max(1, self._epochs)), self._steps - (epoch - 1) * self._bpe

    def _update_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._progress_t < PROGRESS_EVERY_S and self._steps > 0:
            return  # its repaint also repaints the styled parents behind it: 10 Hz is plenty
        self._progress_t = now
        total = max(1, self._epochs * self._bpe)
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(min(self._steps, total))
        epoch, batch = self._epoch_batch()
        text = f"Epoch {epoch}/{self._epochs} · batch {batch}/{self._bpe}"
        if self.progress.format() != text:
            self.progress.setFormat(text)

    def _emit_status(self, force: bool = False) -> None:
        now = time.monotonic()
        force = force or self._state != self._status_state
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_state = self._state
        text = self.status_text()
        if text != self._status:
            self._status, self._status_t = text, now
            self.statusChanged.emit(text)


def _lane_names(specs: tuple[str, ...]) -> list[str]:
    """Lane names as the engine makes them (a repeated SPEC gets ' #2', ' #3'...)."""
    names: list[str] = []
    seen: list[str] = []
    for s in specs:
        names.append(f"{s} #{seen.count(s) + 1}" if s in seen else s)
        seen.append(s)
    return names


def _optimizer_names(config: TrainConfig) -> list[str]:
    """Each lane's optimizer name ("Adam"), as ``LaneStatus.optimizer`` reports it."""
    return [spec.name for spec in config.optimizer_specs()]


def _with_device(config: TrainConfig, device: str) -> TrainConfig:
    from dataclasses import replace

    return replace(config, device=device)


def _check_schedulers(config: TrainConfig) -> None:
    """Build each lane's scheduler on a throw-away parameter, so a bad combination (e.g. cyclic
    momentum on an optimizer without momentum) is a message here, not an error mid-reset."""
    sched = config.scheduler_spec()
    if sched is None:
        return
    import torch

    for spec in config.optimizer_specs():
        param = torch.zeros(1, requires_grad=True)
        sched.build(spec.build([param]), config.epochs, 1)
