"""What the engine's drained reports draw on the Training view's plots and say in its message
line: curves, epoch points, markers (lr changes, schedule jumps, early stop) and the decision
boundary, which it requests at most a few times a second so drawing never slows training."""

from __future__ import annotations

import math
import time

from app.views.training_deck import PlotArea
from app.views.training_plots import TrainingPlots, lane_label
from app.views.training_status import MessageLine
from core.engine.schedulers import RunShape, parse_scheduler
from core.engine.training import (
    DeviceChanged,
    Diverged,
    EarlyStop,
    EpochEnd,
    Error,
    HparamsChanged,
    Update,
)
from core.errors import GdsimError
from core.state.training import Drained, RunStart, TrainingModel, lane_short

BOUNDARY_EVERY_S = 0.25  # decision-boundary requests while training (a few per second)
BOUNDARY_GRID = 80  # grid cells per side


class ScheduleMarks:
    """Which markers a run's schedule gets: its lr jumps at epoch ends and, for OneCycleLR, the
    batch after which its last lr is held."""

    def __init__(self) -> None:
        self.name: str | None = None  # the scheduler whose epoch-end jumps are marked
        self.hold_at: int | None = None
        self.hold_name = ""
        self.marked: set[tuple] = set()

    def plan(self, text: str | None, bpe: int, epochs: int) -> None:
        self.name, self.hold_at, self.marked = None, None, set()
        if text is None:
            return
        try:
            spec = parse_scheduler(text)
            hold_at = spec.held_after(spec.resolved(RunShape(epochs, bpe, 1.0)))
        except GdsimError:  # the engine refused it already: nothing to mark
            return
        self.hold_at, self.hold_name = hold_at, spec.name
        if spec.interval != "batch":  # a per-batch schedule changes gradually: no jumps
            self.name = spec.name

    def hold(self, steps: int) -> tuple[int, str] | None:
        """The hold marker to draw once the run is past it."""
        if self.hold_at is not None and steps > self.hold_at:
            at, self.hold_at = self.hold_at, None
            return at, self.hold_name
        return None

    def jump(self, e: EpochEnd) -> bool:
        """A marker where an epoch-end schedule step changed the lr by a jump (StepLR's drops,
        a plateau's cut, a SequentialLR milestone); gradual schedules show in the lr plot."""
        lr, new = e.lr, e.next_lr
        if self.name is None or e.epoch >= e.epochs:  # no batch uses the last step's lr
            return False
        if not (lr > 0 and new > 0) or 2 / 3 < new / lr < 1.5:
            return False
        key = (e.steps, lr, new)
        if key in self.marked:
            return False
        self.marked.add(key)
        return True


class RunDrawing:
    """Draws what the model drained onto the plots."""

    def __init__(
        self, model: TrainingModel, plots: TrainingPlots, area: PlotArea, message: MessageLine
    ) -> None:
        self.model, self.plots, self.area, self.message = model, plots, area, message
        self.marks = ScheduleMarks()
        self._req_t = -1e9
        self._req_step = -1

    def start(self, run: RunStart, display: tuple[bool, bool], lane: int) -> None:
        """A fresh run: empty plots, one chooser entry per lane, the schedule's markers."""
        names = list(run.names)
        self.plots.set_log_y(display[0])
        self.plots.set_raw_visible(display[1])
        self.plots.reset(names, run.batches_per_epoch, run.data, run.epochs)
        self.marks.plan(run.scheduler, run.batches_per_epoch, run.epochs)
        self._req_step, self._req_t = -1, -1e9
        lane = min(lane, len(names) - 1)
        self.model.set_focus_lane(lane)
        self.area.show_lanes(names, lane)
        self.plots.set_focus_lane(lane)
        self.plots.boundary.set_title("Decision boundary · untrained")

    def focus(self, lane: int) -> None:
        """The chooser picked another lane's network to show."""
        self.model.set_focus_lane(lane)
        self.plots.set_focus_lane(lane)
        self._req_step, self._req_t = -1, -1e9

    def draw(self, d: Drained) -> None:
        upd = d.update
        lrs = list(d.lrs_before)
        for e in d.events:
            self._draw_event(e, lrs)
        for c in d.curves:
            self.plots.add_losses(c.lane, c.steps, c.losses)
            self.plots.add_lrs(c.lane, c.steps, c.lrs)
        if d.fresh:
            hold = self.marks.hold(upd.steps)
            if hold is not None:
                self.plots.marks.add_hold(*hold)
        for b in d.boundaries:
            if b.lane == self.model.focus_lane:
                self.plots.boundary.set_boundary(b.xs, b.ys, b.probs, b.step)
                when = f"epoch {b.step / max(1, upd.batches_per_epoch):.1f}"
                self.plots.boundary.set_title(
                    f"Decision boundary · {when if b.step else 'untrained'}"
                )
        self._maybe_request_boundary(upd)

    def _draw_event(self, e, lrs: list[float]) -> None:
        say = self.message.show_message
        if isinstance(e, EpochEnd):
            self.plots.add_epoch(e.lane, e.epoch, e.val_loss, e.val_accuracy, e.train_accuracy)
            if self.marks.jump(e):
                self.plots.marks.add_schedule(
                    e.steps, e.lr, e.next_lr, self.marks.name, lane_short(e.lane_name)
                )
        elif isinstance(e, HparamsChanged):
            name = e.lane_name  # the engine renames a lane on a live change: "Adam(lr=100)"
            if "lr" in e.changes:
                old = lrs[e.lane] if e.lane < len(lrs) else None
                old = old if old is not None and math.isfinite(old) else None
                if e.step > 0:  # before the lane's first batch the new lr is simply its lr
                    self.plots.marks.add_lr(e.step, old, e.lr, lane_short(name))
                self.plots.set_lane_lr(e.lane, e.lr)
                if e.lane < len(lrs):
                    lrs[e.lane] = e.lr
            self.area.rename_lane(e.lane, lane_label(name, e.lr))
        elif isinstance(e, EarlyStop):
            self.plots.marks.add_early_stop(
                e.best_epoch, e.epoch, e.patience, lane_short(e.lane_name)
            )
            who = f"{lane_label(e.lane_name)}: " if len(self.model.lane_names) > 1 else ""
            what = "training stopped" if e.stopped else "training goes on (overfitting from here)"
            say(
                f"{who}validation loss has not improved for {e.patience} epochs "
                f"(best {e.best_val_loss:.4g} at epoch {e.best_epoch}); {what}."
            )
        elif isinstance(e, Diverged):
            self.plots.set_diverged(e.lane)
            where = f"epoch {e.epoch}, batch {e.batch + 1}" if e.batch >= 0 else f"epoch {e.epoch}"
            say(
                f"{lane_label(e.lane_name)} diverged at {where}: {e.explanation}. "
                "Lower the learning rate and press Reset (R).",
                error=True,
            )
        elif isinstance(e, DeviceChanged):
            say(f"Training moved from {e.previous} to {e.device} at batch {e.step}.")
        elif isinstance(e, Error):
            say(e.message, error=True)

    def _maybe_request_boundary(self, upd: Update) -> None:
        lane = self.model.focus_lane
        if lane >= len(upd.lanes) or upd.steps == self._req_step:
            return
        now = time.monotonic()
        if now - self._req_t < BOUNDARY_EVERY_S and upd.state == "running":
            return  # throttled while it trains; once it stops, the last step is always drawn
        self._req_t, self._req_step = now, upd.steps
        self.model.request_boundary(BOUNDARY_GRID, [lane])
