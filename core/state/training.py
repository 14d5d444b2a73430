"""What the Training view shows, without Qt: the edited run configuration, the run's state as the
engine last reported it, and the commands that change them.

The window's widgets write here and listen to the events below; every command to the training
thread leaves through ``Runner`` (the worker's controller), from this one class. A reset is
asynchronous: until the engine confirms it (``ResetDone``) everything drained belongs to the old
run and is dropped, and Start/Step or live changes made meanwhile wait for it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.engine import commands as cmd
from core.engine.devices import resolve_device
from core.engine.optimizers import parse_spec
from core.engine.training import (
    Boundary,
    Curve,
    Diverged,
    Error,
    Event,
    HparamsChanged,
    ResetDone,
    TrainConfig,
    Update,
)
from core.errors import GdsimError, error_line
from core.files.session import Session
from core.state.events import Event as Emitter  # engine events are core.engine.training.Event

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
INTENT_S = 1.0  # a clicked state wins over stale engine states for at most this long


class Runner(Protocol):
    """The training thread as the model drives it (``app.worker.TrainingController``)."""

    @property
    def alive(self) -> bool: ...

    @property
    def engine(self) -> Any: ...  # the TrainingEngine (None while it is being built)

    def launch(self, config: TrainConfig) -> None: ...
    def shutdown(self, timeout_ms: int = 900) -> bool: ...
    def send(self, command: cmd.Command) -> None: ...
    def drain(self) -> Update | None: ...


def lane_short(name: str) -> str:
    """An engine lane name ('Adam(lr=0.01) #2') as a lecturer says it: 'Adam #2'."""
    base, sep, tag = name.partition(" #")
    return base.split("(")[0] + (f" #{tag}" if sep else "")


def lane_names(specs: tuple[str, ...]) -> list[str]:
    """Lane names as the engine makes them (a repeated SPEC gets ' #2', ' #3'...)."""
    names: list[str] = []
    for i, s in enumerate(specs):
        seen = specs[:i].count(s)
        names.append(f"{s} #{seen + 1}" if seen else s)
    return names


def check_schedulers(config: TrainConfig) -> None:
    """Build each lane's scheduler on a throw-away parameter, so a bad combination (e.g. cyclic
    momentum on an optimizer without momentum) is a message here, not an error mid-reset."""
    sched = config.scheduler_spec()
    if sched is None:
        return
    import torch

    for spec in config.optimizer_specs():
        param = torch.zeros(1, requires_grad=True)
        sched.build(spec.build([param]), config.epochs, 1)


def _thousands(n: float) -> str:
    """1850 -> '1 850' (a thin, unambiguous separator for a projector)."""
    return f"{n:,.0f}".replace(",", "\u202f")


@dataclass(frozen=True)
class RunStart:
    """A run the plots start afresh for: a launch, a confirmed reset, or a preview of the data."""

    names: tuple[str, ...]
    batches_per_epoch: int
    data: Any  # GeneratedData
    epochs: int
    scheduler: str | None


@dataclass(frozen=True)
class Drained:
    """What one drain brought that the plots draw (nothing of a run being replaced)."""

    events: tuple[Event, ...]
    curves: tuple[Curve, ...]
    boundaries: tuple[Boundary, ...]
    lrs_before: tuple[float, ...]  # each lane's lr before these events (for lr markers)
    update: Update
    fresh: bool  # False when a reset came in this drain (its points were the old run's)


@dataclass
class _AfterReset:
    """Commands made while a reset is on its way: the reset's config predates them."""

    commands: list[str] = field(default_factory=list)
    hparams: dict[int, dict] = field(default_factory=dict)


class TrainingModel:
    """The edited ``TrainConfig``, the run state and the drained lane status, with events."""

    def __init__(
        self,
        runner: Runner,
        config: TrainConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state_changed = Emitter()  # the state shown (optimistic after a click)
        self.run_started = Emitter()  # RunStart
        self.message = Emitter()  # (text, error): one line for the view's message line
        self.cleared = Emitter()  # messages are stale (True: errors too)
        self.pending_changed = Emitter()  # settings changed mid-run wait for Reset
        self.config_changed = Emitter()  # TrainConfig
        self.config_loaded = Emitter()  # TrainConfig from a session, for the panel to show
        self.lrs_changed = Emitter()  # lane lrs in force changed
        self.settings_edited = (
            Emitter()
        )  # a setting that defines the run changed (applies on Reset)
        self.lane_selected = Emitter()  # the race entry the panel and the lr control edit
        self.focus_changed = Emitter()  # the lane whose network the boundary (and landscape) show
        self.lr_suggested = Emitter()  # a tool proposes an lr for the selected lane
        self.runner = runner
        self._clock = clock
        self._config = config if config is not None else TrainConfig()
        self._invalid = ""  # why the edited settings make no valid config ("" when they do)
        self.state = "idle"
        self.steps = 0
        self.epochs = 0
        self.batches_per_epoch = 1
        self.rate = math.nan
        self.device = "cpu"
        self.lane_names: list[str] = []  # as the engine built them at the last reset
        self.lane_optimizers: list[str] = []  # their optimizers' names ("Adam")
        self.lane_lrs: list[float] = []
        self.awaiting_reset = False
        self.pending = False
        self.diverged_text = ""
        self.closed = False  # after shutdown(): never start a worker again
        self._after = _AfterReset()
        self._intent: tuple[str, float] | None = None  # (state a click asked for, deadline)
        self._note = ""  # what the panel changed of a loaded config to fit it
        self.selected_lane = 0
        self.focus_lane = 0

    # -- the edited configuration ----------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The last valid edited configuration."""
        return self._config

    def set_config(self, config: TrainConfig) -> None:
        """Take edited settings (GdsimError, one line, for a scheduler the optimizers refuse)."""
        try:
            check_schedulers(config)
        except GdsimError as exc:
            self._invalid = error_line(exc)
            raise
        self._invalid = ""
        if config != self._config:
            self._config = config
            self.config_changed.emit(config)

    def set_invalid(self, reason: str) -> None:
        """The edited settings make no valid config right now (a command says ``reason``)."""
        self._invalid = reason

    @property
    def invalid(self) -> str:
        """Why the edited settings make no valid config ("" when they do)."""
        return self._invalid

    def valid_config(self) -> TrainConfig | None:
        """The config to run, or None with the reason shown."""
        if self._invalid:
            self.message.emit(self._invalid, True)
            return None
        return self._config

    def set_device(self, name: str) -> None:
        """Train on ``name`` from the next batch (a message if this machine lacks it)."""
        try:
            resolve_device(name)
        except GdsimError as exc:
            self.message.emit(f"Cannot use this device: {error_line(exc)}", True)
            return
        self._config = replace(self._config, device=name)
        self.cleared.emit(True)
        if self.runner.alive and not self.awaiting_reset:
            try:
                self.runner.send(cmd.SetDevice(name))
            except GdsimError as exc:
                self.message.emit(error_line(exc), True)

    def select_lane(self, lane: int) -> None:
        if lane != self.selected_lane:
            self.selected_lane = lane
            self.lane_selected.emit(lane)

    def set_focus_lane(self, lane: int) -> None:
        if lane != self.focus_lane:
            self.focus_lane = lane
            self.focus_changed.emit(lane)

    def suggest_lr(self, lane: int, lr: float) -> None:
        """Give race entry ``lane`` this lr as if typed into the lr control (which validates it
        and keeps the panel and a running engine in step)."""
        self.select_lane(lane)
        self.lr_suggested.emit(lr)

    def lane_lr(self, lane: int) -> float:
        """The lr in force on ``lane`` at the last drain (nan if unknown)."""
        lr = self.lane_lrs[lane] if 0 <= lane < len(self.lane_lrs) else math.nan
        return lr if lr is not None else math.nan

    # -- sessions --------------------------------------------------------------------------
    def to_session(self) -> Session:
        return Session(view="training", training=self._config)

    def apply(self, session: Session) -> None:
        """Show a session's training setup and start over with it (paused at step 0). The panel
        answers ``config_loaded`` with what it kept (``set_config``) and a ``fitted`` note."""
        if session.training is None:
            return
        if self.state == "running":
            self.runner.send(cmd.Pause())
            self._set_state("paused")
        self._config, self._invalid, self._note = session.training, "", ""
        self.config_loaded.emit(session.training)
        self.config_changed.emit(self._config)
        note, self._note = self._note, ""
        self.reset()
        if note:
            self.message.emit(note, False)

    def fitted(self, note: str) -> None:
        """The panel's note on a loaded config it could not hold exactly (it has written what it
        kept with ``set_config``); shown after the reset."""
        self._note = note

    # -- commands --------------------------------------------------------------------------
    def toggle_run(self) -> None:
        """Start / pause / resume; after the run ended: reset and start again."""
        if self.state != "running" and not self._device_ok():
            return
        if self.awaiting_reset:
            cmds = self._after.commands
            cmds.remove("start") if "start" in cmds else cmds.append("start")
            return
        if self.state == "running":
            self.runner.send(cmd.Pause())
            self._set_state("paused")
            return
        if self.state in DONE:
            self.reset(then="start")
            return
        if not self.ensure_engine():
            return
        self.cleared.emit(True)
        self.runner.send(cmd.Resume())
        self._set_state("running")

    def step_once(self) -> None:
        """Exactly one batch (pauses a running run first)."""
        if self.awaiting_reset:
            self._after.commands.append("step")
            return
        if self.state in DONE:
            self.message.emit(f"The run has {self.state}: press Reset (R) to train again.", False)
            return
        if not self._device_ok() or not self.ensure_engine():
            return
        self.runner.send(cmd.Step(1))
        self._set_state("paused")

    def reset(self, then: str | None = None) -> None:
        """Start over from the seed with the edited settings."""
        config = self.valid_config()
        if config is None:
            return
        self._set_pending(False)
        self.diverged_text = ""
        self.cleared.emit(True)
        if not self.runner.alive:
            if self.closed:
                return
            self._launch(config)
            if then == "start":
                self.runner.send(cmd.Resume())
                self._set_state("running")
            return
        try:
            self.runner.send(cmd.Reset(config))
        except GdsimError as exc:
            self.message.emit(error_line(exc), True)
            return
        # a second Reset drops a queued Start; the config sent holds every change made so far
        self._after = _AfterReset([then] if then else [])
        self.awaiting_reset = True
        self._set_state("ready")

    def ensure_engine(self) -> bool:
        """A live worker exists (launched now if needed); False if the settings are invalid."""
        if self.runner.alive:
            return True
        if self.closed:  # e.g. a queued first-show launch arriving after the window closed
            return False
        config = self.valid_config()
        if config is None:
            return False
        self._launch(config)
        return True

    def settings_changed(self) -> bool:
        """A setting that defines the run changed: reset now if nothing would be lost, else
        wait for Reset. False when there is no run to reset."""
        self.settings_edited.emit()
        if not self.runner.alive:
            return False
        fresh = self.awaiting_reset or (
            self.state != "running" and (self.steps == 0 or self.state in DONE)
        )
        if fresh:
            self.reset()
        else:
            self._set_pending(True)
            self.cleared.emit(False)
        return True

    def send_hparams(self, lane: int, changes: dict) -> None:
        """Send a live change to the engine if that lane is training the same optimizer."""
        if not self.runner.alive:
            return  # the launch reads the config
        if self.awaiting_reset:
            self._after.hparams.setdefault(lane, {}).update(changes)
            return
        specs = self._config.optimizers
        if lane >= len(self.lane_names) or lane >= len(specs):
            return  # the lane exists only in the panel (or no more): applies on Reset
        if self.lane_optimizers[lane] != parse_spec(specs[lane]).name:
            return  # a different optimizer is pending: its settings apply on Reset
        try:
            self.runner.send(cmd.SetHparams(lane, changes))
        except GdsimError as exc:
            self.message.emit(error_line(exc), True)

    def request_boundary(self, grid: int, lanes: list[int]) -> None:
        self.runner.send(cmd.RequestBoundary(grid, tuple(lanes)))

    def request_weights(self, lane: int) -> Any:
        """A future of ``lane``'s weights and path (None before anything could be trained);
        GdsimError for a lane the run does not have."""
        if not self.runner.alive or self.runner.engine is None:
            return None
        command = cmd.RequestWeights(lane)
        self.runner.send(command)
        return command.future

    def preview(self, data: Any) -> None:
        """Before any engine exists: show the data the first run will use."""
        config = self._config
        bpe = max(1, math.ceil(len(data.train_idx) / config.batch_size))
        kinds = [spec.name for spec in config.optimizer_specs()]
        self._start_run(lane_names(config.optimizers), kinds, bpe, data, config.epochs, None)
        self.device = config.device

    def shutdown(self, timeout_ms: int = 900) -> None:
        self.closed = True
        self.runner.shutdown(timeout_ms)

    # -- worker reports --------------------------------------------------------------------
    def worker_failed(self, message: str) -> None:
        self.message.emit(f"Training could not run: {message}", True)

    def worker_finished(self, state: str) -> None:
        if state == "failed":
            self.awaiting_reset = False
            self._after = _AfterReset()
            self._set_state("idle")

    # -- the engine's reports --------------------------------------------------------------
    def drain(self) -> Drained | None:
        """Apply what the engine reported since the last drain; what the plots draw, if any."""
        upd = self.runner.drain()
        return None if upd is None else self.apply_update(upd)

    def apply_update(self, upd: Update) -> Drained | None:
        events = upd.events
        resets = [i for i, e in enumerate(events) if isinstance(e, ResetDone)]
        if resets:
            r = events[resets[-1]]
            self.awaiting_reset = False
            names = [lane.name for lane in upd.lanes]
            kinds = [lane.optimizer for lane in upd.lanes]
            sched = r.config.get("scheduler")
            self._start_run(names, kinds, upd.batches_per_epoch, r.data, upd.epochs, sched)
            events = events[resets[-1] + 1 :]  # points in this drain were flushed by the old run
        elif self.awaiting_reset:
            for e in events:  # everything else belongs to the run being replaced
                if isinstance(e, Error):
                    self.awaiting_reset = False  # the reset itself failed: start afresh
                    self.message.emit(e.message, True)
                    self.runner.shutdown()
                    self._set_state("idle")
            return None
        before = tuple(self.lane_lrs)
        for e in events:
            if isinstance(e, HparamsChanged) and "lr" in e.changes and e.lane < len(self.lane_lrs):
                self.lane_lrs[e.lane] = e.lr
            elif isinstance(e, Diverged):
                where = (
                    f"epoch {e.epoch}, batch {e.batch + 1}" if e.batch >= 0 else f"epoch {e.epoch}"
                )
                self.diverged_text = f"{lane_short(e.lane_name)} diverged ({e.reason}) at {where}"
        drained = Drained(
            events=tuple(events),
            curves=() if resets else upd.curves,
            boundaries=() if resets else upd.boundaries,
            lrs_before=before,
            update=upd,
            fresh=not resets,
        )
        previous = self.state
        state = upd.state
        if state == "paused" and upd.steps == 0 and self.state in ("idle", "ready"):
            # the worker parks a new engine as "paused" (engine.run(paused=True)); nobody has
            # pressed Start or Step yet, so for the user it is ready, not paused
            state = "ready"
        intent = self._intent
        if (
            intent is None
            or state == intent[0]
            or state in DONE
            or resets
            or self._clock() > intent[1]
        ):
            self._intent = None
            self.state = state
        self.steps, self.epochs, self.batches_per_epoch = (
            upd.steps,
            upd.epochs,
            upd.batches_per_epoch,
        )
        self.rate, self.device = upd.steps_per_second, upd.device
        self.lane_lrs = [lane.lr for lane in upd.lanes]
        self.lrs_changed.emit()
        if resets:
            self._replay_after_reset()
        if self.state != previous:
            self.state_changed.emit(self.state)
        return drained

    # -- read-outs -------------------------------------------------------------------------
    def epoch_batch(self) -> tuple[int, int]:
        """(current epoch 1-based, batches done in it): 'Epoch 3/20 · batch 12/25'."""
        if self.steps <= 0:
            return 1, 0
        epoch = (self.steps - 1) // self.batches_per_epoch + 1
        return min(epoch, max(1, self.epochs)), self.steps - (epoch - 1) * self.batches_per_epoch

    def status_text(self) -> str:
        word = STATE_WORDS.get(self.state, self.state.capitalize())
        if len(self.lane_names) > 1:
            word = f"{word} · {len(self.lane_names)} optimizers racing"
        parts = [word]
        if self.epochs:
            parts.append(f"epoch {self.epoch_batch()[0]}/{self.epochs}")
        if self.state == "running" and math.isfinite(self.rate) and self.rate > 0:
            parts.append(f"{_thousands(self.rate)} steps/s")
        if self.diverged_text:
            parts.append(self.diverged_text)
        parts.append(self.device)
        return " · ".join(parts)

    # -- internals -------------------------------------------------------------------------
    def _device_ok(self) -> bool:
        try:
            resolve_device(self._config.device)
        except GdsimError as exc:
            self.message.emit(f"Cannot train: {error_line(exc)}", True)
            return False
        return True

    def _launch(self, config: TrainConfig) -> None:
        try:
            resolve_device(config.device)
        except GdsimError:
            config = replace(config, device="cpu")  # show the run; Start says why it cannot go
        self.runner.launch(config)
        self.awaiting_reset = False
        self._after = _AfterReset()
        self._set_pending(False)
        data = config.make_data()
        bpe = max(1, math.ceil(int(len(data.train_idx)) / config.batch_size))
        kinds = [spec.name for spec in config.optimizer_specs()]
        names = lane_names(config.optimizers)
        self._start_run(names, kinds, bpe, data, config.epochs, config.scheduler)
        self.device = str(resolve_device(config.device))
        self._set_state("ready")

    def _start_run(
        self, names, optimizers, bpe: int, data: Any, epochs: int, scheduler: str | None
    ) -> None:
        self.lane_names = list(names)
        self.lane_optimizers = list(optimizers)  # a live change applies to the same optimizer
        self.lane_lrs = [math.nan] * len(names)
        self.batches_per_epoch, self.epochs, self.steps, self.rate = bpe, epochs, 0, math.nan
        self.diverged_text = ""
        self.run_started.emit(RunStart(tuple(names), bpe, data, epochs, scheduler))

    def _replay_after_reset(self) -> None:
        after, self._after = self._after, _AfterReset()
        for lane, changes in after.hparams.items():
            self.send_hparams(lane, changes)
        for command in after.commands:
            if command == "start" and self.state != "running":
                self.runner.send(cmd.Resume())
                self._set_state("running")
            elif command == "step":
                self.runner.send(cmd.Step(1))
                self._set_state("paused")

    def _set_state(self, state: str) -> None:
        """A state the user just asked for: shown at once, and kept over drained states that
        predate the command (the engine applies it before its next batch)."""
        self.state = state
        self._intent = (state, self._clock() + INTENT_S)
        self.state_changed.emit(state)

    def _set_pending(self, on: bool) -> None:
        if on != self.pending:
            self.pending = on
            self.pending_changed.emit(on)
