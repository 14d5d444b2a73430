"""Surfaces view: optimizers racing on a 2-D loss surface, live, for a lecture hall.

What the class sees: the surface as a filled contour map with every optimizer's path and
current point, a small loss-per-step plot, and a control panel: run / step / reset and the
speed, the surface (a registry entry or a typed expression), and the racing optimizers with
the selected one's hyperparameters, which apply live.

The state is a Qt-free ``core.state.surfaces.SurfacesModel`` (the race, its runners, speed,
running, selection, the step clock). This class lays the widgets out, drives the model's clock
from one ``QTimer`` (~60 Hz, or back to back while the speed is out of reach, so stepping gets
the time drawing leaves), and redraws on the model's events (``stepped`` at most ~30 Hz while
running): only what changed is pushed into plot items created once
(``surface_plots``/``surface_layers``). ``app.bench.surface``
measures a full tick (steps + redraw + paint).

Objects (tests and screen readers rely on these names): those of ``surface_controls`` and
``surface_runners``, ``surfaceLossPlot`` with ``surfaceLossLogCheck``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from app.model_events import subscribe
from app.settings import read_bool, read_bytes, read_int
from app.theme import SERIES_COLORS, get_theme
from app.views import surface_settings
from app.views.surface_controls import RunControls, SurfaceControls
from app.views.surface_loss_box import LossBox
from app.views.surface_plots import RacePlots
from app.views.surface_runners import OptimizerPanel, RunnerEntry
from app.warmup import LOADING_NOTE, warming_up
from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.plot_deck import PlotDeck
from app.widgets.plot_pages import PlotPages
from core.errors import GdsimError
from core.files.session import MAX_RUNNERS, SPEED_MAX, SurfacesState  # noqa: F401 (SPEED_MAX: API)
from core.state.surfaces import DEFAULT_RACE, SurfacesModel  # noqa: F401 (DEFAULT_RACE: API)

log = logging.getLogger("gdsim.surfaces")

TICK_MS = 16
STATUS_INTERVAL_S = 0.25
MAX_PLOT_PAGES = 8  # the loss plot and the tools' pages beside it
REPLAY_SLICE_S = 0.03  # a loaded session's steps are replayed this long per event-loop turn


class SurfaceView(QWidget):
    """The Surfaces tab (interface documented in ``app.views``)."""

    statusChanged = Signal(str)
    #: After every redraw (each timer tick, single step, reset).
    redrawn = Signal()
    #: The race went back to step 0 (reset, new start point, new surface or expression).
    restarted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("surfacesPage")
        self.theme = get_theme()
        self.model = model = SurfacesModel(SERIES_COLORS)
        self._last_status = ""
        self._last_status_time = 0.0
        self._closed = False
        self._map_wait = True  # a window opens with its map (see _on_surface)
        self._targets: dict[str, Callable[[], None] | None] = {}
        self.plots = RacePlots(self.theme)
        self._build_ui()
        self.timer = self._timer(TICK_MS, self.tick)
        self._replay_timer = self._timer(0, self._replay_slice)
        self._connect_model()
        self._targets.update(run=model.toggle_run, step=self.step_once, reset=model.reset)
        self.plots.set_log_y(self.log_check.isChecked(), [], model.generation)
        self._on_surface(model.race.surface)
        self._map_wait = False
        model.default_race()
        self.theme.connect_when_shown(self, self._on_theme)
        self._on_theme()
        self._refresh_status(force=True)

    def _timer(self, ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # ======================================================================== building
    def _build_ui(self) -> None:
        # map above, loss below while both keep a readable size (a lecturer can drag the
        # splitter to give the map more); tabs when the window is too short for both
        self.deck = PlotDeck(Qt.Orientation.Vertical, self)
        self.deck.setObjectName("surfacePlotDeck")
        self.deck.addItem(self.plots.map, "Map", stretch=3)
        self._loss_box = LossBox(self.model, self.plots, self)
        self.log_check = self._loss_box.log_check
        self.deck.addItem(self._loss_box, "Loss per step", stretch=1)
        self.splitter = self.deck.splitter
        self.splitter.setObjectName("surfaceSplitter")
        self.pages = PlotPages(
            self.deck, self._loss_box, "Loss per step", "Plots", "surfacePlotTabs"
        )
        self._plot_tab: int | None = None  # a saved page, until the tool adding it is in

        controls = QWidget()
        controls.setObjectName("surfaceControls")
        c_lay = QVBoxLayout(controls)
        c_lay.setContentsMargins(6, 4, 6, 6)
        self.run_group = RunControls(self.model, controls)
        self.surface_group = SurfaceControls(self.model, self.theme, controls)
        self.panel = OptimizerPanel(controls)
        opt_box = QGroupBox("Optimizers", controls)
        opt_box.setObjectName("optimizerGroup")
        opt_lay = QVBoxLayout(opt_box)
        opt_lay.setContentsMargins(6, 6, 6, 6)
        opt_lay.addWidget(self.panel)
        for group in (self.run_group, self.surface_group, opt_box):
            c_lay.addWidget(group)
        c_lay.addStretch(1)
        self._controls_layout = c_lay
        self.control_panel_widget = CollapsiblePanel("Controls", self, content=controls)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.deck, 1)
        lay.addWidget(self.control_panel_widget)
        edges = lay.contentsMargins().left() + lay.contentsMargins().right() + lay.spacing()
        self.control_panel_widget.leave_room(lambda: self.deck.split_need().width() + edges)

    def _connect_model(self) -> None:
        """Widgets write commands to the model; its events redraw them."""
        m, panel, plots = self.model, self.panel, self.plots
        panel.addRequested.connect(m.add_optimizer)
        panel.removeRequested.connect(m.remove_runner)
        panel.duplicateRequested.connect(m.duplicate_runner)
        panel.visibilityToggled.connect(m.set_visible)
        panel.renamed.connect(m.rename_runner)
        panel.hparamChanged.connect(self._on_hparam)
        panel.currentChanged.connect(m.select)
        plots.runnerVisibilityToggled.connect(m.set_visible)
        plots.minimumsChanged.connect(self.deck.schedule_refit)
        plots.map.pointClicked.connect(m.set_start)
        plots.map.pointDragged.connect(m.set_start)
        ev = m.events
        subscribe(self, self._on_runner_added, ev.runner_added)
        subscribe(self, self._on_runner_removed, ev.runner_removed)
        subscribe(self, self._on_runner_replaced, ev.runner_replaced)
        subscribe(self, self._on_runner_changed, ev.runner_changed)
        subscribe(self, self._on_selection, ev.selection_changed)
        subscribe(self, self._on_surface, ev.surface_changed)
        subscribe(self, self._on_running, ev.running_changed)
        subscribe(self, self._on_restarted, ev.restarted)
        subscribe(self, self._redraw, ev.stepped)
        subscribe(self, self._on_status, ev.status)

    def add_tool(self, widget: QWidget) -> None:
        """Put a teaching tool's panel (a group box) at the bottom of the control panel."""
        lay = self._controls_layout
        lay.insertWidget(lay.count() - 1, widget)  # above the stretch

    def add_plot_page(self, widget: QWidget, title: str) -> None:
        """Show ``widget`` as a page beside the loss plot (tabs appear on first use)."""
        self.pages.add(widget, title)
        self._show_saved_plot_tab()

    def _show_saved_plot_tab(self) -> None:
        tabs = self.pages.tabs
        if tabs is not None and self._plot_tab is not None and self._plot_tab < tabs.count():
            tabs.setCurrentIndex(self._plot_tab)
            self._plot_tab = None

    def add_shortcut_target(self, action: str, fn: Callable[[], None]) -> None:
        """Offer a tool's command to the window's run keys (e.g. "narrate")."""
        self._targets[action] = fn

    # ============================================================ the view interface
    def status_text(self) -> str:
        return self.model.status_text()

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        return {"narrate": None, **self._targets}

    def control_panel(self) -> CollapsiblePanel:
        return self.control_panel_widget

    def shutdown(self) -> None:
        self.plots.shutdown()
        self.timer.stop()
        self._replay_timer.stop()
        self.surface_group.shutdown()
        self.model.running = False
        self._closed = True

    # A hidden tab does not step: the race would take the GUI thread's time from the training
    # view the class is now looking at. It stays "running" and goes on when shown again.
    def hideEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().hideEvent(event)
        self.timer.stop()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.model.running and not self._closed:
            self.model.clock.hold()
            self.timer.start()

    # ================================================================ model -> widgets
    def _on_runner_added(self, entry: RunnerEntry) -> None:
        self.plots.add_runner(entry)
        self.panel.add_entry(entry)
        self._redraw()

    def _on_runner_removed(self, rid: int) -> None:
        self.plots.remove_runner(rid)
        self.panel.remove_entry(rid)
        self.plots.update_heads(self.model.entries.values())

    def _on_runner_replaced(self, old_rid: int, entry: RunnerEntry) -> None:
        self.plots.replace_runner(old_rid, entry)
        self.panel.replace_entry(old_rid, entry)

    def _on_runner_changed(self, entry: RunnerEntry) -> None:
        self.plots.restyle(entry)
        self.plots.update_heads(self.model.entries.values())
        self.panel.update_entry(entry)

    def _on_selection(self, rid: int) -> None:
        if self.panel.current_id() != rid:
            self.panel.select(rid)

    def _on_surface(self, surface) -> None:
        """A map not computed before is drawn a moment later by a worker (see
        ``RacePlots.set_surface``), unless the view waits for it (start-up, headless)."""
        self.plots.set_surface(surface, wait=self._map_wait)
        self.plots.set_start(self.model.race.start)

    def _on_running(self, running: bool) -> None:
        if running and not self._closed:
            self.timer.start()
        else:
            self.timer.stop()

    def _on_restarted(self) -> None:
        for entry in self.model.entries.values():
            self.panel.update_entry(entry)
            self.plots.restyle(entry)
        self.plots.set_start(self.model.race.start)
        self.restarted.emit()

    @Slot(int, str, object)
    def _on_hparam(self, rid: int, name: str, value: object) -> None:
        """A live change from the form: into the running optimizer, or refused with the reason."""
        try:
            self.model.set_hparam(rid, name, value)
        except GdsimError as exc:
            self.panel.refresh_form()  # show the values still in force
            self.panel.show_error(str(exc))
            return
        self.panel.clear_error()

    def _redraw(self) -> None:
        """Show the race's state now (only what changed is pushed into the plots)."""
        entries = self.model.entries
        before = {rid: e.diverged for rid, e in entries.items()}
        self.plots.redraw(list(entries.values()), self.model.generation)
        for rid, entry in entries.items():
            if entry.diverged != before[rid] or entry.diverged:
                self.panel.update_entry(entry)
        self._loss_box.log_off_if_below()
        self.redrawn.emit()
        self._refresh_status()

    def _on_status(self) -> None:
        self._refresh_status(force=True)

    def _refresh_status(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_status_time < STATUS_INTERVAL_S:
            return
        self._last_status_time = now
        text = self.model.status_text()
        if text != self._last_status:
            self._last_status = text
            self.statusChanged.emit(text)

    @Slot()
    def _on_theme(self) -> None:
        self.panel.set_theme_name(self.theme.name)
        self.plots.fit_minimums()
        for entry in self.model.entries.values():
            self.plots.restyle(entry)
        self.plots.update_heads(self.model.entries.values())
        self.surface_group.restyle()

    # ================================================================ the clock
    @Slot()
    def tick(self) -> None:
        """One frame: the steps the speed asks for (not while the start-up import runs: a
        step would wait for it; see app.warmup), then the redraw the model asks for."""
        model = self.model
        if model.running and warming_up():
            model.clock.hold()
            if model.note != LOADING_NOTE:
                model.set_note(LOADING_NOTE)
            return
        if model.note == LOADING_NOTE:
            model.note = ""
        model.tick()
        # out of reach, the speed gets all the time drawing leaves: the next tick comes as
        # soon as the event loop has painted and handled input
        interval = 0 if model.running and model.clock.behind else TICK_MS
        if self.timer.interval() != interval:
            self.timer.setInterval(interval)

    @Slot()
    def _replay_slice(self) -> None:
        if not self.model.replaying or self._closed:
            self._replay_timer.stop()
            return
        if not warming_up():  # the timer comes back; a step now would wait for the import
            self.model.replay(REPLAY_SLICE_S)

    # ================================================================ commands (the API)
    # The window's keys, the session and export code and the tests drive the view here.
    @property
    def race(self):
        return self.model.race

    @property
    def entries(self) -> dict[int, RunnerEntry]:
        return self.model.entries

    def step_once(self) -> None:
        self.run_group.step_once()

    def session_state(self) -> SurfacesState:
        return self.model.state()

    def apply_state(self, state: SurfacesState, wait: bool = False) -> None:
        """Show a session's race, then replay its steps: in slices of :data:`REPLAY_SLICE_S`
        on a zero-interval timer (a session of 20,000 steps never freezes the window), or at
        once with ``wait=True`` (headless rendering: the map drawn too)."""
        self._map_wait = wait
        try:
            self.model.apply(state)
        finally:
            self._map_wait = False
        if wait:
            self.model.replay()
        elif self.model.replaying:
            self._replay_timer.start()

    def add_runner(self, *args, **kwargs) -> RunnerEntry:
        return self.model.add_runner(*args, **kwargs)

    def remove_runner(self, rid: int) -> None:
        self.model.remove_runner(rid)

    def duplicate_runner(self, rid: int) -> RunnerEntry | None:
        return self.model.duplicate_runner(rid)

    def clear_runners(self) -> None:
        self.model.clear_runners()

    def set_visible(self, rid: int, visible: bool) -> None:
        self.model.set_visible(rid, visible)

    def rename_runner(self, rid: int, text: str) -> None:
        self.model.rename_runner(rid, text)

    def set_surface(self, name_or_expression: str, start=None) -> None:
        self.model.set_surface(name_or_expression, start)

    def set_start(self, x: float, y: float) -> None:
        self.model.set_start(x, y)

    def set_speed(self, speed: float) -> None:
        self.model.set_speed(speed)

    def start(self) -> None:
        self.model.start()

    def pause(self, note: str = "") -> None:
        self.model.pause(note)

    def toggle_run(self) -> None:
        self.model.toggle_run()

    def reset(self) -> None:
        self.model.reset()

    # ================================================================ settings
    def save_settings(self, s: QSettings) -> None:
        """The race as one session (no steps), and how the view is laid out."""
        surface_settings.save(self.model, s)
        s.setValue("lossLogY", bool(self.log_check.isChecked()))
        s.setValue("splitter", self.splitter.saveState())
        tabs = self.pages.tabs
        s.setValue("plotTab", tabs.currentIndex() if tabs is not None else self._plot_tab or 0)
        rids = list(self.model.entries)
        current = self.model.selected
        s.setValue("selected", rids.index(current) if current in rids else 0)

    def restore_settings(self, s: QSettings) -> None:
        """Apply saved settings; anything unreadable is skipped with a warning."""
        state = surface_settings.read(s, self.model.state(steps=False))
        if state != self.model.state(steps=False):  # a first start rebuilds nothing (~60 ms)
            self.apply_state(state)
        self.log_check.setChecked(read_bool(s, "lossLogY", self.log_check.isChecked()))
        splitter = read_bytes(s, "splitter")
        if splitter is not None and not self.splitter.restoreState(splitter):
            log.warning("ignoring setting splitter: not a saved splitter state")
        self._plot_tab = read_int(s, "plotTab", 0, 0, MAX_PLOT_PAGES - 1)
        self._show_saved_plot_tab()
        if self.model.entries:
            rids = list(self.model.entries)
            self.model.select(rids[read_int(s, "selected", 0, 0, MAX_RUNNERS - 1) % len(rids)])
        self.panel.refresh_form()

    # ================================================================ read-back (tests)
    def trajectory(self, rid: int):
        """``(x, y)`` of the path the map shows for a runner."""
        return self.plots.trajectory(rid)
