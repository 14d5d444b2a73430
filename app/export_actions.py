"""File ▸ Export: the current view as PNG (1×, 2×, 3× for slides), its curves as CSV, and the
surface race as an animated GIF.

The work itself is ``app.export`` (drawn at the scale, never upscaled; atomic writes; a GIF
recorded in timer slices). This module only asks where to write and reports how it went: in the
status bar, and with a non-blocking message box when it failed. A PNG is drawn on the GUI thread
and encoded on a background task; a GIF shows its progress in the status bar and can be
cancelled (File ▸ Export ▸ Cancel GIF recording), which leaves any existing file as it was.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from app.plaintext import message_box
from app.window_host import make_action
from core.errors import GdsimError, error_line

if TYPE_CHECKING:
    from app.export import GifRecorder
    from app.tasks import BackgroundTask
    from app.window_host import WindowHost

PNG_SCALES = (1, 2, 3)
GIF_FRAMES = 120
GIF_FPS = 15


class ExportActions(QObject):
    """The Export submenu of the File menu."""

    def __init__(self, window: WindowHost) -> None:
        super().__init__(window)
        self.menu = QMenu("&Export", window)
        self.menu.setObjectName("menuExport")
        self.menu.setToolTipsVisible(True)
        w = window
        self.png_actions = []
        for scale in PNG_SCALES:
            act = make_action(
                w, f"actExportPng{scale}x", f"View as PNG at {scale}×…",
                f"Save the current view as a PNG drawn at {scale}× its size on screen "
                "(sharp on a slide: text and lines are drawn at that resolution)",
                self._on_png,
            )  # fmt: skip
            act.setData(scale)
            self.menu.addAction(act)
            self.png_actions.append(act)
        self.act_csv = make_action(
            w, "actExportCsv", "Curves as &CSV…",
            "Save the loss curves of the current view as a CSV file (one column per optimizer)",
            self._on_csv,
        )  # fmt: skip
        self.act_gif = make_action(
            w, "actExportGif", "Race as animated &GIF…",
            "Record the surface race from its start as an animated GIF (for slides and web pages)",
            self._on_gif,
        )  # fmt: skip
        self.act_cancel_gif = make_action(
            w, "actCancelGif", "Cancel GIF recording", "Stop recording; no file is written",
            self._on_cancel_gif,
        )  # fmt: skip
        self.act_cancel_gif.setEnabled(False)
        for act in (self.act_csv, self.act_gif, self.act_cancel_gif):
            self.menu.addAction(act)
        self._task: BackgroundTask | None = None
        self._recorder: GifRecorder | None = None
        self.last_dir = str(Path.home())

    @property
    def window(self) -> WindowHost:
        """The owning window, through Qt's parent link: a Python reference back to it would make a
        cycle through Qt's ownership that Python's collector cannot see, and no closed window would
        ever be freed."""
        return self.parent()  # type: ignore[return-value]

    # -- slots (bound methods, never lambdas: those would keep a closed window alive) ---------
    @Slot()
    def _on_png(self) -> None:
        self.export_png(scale=float(self.sender().data()))

    @Slot()
    def _on_csv(self) -> None:
        self.export_csv()

    @Slot()
    def _on_gif(self) -> None:
        self.export_gif()

    @Slot()
    def _on_cancel_gif(self) -> None:
        self.cancel_gif()

    # -- helpers -----------------------------------------------------------------------------
    def _ask(self, title: str, name: str, filt: str, suffix: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, title, str(Path(self.last_dir) / name), filt
        )
        if not path:
            return None
        if not Path(path).suffix:
            path += suffix
        self.last_dir = str(Path(path).parent)
        return path

    def _failed(self, title: str, text: str) -> None:
        box = message_box(QMessageBox.Icon.Warning, title, text, self.window)
        box.setObjectName("exportErrorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.window.statusBar().showMessage(text, 8000)

    def _say(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # -- PNG ---------------------------------------------------------------------------------
    def export_png(self, path: str | None = None, scale: float = 2) -> bool:
        from app.export import export_png_in_background
        from app.tasks import BackgroundTask

        key = self.window.current_key()
        if path is None:
            path = self._ask("Export view as PNG", f"{key}.png", "PNG images (*.png)", ".png")
            if path is None:
                return False
        plots = self.window.surface_view.plots
        if key == "surfaces" and plots.map_pending:  # the PNG shows the map, once it is drawn
            self._say("Waiting for the map to export it…", 3000)
            again = partial(self.export_png, path, scale)
            plots.mapShown.connect(again, Qt.ConnectionType.SingleShotConnection)
            return True
        if self._task is None:
            self._task = BackgroundTask(self)
            self._task.succeeded.connect(self._png_written)
            self._task.failed.connect(self._png_failed)
        try:
            w, h = export_png_in_background(
                self._task, self.window.current_view(), path, scale=scale
            )
        except GdsimError as exc:
            self._failed("Cannot export PNG", error_line(exc))
            return False
        self._say(f"Writing {Path(path).name} ({w}×{h} px)…", 3000)
        return True

    @Slot(object)
    def _png_written(self, path: object) -> None:
        self._say(f"Saved {Path(str(path)).name}")

    @Slot(str)
    def _png_failed(self, message: str) -> None:
        self._failed("Cannot export PNG", message)

    # -- CSV ---------------------------------------------------------------------------------
    def export_csv(self, path: str | None = None) -> bool:
        from app.export import export_csv

        key = self.window.current_key()
        if path is None:
            path = self._ask("Export curves as CSV", f"{key}.csv", "CSV files (*.csv)", ".csv")
            if path is None:
                return False
        try:
            rows = export_csv(self.window.current_view(), path)
        except GdsimError as exc:
            self._failed("Cannot export CSV", error_line(exc))
            return False
        self._say(f"Saved {Path(path).name} ({rows:,} rows)")
        return True

    # -- GIF ---------------------------------------------------------------------------------
    def export_gif(self, path: str | None = None, frames: int = GIF_FRAMES) -> bool:
        from app.export import record_gif

        if self._recorder is not None:
            self._say("A GIF is being recorded: wait for it or cancel it (File ▸ Export)")
            return False
        view = self.window.surface_view
        if not view.entries:
            self._failed("Cannot record GIF", "Add an optimizer to the race first.")
            return False
        if path is None:
            path = self._ask("Record race as GIF", "race.gif", "GIF animations (*.gif)", ".gif")
            if path is None:
                return False
        self.window.show_view("surfaces")
        # as many race steps per frame as the race on screen has taken (or one second's worth)
        steps = max(view.race.t, int(view.model.speed)) or 100
        try:
            self._recorder = record_gif(
                view, path, frames=frames, steps_per_frame=max(1.0, steps / frames),
                fps=GIF_FPS, on_progress=self._gif_progress, on_finished=self._gif_done,
                on_failed=self._gif_failed, parent=self,
            )  # fmt: skip
        except GdsimError as exc:
            self._failed("Cannot record GIF", error_line(exc))
            return False
        self.act_cancel_gif.setEnabled(True)
        self.act_gif.setEnabled(False)
        return True

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def _gif_progress(self, done: int, total: int) -> None:
        self._say(f"Recording GIF: frame {done} of {total}…", 2000)

    def _gif_ended(self) -> None:
        recorder, self._recorder = self._recorder, None
        self.act_cancel_gif.setEnabled(False)
        self.act_gif.setEnabled(True)
        if recorder is not None:
            recorder.deleteLater()

    def _gif_done(self, path: str) -> None:
        self._gif_ended()
        self._say(f"Saved {Path(path).name}")

    def _gif_failed(self, message: str) -> None:
        if self._recorder is None:  # our own cancel_gif(): already said so
            return
        self._gif_ended()
        self._failed("Cannot record GIF", message)

    def cancel_gif(self) -> None:
        recorder = self._recorder
        if recorder is not None:
            self._gif_ended()
            recorder.cancel()
            self._say("GIF recording cancelled; nothing was written")

    def shutdown(self) -> None:
        if self._recorder is not None:
            self._recorder.shutdown()
            self._recorder = None
        if self._task is not None:
            self._task.shutdown()
