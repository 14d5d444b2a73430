"""What the Surfaces view shows, without Qt: the race, its runners as the user manages them
(colour, visibility, name), the speed, whether it runs, the selected runner, the status note,
and the clock that turns the speed into steps (``core.state.clock``).

Widgets write typed commands here (``add_runner``, ``set_hparam``, ``set_surface``, ``tick``…;
a refused value raises GdsimError with one line and changes nothing) and redraw on
``model.events``. A race step costs ~0.1-0.4 ms per runner, so the window's timer calls
:meth:`SurfacesModel.tick` on the GUI thread: ~60 Hz, or back to back while the speed is out
of reach; ``stepped`` (a redraw) comes at most ~30 times a second while running, paced apart
from the steps (``core.state.clock.RedrawPacer``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.expression import ExpressionError
from core.engine.optimizers import OptimizerSpec, get_optimizer, parse_spec
from core.engine.race import Race, Runner
from core.engine.schedulers import SchedulerSpec
from core.engine.surfaces import Surface, get_surface
from core.errors import GdsimError
from core.files.session import (
    MAX_STEPS,
    SPEED_DEFAULT,
    SPEED_MAX,
    SPEED_MIN,
    RunnerState,
    Session,
    SurfacesState,
    spec_text,
)
from core.state.clock import RedrawPacer, StepClock
from core.state.events import Events
from core.state.format import format_number, thin

DEFAULT_SURFACE = "rosenbrock"
#: The race a lecture starts with: plain SGD crawls along Rosenbrock's valley, momentum gets
#: to (1, 1) first, Adam and RMSprop in between (~3000 steps for all to arrive).
DEFAULT_RACE = (
    "SGD(lr=0.001)",
    "SGD(lr=0.001, momentum=0.9)",
    "Adam(lr=0.02)",
    "RMSprop(lr=0.005)",
)
DRAWABLE_PROBE = 48  # grid points a side when checking that a typed f has a finite value
#: A runner's name that says where it starts: "from (x, y)" or "at (x, y)".
NAMES_A_START = re.compile(r"\b(from|at)\s*\(")
NO_RUNNERS = "add an optimizer to race"
EVENTS = (
    "runner_added",  # (entry)
    "runner_removed",  # (rid)
    "runner_replaced",  # (old rid, entry): entry takes the old runner's place (a session load)
    "runner_changed",  # (entry): label, visibility, hyperparameters or schedule
    "selection_changed",  # (rid; -1: none)
    "surface_changed",  # (surface)
    "speed_changed",  # (steps/s)
    "running_changed",  # (running)
    "stepped",  # the race moved (a redraw is due)
    "restarted",  # back to step 0: reset, new start, surface, schedule or seed
    "status",  # what the status line says may have changed
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def auto_label(spec: OptimizerSpec) -> str:
    """What a lecturer reads out: 'SGD (lr=0.001, momentum=0.9)' -- the learning rate always,
    then whatever differs from the defaults."""
    hp = spec.hparams()
    parts = []
    if "lr" in hp:
        parts.append(f"lr={_fmt(hp['lr'])}")
    for k, v in spec.kwargs.items():
        if k != "lr":
            parts.append(k if v is True else f"{k}={_fmt(v)}")  # "nesterov", not "nesterov=True"
    return f"{spec.name} ({', '.join(parts)})" if parts else spec.name


@dataclass
class RunnerEntry:
    """A runner of the race plus what only the user's view of it knows."""

    runner: Runner
    color: str
    visible: bool = True
    custom_label: str | None = None

    @property
    def id(self) -> int:
        return self.runner.id

    @property
    def diverged(self) -> bool:
        return self.runner.status == "diverged"

    @property
    def label(self) -> str:
        return self.custom_label or auto_label(self.runner.spec)

    def legend_text(self) -> str:
        if self.diverged:
            return f"{self.label} — diverged at step {self.runner.diverged_at}"
        return self.label


def drawable(surface: Surface) -> Surface:
    """``surface``, or GdsimError when it has no finite value anywhere on its map (e.g.
    ``x**2 + 1e400*y``: 1e400 is inf), where nothing could be drawn or raced."""
    if surface.is_expression:
        with np.errstate(invalid="ignore", over="ignore"):
            _xs, _ys, z = surface.grid(DRAWABLE_PROBE)
        if not np.isfinite(z).any():
            raise GdsimError("f(x, y) is not finite anywhere on the map: nothing to draw or race")
    return surface


def expression_problem(text: str) -> GdsimError | None:
    """Why ``text`` cannot be raced on (a name or an expression), or None."""
    try:
        drawable(get_surface(text))
    except GdsimError as exc:
        return exc
    return None


def error_column(exc: GdsimError) -> int | None:
    """Where in the typed text an expression error is (1-based), if it says."""
    return getattr(exc, "column", None) if isinstance(exc, ExpressionError) else None


class SurfacesModel:
    """The Surfaces view's state and commands (see the module docstring)."""

    def __init__(self, colors: Sequence[str] = ("#1f77b4",), surface: str = DEFAULT_SURFACE):
        self.events = Events(*EVENTS)
        self.colors = tuple(colors)
        self.race = Race(surface)
        self.entries: dict[int, RunnerEntry] = {}
        self.generation = 0  # bumped on every restart (reset, start point, surface)
        self.surface_key = self.race.surface.name  # registry name or the expression text
        self.last_builtin = self.surface_key  # where an emptied expression field goes back to
        self.selected = -1
        self.speed = SPEED_DEFAULT
        self.running = False
        self.note = ""
        self.replay_left = 0  # steps a loaded session still asks for (see apply)
        self.clock = StepClock()
        self.pacer = RedrawPacer()  # while running, "stepped" comes at most 30 times a second

    # ================================================================ runners
    def _free_color(self) -> str:
        used = [e.color for e in self.entries.values()]
        free = [c for c in self.colors if c not in used]
        return free[0] if free else self.colors[len(used) % len(self.colors)]

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
        self.events.runner_added.emit(entry)
        if select:
            self.select(entry.id)
        self.events.status.emit()
        return entry

    def add_optimizer(self, name: str) -> RunnerEntry:
        """The registry's ``name`` with its defaults, selected (the Add button)."""
        return self.add_runner(OptimizerSpec(get_optimizer(name)), select=True)

    def remove_runner(self, rid: int) -> None:
        entry = self.entries.get(rid)
        if entry is None:
            return
        ids = list(self.entries)
        del self.entries[rid]
        self.race.remove(entry.runner)
        was_selected = self.selected == rid
        if was_selected:  # the neighbour below, as a list does (above for the last)
            i = ids.index(rid)
            rest = ids[i + 1 :] or ids[:i][-1:]
            self.selected = rest[0] if rest else -1
        self.events.runner_removed.emit(rid)
        if was_selected:
            self.events.selection_changed.emit(self.selected)
        if self.running and not self.entries:
            self.pause(NO_RUNNERS)
        self.events.status.emit()

    def duplicate_runner(self, rid: int) -> RunnerEntry | None:
        entry = self.entries.get(rid)
        if entry is None:
            return None
        label = f"{entry.custom_label} (copy)" if entry.custom_label else None
        runner = entry.runner
        return self.add_runner(runner.spec, label=label, select=True, scheduler=runner.scheduler)

    def clear_runners(self) -> None:
        for rid in list(self.entries):
            self.remove_runner(rid)

    def set_visible(self, rid: int, visible: bool) -> None:
        entry = self.entries.get(rid)
        if entry is None or entry.visible == visible:
            return
        entry.visible = visible
        self.events.runner_changed.emit(entry)

    def rename_runner(self, rid: int, text: str) -> None:
        """A new name ("" goes back to the automatic one)."""
        entry = self.entries.get(rid)
        if entry is None:
            return
        entry.custom_label = text.strip() or None
        entry.runner.label = entry.custom_label
        self.events.runner_changed.emit(entry)

    def set_hparam(self, rid: int, name: str, value: object) -> None:
        """A live change into the running optimizer (GdsimError, nothing changed, if refused)."""
        entry = self.entries.get(rid)
        if entry is None:
            return
        self.race.set_hparams(entry.runner, **{name: value})
        self.events.runner_changed.emit(entry)

    def set_schedule(self, rid: int, spec: SchedulerSpec | None) -> None:
        """A new lr schedule for a runner; the whole race restarts so every curve starts at
        step 0 together (GdsimError, nothing changed, if refused)."""
        entry = self.entries.get(rid)
        if entry is None:
            return
        self.race.set_schedule(entry.runner, spec)
        self.events.runner_changed.emit(entry)
        self.reset()

    def set_noise(self, sigma: float, seed: int | None = None) -> None:
        """Gradient noise: σ applies from the next step; a new seed restarts the race (its
        draws from step 0, so the run can be replayed)."""
        self.race.set_noise(sigma, seed)
        if seed is not None:
            self.reset()

    def select(self, rid: int) -> None:
        rid = rid if rid in self.entries else -1
        if rid != self.selected:
            self.selected = rid
            self.events.selection_changed.emit(rid)

    @property
    def selected_entry(self) -> RunnerEntry | None:
        return self.entries.get(self.selected)

    # ================================================================ surface and start
    def set_surface(self, name_or_expression: str, start: tuple[float, float] | None = None):
        """Race on another surface (GdsimError for an unknown name or a bad expression)."""
        self._move(lambda: self.race.set_surface(get_surface(name_or_expression), start))

    def apply_expression(self, text: str) -> bool:
        """A typed f(x, y): race on it (GdsimError if it cannot be drawn); an emptied field
        goes back to the last built-in surface. True if the surface changed to ``text``."""
        text = text.strip()
        if not text:
            if self.race.surface.is_expression:
                self.set_surface(self.last_builtin)
            return False
        surface = drawable(get_surface(text))
        self._move(lambda: self.race.set_surface(surface))
        return True

    def set_start(self, x: float, y: float) -> bool:
        """Move the shared start point; every runner restarts there (keeps running if it was).
        A refused point is the status note instead."""
        try:
            self._move(lambda: self.race.set_start(x, y))
        except GdsimError as exc:
            self.set_note(str(exc))
            return False
        return True

    def _move(self, change) -> None:
        """Apply a change of surface or start, then restart. A name that says where a runner
        starts ("SGD from (−1, 0)", as presets name them) would now be wrong, so a runner that
        moved goes back to its automatic name; other names ("Bold Adam") stay."""
        before = {rid: e.runner.start for rid, e in self.entries.items()}
        surface = self.race.surface
        change()
        for rid, start in before.items():
            entry = self.entries[rid]
            moved = entry.runner.start != start and entry.custom_label
            if moved and NAMES_A_START.search(entry.custom_label):
                self.rename_runner(rid, "")
        if self.race.surface is not surface:
            self._surface_shown()
        self.restart()

    def _surface_shown(self) -> None:
        surface = self.race.surface
        self.surface_key = surface.name
        if not surface.is_expression:
            self.last_builtin = surface.name
        self.events.surface_changed.emit(surface)

    def start_problem(self) -> str:
        """Why no optimizer can take a step from the start point, or "" (f must be finite
        there: a click at x < 0 on log(x) + y**2 would diverge every runner at step 0)."""
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

    def stuck_note(self) -> str:
        return self.start_problem() or "every optimizer has diverged: press Reset (R)"

    # ================================================================ running
    def set_speed(self, speed: float) -> None:
        speed = float(min(SPEED_MAX, max(SPEED_MIN, speed)))
        if speed != self.speed:
            self.speed = speed
            self.events.speed_changed.emit(speed)

    def toggle_run(self) -> None:
        if self.running:
            self.pause()
        else:
            self.start()

    def start(self) -> None:
        if not self.entries:
            self.set_note(NO_RUNNERS)
            return
        if not self.race.active:
            self.set_note(self.stuck_note())
            return
        self.note = ""
        self.running = True
        self.pacer.restart()
        self.clock.hold()
        self.clock.clear()
        self.events.running_changed.emit(True)
        self.events.status.emit()

    def pause(self, note: str = "") -> None:
        self.running, self.note = False, note
        try:  # the last steps drawn; a drawing error must not keep the race running
            self.flush()
        finally:
            self.events.running_changed.emit(False)
            self.events.status.emit()

    def step(self) -> None:
        """Exactly one optimizer step for every runner that is still going."""
        if self.race.step(1) == 0:
            self.note = self.stuck_note() if self.entries else NO_RUNNERS
        else:
            self.note = ""
        self.events.stepped.emit()
        self.events.status.emit()

    def reset(self) -> None:
        """Every runner back to the start with a fresh optimizer; keeps running if it was."""
        self.race.reset()
        self.restart()

    def restart(self) -> None:
        """The race is at step 0 again: say so (the runners' looks and the start follow)."""
        self.replay_left = 0
        self.generation += 1
        self.clock.clear()
        self.note = self.start_problem()
        self.events.restarted.emit()
        self.events.stepped.emit()
        self.events.status.emit()

    def stepped_elsewhere(self) -> None:
        """The race moved outside these commands (a narrated step): show it."""
        self.events.stepped.emit()
        self.events.status.emit()

    def set_note(self, note: str) -> None:
        self.note = note
        self.events.status.emit()

    def tick(self, now: float | None = None, budget_s: float | None = None) -> int:
        """A timer tick (``now``, perf_counter s): ``stepped`` if a redraw is due, then the steps
        owed (``core.state.clock``) within ``budget_s`` (default: the pacer's); pauses with the
        reason once no runner can go on. Returns the steps taken."""
        if not self.running:
            return 0
        now = time.perf_counter() if now is None else now
        if self.pacer.due(now):
            self.pacer.weigh(self.clock.behind)
            self.flush(now)
        budget_s = self.pacer.budget(now, self.clock.behind) if budget_s is None else budget_s
        self.pacer.steps_begin()
        taken = self.clock.tick(self.race, self.speed, now, budget_s)
        self.pacer.steps_end(taken)
        if not self.race.active:
            self.pause(self.stuck_note())
        return taken

    def flush(self, now: float | None = None) -> None:
        """``stepped`` now if the race moved since it was last shown (a pause, a screenshot)."""
        if self.pacer.dirty:
            self.pacer.drawn(time.perf_counter() if now is None else now)
            self.events.stepped.emit()

    def status_text(self) -> str:
        n = len(self.entries)
        parts = ["Running" if self.running else "Paused", f"{n} optimizer{'s' if n != 1 else ''}"]
        diverged = sum(e.diverged for e in self.entries.values())
        if diverged:
            parts.append(f"{diverged} diverged")
        parts.append(f"step {thin(self.race.t)}")
        if self.running:
            parts.append(f"{thin(int(round(self.clock.rate())))} steps/s")
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)

    # ================================================================ sessions
    def state(self, steps: bool = True) -> SurfacesState:
        """What is shown, as a session's surfaces section (steps beyond MAX_STEPS are not
        replayed; ``steps=False``: none, as the settings keep it)."""
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
            surface=self.surface_key,
            start=shared,
            runners=runners,
            speed=self.speed,
            steps=min(self.race.t, MAX_STEPS) if steps else 0,
            noise=self.race.noise,
            seed=self.race.seed,
            horizon=self.race.horizon,
        )

    def to_session(self, steps: bool = True) -> Session:
        return Session(view="surfaces", surfaces=self.state(steps))

    def apply(self, state: SurfacesState | Session) -> None:
        """Show a session's race: surface, start, runners, speed; its steps are left to
        :meth:`replay` (``replay_left``). The state comes validated (``core.files.session``),
        so nothing here can refuse it."""
        if isinstance(state, Session):
            state = state.surfaces or SurfacesState()
        self.pause()
        self.race.set_surface(get_surface(state.surface), state.start)
        self._surface_shown()
        self._replace_runners(state)
        self.select(next(iter(self.entries), -1))
        self.set_speed(state.speed)
        self.restart()
        self.replay_left = state.steps

    def _replace_runners(self, state: SurfacesState) -> None:
        """The race's runners become ``state``'s. The first ones take the places of the runners
        there before (``runner_replaced``: a view reuses their legend row, list row, tracks and
        form; removing and adding every one was about half of a preset load)."""
        old = list(self.entries)
        for entry in self.entries.values():
            self.race.remove(entry.runner)
        self.entries.clear()
        # before the runners: each one's noise stream is seeded by its place in the race
        self.race.set_horizon(state.horizon)
        self.race.set_noise(state.noise, state.seed)
        for i, r in enumerate(state.runners):
            runner = self.race.add(r.spec, start=r.start, scheduler=r.scheduler)
            if r.label:
                runner.label = r.label
            entry = RunnerEntry(runner, self._free_color(), r.visible, r.label or None)
            self.entries[entry.id] = entry
            if i < len(old):
                self.events.runner_replaced.emit(old[i], entry)
            else:
                self.events.runner_added.emit(entry)
        for rid in old[len(state.runners) :]:
            self.events.runner_removed.emit(rid)
        self.events.status.emit()

    @property
    def replaying(self) -> bool:
        return self.replay_left > 0

    def replay(self, budget_s: float | None = None) -> None:
        """Take a loaded session's steps, within ``budget_s`` (None: all of them now)."""
        if budget_s is None:
            self.race.step(self.replay_left)
            self.replay_left = 0
            self.stepped_elsewhere()
            return
        deadline = time.perf_counter() + budget_s
        while self.replay_left > 0 and time.perf_counter() < deadline:
            if self.race.step(1) == 0:
                self.replay_left = 0
                break
            self.replay_left -= 1
        left = self.replay_left
        self.note = f"replaying the session: {left:,} steps to go" if left > 0 else ""
        self.stepped_elsewhere()

    def default_race(self) -> None:
        """The race a lecture starts with (the first runner selected)."""
        for text in DEFAULT_RACE:
            self.add_runner(parse_spec(text))
        self.select(next(iter(self.entries)))
