"""How a speed in steps per second becomes race steps on the window's timer, and how often the
race is drawn, without Qt.

Each tick takes the steps owed since the last one, but stops after a time budget so the window
never stalls; steps that do not fit are dropped, not owed (no burst after a stall). A tick that
comes late (window dragged, machine busy) never owes more than :data:`MAX_CATCH_UP_S`. A clock
that dropped steps is :attr:`StepClock.behind`: the window then ticks again at once, so stepping
gets all the time drawing leaves. Drawing is paced apart from stepping (:class:`RedrawPacer`):
at most :data:`REDRAW_HZ` times a second, only when the race moved, and less often where
drawing would take more than :data:`DRAW_SHARE` of a core.
"""

from __future__ import annotations

import math
import time
from collections import deque

from core.engine.race import Race

TICK_S = 0.016  # the first tick after a start counts as one ~60 Hz frame
STEP_BUDGET_S = 0.008
MAX_CATCH_UP_S = 0.1
RATE_WINDOW_S = 1.0
REDRAW_HZ = 30.0
MIN_REDRAW_HZ = 8.0
DRAW_SHARE = 0.08  # of the GUI thread's CPU, at most, that drawing takes (above MIN_REDRAW_HZ)
#: Longest stepping slice of one tick when the speed cannot be reached (input and painting
#: wait at most this long for the event loop).
STEP_SLICE_S = 0.02
MAX_GAP_S = 0.1


class StepClock:
    """Steps owed, the measured cost of one race step, and the rate reached."""

    def __init__(self) -> None:
        self._owed = 0.0
        self._last_tick: float | None = None
        self._step_cost = 0.0  # running estimate of one race step's duration, s
        self.behind = False  # the speed asks for more than fits (see tick)
        self._rates: deque[tuple[float, int]] = deque()

    def clear(self) -> None:
        """Nothing owed, no rate measured (a start or a restart)."""
        self._owed = 0.0
        self.behind = False
        self._rates.clear()

    def hold(self) -> None:
        """The next tick counts as the first after a start (no catch-up for time skipped)."""
        self._last_tick = None

    def tick(self, race: Race, speed: float, now: float, budget_s: float = STEP_BUDGET_S) -> int:
        """Take the steps owed at ``now`` (perf_counter s) within ``budget_s``; returns them."""
        dt = TICK_S if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        self._owed += speed * min(dt, MAX_CATCH_UP_S)
        n = int(self._owed)
        if n <= 0:  # too soon to owe a step: says nothing about keeping up (``behind`` stays)
            return 0
        deadline = time.perf_counter() + budget_s
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
        if taken == 0 and race.active:  # always make progress, even on a busy machine
            race.step(1)
            taken = 1
            cost = 0.8 * cost + 0.2 * (time.perf_counter() - t)
        self._step_cost = cost
        # out of reach: this tick dropped steps, or a step costs more than the time the speed
        # gives it (then a tick whose steps all fitted only owed few, coming soon after the last)
        self.behind = (taken < n or cost * speed >= 1.0) and race.active
        self._owed = self._owed - taken if taken == n else 0.0  # dropped, not owed
        self._rates.append((time.perf_counter(), race.t))
        return taken

    def rate(self) -> float:
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


class RedrawPacer:
    """When the race is drawn: at most ``hz`` times a second, and only after it moved.

    ``moved()`` notes new steps; ``budget`` is how long a tick may step; ``due(now)`` says whether to draw them now; ``drawn(now)``
    that they were; ``until_due(now)`` how long stepping may go on before the next drawing.
    Around the steps, ``steps_begin``/``steps_end`` count the GUI thread's CPU spent on
    anything else (the redraw, and the event loop's turns: painting); ``weigh`` before each
    drawing stretches the period so that takes at most :data:`DRAW_SHARE` of the CPU the
    thread gets, down to ``min_hz``: stepping gets the rest, and a slow or loaded machine
    draws less often rather than spending a lecture's CPU on frames.
    """

    def __init__(self, hz: float = REDRAW_HZ, min_hz: float = MIN_REDRAW_HZ) -> None:
        self.fastest = self.period = 1.0 / hz
        self.slowest = 1.0 / min_hz
        self.dirty = False
        self._last = -math.inf
        self._cost = 0.0  # running estimate of one drawing (redraw + paint), CPU s
        self._drawing = 0.0  # CPU s spent outside the steps since the last weigh
        self._steps_end: float | None = None  # thread CPU time when the last steps ended
        self._weighed: tuple[float, float] | None = None  # (perf_counter, thread CPU) then

    def moved(self) -> None:
        self.dirty = True

    def due(self, now: float) -> bool:
        return self.dirty and now - self._last >= self.period

    def until_due(self, now: float) -> float:
        return max(0.0, self._last + self.period - now)

    def drawn(self, now: float) -> None:
        self.dirty = False
        self._last = now

    def restart(self) -> None:
        """Running again: the time since the last steps was no drawing."""
        self._steps_end = self._weighed = None

    def steps_begin(self) -> None:
        cpu = time.thread_time()
        if self._steps_end is not None:  # more is something else than drawing (a relayout)
            self._drawing += min(cpu - self._steps_end, MAX_GAP_S)

    def steps_end(self, taken: int) -> None:
        self._steps_end = time.thread_time()
        if taken:
            self.moved()

    def budget(self, now: float, behind: bool) -> float:
        """How long a tick may step: :data:`STEP_SLICE_S`, and while the speed is out of
        reach only until the next drawing is due (the event loop must paint in time)."""
        return min(STEP_SLICE_S, self.until_due(now)) if behind else STEP_SLICE_S

    def weigh(self, behind: bool) -> None:
        """Before a drawing: pace the next ones by what drawing cost since the last weigh.
        ``behind`` (stepping wants all the time): the thread's CPU per second of that time
        is what it gets; otherwise idle time counts as room to draw."""
        wall, cpu = time.perf_counter(), time.thread_time()
        core = 1.0
        if behind and self._weighed is not None:
            core = (cpu - self._weighed[1]) / max(wall - self._weighed[0], 1e-9)
        if self._weighed is not None:
            self.spent(self._drawing, core)
        self._weighed = (wall, cpu)
        self._drawing = 0.0

    def spent(self, seconds: float, core: float = 1.0) -> None:
        """The last drawing took ``seconds`` of the GUI thread's CPU while the thread got
        ``core`` of a CPU (less than 1 on a loaded machine, where drawing then takes a
        larger part of what stepping gets)."""
        self._cost = 0.7 * self._cost + 0.3 * min(seconds, self.slowest)
        share = DRAW_SHARE * min(1.0, max(core, 0.05))
        self.period = min(self.slowest, max(self.fastest, self._cost / share))
