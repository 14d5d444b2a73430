"""Training view: a small network learning a 2-D data set live, the tutorial's loop made visible.

What the lecturer sees: a transport bar (Start/Pause, Step, Reset, the learning rate as a log
slider that acts *live*), the epoch/batch progress, the loss curves (per batch raw and smoothed,
validation per epoch) with markers where the learning rate changed and where validation stopped
improving, accuracy beside them, and the network's decision boundary over the data, redrawn a
few times a second. Several optimizers can race on identical networks.

The run's state lives in ``core.state.training.TrainingModel``; the widgets here write to it and
follow its events. Training runs in ``TrainingController``'s worker thread; one ~30 Hz timer
drains the engine's reports through the model and draws them (``training_drawing``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QSettings, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from app.theme import get_theme
from app.views.training_controls import TrainingControls
from app.views.training_deck import PlotArea
from app.views.training_drawing import RunDrawing
from app.views.training_plots import TrainingPlots
from app.views.training_status import MessageLine, ProgressLine
from app.views.training_transport import TransportBar
from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.first_paint import after_first_paint
from app.worker import TrainingController
from core.engine.training import TrainConfig
from core.files.session import Session
from core.state.training import RunStart, TrainingModel

log = logging.getLogger("gdsim.training")

TICK_MS = 33  # the display timer: ~30 Hz whatever the training speed
STATUS_EVERY_S = 0.25


class TrainingView(QWidget):
    """The Training tab. Implements the view interface documented in ``app.views``."""

    statusChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None, plots: TrainingPlots | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPage")
        self.theme = get_theme()
        self.controller = TrainingController(self)
        self.model = TrainingModel(self.controller)
        self.controller.failed.connect(self.model.worker_failed)
        self.controller.finished.connect(self.model.worker_finished)
        self.controls = TrainingControls(self.model)
        self._panel = CollapsiblePanel("Training", self, content=self.controls)
        self.plots = plots or TrainingPlots(self.theme, self)
        self.plots.setParent(self)
        self.message = MessageLine(self.model, self)
        self.transport = TransportBar(self.model, self.controls, self.message, self)
        self.progress = ProgressLine(self.model, self)
        self.area = PlotArea(self.plots, self.theme, self)
        self.pages = self.area.pages  # tool pages beside the decision boundary
        self.drawing = RunDrawing(self.model, self.plots, self.area, self.message)
        t, a = self.transport, self.area
        self.run_button, self.step_button, self.reset_button = (
            t.run_button,
            t.step_button,
            t.reset_button,
        )
        self.lr_control = t.lr_control
        self.boundary_lane_combo = a.boundary_lane_combo
        self.deck, self.splitter, self.right_splitter = a.deck, a.splitter, a.right_splitter
        self._status = ""
        self._status_t = -1e9
        self._status_state = ""
        self._shown_once = False
        self.ticks = 0  # display-timer ticks handled
        self.tick_times: deque[float] = deque(maxlen=4000)  # seconds per tick (benchmarks)
        self.tick_log: list[tuple[float, float]] | None = None  # (start, seconds), benchmarks
        self._layout()
        self._connect()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._show_config_preview()
        t.sync()

    def _layout(self) -> None:
        area = QVBoxLayout()
        area.setContentsMargins(4, 4, 4, 4)
        area.setSpacing(4)
        area.addWidget(self.transport)
        area.addWidget(self.progress)
        area.addWidget(self.message)
        area.addWidget(self.area, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(area, 1)
        lay.addWidget(self._panel)
        edges = area.contentsMargins().left() + area.contentsMargins().right()
        self._panel.leave_room(lambda: self.deck.split_need().width() + edges)
        self.plots.lr_plot.setMinimumSize(160, 120)
        self.add_plot_page(self.plots.lr_plot, "Learning rate")

    def _connect(self) -> None:
        m, c = self.model, self.controls
        m.run_started.connect(self._on_run_started)
        m.state_changed.connect(self._on_state)
        c.structuralChanged.connect(self._on_structural)
        c.hparamChanged.connect(self._on_hparam)
        c.deviceChanged.connect(m.set_device)
        c.laneSelected.connect(self.area.select_lane)
        c.displayChanged.connect(self._on_display)
        self.area.boundaryLaneChanged.connect(self.drawing.focus)
        self.theme.connect_when_shown(self, self._on_theme)

    def add_tool(self, widget: QWidget) -> None:
        """Put a teaching tool's controls (a group box) at the bottom of the control panel."""
        lay = self.controls.layout()
        lay.insertWidget(lay.count() - 1, widget)  # above the stretch

    def add_plot_page(self, widget: QWidget, title: str) -> None:
        """Show ``widget`` as a page beside the decision boundary (tabs appear on first use)."""
        self.pages.add(widget, title)

    # -- the view interface ----------------------------------------------------------------
    def status_text(self) -> str:
        return self.model.status_text()

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        return {"run": self.toggle_run, "step": self.step_once, "reset": self.reset_run}

    def control_panel(self) -> CollapsiblePanel:
        return self._panel

    def save_settings(self, settings: QSettings) -> None:
        """How the view is drawn and laid out (the window keeps the setup as a session)."""
        self.controls.save_settings(settings)
        self.area.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.controls.restore_settings(settings)
        self.area.restore_settings(settings)
        self._on_display()

    def show_settings(self, config: TrainConfig) -> None:
        """A setup from the settings, shown in the panel: unlike a session's (``apply_config``)
        no run starts over unless one is running, and what the panel could not hold is logged."""
        note = self.controls.set_config(config)
        if note:
            log.warning("saved training settings: %s", note)
        lane = self.controls.current_lane()
        self.transport.show_lane(lane)
        self.area.select_lane(lane)
        if self.controller.alive:
            self.reset_run()
        else:
            self._show_config_preview()

    def shutdown(self) -> None:
        """Stop the display timer and the worker (≤ ~0.9 s; never terminate())."""
        self.model.closed = True
        self._timer.stop()
        self.transport.stop()
        try:
            self.model.shutdown(900)
        except Exception:  # must not raise into the window's close
            log.exception("stopping the training worker failed")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self.area.splitters_restored:
                QTimer.singleShot(0, self, self.area.fit_splitters)
            # the engine, in its thread, once the first frame is up: the first Start is then
            # instant and the untrained network's boundary is on screen
            after_first_paint(self, self._ensure_engine)

    def message_text(self) -> str:
        return self.message.shown_text()

    # -- commands --------------------------------------------------------------------------
    @Slot()
    def toggle_run(self) -> None:
        """Start / pause / resume; after the run ended: reset and start again."""
        self.model.toggle_run()

    @Slot()
    def step_once(self) -> None:
        """Exactly one batch (pauses a running run first)."""
        self.model.step_once()

    @Slot()
    def reset_run(self, then: str | None = None) -> None:
        """Start over from the seed with the current settings."""
        self.model.reset(then)

    def apply_config(self, config: TrainConfig) -> None:
        """Show a session's training setup and start over with it (paused at step 0)."""
        self.model.apply(Session(view="training", training=config))

    @Slot()
    def _ensure_engine(self) -> None:
        self.model.ensure_engine()

    # -- model and panel reactions ---------------------------------------------------------
    def _on_run_started(self, run: RunStart) -> None:
        c = self.controls
        self.drawing.start(run, (c.log_y(), c.raw_visible()), c.current_lane())
        self.progress.follow(force=True)
        if self.controller.alive and not self._timer.isActive():
            self._timer.start()

    def _on_state(self, _state: str) -> None:
        self._emit_status(force=True)

    def _show_config_preview(self) -> None:
        """Before any engine exists: show the data the first run will use."""
        data = self.controls.preview_data
        if data is None or self.model.invalid:
            return
        self.model.preview(data)
        self.transport.show_lr_lane()

    @Slot()
    def _on_structural(self) -> None:
        if self.controller.alive:
            self.model.settings_changed()
            return
        if self._shown_once:
            self.model.ensure_engine()
        else:
            self._show_config_preview()
        self.transport.sync()

    @Slot(int, str, object)
    def _on_hparam(self, lane: int, name: str, value: object) -> None:
        self.model.send_hparams(lane, {name: value})

    @Slot()
    def _on_display(self) -> None:
        self.plots.set_log_y(self.controls.log_y())
        self.plots.set_raw_visible(self.controls.raw_visible())

    @Slot()
    def _on_theme(self) -> None:
        self.area.fit_minimums()
        self.message.restyle()
        self.transport.show_lr_lane()

    # -- the display timer -----------------------------------------------------------------
    @Slot()
    def _tick(self) -> None:
        t0 = time.perf_counter()
        self.ticks += 1
        previous = self.model.state
        drained = self.model.drain()
        if drained is not None:
            self.drawing.draw(drained)
            self.progress.follow(force=self.model.state != previous)
        if self.isVisible():
            self.plots.redraw()
        self._emit_status()
        took = time.perf_counter() - t0
        self.tick_times.append(took)
        if self.tick_log is not None:
            self.tick_log.append((t0, took))

    def _emit_status(self, force: bool = False) -> None:
        now = time.monotonic()
        force = force or self.model.state != self._status_state
        if not force and now - self._status_t < STATUS_EVERY_S:
            return
        self._status_state = self.model.state
        text = self.status_text()
        if text != self._status:
            self._status, self._status_t = text, now
            self.statusChanged.emit(text)
