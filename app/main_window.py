"""The main window: two views in tabs, menus, lecture-hall shortcuts, persisted settings.

The window owns nothing about optimization: it hosts ``SurfaceView`` and ``TrainingView``
(interface in ``app.views``), forwards Space / S / → / R to the *current* view, applies zoom
and theme through ``app.theme``, and saves/restores everything through ``app.settings``.

Keyboard design: Space, S, →, R and N are window-wide ``QShortcut``s. ``app.input_policy``'s
application event filter answers Qt's ``ShortcutOverride`` query for them when the focused
control uses the key itself (a text field types it, a focused button is pressed by Space, a
slider moves on →), so the control gets it; anywhere else the key goes to the current view.
This is the mechanism Qt itself uses, so no key press is ever handled twice or dispatched to a
hidden tab.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRect, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import errors, input_policy, window_help
from app.export_actions import ExportActions
from app.input_policy import InputGuard, is_text_input  # noqa: F401 (is_text_input: API)
from app.plaintext import PlainLabel
from app.session_actions import CodePanel, SessionActions
from app.settings import (
    SETTINGS_VERSION,
    open_settings,
    read_bool,
    read_bytes,
    read_float,
    read_int,
    read_str,
)
from app.theme import MAX_ZOOM, MIN_ZOOM, THEMES, get_theme
from app.training_page import TrainingPage
from app.views.surface_view import SurfaceView
from app.widgets.first_paint import after_first_paint
from app.window_actions import RUN_KEYS, WindowActions
from app.window_geometry import fit_to_screen, restore_geometry, save_geometry
from core.errors import GdsimError

if TYPE_CHECKING:
    from app.views.training_view import TrainingView
    from core.files.session import Session

log = logging.getLogger("gdsim.window")

SHUTDOWN_BUDGET_S = 1.0

_GC_GUARD: object | None = None


def collect_garbage_on_gui_thread() -> None:
    """Run Python's cyclic garbage collector only on the GUI thread, from a 1 s timer.

    Why: the collector runs in whichever thread happens to allocate. When that is a worker
    (training, the landscape, the LR finder) and the garbage holds a Qt object in a reference
    cycle, Qt deletes a widget off the GUI thread and the process dies (we saw segfaults in
    ``build_mlp`` and in ``torch._dynamo``'s import on the training thread). pyqtgraph's
    ``GarbageCollector`` disables automatic collection and collects on a GUI timer instead.
    Idempotent: one per process.
    """
    global _GC_GUARD
    if _GC_GUARD is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GC_GUARD = GarbageCollector(interval=1.0)


Installer = Callable[[QWidget], object]


def _surface_tools() -> tuple[tuple[str, Installer], ...]:
    from app.views import surface_anatomy, surface_basins, surface_schedule

    return (
        ("surface_anatomy", surface_anatomy.install),
        ("surface_schedule", surface_schedule.install),
        ("surface_basins", surface_basins.install),
    )


def _training_tools() -> tuple[tuple[str, Installer], ...]:
    from app.views import training_landscape, training_lrfinder  # with the view, not at start-up

    return (
        ("training_lrfinder", training_lrfinder.install),
        ("training_landscape", training_landscape.install),
    )


#: Teaching tools plugged into each view, in panel order: (name, ``install(view) -> tool``; the
#: tool has ``shutdown()``). Adding a tool is one entry here.
VIEW_TOOLS: dict[str, Callable[[], tuple[tuple[str, Installer], ...]]] = {
    "surfaces": _surface_tools,
    "training": _training_tools,
}


class MainWindow(QMainWindow):
    """The gdsim window. ``MainWindow()`` needs only a running QApplication.

    ``settings_file`` redirects persistence to one INI file; ``restore=False`` starts from
    defaults (both for tests and a future "reset preferences"). ``tools_after_paint`` (the
    app's start-up) plugs the Surfaces view's tools in and fills the preset menu one piece per
    event-loop turn after the view's first frame (~0.1 s of start-up here); anything that asks
    for a tool finishes that at once.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        settings_file: str | os.PathLike | None = None,
        restore: bool = True,
        tools_after_paint: bool = False,
    ) -> None:
        collect_garbage_on_gui_thread()
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("gdsim — Gradient Descent Simulator")
        self.setMinimumSize(640, 480)
        self._settings_file = settings_file
        self._closed = False
        self._placed: QRect | None = None  # where restore_geometry put the window
        errors.install()
        self.theme = get_theme()
        self._tools: dict[str, dict[str, object]] = {}  # view key -> tool name -> tool
        self._pending: Iterator[None] | None = None  # what can wait for the first frame

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("viewTabs")
        self.tabs.setDocumentMode(True)
        self.surface_view = SurfaceView()
        # The Training view is built when first shown (or asked for): it costs ~0.2 s of
        # start-up here, and a lecture that only races on surfaces never needs it.
        self._views: dict[str, QWidget | None] = {"surfaces": self.surface_view, "training": None}
        self._build: Iterator[None] | None = None  # the Training view's build, in slices
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(0)
        self._build_timer.timeout.connect(self._build_slice)
        self._restore_views = restore  # a view built later restores its own settings then
        self.training_page = TrainingPage()  # the view's setup until it is built
        self.training_page.paintedEmpty.connect(self._on_training_painted)
        self._pages: dict[str, QWidget] = {
            "surfaces": self.surface_view,
            "training": self.training_page,
        }
        self.tabs.addTab(self.surface_view, "Surfaces")
        self.tabs.setTabToolTip(0, "Race optimizers on a 2-D loss surface")
        self.tabs.addTab(self.training_page, "Training")
        self.tabs.setTabToolTip(1, "Train a small network on a 2-D data set, live")
        self.sessions = SessionActions(self)  # File ▸ sessions, presets; the banner
        self.exports = ExportActions(self)  # File ▸ Export: PNG, CSV, GIF
        central = QWidget(self)
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.sessions.banner)
        col.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.code_panel = CodePanel(self, self.sessions.act_export_script)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.code_panel)

        self.status_label = PlainLabel(self)
        self.status_label.setObjectName("statusLine")
        self.status_label.setAccessibleName("Status")
        self.zoom_label = PlainLabel(self)
        self.zoom_label.setObjectName("zoomLabel")
        self.zoom_label.setToolTip("Current zoom (View ▸ Zoom); Ctrl+0 resets")
        self.zoom_label.setContentsMargins(6, 0, 6, 0)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.zoom_label)

        self.window_actions = WindowActions(
            self, self.theme, toggle_panel=self.toggle_control_panel,
            show_shortcuts=self.show_shortcuts, show_about=self.show_about,
            run_shortcut=self._on_run_shortcut,
        )  # fmt: skip
        self.window_actions.build_menus(self.menuBar(), self._fill_file_menu, self.code_panel)
        self._guard = InputGuard(
            {int(k) for keys, _ in RUN_KEYS.values() for k in keys} | {int(Qt.Key.Key_Escape)},
            self,
        )
        input_policy.install(self._guard)
        self._guard.adopt(self)  # widgets polished before the guard was there

        self._connect_view(self.surface_view)
        self._pending = self._after_first_frame()
        if tools_after_paint:
            after_first_paint(self.surface_view, self._pending_slice)
        else:
            self._finish_pending()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.theme.changed.connect(self._on_theme_changed)

        if restore:
            self.restore_settings()
        else:
            self._place(None)
            self.theme.apply()
        self._on_tab_changed(self.tabs.currentIndex())
        self._on_theme_changed()

    def _fill_file_menu(self, menu: QMenu) -> None:
        self.sessions.fill_file_menu(menu)
        menu.addMenu(self.exports.menu)

    # -- the views ------------------------------------------------------------------------
    def _connect_view(self, view: QWidget) -> None:
        view.statusChanged.connect(self._on_view_status)  # type: ignore[attr-defined]

    def _install_tools(self, key: str, view: QWidget) -> Iterator[None]:
        """Plug the view's teaching tools in (see VIEW_TOOLS), yielding after each; a broken
        tool is logged and left out rather than taking the window down."""
        tools = self._tools.setdefault(key, {})
        for name, install in VIEW_TOOLS[key]():
            try:
                tools[name] = install(view)
            except Exception:
                log.exception("the %s tool could not be installed", name)
            yield

    @property
    def tools(self) -> dict[str, dict[str, object]]:
        """The installed teaching tools, by view key and name."""
        self._finish_pending()
        return self._tools

    def _after_first_frame(self) -> Iterator[None]:
        yield from self._install_tools("surfaces", self.surface_view)
        self.sessions.fill_presets()

    def _finish_pending(self) -> None:
        for _ in self._pending or ():
            pass
        self._pending = None

    def _next_slice(self, work: Iterator[None]) -> bool:
        """One slice of ``work``, unless the window has closed; True if slices are left."""
        return not self._closed and next(work, False) is None

    @Slot()
    def _pending_slice(self) -> None:
        if self._pending is not None and self._next_slice(self._pending):
            QTimer.singleShot(0, self, self._pending_slice)  # the next piece on the next turn
        else:
            self._pending = None

    def _shutdown_tools(self, key: str) -> None:
        for name, tool in self._tools.get(key, {}).items():
            try:
                tool.shutdown()  # type: ignore[attr-defined]
            except Exception:
                log.exception("the %s tool failed to shut down cleanly", name)

    def view(self, key: str) -> QWidget:
        """The view called ``key`` ("surfaces" or "training"), built on first use (the rest of
        a build going on in slices, at once)."""
        view = self._views[key]
        if view is None:
            for _ in self._training_build():
                pass
            view = self._views[key]
        return view

    def _training_build(self) -> Iterator[None]:
        if self._build is None:
            self._build = self._build_training_view()
        return self._build

    @Slot()
    def _build_slice(self) -> None:
        """Build the Training view one slice per event-loop turn (~0.4 s in all, each slice
        under ~0.1 s), so that the first switch to its tab does not freeze the window."""
        if self._next_slice(self._training_build()):
            self._build_timer.start()

    def _build_training_view(self) -> Iterator[None]:
        t0 = time.perf_counter()
        from app.views.training_plots import TrainingPlots  # ~25 ms of imports: not at start-up
        from app.views.training_view import TrainingView

        yield
        plots = yield from TrainingPlots.slices(self.theme, self.training_page)  # ~1/3 of it
        yield
        view = TrainingView(self.training_page, plots=plots)  # (hidden until adopted)
        yield
        yield from self._install_tools("training", view)
        # laid out (its decks choose split or tabs at the page's size) on one turn, painted on
        # the next: together they were the longest turn of the build (~85 ms here)
        view.setUpdatesEnabled(False)
        self.training_page.adopt(view)  # shown from here on: last, to be laid out once
        self._connect_view(view)
        if self._restore_views:
            try:
                s = self._open_settings()
                if s is not None:
                    self._restore_view(s, "training", view)
            except Exception:
                log.exception("the training view could not restore its settings")
        self._views["training"] = view
        self.training_page.show_pending()  # after its tools: they follow what it shows
        log.debug("training view built in %.3f s", time.perf_counter() - t0)
        if self.current_key() == "training":  # the switch to its tab, finished
            self._on_tab_changed(self.tabs.currentIndex())
        yield
        view.setUpdatesEnabled(True)

    @property
    def training_view(self) -> TrainingView:
        return self.view("training")  # type: ignore[return-value]

    @property
    def views(self) -> dict[str, QWidget]:
        """Every view, by key (builds the ones not built yet)."""
        return {key: self.view(key) for key in self._views}

    def _built_views(self) -> dict[str, QWidget]:
        return {key: view for key, view in self._views.items() if view is not None}

    def current_key(self) -> str:
        """Which view's tab is current ("surfaces" or "training"), without building it."""
        page = self.tabs.currentWidget()
        return next((key for key, p in self._pages.items() if p is page), "surfaces")

    def show_view(self, key: str) -> QWidget:
        """Make ``key``'s tab current; returns the view."""
        view = self.view(key)
        self.tabs.setCurrentWidget(self._pages[key])
        return view

    def show_tab(self, key: str) -> None:
        """Make ``key``'s tab current; a view not built yet is built once the window shows."""
        self.tabs.setCurrentWidget(self._pages[key])

    @Slot()
    def _on_training_painted(self) -> None:
        if self._views["training"] is None and self.current_key() == "training":
            self._build_timer.start()

    # -- keyboard dispatch ---------------------------------------------------------------
    def current_view(self) -> QWidget:
        return self.view(self.current_key())

    @Slot()
    def _on_run_shortcut(self) -> None:
        self.dispatch(str(self.sender().property("gdsimAction")))

    def dispatch(self, action: str) -> bool:
        """Run the current view's target for "run"/"step"/"reset"; False if not offered."""
        self._finish_pending()  # N narrates with a tool
        view = self.current_view()
        fn = view.shortcut_targets().get(action)  # type: ignore[attr-defined]
        if fn is None:
            what = RUN_KEYS[action][1] if action in RUN_KEYS else action
            self.statusBar().showMessage(f"{what}: not available in this view", 2000)
            return False
        fn()
        return True

    # -- view menu -----------------------------------------------------------------------
    @Slot()
    def toggle_full_screen(self) -> None:
        self.window_actions.toggle_full_screen()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._placed is not None and self._placed == self.geometry():
            fit_to_screen(self)  # the frame is known now: it must fit the screen too
        self._placed = None  # once, and never over a size set by the caller

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange:
            self.window_actions.follow_window_state()

    def set_theme(self, name: str) -> None:
        self.theme.set_theme(name)

    @Slot()
    def toggle_control_panel(self) -> None:
        panel = self._panel(self.current_view())
        if panel is not None:
            panel.toggle()
        self._sync_panel_action()

    def collapse_control_panel(self) -> QWidget | None:
        """Collapse the current view's control panel to its strip; the panel, if it was open."""
        panel = self._panel(self.current_view())
        if not panel.isExpanded():
            return None
        panel.setExpanded(False)
        self._sync_panel_action()
        return panel

    def _panel(self, view: QWidget):
        return view.control_panel()  # type: ignore[attr-defined]

    def _sync_panel_action(self) -> None:
        view = self._views[self.current_key()]  # not built yet: nothing to toggle
        self.window_actions.sync_panel(None if view is None else self._panel(view))

    # -- help ----------------------------------------------------------------------------
    @Slot()
    def show_shortcuts(self) -> QMessageBox:
        return window_help.show_shortcuts(self)

    @Slot()
    def show_about(self) -> QMessageBox:
        return window_help.show_about(self)

    # -- status --------------------------------------------------------------------------
    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if self._views[self.current_key()] is None:
            # built in slices once its empty page is painted (paintedEmpty)
            self.sessions.banner.follow_view(self.current_key())
            self._sync_panel_action()
            return
        view = self.current_view()  # a view is built before its tab is first painted
        focus = QApplication.focusWidget()
        if focus is not None and self.tabs.isAncestorOf(focus) and focus is not self.tabs.tabBar():
            # the focus was on the page left behind: Qt puts it on the new page's first
            # control, where the next Space would press it; the run keys go to the view
            view.setFocus(Qt.FocusReason.OtherFocusReason)
        self.sessions.banner.follow_view(self.current_key())
        self._refresh_status()
        if self.code_panel.isVisible():
            self.code_panel.refresh()
        self._sync_panel_action()

    @Slot(str)
    def _on_view_status(self, text: str) -> None:
        if self.sender() is self._views[self.current_key()]:
            self.status_label.setText(text)

    @Slot()
    def _refresh_status(self) -> None:
        view = self.current_view()
        try:
            self.status_label.setText(view.status_text())  # type: ignore[attr-defined]
        except Exception:
            log.exception("status_text() failed")

    @Slot()
    def _on_theme_changed(self) -> None:
        scale = self.theme.scale
        self.zoom_label.setText("" if abs(scale - 1) < 1e-6 else f"Zoom {scale * 100:.0f} %")

    # -- persistence ---------------------------------------------------------------------
    def _open_settings(self) -> QSettings | None:
        """The settings, or None (with a warning) if their file is not one that can be read."""
        try:
            return open_settings(self._settings_file)
        except GdsimError as exc:
            log.warning("%s; settings are neither restored nor saved", exc)
            return None

    def save_settings(self) -> None:
        """Write window, appearance and each view's settings (errors logged, never raised)."""
        try:
            s = self._open_settings()
            if s is None:
                return
            s.setValue("version", SETTINGS_VERSION)
            save_geometry(self, s)
            s.setValue("window/state", self.saveState())
            s.setValue("window/tab", self.current_key())
            s.setValue("appearance/theme", self.theme.name)
            s.setValue("appearance/zoom", float(self.theme.scale))
            self.sessions.save_settings(s)
            s.beginGroup("views/training")
            self.training_page.save_settings(s)  # built or not: the setup as a session
            s.endGroup()
            for key, view in self._built_views().items():  # unbuilt: their settings stay
                s.beginGroup(f"views/{key}")
                try:
                    panel = self._panel(view)
                    if panel is not None:
                        s.setValue("panelExpanded", bool(panel.isExpanded()))
                    view.save_settings(s)  # type: ignore[attr-defined]
                except Exception:
                    log.exception("the %s view could not save its settings", key)
                finally:
                    s.endGroup()
            s.sync()
            if s.status() != QSettings.Status.NoError:
                log.warning("could not write settings to %s (%s)", s.fileName(), s.status())
        except Exception:
            log.exception("saving settings failed")

    def restore_settings(self) -> None:
        """Apply saved settings; anything missing, old or corrupt falls back to defaults."""
        try:
            s = self._open_settings()
        except Exception:
            log.exception("settings could not be opened; using defaults")
            s = None
        if s is None:
            self._place(None)
            self.theme.apply()
            return
        version = read_int(s, "version", SETTINGS_VERSION, low=0)
        if version > SETTINGS_VERSION:
            log.warning("settings were written by a newer gdsim (v%d); using what fits", version)
        name = read_str(s, "appearance/theme", "light", THEMES)
        zoom = read_float(s, "appearance/zoom", 1.0, MIN_ZOOM, MAX_ZOOM)
        self.theme.configure(name, zoom)  # one apply() for both
        self.sessions.restore_settings(s)
        self._place(s)
        state = read_bytes(s, "window/state")
        if state is not None and not self.restoreState(state):
            log.warning("ignoring setting window/state: not a saved window state")
        s.beginGroup("views/training")
        try:
            self.training_page.restore_settings(s)
        except Exception:
            log.exception("the training settings could not be read; using defaults")
        finally:
            s.endGroup()
        keys = list(self._views)
        tab = read_str(s, "window/tab", keys[0], keys)
        for key, view in self._built_views().items():
            self._restore_view(s, key, view)
        self.tabs.setCurrentWidget(self._pages[tab])  # builds (and restores) that view
        self._sync_panel_action()

    def _place(self, s: QSettings | None) -> None:
        restore_geometry(self, s)
        self._placed = self.geometry()

    def _restore_view(self, s: QSettings, key: str, view: QWidget) -> None:
        s.beginGroup(f"views/{key}")
        try:
            panel = self._panel(view)
            if panel is not None:
                panel.setExpanded(read_bool(s, "panelExpanded", True))
            view.restore_settings(s)  # type: ignore[attr-defined]
        except Exception:
            log.exception("the %s view could not restore its settings; using defaults", key)
        finally:
            s.endGroup()

    # -- closing -------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._closed:
            self._closed = True
            self.save_settings()
            self.shutdown()
        super().closeEvent(event)

    # -- sessions ------------------------------------------------------------------------
    def current_session(self) -> Session:
        """What is on screen as a session (GdsimError if the training settings are invalid)."""
        return self.sessions.current_session()

    def apply_session(self, session: Session) -> None:
        """Show a validated session (File ▸ Open, a preset, ``gdsim --preset``)."""
        self.sessions.apply_session(session)

    def shutdown(self) -> None:
        """Stop every view (each within its ~1 s budget) and detach from the application."""
        self.code_panel.shutdown()
        self.exports.shutdown()
        input_policy.uninstall(self._guard)
        self._guard.shutdown()
        for key, view in self._built_views().items():
            t0 = time.perf_counter()
            self._shutdown_tools(key)
            try:
                view.shutdown()  # type: ignore[attr-defined]
            except Exception:
                log.exception("the %s view failed to shut down cleanly", key)
            took = time.perf_counter() - t0
            if took > SHUTDOWN_BUDGET_S:
                log.warning("the %s view took %.2f s to shut down (budget 1 s)", key, took)
