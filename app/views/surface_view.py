"""Surfaces view: optimizers racing on a 2-D loss surface, live, for a lecture hall.

What the class sees: the surface as a filled contour map (``surfaceView``) with every
optimizer's path and current point, a small loss-per-step plot, and a control panel: run /
step / reset and the speed, the surface (a registry entry or a typed expression), and the
racing optimizers with the selected one's hyperparameters, which apply live.

How it runs: all stepping is ``core.engine.race.Race`` -- real ``torch.optim`` steps on float64
parameters. A race step costs ~0.1-0.4 ms per runner here, so the race steps on the GUI thread
from one ``QTimer`` at ~60 Hz: each tick takes as many steps as the speed asks for since the
last tick, but stops after :data:`STEP_BUDGET_S` (8 ms) so the window never stalls; if the
machine cannot keep up, the missed steps are dropped (the status line shows the rate actually
reached). After stepping, the same tick pushes only what changed into plot items created once
(see ``surface_plots`` and ``surface_layers``: trajectories are painted incrementally). When
every runner has diverged the run pauses itself and says so. ``app.bench_surface`` measures a
full tick (steps + redraw + paint).

Objects (tests and screen readers rely on these names): ``runButton``, ``stepButton``,
``resetButton``, ``speedSlider``/``speedLabel``, ``surfaceCombo``/``surfaceDescription``,
``expressionEdit``/``expressionError``, ``optimizerList`` with ``addOptimizerCombo``,
``addOptimizerButton``, ``duplicateOptimizerButton``, ``removeOptimizerButton``, the
hyperparameter form (``lrSlider``/``lrSpin``, ``surfaceHparamError``), ``surfaceLossPlot`` with
``surfaceLossLogCheck``, and ``startLabel``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable
from functools import partial

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel
from app.settings import read_bool, read_bytes, read_float, read_int, read_str
from app.theme import SERIES_COLORS, get_theme
from app.views.surface_plots import RacePlots
from app.views.surface_runners import ERROR_COLORS, OptimizerPanel, RunnerEntry
from app.warmup import LOADING_NOTE, run_when_warm, warming_up
from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.plot_deck import PlotDeck
from app.widgets.slider_spin import format_number
from core.engine.expression import ExpressionError, expression_help
from core.engine.optimizers import OptimizerSpec, get_optimizer, parse_spec
from core.engine.race import (
    DEFAULT_HORIZON,
    MAX_HORIZON,
    MAX_NOISE,
    MAX_SEED,
    Race,
    as_scheduler,
    check_point,
    check_schedule,
)
from core.engine.surfaces import SURFACES, Surface, get_surface, surface_names
from core.errors import GdsimError
from core.files.session import (  # the speed range (steps/s) is shared with session files
    MAX_RUNNERS,
    MAX_STEPS,
    SPEED_DEFAULT,
    SPEED_MAX,
    SPEED_MIN,
    RunnerState,
    SurfacesState,
    spec_text,
)

log = logging.getLogger("gdsim.surfaces")


def _drawable(surface: Surface) -> Surface:
    """``surface``, or GdsimError when it has no finite value anywhere on its map (e.g.
    ``x**2 + 1e400*y``: 1e400 is inf), where nothing could be drawn or raced."""
    if surface.is_expression:
        with np.errstate(invalid="ignore", over="ignore"):
            _xs, _ys, z = surface.grid(DRAWABLE_PROBE)
        if not np.isfinite(z).any():
            raise GdsimError("f(x, y) is not finite anywhere on the map: nothing to draw or race")
    return surface


DEFAULT_SURFACE = "rosenbrock"
#: The race a lecture starts with: plain SGD crawls along Rosenbrock's valley, momentum gets
#: to (1, 1) first, Adam and RMSprop in between (~3000 steps for all to arrive).
DEFAULT_RACE = (
    "SGD(lr=0.001)",
    "SGD(lr=0.001, momentum=0.9)",
    "Adam(lr=0.02)",
    "RMSprop(lr=0.005)",
)
SPEED_POSITIONS = 1000
TICK_MS = 16
STEP_BUDGET_S = 0.008
MAX_CATCH_UP_S = 0.1  # a late tick (window dragged, machine busy) never owes more than this
STATUS_INTERVAL_S = 0.25
RATE_WINDOW_S = 1.0
EXPRESSION_CHECK_MS = 400
#: A runner's name that says where it starts: "from (x, y)" or "at (x, y)".
NAMES_A_START = re.compile(r"\b(from|at)\s*\(")
DRAWABLE_PROBE = 48  # grid points a side when checking that a typed f has a finite value
REPLAY_SLICE_S = 0.03  # a loaded session's steps are replayed this long per event-loop turn


def _thin(n: int) -> str:
    """1234567 -> '1 234 567' (narrow no-break spaces read well on a projector)."""
    return f"{n:,}".replace(",", "\u202f")


def speed_to_position(speed: float) -> int:
    frac = math.log(speed / SPEED_MIN) / math.log(SPEED_MAX / SPEED_MIN)
    return int(round(min(1.0, max(0.0, frac)) * SPEED_POSITIONS))


def position_to_speed(pos: int) -> float:
    v = SPEED_MIN * (SPEED_MAX / SPEED_MIN) ** (pos / SPEED_POSITIONS)
    return float(f"{v:.2g}") if v >= 10 else round(v, 1)


def surface_title(name: str) -> str:
    """'six-hump-camel' -> 'Six-Hump-Camel' (the combo's text; the registry key stays data)."""
    return name.title()


class SurfaceView(QWidget):
    """The Surfaces tab (interface documented in ``app.views``)."""

    statusChanged = Signal(str)
    #: After every redraw (each timer tick, single step, reset): tools that draw over the race
    #: (step anatomy, basins) refresh from ``self.race`` here instead of polling.
    redrawn = Signal()
    #: The race went back to step 0 (reset, new start point, new surface or expression).
    restarted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("surfacesPage")
        self.theme = get_theme()
        self.race = Race(DEFAULT_SURFACE)
        self.entries: dict[int, RunnerEntry] = {}
        self.generation = 0  # bumped on every restart (reset, start point, surface)
        self._surface_key = DEFAULT_SURFACE  # registry name or the expression text
        self._last_builtin = DEFAULT_SURFACE  # where an emptied expression field goes back to
        self._running = False
        self._speed = SPEED_DEFAULT
        self._accum = 0.0
        self._last_tick: float | None = None
        self._step_cost = 0.0  # running estimate of one race step's duration, s
        self._rates: deque[tuple[float, int]] = deque()
        self._note = ""
        self._last_status = ""
        self._last_status_time = 0.0
        self._syncing_combo = False
        self._closed = False
        self._replay_left = 0  # steps a loaded session still asks for (see apply_state)

        self.plots = RacePlots(self.theme)
        self.plots.runnerVisibilityToggled.connect(self._on_visibility)
        self._build_ui()
        self.plots.minimumsChanged.connect(self.deck.schedule_refit)

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._expr_timer = QTimer(self)
        self._expr_timer.setSingleShot(True)
        self._expr_timer.setInterval(EXPRESSION_CHECK_MS)
        self._expr_timer.timeout.connect(self._check_expression)
        self._replay_timer = QTimer(self)
        self._replay_timer.setInterval(0)
        self._replay_timer.timeout.connect(self._replay_slice)

        self.plots.set_log_y(self.log_check.isChecked(), [], self.generation)
        self._show_surface(self.race.surface)
        for text in DEFAULT_RACE:
            self.add_runner(parse_spec(text))
        self.panel.select(next(iter(self.entries)))
        self.theme.connect_when_shown(self, self._on_theme)
        self._on_theme()
        self._refresh_status(force=True)

    # ======================================================================== building
    def _build_ui(self) -> None:
        # -- plots: map above, loss below (a splitter, so a lecturer can give the map more)
        loss_box = QWidget(self)
        loss_lay = QVBoxLayout(loss_box)
        loss_lay.setContentsMargins(0, 0, 0, 0)
        loss_lay.setSpacing(2)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 4, 0)
        title = PlainLabel("Loss per step", loss_box)
        title.setObjectName("lossTitle")
        self.log_check = QCheckBox("log y", loss_box)
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
        loss_lay.addLayout(head)
        loss_lay.addWidget(self.plots.loss, 1)

        # map above, loss below while both keep a readable size (a lecturer can drag the
        # splitter to give the map more); tabs when the window is too short for both
        self.deck = PlotDeck(Qt.Orientation.Vertical, self)
        self.deck.setObjectName("surfacePlotDeck")
        self.deck.addItem(self.plots.map, "Map", stretch=3)
        self.deck.addItem(loss_box, "Loss per step", stretch=1)
        self.splitter = self.deck.splitter
        self.splitter.setObjectName("surfaceSplitter")
        self._loss_box = loss_box
        self.plot_tabs: QTabWidget | None = None  # made by add_plot_page()

        controls = QWidget()
        controls.setObjectName("surfaceControls")
        c_lay = QVBoxLayout(controls)
        c_lay.setContentsMargins(6, 4, 6, 6)
        c_lay.addWidget(self._build_run_group(controls))
        c_lay.addWidget(self._build_surface_group(controls))
        self.panel = OptimizerPanel(controls)
        opt_box = QGroupBox("Optimizers", controls)
        opt_box.setObjectName("optimizerGroup")
        opt_lay = QVBoxLayout(opt_box)
        opt_lay.setContentsMargins(6, 6, 6, 6)
        opt_lay.addWidget(self.panel)
        c_lay.addWidget(opt_box)
        c_lay.addStretch(1)
        self._controls_layout = c_lay
        self.panel.addRequested.connect(self._on_add)
        self.panel.removeRequested.connect(self.remove_runner)
        self.panel.duplicateRequested.connect(self.duplicate_runner)
        self.panel.visibilityToggled.connect(self._on_visibility)
        self.panel.renamed.connect(self.rename_runner)
        self.panel.hparamChanged.connect(self.set_hparam)

        self.control_panel_widget = CollapsiblePanel("Controls", self, content=controls)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.deck, 1)
        lay.addWidget(self.control_panel_widget)
        edges = lay.contentsMargins().left() + lay.contentsMargins().right() + lay.spacing()
        self.control_panel_widget.leave_room(lambda: self.deck.split_need().width() + edges)

        self.plots.map.pointClicked.connect(self.set_start)
        self.plots.map.pointDragged.connect(self.set_start)

    def add_tool(self, widget: QWidget) -> None:
        """Put a teaching tool's panel (a group box) at the bottom of the control panel."""
        lay = self._controls_layout
        lay.insertWidget(lay.count() - 1, widget)  # above the stretch

    def add_plot_page(self, widget: QWidget, title: str) -> None:
        """Show ``widget`` as a page beside the loss plot (tabs appear on first use)."""
        if self.plot_tabs is None:
            tabs = QTabWidget(self)
            tabs.setObjectName("surfacePlotTabs")
            tabs.setDocumentMode(True)
            self.deck.replaceItem(self._loss_box, tabs, "Plots")
            tabs.addTab(self._loss_box, "Loss per step")
            self.plot_tabs = tabs
        self.plot_tabs.addTab(widget, title)

    def _button(self, name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        b = QPushButton(text, self)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setAccessibleName(text)
        b.clicked.connect(slot)
        return b

    def _build_run_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Run", parent)
        box.setObjectName("runGroup")
        self.run_button = self._button(
            "runButton", "Start",
            "Start or pause the race: every optimizer takes steps at the chosen speed (Space).",
            self.toggle_run,
        )  # fmt: skip
        self.step_button = self._button(
            "stepButton", "Step",
            "Advance every optimizer by exactly one optimizer step (S or →).", self.step_once,
        )  # fmt: skip
        self.reset_button = self._button(
            "resetButton", "Reset",
            "Send every optimizer back to the start point with a fresh optimizer state (R).",
            self.reset,
        )  # fmt: skip
        self.speed_slider = QSlider(Qt.Orientation.Horizontal, box)
        self.speed_slider.setObjectName("speedSlider")
        self.speed_slider.setAccessibleName("Speed in steps per second")
        self.speed_slider.setToolTip(
            "How many optimizer steps per second the race takes while running (log scale, "
            f"{SPEED_MIN:g} to {SPEED_MAX:g}); it does not change what each step does."
        )
        self.speed_slider.setRange(0, SPEED_POSITIONS)
        self.speed_slider.setPageStep(SPEED_POSITIONS // 10)
        self.speed_slider.setValue(speed_to_position(self._speed))
        self.speed_slider.valueChanged.connect(self._on_speed)
        self.speed_label = PlainLabel(box)
        self.speed_label.setObjectName("speedLabel")
        self.speed_label.setAccessibleName("Speed")
        self.speed_label.setToolTip("Steps per second asked for (the status line shows the rate "
                                    "reached).")  # fmt: skip
        self.speed_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("2000 steps/s") + 4)
        self._show_speed()
        grid = QGridLayout(box)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.addWidget(self.run_button, 0, 0)
        grid.addWidget(self.step_button, 0, 1)
        grid.addWidget(self.reset_button, 0, 2)
        speed_row = QHBoxLayout()
        speed_title = PlainLabel("Speed", box)
        speed_title.setBuddy(self.speed_slider)
        speed_row.addWidget(speed_title)
        speed_row.addWidget(self.speed_slider, 1)
        speed_row.addWidget(self.speed_label)
        grid.addLayout(speed_row, 1, 0, 1, 3)
        return box

    def _build_surface_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Surface", parent)
        box.setObjectName("surfaceGroup")
        self.surface_combo = QComboBox(box)
        self.surface_combo.setObjectName("surfaceCombo")
        self.surface_combo.setAccessibleName("Built-in surface")
        self.surface_combo.setToolTip(
            "The loss surface the optimizers race on; switching restarts every optimizer from "
            "the surface's default start."
        )
        self.surface_combo.setPlaceholderText("Your expression")
        self.surface_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.surface_combo.setMinimumContentsLength(12)
        self._fill_surface_combo()
        self.surface_combo.currentIndexChanged.connect(self._on_surface_combo)
        self.surface_description = PlainLabel(box)
        self.surface_description.setObjectName("surfaceDescription")
        self.surface_description.setWordWrap(True)
        self.surface_description.setAccessibleName("Surface description")
        self.surface_description.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )

        self.expression_edit = QLineEdit(box)
        self.expression_edit.setObjectName("expressionEdit")
        self.expression_edit.setAccessibleName("Surface expression f(x, y)")
        self.expression_edit.setPlaceholderText("or type f(x, y), e.g. x**2 + 10*y**2")
        self.expression_edit.setClearButtonEnabled(True)
        self.expression_edit.setToolTip(
            "Type your own loss f(x, y) and press Enter: the optimizers race on it from a fresh "
            "start.\n\n" + expression_help()
        )
        self.expression_edit.returnPressed.connect(self.apply_expression)
        self.expression_edit.textEdited.connect(self._on_expression_edited)
        self.expression_error = PlainLabel(box)
        self.expression_error.setObjectName("expressionError")
        self.expression_error.setAccessibleName("Expression error")
        self.expression_error.setWordWrap(True)
        self.expression_error.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )
        self.expression_error.hide()

        self.start_label = PlainLabel(box)
        self.start_label.setObjectName("startLabel")
        self.start_label.setAccessibleName("Start point")
        self.start_label.setToolTip("Where every optimizer starts; click or drag on the map to "
                                    "move it.")  # fmt: skip
        self.start_label.setWordWrap(True)
        self.start_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.surface_combo)
        lay.addWidget(self.surface_description)
        lay.addWidget(self.expression_edit)
        lay.addWidget(self.expression_error)
        lay.addWidget(self.start_label)
        return box

    def _fill_surface_combo(self) -> None:
        self._syncing_combo = True
        try:
            self.surface_combo.clear()
            for name in surface_names():
                self.surface_combo.addItem(surface_title(name), name)
                self.surface_combo.setItemData(
                    self.surface_combo.count() - 1,
                    SURFACES[name].description,
                    Qt.ItemDataRole.ToolTipRole,
                )
        finally:
            self._syncing_combo = False

    # ============================================================ the view interface
    def status_text(self) -> str:
        n = len(self.entries)
        parts = ["Running" if self._running else "Paused"]
        parts.append(f"{n} optimizer{'s' if n != 1 else ''}")
        diverged = sum(e.diverged for e in self.entries.values())
        if diverged:
            parts.append(f"{diverged} diverged")
        parts.append(f"step {_thin(self.race.t)}")
        if self._running:
            parts.append(f"{_thin(int(round(self._rate())))} steps/s")
        if self._note:
            parts.append(self._note)
        return " · ".join(parts)

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        tool = getattr(self, "anatomy", None)  # the step-anatomy tool, once installed
        return {
            "run": self.toggle_run,
            "step": self.step_once,
            "reset": self.reset,
            "narrate": tool.narrate if tool is not None else None,
        }

    def refresh(self) -> None:
        """Show the race as it is now, after a tool stepped it itself (the narrated step)."""
        self._redraw()
        self._refresh_status(force=True)

    def control_panel(self) -> CollapsiblePanel:
        return self.control_panel_widget

    def shutdown(self) -> None:
        self.timer.stop()
        self._replay_timer.stop()
        self._expr_timer.stop()
        self._running = False
        self._closed = True

    # A hidden tab does not step: the race would take the GUI thread's time from the training
    # view the class is now looking at. It stays "running" and goes on when shown again.
    def hideEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().hideEvent(event)
        self.timer.stop()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._running and not self._closed:
            self._last_tick = None
            self.timer.start()

    # ================================================================ running
    @property
    def running(self) -> bool:
        return self._running

    @Slot()
    def toggle_run(self) -> None:
        if self._running:
            self.pause()
        else:
            self.start()

    def start(self) -> None:
        if not self.entries:
            self._set_note("add an optimizer to race")
            return
        if not self.race.active:
            self._set_note(self._stuck_note())
            return
        self._note = ""
        self._running = True
        self._last_tick = None
        self._accum = 0.0
        self._rates.clear()
        self.timer.start()
        self._sync_run_button()
        self._refresh_status(force=True)

    def pause(self, note: str = "") -> None:
        self._running = False
        self.timer.stop()
        self._note = note
        self._sync_run_button()
        self._refresh_status(force=True)

    def _sync_run_button(self) -> None:
        self.run_button.setText("Pause" if self._running else "Start")
        self.run_button.setAccessibleName(self.run_button.text())

    @Slot()
    def step_once(self) -> None:
        """Exactly one optimizer step for every runner that is still going (while the start-up
        warm-up import runs, once it is done: see app.warmup)."""
        if self._running:
            self.pause()
        if warming_up():
            self._set_note(LOADING_NOTE)
            run_when_warm(self, partial(self._step_now, self.generation))
            return
        self._step_now(self.generation)

    def _step_now(self, generation: int) -> None:
        if generation != self.generation:  # reset (or a new start/surface) while it waited
            return
        if self.race.step(1) == 0:
            self._set_note(self._stuck_note() if self.entries else "add an optimizer to race")
        else:
            self._note = ""
        self._redraw()
        self._refresh_status(force=True)

    @Slot()
    def reset(self) -> None:
        """Every runner back to the start with a fresh optimizer; keeps running if it was."""
        self.race.reset()
        self._restarted()

    def _start_problem(self) -> str:
        """Why no optimizer can take a step from the start point, or "" (f must be finite
        there: a click at x < 0 on log(x) + y**2 diverged every runner at step 0, and "press
        Reset" could not help)."""
        x, y = self.race.start
        try:
            value = self.race.surface.value(x, y)
        except (ArithmeticError, RuntimeError, ValueError):
            value = math.nan
        if math.isfinite(value):
            return ""
        return (
            f"f is not defined at the start ({format_number(x, 3)}, {format_number(y, 3)}): "
            "click the map where it is drawn, or change the surface"
        )

    def _stuck_note(self) -> str:
        return self._start_problem() or "every optimizer has diverged: press Reset (R)"

    def _restarted(self) -> None:
        self._replay_left = 0
        self.generation += 1
        self._accum = 0.0
        self._rates.clear()
        self._note = self._start_problem()
        for entry in self.entries.values():
            self.panel.update_entry(entry)
            self.plots.restyle(entry)
        self.plots.set_start(self.race.start)
        self._show_start()
        self._redraw()
        self._refresh_status(force=True)
        self.restarted.emit()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        if self._running and warming_up():  # a step now would wait for the import: skip the tick
            self._last_tick = None
            if self._note != LOADING_NOTE:
                self._set_note(LOADING_NOTE)
            return
        if self._running:
            if self._note == LOADING_NOTE:
                self._note = ""
            dt = TICK_MS / 1000 if self._last_tick is None else now - self._last_tick
            self._last_tick = now
            self._accum += self._speed * min(dt, MAX_CATCH_UP_S)
            self._advance(now)
            if not self.race.active:
                self._redraw()
                self.pause(self._stuck_note())
                return
        self._redraw()
        self._refresh_status()

    def _advance(self, now: float) -> int:
        """Take the steps the speed asks for, within the tick's time budget."""
        n = int(self._accum)
        if n <= 0:
            return 0
        deadline = now + STEP_BUDGET_S
        race = self.race
        taken = 0
        cost = self._step_cost  # one race step, s (all runners): don't start one that won't fit
        t = time.perf_counter()
        while taken < n and t + cost <= deadline:
            if race.step(1) == 0:
                break
            taken += 1
            t_next = time.perf_counter()
            cost = 0.8 * cost + 0.2 * (t_next - t)
            t = t_next
        if taken == 0 and n and race.active:  # always make progress, even on a busy machine
            race.step(1)
            taken = 1
            t_next = time.perf_counter()
            cost = 0.8 * cost + 0.2 * (t_next - t)
        self._step_cost = cost
        # steps the budget could not fit are dropped, not owed: no burst after a stall
        self._accum = self._accum - taken if taken == n else 0.0
        self._rates.append((time.perf_counter(), race.t))
        return taken

    def _rate(self) -> float:
        """Race steps per second over the last second (what the machine actually reached)."""
        rates = self._rates
        if not rates:
            return 0.0
        now = rates[-1][0]
        while len(rates) > 2 and now - rates[0][0] > RATE_WINDOW_S:
            rates.popleft()
        t0, s0 = rates[0]
        t1, s1 = rates[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def _redraw(self) -> None:
        """Show the race's state now (only what changed is pushed into the plots)."""
        before = {rid: e.diverged for rid, e in self.entries.items()}
        self.plots.redraw(list(self.entries.values()), self.generation)
        for rid, entry in self.entries.items():
            if entry.diverged != before[rid] or entry.diverged:
                self.panel.update_entry(entry)
        self._log_off_if_below()
        self.redrawn.emit()

    def _log_off_if_below(self) -> None:
        """A loss below the log axis' reference would be drawn clamped, looking converged."""
        if self.plots.below_reference and self.log_check.isChecked():
            self.log_check.setChecked(False)  # redraws on a linear axis
            what = "f*" if self.plots.reference_known else "the lowest value on the map"
            self._set_note(f"log y off: a loss went below {what}, which a log axis cannot show")

    def _set_note(self, note: str) -> None:
        self._note = note
        self._refresh_status(force=True)

    def _refresh_status(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_status_time < STATUS_INTERVAL_S:
            return
        self._last_status_time = now
        text = self.status_text()
        if text != self._last_status:
            self._last_status = text
            self.statusChanged.emit(text)

    # ================================================================ speed
    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        self.speed_slider.setValue(speed_to_position(speed))
        self._speed = float(min(SPEED_MAX, max(SPEED_MIN, speed)))
        self._show_speed()

    @Slot(int)
    def _on_speed(self, pos: int) -> None:
        self._speed = position_to_speed(pos)
        self._show_speed()

    def _show_speed(self) -> None:
        v = self._speed
        self.speed_label.setText(f"{v:.0f} steps/s" if v >= 10 else f"{v:g} steps/s")

    # ================================================================ surface and start
    def _show_surface(self, surface: Surface) -> None:
        if not surface.is_expression:
            self._last_builtin = surface.name
        self.plots.set_surface(surface)
        self.plots.set_start(self.race.start)
        self.surface_description.setText(surface.description)
        self.surface_combo.setToolTip(
            self.surface_combo.toolTip().split("\n\n")[0] + "\n\n" + surface.description
        )
        self._sync_combo()
        self._show_start()

    def _sync_combo(self) -> None:
        surface = self.race.surface
        idx = -1 if surface.is_expression else self.surface_combo.findData(surface.name)
        if self.surface_combo.currentIndex() != idx:
            self._syncing_combo = True
            try:
                self.surface_combo.setCurrentIndex(idx)
            finally:
                self._syncing_combo = False

    def _show_start(self) -> None:
        x, y = self.race.start
        self.start_label.setText(
            f"Start: ({format_number(x, 3)}, {format_number(y, 3)}) — click the map to move it"
        )

    def set_surface(
        self, name_or_expression: str, start: tuple[float, float] | None = None
    ) -> None:
        """Race on another surface (GdsimError for an unknown name or a bad expression)."""
        surface = get_surface(name_or_expression)
        own = self._starts()
        self.race.set_surface(surface, start)
        self._forget_start_labels(own)
        self._surface_key = surface.name
        self._show_surface(surface)
        self._restarted()

    @Slot(int)
    def _on_surface_combo(self, index: int) -> None:
        if self._syncing_combo or index < 0:
            return
        name = self.surface_combo.itemData(index)
        if name and name != self.race.surface.name:
            self.set_surface(name)
            self.expression_edit.clear()  # the field described the surface left behind
            self._clear_expression_error()

    @Slot(str)
    def _on_expression_edited(self, _text: str) -> None:
        self._expr_timer.start()

    @Slot()
    def _check_expression(self) -> None:
        """While typing: say what is wrong (or nothing) without touching the race."""
        text = self.expression_edit.text().strip()
        if not text:
            self._clear_expression_error()
            return
        try:
            _drawable(get_surface(text))  # a registry name is fine too
        except GdsimError as exc:
            self._show_expression_error(exc)
            return
        self._clear_expression_error()

    @Slot()
    def apply_expression(self) -> bool:
        """Enter in ``expressionEdit``: race on the typed surface, or say why not."""
        self._expr_timer.stop()
        text = self.expression_edit.text().strip()
        if not text:
            self._clear_expression_error()
            if self.race.surface.is_expression:  # an emptied field goes back to the list
                self.set_surface(self._last_builtin)
            return False
        try:
            surface = _drawable(get_surface(text))
        except GdsimError as exc:
            self._show_expression_error(exc)
            return False
        self._clear_expression_error()
        own = self._starts()
        self.race.set_surface(surface)
        self._forget_start_labels(own)
        self._surface_key = surface.name
        self._show_surface(surface)
        self._restarted()
        return True

    def _show_expression_error(self, exc: GdsimError) -> None:
        msg = str(exc)
        column = getattr(exc, "column", None) if isinstance(exc, ExpressionError) else None
        if column is not None and "column" not in msg:
            msg = f"{msg} (column {column})"
        self.expression_error.setText(msg)
        self.expression_error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")
        self.expression_error.show()
        if column is not None and self.expression_edit.hasFocus():
            self.expression_edit.setCursorPosition(max(0, column - 1))

    def _clear_expression_error(self) -> None:
        self.expression_error.clear()
        self.expression_error.hide()

    @Slot(float, float)
    def set_start(self, x: float, y: float) -> None:
        """Move the shared start point; every runner restarts there (keeps running if it was)."""
        own = self._starts()
        try:
            self.race.set_start(x, y)
        except GdsimError as exc:
            self._set_note(str(exc))
            return
        self._forget_start_labels(own)
        self._restarted()

    def _starts(self) -> dict[int, tuple[float, float]]:
        return {rid: e.runner.start for rid, e in self.entries.items()}

    def _forget_start_labels(self, before: dict[int, tuple[float, float]]) -> None:
        """A new surface or start point moved the runners: a name that says where a runner
        starts ("SGD from (−1, 0)", as presets name them) would now be wrong, so a runner
        that moved goes back to its automatic name; other names ("Bold Adam") stay."""
        for rid, start in before.items():
            entry = self.entries.get(rid)
            if entry is None or entry.runner.start == start or not entry.custom_label:
                continue
            if NAMES_A_START.search(entry.custom_label):
                self.rename_runner(rid, "")

    # ================================================================ runners
    def _free_color(self) -> str:
        used = [e.color for e in self.entries.values()]
        for color in SERIES_COLORS:
            if color not in used:
                return color
        return SERIES_COLORS[len(used) % len(SERIES_COLORS)]

    def add_runner(
        self,
        spec: OptimizerSpec | str,
        label: str | None = None,
        visible: bool = True,
        select: bool = False,
        start: tuple[float, float] | None = None,
        scheduler: object | None = None,
    ) -> RunnerEntry:
        """Put an optimizer into the race (from the shared start point unless ``start``)."""
        runner = self.race.add(spec, start=start, scheduler=scheduler)
        if label:
            runner.label = label
        entry = RunnerEntry(runner, self._free_color(), visible, label or None)
        self.entries[entry.id] = entry
        self.plots.add_runner(entry)
        self.panel.add_entry(entry, select=select)
        self._redraw()
        self._refresh_status(force=True)
        return entry

    @Slot(str)
    def _on_add(self, name: str) -> None:
        info = get_optimizer(name)
        self.add_runner(OptimizerSpec(info), select=True)

    @Slot(int)
    def remove_runner(self, rid: int) -> None:
        entry = self.entries.pop(rid, None)
        if entry is None:
            return
        self.race.remove(entry.runner)
        self.plots.remove_runner(rid)
        self.panel.remove_entry(rid)
        self.plots.update_heads(self.entries.values())
        if self._running and not self.entries:
            self.pause("add an optimizer to race")
        self._refresh_status(force=True)

    @Slot(int)
    def duplicate_runner(self, rid: int) -> RunnerEntry | None:
        entry = self.entries.get(rid)
        if entry is None:
            return None
        label = f"{entry.custom_label} (copy)" if entry.custom_label else None
        return self.add_runner(
            entry.runner.spec,
            label=label,
            visible=True,
            select=True,
            scheduler=entry.runner.scheduler,
        )

    @Slot(int, bool)
    def _on_visibility(self, rid: int, visible: bool) -> None:
        self.set_visible(rid, visible)

    def set_visible(self, rid: int, visible: bool) -> None:
        entry = self.entries.get(rid)
        if entry is None or entry.visible == visible:
            return
        entry.visible = visible
        self.plots.restyle(entry)
        self.plots.update_heads(self.entries.values())
        self.panel.update_entry(entry)

    @Slot(int, str)
    def rename_runner(self, rid: int, text: str) -> None:
        entry = self.entries.get(rid)
        if entry is None:
            return
        entry.custom_label = text.strip() or None
        entry.runner.label = entry.custom_label
        self.plots.restyle(entry)
        self.panel.update_entry(entry)

    @Slot(int, str, object)
    def set_hparam(self, rid: int, name: str, value: object) -> bool:
        """A live change from the form: into the running optimizer, or refused with the reason."""
        entry = self.entries.get(rid)
        if entry is None:
            return False
        try:
            self.race.set_hparams(entry.runner, **{name: value})
        except GdsimError as exc:
            self.panel.refresh_form()  # show the values still in force
            self.panel.show_error(str(exc))
            return False
        self.panel.clear_error()
        self.panel.update_entry(entry)
        self.plots.restyle(entry)
        return True

    def clear_runners(self) -> None:
        for rid in list(self.entries):
            self.remove_runner(rid)

    # ================================================================ look
    @Slot()
    def _on_theme(self) -> None:
        self.panel.set_theme_name(self.theme.name)
        self.plots.fit_minimums()
        for entry in self.entries.values():
            self.plots.restyle(entry)
        self.plots.update_heads(self.entries.values())
        if self.expression_error.isVisible():
            self.expression_error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")

    @Slot(bool)
    def _on_log_toggled(self, on: bool) -> None:
        self.plots.set_log_y(on, self.entries.values(), self.generation)
        self._log_off_if_below()  # ticked again on a race that already went below

    # ================================================================ settings
    def save_settings(self, settings: QSettings) -> None:
        """What a restart brings back: everything a session file holds except the steps taken
        (schedules, noise and each runner's own start included, so nothing set up is lost)."""
        s = settings
        state = self.session_state()
        s.setValue("surface", state.surface)
        s.setValue("startX", float(self.race.start[0]))
        s.setValue("startY", float(self.race.start[1]))
        s.setValue("speed", float(state.speed))
        s.setValue("noise", float(state.noise))
        s.setValue("seed", int(state.seed))
        s.setValue("horizon", int(state.horizon))
        s.setValue("lossLogY", bool(self.log_check.isChecked()))
        s.setValue("splitter", self.splitter.saveState())
        s.setValue("plotTab", self.plot_tabs.currentIndex() if self.plot_tabs else 0)
        rids, current = list(self.entries), self.panel.current_id()
        s.setValue("selected", rids.index(current) if current in rids else 0)
        s.remove("runners")
        s.beginWriteArray("runners", len(state.runners))
        for i, r in enumerate(state.runners):
            s.setArrayIndex(i)
            s.setValue("spec", r.spec)
            s.setValue("label", r.label or "")
            s.setValue("visible", bool(r.visible))
            s.setValue("scheduler", r.scheduler or "")
            if r.start is not None:
                s.setValue("startX", float(r.start[0]))
                s.setValue("startY", float(r.start[1]))
        s.endArray()

    def restore_settings(self, settings: QSettings) -> None:
        """Apply saved settings; anything unreadable is skipped with a warning (the rest of
        the race is still restored, through the same ``apply_state`` a session file uses)."""
        s = settings
        current = self.session_state()
        surface = current.surface
        start = self._read_point(s, "start", "ignoring saved start point: %s")
        key = read_str(s, "surface", surface)
        try:
            surface = get_surface(key).name
        except GdsimError as exc:
            log.warning("ignoring saved surface %r: %s", key, exc)
            start = None  # it was a point on that surface
        horizon = read_int(s, "horizon", DEFAULT_HORIZON, 1, MAX_HORIZON)
        runners = self._read_runners(s, horizon) or current.runners
        state = SurfacesState(
            surface=surface,
            start=current.start if start is None and surface == current.surface else start,
            runners=tuple(runners),
            speed=read_float(s, "speed", self._speed, SPEED_MIN, SPEED_MAX),
            noise=read_float(s, "noise", 0.0, 0.0, MAX_NOISE),
            seed=read_int(s, "seed", 0, 0, MAX_SEED),
            horizon=horizon,
        )
        if state != current:  # a first start (nothing saved) rebuilds nothing: ~60 ms here
            self.apply_state(state)
        self.log_check.setChecked(read_bool(s, "lossLogY", self.log_check.isChecked()))
        splitter = read_bytes(s, "splitter")
        if splitter is not None and not self.splitter.restoreState(splitter):
            log.warning("ignoring setting splitter: not a saved splitter state")
        if self.plot_tabs is not None:
            self.plot_tabs.setCurrentIndex(read_int(s, "plotTab", 0, 0, self.plot_tabs.count() - 1))
        if self.entries:
            rids = list(self.entries)
            self.panel.select(rids[read_int(s, "selected", 0, 0, MAX_RUNNERS - 1) % len(rids)])
        self.panel.refresh_form()

    # ================================================================ sessions
    def session_state(self) -> SurfacesState:
        """What is on screen, for a session file (steps beyond MAX_STEPS are not replayed)."""
        shared = self.race.start
        runners = tuple(
            RunnerState(
                spec=spec_text(e.runner.spec),
                label=e.custom_label,
                visible=e.visible,
                start=None if e.runner.start == shared else e.runner.start,
                scheduler=None if e.runner.scheduler is None else str(e.runner.scheduler),
            )
            for e in self.entries.values()
        )
        return SurfacesState(
            surface=self._surface_key,
            start=shared,
            runners=runners,
            speed=self._speed,
            steps=min(self.race.t, MAX_STEPS),
            noise=self.race.noise,
            seed=self.race.seed,
            horizon=self.race.horizon,
        )

    def apply_state(self, state: SurfacesState, wait: bool = False) -> None:
        """Show a session's race: surface, start, runners, speed, then replay its steps.

        The state comes validated (``core.files.session``), so nothing here can refuse it. The steps
        are replayed in slices of :data:`REPLAY_SLICE_S` on a zero-interval timer, so a session
        of 20,000 steps never freezes the window; ``wait=True`` replays them at once (for
        headless rendering).
        """
        self.pause()
        surface = get_surface(state.surface)
        self.race.set_surface(surface, state.start)
        self._surface_key = surface.name
        self._show_surface(surface)
        self.expression_edit.setText(surface.name if surface.is_expression else "")
        self._clear_expression_error()
        self.clear_runners()
        # before the runners: each one's noise stream is seeded by its place in the race
        self.race.set_horizon(state.horizon)
        self.race.set_noise(state.noise, state.seed)
        for r in state.runners:
            self.add_runner(
                r.spec, label=r.label, visible=r.visible, start=r.start, scheduler=r.scheduler
            )
        if self.entries:
            self.panel.select(next(iter(self.entries)))
        self.set_speed(state.speed)
        self._restarted()
        self._replay_left = state.steps
        if wait:
            self.race.step(self._replay_left)
            self._replay_left = 0
            self._redraw()
            self._refresh_status(force=True)
        elif self._replay_left:
            self._replay_timer.start()

    @property
    def replaying(self) -> bool:
        return self._replay_left > 0

    @Slot()
    def _replay_slice(self) -> None:
        if self._replay_left <= 0 or self._closed:
            self._replay_timer.stop()
            return
        if warming_up():  # the timer comes back; a step now would wait for the import
            return
        deadline = time.perf_counter() + REPLAY_SLICE_S
        while self._replay_left > 0 and time.perf_counter() < deadline:
            if self.race.step(1) == 0:
                self._replay_left = 0
                break
            self._replay_left -= 1
        self._note = f"replaying the session: {self._replay_left:,} steps to go"
        if self._replay_left <= 0:
            self._replay_timer.stop()
            self._note = ""
        self._redraw()
        self._refresh_status(force=True)

    @staticmethod
    def _read_point(s: QSettings, prefix: str, warning: str) -> tuple[float, float] | None:
        """``prefix``X/``prefix``Y as a start point, or None (missing, or refused with a
        warning)."""
        x = read_float(s, f"{prefix}X", math.nan)
        y = read_float(s, f"{prefix}Y", math.nan)
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        try:
            return check_point((x, y))
        except GdsimError as exc:
            log.warning(warning, exc)
            return None

    @classmethod
    def _read_runners(cls, s: QSettings, horizon: int) -> list[RunnerState]:
        out: list[RunnerState] = []
        try:
            n = s.beginReadArray("runners")
        except Exception as exc:  # a corrupt array header: PySide cannot read it
            log.warning("ignoring saved optimizers: %s", exc)
            return out
        if n > MAX_RUNNERS:  # a corrupt count: never loop 2**31 times before the window shows
            log.warning("ignoring saved optimizers beyond the first %d of %d", MAX_RUNNERS, n)
            n = MAX_RUNNERS
        try:
            for i in range(n):
                s.setArrayIndex(i)
                text = read_str(s, "spec", "")
                try:
                    spec = parse_spec(text)
                except GdsimError as exc:
                    log.warning("ignoring saved optimizer %r: %s", text[:80], exc)
                    continue
                out.append(
                    RunnerState(
                        spec=spec_text(spec),
                        label=read_str(s, "label", "").strip() or None,
                        visible=read_bool(s, "visible", True),
                        start=cls._read_point(s, "start", "ignoring a runner's saved start: %s"),
                        scheduler=cls._read_schedule(s, spec, horizon),
                    )
                )
        finally:
            s.endArray()
        return out

    @staticmethod
    def _read_schedule(s: QSettings, spec: OptimizerSpec, horizon: int) -> str | None:
        """The runner's saved lr schedule (canonical text) if it is valid for ``spec``."""
        text = read_str(s, "scheduler", "")
        try:
            sched = as_scheduler(text)  # None for "" and "none"
            if sched is None:
                return None
            check_schedule(spec, sched, horizon)
        except GdsimError as exc:
            log.warning("ignoring the saved schedule %r of %s: %s", text[:80], spec, exc)
            return None
        return str(sched)

    # ================================================================ read-back (tests)
    def trajectory(self, rid: int):
        """``(x, y)`` of the path the map shows for a runner."""
        return self.plots.trajectory(rid)
