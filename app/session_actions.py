"""Sessions in the window: File ▸ Open/Save session, lecture presets, the banner and the code dock.

What a session is belongs to ``core.files.session`` and the reproducing script to
``core.teach.codegen``; this module is the glue into menus, so the window stays about windows.
A file is validated whole before anything on screen changes, and File ▸ "Back to the previous
session" undoes the last Open or preset.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QFont, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel, message_box, plain_tip
from app.settings import read_str
from app.window_host import make_action
from core.errors import GdsimError, error_line
from core.files.atomic import write_text_atomic
from core.files.session import Session, list_presets, load_preset, load_session, save_session

if TYPE_CHECKING:
    from app.window_host import WindowHost

log = logging.getLogger("gdsim.sessions")

SESSION_FILTER = "gdsim sessions (*.json);;All files (*)"
SCRIPT_FILTER = "Python scripts (*.py);;All files (*)"
CODE_REFRESH_MS = 1000
#: Steps the exported race script runs when the race on screen has not started yet.
DEFAULT_SCRIPT_STEPS = 1000
MAX_NOTES = 3  # ignored keys named in the status bar after opening a session (all are logged)


BANNER_LINES = 2  # of a preset's explanation shown at once; more scrolls


class SessionBanner(QFrame):
    """Title and explanation of the loaded scenario, above the views."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionBanner")
        self.has_content = False  # a session's explanation to show (until dismissed)
        self.view_key = "surfaces"  # the view it explains
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = PlainLabel(self)
        self.title.setObjectName("sessionTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.text = PlainLabel(self)
        self.text.setObjectName("sessionExplanation")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setObjectName("closeBannerButton")
        close.setText("×")
        close.setToolTip("Hide the explanation")
        close.setAccessibleName("Hide the explanation")
        close.clicked.connect(self.dismiss)
        col = QVBoxLayout()
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        # at most BANNER_LINES lines of explanation, the rest scrolls: at 200 % zoom on a
        # 1024×768 screen six lines pushed the Training plots below their least size
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("sessionExplanationScroll")
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.text)
        col.addWidget(self.title)
        col.addWidget(self.scroll)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addLayout(col, 1)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_session(self, session: Session) -> None:
        """Explain ``session`` above its own view (``follow_view`` hides it over the other)."""
        self.view_key = session.view
        if not (session.title or session.explanation):
            self.dismiss()
            return
        self.title.setText(session.title)
        self.title.setVisible(bool(session.title))
        self.text.setText(session.explanation)
        self.scroll.setVisible(bool(session.explanation))
        self.has_content = True
        self.show()
        self._fit_text()

    def _fit_text(self) -> None:
        """As tall as the explanation, up to BANNER_LINES lines at the current zoom."""
        width = max(1, self.scroll.viewport().width())
        need = self.text.heightForWidth(width)
        most = BANNER_LINES * self.text.fontMetrics().lineSpacing() + 1  # no sliver of the next
        self.scroll.setFixedHeight(min(need, most) if need > 0 else most)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_text()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoom: measured once the label has it
            QTimer.singleShot(0, self, self._fit_text)

    @Slot()
    def dismiss(self) -> None:
        """Closed (×) or replaced by a session without an explanation."""
        self.has_content = False
        self.hide()

    def follow_view(self, key: str) -> None:
        """Shown over the view the session is about only: a surfaces preset's explanation
        stayed above the Training tab and described what was not there."""
        self.setVisible(self.has_content and key == self.view_key)


class CodePanel(QDockWidget):
    """The runnable PyTorch code for what the current view shows (View ▸ Show code)."""

    def __init__(self, window: WindowHost, export_script: QAction) -> None:
        super().__init__("Code", window)
        self.setObjectName("codeDock")
        body = QWidget(self)
        self.text = QPlainTextEdit(body)
        self.text.setObjectName("codeText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setAccessibleName("PyTorch code for the current view")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(mono)
        self.copy_button = QPushButton("Copy", body)
        self.copy_button.setObjectName("copyCodeButton")
        self.copy_button.setToolTip("Copy the whole script to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.export_button = QPushButton("Export script…", body)
        self.export_button.setObjectName("exportScriptButton")
        self.export_button.setToolTip(
            "Save the script as a .py file that needs only torch and reproduces this run"
        )
        self.export_button.clicked.connect(export_script.trigger)
        self.note = PlainLabel(body)
        self.note.setObjectName("codeNote")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.export_button)
        row.addStretch(1)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.note)
        lay.addWidget(self.text, 1)
        self.setWidget(body)
        self._timer = QTimer(self)
        self._timer.setInterval(CODE_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._sized = False
        self._collapsed = None  # the control panel collapsed to make room for the code
        self.visibilityChanged.connect(self._on_visibility)
        self.hide()

    @Slot(bool)
    def _on_visibility(self, visible: bool) -> None:
        window = self.parentWidget()
        if visible:
            width = self.text.fontMetrics().horizontalAdvance("x" * 72)
            if not self._sized:  # wide enough for the loop's lines, the first time only
                self._sized = True
                window.resizeDocks([self], [width], Qt.Orientation.Horizontal)
            QTimer.singleShot(0, self, lambda: self._make_room(width))
            self.refresh()
            self._timer.start()
        else:
            self._timer.stop()
            if self._collapsed is not None:  # the panel the code took the room of comes back
                self._collapsed.setExpanded(True)
                self._collapsed = None

    def _make_room(self, width: int) -> None:
        """On a small screen (1024×768) the view's controls left the code ~190 px: cut
        lines. Then the control panel collapses to its strip while the code is shown."""
        if not self.isVisible() or self.isFloating() or self.width() >= width:
            return
        window = self.parentWidget()
        panel = window.collapse_control_panel()
        if panel is not None:
            self._collapsed = panel
            window.resizeDocks([self], [width], Qt.Orientation.Horizontal)

    @Slot()
    def refresh(self) -> None:
        """Regenerate the script (cheap) and show it if it changed (keeps the scroll position)."""
        try:
            code = self.parentWidget().sessions.script()
            note = ""
        except GdsimError as exc:
            code, note = None, f"No code for this view yet: {error_line(exc)}"
        self.note.setText(note)
        self.note.setVisible(bool(note))
        if code is not None and code != self.text.toPlainText():
            bar = self.text.verticalScrollBar()
            pos = bar.value()
            self.text.setPlainText(code)
            bar.setValue(pos)

    @Slot()
    def copy(self) -> None:
        self.refresh()
        QApplication.clipboard().setText(self.text.toPlainText())
        self.parentWidget().statusBar().showMessage("Script copied to the clipboard", 2500)

    def shutdown(self) -> None:
        self._timer.stop()


class SessionActions(QObject):
    """File-menu actions for sessions, presets and the exported script."""

    def __init__(self, window: WindowHost) -> None:
        super().__init__(window)
        self.previous: Session | None = None
        self.last_dir = str(Path.home())
        self.last_file = ""  # the session last opened or saved: where both dialogs start
        self.banner = SessionBanner(window)
        w = window
        self.act_open = make_action(
            w, "actOpenSession", "&Open session…", "Open a saved gdsim session (.json)",
            self._on_open, [QKeySequence("Ctrl+O")],
        )  # fmt: skip
        self.act_save = make_action(
            w, "actSaveSession", "&Save session…",
            "Save what is on screen (surface, optimizers, training setup) as a small JSON file",
            self._on_save, [QKeySequence("Ctrl+Shift+S"), QKeySequence("Ctrl+S")],
        )  # fmt: skip
        self.act_revert = make_action(
            w, "actRevertSession", "&Back to the previous session",
            "Undo the last Open or preset: bring back what was on screen before it",
            self.revert,
        )  # fmt: skip
        self.act_revert.setEnabled(False)
        self.act_export_script = make_action(
            w, "actExportScript", "Export &script…",
            "Save the PyTorch script that reproduces the current view (needs only torch)",
            self._on_export_script,
        )  # fmt: skip
        self.preset_menu = QMenu("&Lecture presets", window)
        self.preset_menu.setObjectName("menuPresets")
        self.preset_menu.setToolTipsVisible(True)
        self.preset_actions: dict[str, QAction] = {}
        # Reading and validating the preset files is ~15 ms: the window has it done after its
        # first frame (fill_presets), or the menu does when it opens first.
        self.preset_menu.aboutToShow.connect(self.fill_presets)

    @property
    def window(self) -> WindowHost:
        """The owning window, through Qt's parent link: a Python reference back to it would make a
        cycle through Qt's ownership that Python's collector cannot see, and no closed window would
        ever be freed."""
        return self.parent()  # type: ignore[return-value]

    @Slot()
    def fill_presets(self) -> None:
        if self.preset_actions:
            return
        try:
            presets = list_presets()
        except GdsimError as exc:  # a broken install: the menu says so instead of crashing
            log.error("presets unavailable: %s", exc)
            self.preset_menu.addAction("(presets unavailable)").setEnabled(False)
            return
        for info in presets:
            act = QAction(info.title or info.name, self.preset_menu)
            act.setObjectName(f"actPreset_{info.name}")
            act.setToolTip(plain_tip(info.explanation))
            act.setStatusTip(info.explanation[:200])
            act.setData(info.name)
            act.triggered.connect(self._on_preset)
            self.preset_menu.addAction(act)
            self.preset_actions[info.name] = act

    # Slots for the actions (bound methods, never lambdas: a lambda connected to a child's
    # signal keeps the whole window alive after it closes).
    @Slot()
    def _on_open(self) -> None:
        self.open_session()

    @Slot()
    def _on_save(self) -> None:
        self.save_session()

    @Slot()
    def _on_export_script(self) -> None:
        self.export_script()

    @Slot()
    def _on_preset(self) -> None:
        self.load_preset(str(self.sender().data()))

    def fill_file_menu(self, menu: QMenu) -> None:
        menu.addAction(self.act_open)
        menu.addAction(self.act_save)
        menu.addMenu(self.preset_menu)
        menu.addAction(self.act_revert)
        menu.addSeparator()
        menu.addAction(self.act_export_script)

    # -- the session on screen -------------------------------------------------------------
    def current_session(self) -> Session:
        """What is on screen (GdsimError if the training settings are not valid right now); a
        Training view not built yet gives the setup kept for it, unchanged."""
        w = self.window
        view = w.current_key()
        shown = self.banner.has_content
        return Session(
            title=self.banner.title.text() if shown else "",
            explanation=self.banner.text.text() if shown else "",
            view=view,
            surfaces=w.surface_view.session_state(),
            training=w.training_page.config(),
        )

    def apply_session(self, session: Session, keep_previous: bool = True, done: str = "") -> None:
        """Show ``session`` (already validated). The screen before it can be brought back.

        ``done`` ("Opened x.json") and what loading ignored go into one status message: shown
        one after another, each replaced the one before at once and nobody could read them."""
        w = self.window
        if keep_previous:
            try:
                self.previous = self.current_session()
                self.act_revert.setEnabled(True)
            except GdsimError as exc:  # unfinished training settings: nothing to keep there
                log.info("previous session not kept: %s", exc)
        if session.surfaces is not None:
            w.surface_view.apply_state(session.surfaces)
        if session.training is not None:
            w.training_page.apply(session.training)  # kept for the view if it is not built
        self.banner.show_session(session)
        w.show_tab(session.view)
        self.banner.follow_view(session.view)
        if session.view == "surfaces" or w.training_page.view is not None:  # else: built at top
            panel = w.view(session.view).control_panel()
            panel.scroll_to_top()  # Start/Step/Reset and the surface first, not the form's end
        notes = list(session.warnings[:MAX_NOTES])
        if len(session.warnings) > MAX_NOTES:
            notes.append(f"{len(session.warnings) - MAX_NOTES} more notes in the log")
        for text in session.warnings:
            log.info("%s", text)
        message = "; ".join(
            ([done] if done else []) + ([f"note: {', '.join(notes)}"] if notes else [])
        )
        if message:
            w.statusBar().showMessage(message, 10_000 if notes else 4000)

    # -- actions ---------------------------------------------------------------------------
    def _error(self, title: str, text: str) -> QMessageBox:
        box = message_box(QMessageBox.Icon.Warning, title, text, self.window)
        box.setObjectName("sessionErrorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # never blocks: a race or training keeps running behind it
        self.window.statusBar().showMessage(text, 8000)
        return box

    @Slot()
    def open_session(self, path: str | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Open gdsim session", self.last_file or self.last_dir, SESSION_FILTER
            )
            if not path:
                return False
        try:
            session = load_session(path)
        except GdsimError as exc:
            self._error("Cannot open session", f"{Path(path).name}: {error_line(exc)}")
            return False
        self._remember(path)
        self.apply_session(session, done=f"Opened {Path(path).name}")
        return True

    @Slot()
    def save_session(self, path: str | None = None) -> bool:
        try:
            session = self.current_session()
        except GdsimError as exc:
            self._error("Cannot save session", f"Fix the training settings first: {exc}")
            return False
        if path is None:
            start = self.last_file or str(Path(self.last_dir) / "session.json")
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Save gdsim session", start, SESSION_FILTER
            )
            if not path:
                return False
            if not Path(path).suffix:
                path += ".json"
        try:
            save_session(session, path)
        except GdsimError as exc:
            self._error("Cannot save session", error_line(exc))
            return False
        self._remember(path)
        self.window.statusBar().showMessage(f"Saved {Path(path).name}", 4000)
        return True

    def _remember(self, path: str) -> None:
        self.last_file = str(Path(path).resolve())
        self.last_dir = str(Path(self.last_file).parent)

    def save_settings(self, s: QSettings) -> None:
        s.setValue("sessions/lastFile", self.last_file)
        s.setValue("sessions/lastDir", self.last_dir)

    def restore_settings(self, s: QSettings) -> None:
        """The dialogs start where the last session was opened or saved, also after a restart
        (a folder that is gone falls back to the home folder)."""
        folder = read_str(s, "sessions/lastDir", self.last_dir)
        if Path(folder).is_dir():
            self.last_dir = folder
            name = read_str(s, "sessions/lastFile", "")
            self.last_file = name if name and Path(name).parent == Path(folder) else ""

    def load_preset(self, name: str) -> bool:
        try:
            session = load_preset(name)
        except GdsimError as exc:
            self._error("Cannot load preset", error_line(exc))
            return False
        self.apply_session(session)
        return True

    @Slot()
    def revert(self) -> None:
        if self.previous is None:
            return
        previous, self.previous = self.previous, None
        self.act_revert.setEnabled(False)
        self.apply_session(previous, keep_previous=False)
        if not (previous.title or previous.explanation):
            self.banner.dismiss()

    # -- code ------------------------------------------------------------------------------
    def script(self) -> str:
        """The standalone script for the current view (GdsimError if there is none)."""
        from core.teach.codegen import race_script, training_script  # only when code is asked for

        w = self.window
        if w.current_key() == "training":
            return training_script(w.training_page.config())
        view = w.surface_view
        runners = [e.runner for e in view.entries.values()]
        if not runners:
            raise GdsimError("add an optimizer to the race")
        steps = view.race.t if view.race.t > 0 else DEFAULT_SCRIPT_STEPS
        return race_script(view.race.surface, runners, steps)

    @Slot()
    def export_script(self, path: str | None = None) -> bool:
        try:
            code = self.script()
        except GdsimError as exc:
            self._error("Cannot export script", error_line(exc))
            return False
        if path is None:
            which = "training" if self.window.current_key() == "training" else "race"
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export PyTorch script", str(Path(self.last_dir) / f"{which}.py"),
                SCRIPT_FILTER,
            )  # fmt: skip
            if not path:
                return False
            if not Path(path).suffix:
                path += ".py"
        try:
            write_text_atomic(path, code, what="script")
        except GdsimError as exc:
            self._error("Cannot export script", error_line(exc))
            return False
        self.window.statusBar().showMessage(f"Wrote {Path(path).name}: python {path}", 6000)
        return True
