"""The window's commands: File/View/Help actions and menus, the theme choice, the run-key shortcuts.

Kept apart from ``MainWindow`` so the window stays about hosting views. Actions that act on the
window alone (full screen, zoom, theme) are handled here; those that act on a view call the slots
the window passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu, QMenuBar

from app.theme import MAX_ZOOM, MIN_ZOOM, THEMES, ThemeManager
from app.window_host import make_action

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDockWidget

# (action, keys, what it does) — the Help ▸ Keyboard shortcuts table is generated from this
RUN_KEYS: dict[str, tuple[tuple[Qt.Key, ...], str]] = {
    "run": ((Qt.Key.Key_Space,), "Start / pause"),
    "step": ((Qt.Key.Key_S, Qt.Key.Key_Right), "One step"),
    "reset": ((Qt.Key.Key_R,), "Reset to the start"),
    "narrate": ((Qt.Key.Key_N,), "Narrate one step, line by line (Surfaces)"),
}


def unique_keys(*sequences: QKeySequence | str) -> list[QKeySequence]:
    """Distinct, non-empty key sequences (duplicates would make Qt call them ambiguous)."""
    seen: dict[str, QKeySequence] = {}
    for seq in sequences:
        ks = QKeySequence(seq)
        text = ks.toString(QKeySequence.SequenceFormat.PortableText)
        if text and text not in seen:
            seen[text] = ks
    return list(seen.values())


class WindowActions(QObject):
    """The window's actions (``act_*``, ``theme_actions``) and run-key shortcuts (``run_shortcuts``).

    ``toggle_panel``, ``show_shortcuts``, ``show_about`` and ``run_shortcut`` are the window's
    slots; a run shortcut carries its action name in the ``gdsimAction`` property.
    """

    def __init__(
        self,
        window: QMainWindow,
        theme: ThemeManager,
        *,
        toggle_panel: Callable[[], None],
        show_shortcuts: Callable[[], object],
        show_about: Callable[[], object],
        run_shortcut: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self.theme = theme

        def act(*args, **kwargs) -> QAction:
            return make_action(window, *args, **kwargs)

        ks = QKeySequence.StandardKey
        self.act_quit = act(
            "actionQuit", "&Quit", "Close gdsim (stops any running race or training)",
            window.close, unique_keys("Ctrl+Q", ks.Quit),
        )  # fmt: skip
        self.act_fullscreen = act(
            "actionFullScreen", "&Full screen", "Fill the screen with the window (Esc leaves)",
            self.toggle_full_screen, unique_keys("F11", ks.FullScreen), checkable=True,
        )  # fmt: skip
        self.act_zoom_in = act(
            "actionZoomIn", "Zoom &in", "Larger text, axis labels and lines (for the back row)",
            theme.zoom_in, unique_keys("Ctrl+=", "Ctrl++", ks.ZoomIn),
        )  # fmt: skip
        self.act_zoom_out = act(
            "actionZoomOut", "Zoom &out", "Smaller text, axis labels and lines",
            theme.zoom_out, unique_keys("Ctrl+-", ks.ZoomOut),
        )  # fmt: skip
        self.act_zoom_reset = act(
            "actionZoomReset", "&Reset zoom", "Text and lines back to normal size (100 %)",
            theme.reset_zoom, unique_keys("Ctrl+0"),
        )  # fmt: skip
        self.theme_group = QActionGroup(self)
        self.theme_group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            a = act(
                f"actionTheme{name.capitalize()}", f"&{name.capitalize()}",
                f"Use the {name} colour theme (plots and controls)",
                self._on_theme_action, checkable=True,
            )  # fmt: skip
            a.setData(name)  # (no lambda: one would keep a closed window alive)
            self.theme_group.addAction(a)
            self.theme_actions[name] = a
        self.act_panel = act(
            "actionTogglePanel", "Show &control panel",
            "Show or hide the current view's control panel (more room for the plot)",
            toggle_panel, unique_keys("Ctrl+B"), checkable=True,
        )  # fmt: skip
        self.act_shortcuts = act(
            "actionShortcuts", "&Keyboard shortcuts", "List the keyboard shortcuts",
            show_shortcuts, unique_keys(ks.HelpContents),
        )  # fmt: skip
        self.act_about = act(
            "actionAbout", "&About gdsim", "What gdsim is and which versions are running",
            show_about,
        )  # fmt: skip
        self.esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        self.esc.setContext(Qt.ShortcutContext.WindowShortcut)
        self.esc.setEnabled(False)  # only while full screen
        self.esc.activated.connect(self.toggle_full_screen)
        self.run_shortcuts = self._run_shortcuts(run_shortcut)
        theme.changed.connect(self._on_theme_changed)
        self._on_theme_changed()

    @property
    def window(self) -> QMainWindow:
        """Through Qt's parent link: a Python reference back would make a cycle through Qt's
        ownership that the collector cannot see, so no closed window would be freed."""
        return self.parent()  # type: ignore[return-value]

    def _run_shortcuts(self, slot: Callable[[], None]) -> dict[str, list[QShortcut]]:
        shortcuts: dict[str, list[QShortcut]] = {}
        for action, (keys, _text) in RUN_KEYS.items():
            items = []
            for key in keys:
                sc = QShortcut(QKeySequence(key), self.window)
                sc.setContext(Qt.ShortcutContext.WindowShortcut)
                sc.setAutoRepeat(action == "step")  # hold S to step; Space must not flicker
                sc.setProperty("gdsimAction", action)
                sc.activated.connect(slot)
                items.append(sc)
            shortcuts[action] = items
        return shortcuts

    def build_menus(
        self, bar: QMenuBar, file_items: Callable[[QMenu], None], code: QDockWidget
    ) -> None:
        """File (``file_items`` fills its top, Quit ends it), View and Help; ``code`` is the
        dock that View ▸ Show code toggles."""
        file_menu = self._menu(bar, "&File", "menuFile")
        file_items(file_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view_menu = self._menu(bar, "&View", "menuView")
        view_menu.addAction(self.act_fullscreen)
        view_menu.addSeparator()
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_zoom_reset):
            view_menu.addAction(a)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        theme_menu.setObjectName("menuTheme")
        for a in self.theme_actions.values():
            theme_menu.addAction(a)
        view_menu.addSeparator()
        view_menu.addAction(self.act_panel)
        act_code = code.toggleViewAction()
        act_code.setObjectName("actShowCode")
        act_code.setText("Show &code")
        act_code.setToolTip("The PyTorch code for what is on screen, ready to copy or export")
        act_code.setShortcut(QKeySequence("Ctrl+K"))
        self.window.addAction(act_code)
        view_menu.addAction(act_code)
        help_menu = self._menu(bar, "&Help", "menuHelp")
        help_menu.addAction(self.act_shortcuts)
        help_menu.addAction(self.act_about)

    @staticmethod
    def _menu(bar: QMenuBar, title: str, name: str) -> QMenu:
        menu = bar.addMenu(title)
        menu.setObjectName(name)
        menu.setToolTipsVisible(True)
        return menu

    @Slot()
    def toggle_full_screen(self) -> None:
        self.window.setWindowState(self.window.windowState() ^ Qt.WindowState.WindowFullScreen)

    def follow_window_state(self) -> None:
        """Check View ▸ Full screen and arm Esc while the window is full screen."""
        full = self.window.isFullScreen()
        self.act_fullscreen.setChecked(full)
        self.esc.setEnabled(full)

    def sync_panel(self, panel: QObject | None) -> None:
        """View ▸ Show control panel mirrors the current view's ``panel`` (None: disabled)."""
        self.act_panel.setEnabled(panel is not None)
        self.act_panel.setChecked(bool(panel is not None and panel.isExpanded()))  # type: ignore[attr-defined]

    @Slot()
    def _on_theme_action(self) -> None:
        self.theme.set_theme(str(self.sender().data()))

    @Slot()
    def _on_theme_changed(self) -> None:
        scale = self.theme.scale
        a = self.theme_actions.get(self.theme.name)
        if a is not None and not a.isChecked():
            a.setChecked(True)
        self.act_zoom_in.setEnabled(scale < MAX_ZOOM - 1e-6)
        self.act_zoom_out.setEnabled(scale > MIN_ZOOM + 1e-6)
