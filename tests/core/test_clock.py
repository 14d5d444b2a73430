"""The step clock and the redraw pacer, on a fake clock (no timing: every time is given)."""

import math
import time

from core.state.clock import MIN_REDRAW_HZ, REDRAW_HZ, RedrawPacer, StepClock


def test_the_pacer_draws_at_most_30_times_a_second_and_only_after_a_move():
    pacer = RedrawPacer()
    draws = 0
    for i in range(1000):  # one fake second, a tick every millisecond, the race moving
        now = i / 1000
        pacer.moved()
        if pacer.due(now):
            pacer.drawn(now)
            draws += 1
    assert REDRAW_HZ - 1 <= draws <= REDRAW_HZ + 1
    pacer.drawn(5.0)
    assert not pacer.due(6.0)  # drawn, and nothing moved since: nothing to draw
    pacer.moved()
    assert pacer.due(6.0) and pacer.until_due(6.0) == 0.0 and not pacer.due(5.01)


def test_dear_drawing_slows_the_pacer_but_never_below_its_floor():
    pacer = RedrawPacer()
    for _ in range(10):
        pacer.spent(0.004)  # 4 ms of CPU a drawing: 30 Hz would be 12 % of a core
    assert REDRAW_HZ > 1 / pacer.period > MIN_REDRAW_HZ
    fast = pacer.period
    pacer.spent(0.004, core=0.5)  # a loaded machine: half a core for stepping and drawing
    assert pacer.period > fast
    for _ in range(20):
        pacer.spent(1.0)  # a machine far too slow: still MIN_REDRAW_HZ frames a second
    assert math.isclose(pacer.period, 1 / MIN_REDRAW_HZ)
    for _ in range(40):
        pacer.spent(0.0005)  # cheap again: back to 30 Hz
    assert math.isclose(pacer.period, 1 / REDRAW_HZ)


class _SleepyRace:
    """A race whose every step takes at least ``step_s`` on any machine (a sleep)."""

    def __init__(self, step_s: float) -> None:
        self.step_s, self.t, self.active = step_s, 0, True

    def step(self, n: int = 1) -> int:
        for _ in range(n):
            time.sleep(self.step_s)
        self.t += n
        return n


def test_a_clock_that_drops_steps_is_behind_until_it_keeps_up():
    race = _SleepyRace(0.002)
    clock = StepClock()
    assert clock.tick(race, 2000.0, 1.0, budget_s=0.0) == 1  # one step always, ~32 owed
    assert clock.behind
    assert clock.tick(race, 50.0, 1.1, budget_s=math.inf) == 5  # 2 ms a step, 20 ms given
    assert not clock.behind


def test_a_step_dearer_than_the_speed_allows_is_behind_even_when_a_tick_fits():
    """A tick soon after the last owes few steps, and they may fit its budget; the speed is
    still out of reach when one step takes longer than the time it gives a step (1 / speed)."""
    race = _SleepyRace(0.002)
    clock = StepClock()
    assert clock.tick(race, 2000.0, 1.0, budget_s=math.inf) == 32  # 16 ms: 32 owed, all taken
    assert clock.behind


def test_a_tick_too_soon_to_owe_a_step_leaves_a_clock_behind():
    """Behind, the window ticks again at once (a zero-interval timer); that tick comes a
    fraction of a step later and owes nothing. It must not read as keeping up: the window
    would then wait a whole 16 ms tick with the speed out of reach (~8 % of its race rate)."""
    race = _SleepyRace(0.002)
    clock = StepClock()
    clock.tick(race, 2000.0, 1.0, budget_s=0.0)
    assert clock.behind
    assert clock.tick(race, 2000.0, 1.0002, budget_s=math.inf) == 0  # 0.4 steps owed
    assert clock.behind
    assert clock.tick(race, 100.0, 1.1002, budget_s=math.inf) == 10  # all of them fit
    assert not clock.behind
