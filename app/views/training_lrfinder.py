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

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from app.plaintext import esc
from app.tasks import BackgroundTask
from app.theme import ThemeManager, get_theme
from app.views.training_lrfinder_controls import LRFinderControls
from app.views.training_lrfinder_page import LRFinderPage, result_text, summary
from app.views.training_lrfinder_plot import MARKER_COLORS, VALLEY_COLORS, round_lr
from app.widgets.slider_spin import format_number
from core.engine.optimizers import parse_spec
from core.engine.training import TrainConfig
from core.errors import GdsimError, error_line
from core.state.training import TrainingModel
from core.teach.lr_finder import LRFinderResult, LRPoint, check_request, find_lr

__all__ = ["MARKER_COLORS", "PAGE_TITLE", "VALLEY_COLORS", "LRFinderTool", "install"]

log = logging.getLogger("gdsim.lrfinder")

DRAW_MS = 50  # live curve refresh while the test runs
PAGE_TITLE = "LR finder"


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


class LRFinderTool(QObject):
    """Runs the range test for the model's selected race entry and hands its suggestion back:
    ``controls`` (the panel group) starts it, ``page`` (``LRFinderPage``) shows it."""

    pageWanted = Signal(QWidget)  # a test started: its plot page should come to the front

    def __init__(
        self, model: TrainingModel, theme: ThemeManager | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme or get_theme()
        self.task = BackgroundTask(self, name="gdsim-lrfinder")
        self.result: LRFinderResult | None = None  # the last finished run
        self._request: tuple[str, int, int] | None = None  # (optimizer, lane, steps) running
        self._stale = False  # settings changed since the shown result
        self._closed = False  # after shutdown(): never start again
        self.controls = LRFinderControls(self.theme)
        self.page = LRFinderPage(self.theme)
        self.plot = self.page.plot
        self._timer = QTimer(self)
        self._timer.setInterval(DRAW_MS)
        self._timer.timeout.connect(self.plot.draw_live)
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_succeeded)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)
        self.controls.find_button.clicked.connect(self.find)
        self.controls.cancel_button.clicked.connect(self.cancel)
        self.page.use_button.clicked.connect(self.use_suggestion)
        self.page.valley_button.clicked.connect(self.use_valley)
        model.settings_edited.connect(self._on_settings_changed)
        model.lane_selected.connect(self._on_lane_selected)
        self._sync()

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
            lr_min, lr_max, steps = self.controls.request()
            spec = check_request(config, lane, lr_min, lr_max, steps)
        except GdsimError as exc:
            self.controls.set_status(error_line(exc), error=True)
            return False
        sink: list[LRPoint] = []
        if not self.task.start(_job, config, lane, lr_min, lr_max, steps, sink):
            return False  # shut down
        self.plot.start_live(sink)
        self._request = (str(spec), lane, steps)
        self.result = None
        self._stale = False
        self.controls.set_progress(0.0)
        self.controls.set_status(f"Range test for {spec} from lr {format_number(lr_min, 3)} to "
                                 f"{format_number(lr_max, 3)} in {steps} steps…")  # fmt: skip
        self.page.result_label.setText(
            f"Running the range test for {esc(self._lane_text(spec, lane))}…"
        )
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

        Goes through the model (``suggest_lr``), so the panel's SPEC, the race list and a
        running engine all follow exactly as for a typed value.
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
            self.controls.set_status(
                f"The race entry the test ran for ({name}) has changed: run the finder again.",
                error=True,
            )
            return False
        self.model.suggest_lr(r.lane, round_lr(lr))  # the lr control then shows (and edits) it
        self.controls.set_status(
            f"Learning rate set to {format_number(round_lr(lr), 3)} for "
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
        self.controls.set_progress(fraction)
        if text and fraction < 1.0:
            self.controls.set_status(text)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self._timer.stop()
        if not isinstance(result, LRFinderResult):
            return
        self.result = result
        self.plot.show_result(result)
        self._show_text()
        self.controls.set_progress(1.0)
        self.controls.set_status(summary(result))
        self._sync()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._timer.stop()
        self.controls.set_progress(0.0)
        self.controls.set_status(f"The range test could not run: {message}", error=True)
        self.page.result_label.setText("No result: see the message in the panel.")
        self._sync()

    @Slot()
    def _on_cancelled(self) -> None:
        self._timer.stop()
        self.plot.draw_live()  # keep what was measured
        done = self.plot.drawn
        total = self._request[2] if self._request else 0
        self.controls.set_status(f"Cancelled after {done} of {total} steps: no suggestion.")
        self.page.result_label.setText(
            f"Cancelled after {done} of {total} steps — the curve so far, no suggestion."
        )
        self._sync()

    # -- state -----------------------------------------------------------------------------
    def _show_text(self) -> None:
        r = self.result
        if r is not None:
            who = self._lane_text(r.optimizer, r.lane)
            self.page.result_label.setText(result_text(r, who, self._stale))

    def _lane_text(self, spec: str, lane: int) -> str:
        many = len(self.model.config.optimizers) > 1
        return f"{spec} (race entry {lane + 1})" if many else str(spec)

    def _sync(self) -> None:
        running = self.task.running
        self.controls.set_running(running, self._closed)
        self.page.offer(self.result, running)

    @Slot()
    def _on_settings_changed(self) -> None:
        if self.result is not None and self.result.suggestion is not None and not self._stale:
            self._stale = True
            self._show_text()

    @Slot(int)
    def _on_lane_selected(self, _lane: int) -> None:
        self._sync()


def install(view) -> LRFinderTool:
    """Add the finder to a Training view: a group in its control panel, a page beside the
    decision boundary. Keep the returned object (e.g. ``view.lr_finder``) and call its
    ``shutdown()`` from the view's ``shutdown()``."""
    tool = LRFinderTool(view.model, parent=view)
    tool.pageWanted.connect(view.area.show_page)
    view.add_tool(tool.controls)
    view.add_plot_page(tool.page, PAGE_TITLE)
    return tool
