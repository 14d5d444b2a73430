"""The Surfaces view's Qt-free model: commands, events and sessions (no window needed)."""

import math

import pytest

from core.engine.optimizers import parse_spec
from core.errors import GdsimError
from core.files.session import RunnerState, SurfacesState, dumps_session, loads_session
from core.state.surfaces import DEFAULT_RACE, SurfacesModel, auto_label


def model_with(*specs: str) -> SurfacesModel:
    m = SurfacesModel(colors=("red", "green", "blue"))
    for spec in specs:
        m.add_runner(spec)
    return m


def record(m: SurfacesModel, *names: str) -> list[tuple]:
    seen: list[tuple] = []
    for name in names:
        getattr(m.events, name).connect(lambda *a, name=name: seen.append((name, *a)))
    return seen


def test_the_default_race_is_the_lecture_opening_with_the_first_selected():
    m = SurfacesModel()
    m.default_race()
    assert [e.runner.spec for e in m.entries.values()] == [parse_spec(t) for t in DEFAULT_RACE]
    assert m.selected == next(iter(m.entries))
    assert m.status_text() == "Paused · 4 optimizers · step 0"


def test_runners_get_free_colours_and_a_removed_colour_is_reused():
    m = model_with("SGD(lr=0.01)", "Adam(lr=0.01)", "RMSprop(lr=0.01)")
    first, second, _ = m.entries
    assert [e.color for e in m.entries.values()] == ["red", "green", "blue"]
    m.remove_runner(second)
    assert m.add_runner("SGD(lr=0.1)").color == "green"
    assert first in m.entries


def test_removing_the_selected_runner_selects_its_neighbour_and_says_so():
    m = model_with("SGD(lr=0.01)", "Adam(lr=0.01)", "RMSprop(lr=0.01)")
    a, b, c = m.entries
    m.select(b)
    seen = record(m, "runner_removed", "selection_changed")
    m.remove_runner(b)
    assert seen == [("runner_removed", b), ("selection_changed", c)]
    m.remove_runner(c)  # the last one: the one above
    assert m.selected == a and m.race.runners == [m.entries[a].runner]
    d = m.add_runner("SGD(lr=0.1)").id
    del seen[:]
    m.remove_runner(d)  # not the selected one: the selection stays, and says nothing
    assert seen == [("runner_removed", d)] and m.selected == a


def test_a_refused_hyperparameter_raises_and_changes_nothing():
    m = model_with("SGD(lr=0.01)")
    (rid,) = m.entries
    seen = record(m, "runner_changed")
    with pytest.raises(GdsimError, match="lr"):
        m.set_hparam(rid, "lr", -1.0)
    assert m.entries[rid].runner.spec.hparams()["lr"] == 0.01 and seen == []
    m.set_hparam(rid, "lr", 0.5)
    assert m.entries[rid].runner.spec.hparams()["lr"] == 0.5
    assert seen == [("runner_changed", m.entries[rid])]
    assert m.entries[rid].label == auto_label(m.entries[rid].runner.spec) == "SGD (lr=0.5)"


def test_steps_and_reset_restart_from_step_zero_with_a_new_generation():
    m = model_with("SGD(lr=0.001)")
    seen = record(m, "stepped", "restarted")
    m.step()
    m.step()
    assert m.race.t == 2 and seen == [("stepped",), ("stepped",)]
    generation = m.generation
    m.reset()
    assert m.race.t == 0 and m.generation == generation + 1 and ("restarted",) in seen


def test_a_start_where_f_is_undefined_is_the_note_not_an_error():
    m = model_with("SGD(lr=0.01)")
    m.set_surface("log(x) + y**2", start=(1.0, 1.0))
    assert m.set_start(-1.0, 0.5)  # a point of the map, but f is undefined there
    assert "not defined at the start" in m.note
    m.start()
    assert not m.running and "not defined" in m.note


def test_a_new_surface_forgets_names_that_said_where_a_runner_started():
    m = SurfacesModel()
    a = m.add_runner("SGD(lr=0.01)", label="SGD from (-1, 0)")
    b = m.add_runner("Adam(lr=0.01)", label="Bold Adam")
    seen = record(m, "surface_changed")
    m.set_surface("himmelblau")
    assert a.custom_label is None and b.custom_label == "Bold Adam"
    assert m.surface_key == m.last_builtin == "himmelblau" and len(seen) == 1
    with pytest.raises(GdsimError):
        m.set_surface("no-such-surface")
    assert m.race.surface.name == "himmelblau"


def test_a_typed_expression_and_an_emptied_field():
    m = model_with("SGD(lr=0.01)")
    with pytest.raises(GdsimError, match="not finite anywhere"):
        m.apply_expression("x**2 + 1e400*y")
    assert m.apply_expression("  x**2 + 3*y**2 ")
    assert m.race.surface.is_expression and m.surface_key == "x**2 + 3*y**2"
    assert not m.apply_expression("")
    assert m.race.surface.name == "rosenbrock"  # back to the last built-in


def test_the_clock_steps_at_the_speed_and_pauses_once_every_runner_diverged():
    m = model_with("SGD(lr=0.001)")
    m.set_speed(100)
    m.start()
    m.tick(now=10.0, budget_s=math.inf)  # the first tick is one frame: 1.6 steps owed, 1 taken
    m.tick(now=10.05, budget_s=math.inf)  # 50 ms later: 5 more steps owed (+0.6 carried)
    assert m.race.t == 6
    m.set_speed(1e9)
    assert m.speed == 2000  # clamped to the slider's range
    diverging = model_with("SGD(lr=100)")
    diverging.start()
    for i in range(50):
        diverging.tick(now=float(i))
        if not diverging.running:
            break
    assert not diverging.running and "diverged" in diverging.note


def test_running_flat_out_says_stepped_at_most_30_times_a_second_and_shows_the_last_steps():
    m = model_with("SGD(lr=0.0001)")
    m.set_speed(2000)
    m.start()
    seen = record(m, "stepped")
    for i in range(250):  # a quarter of a fake second, a tick every millisecond
        m.tick(now=10.0 + i / 1000, budget_s=math.inf)
    assert m.race.t > 250 and 6 <= len(seen) <= 9  # 2 steps a tick; ~30 redraws a second
    assert m.pacer.dirty  # the last tick stepped after its redraw
    drawn = len(seen)
    m.pause()
    assert len(seen) == drawn + 1  # a pause shows the steps since the last redraw
    m.pause()
    assert len(seen) == drawn + 1  # nothing new: no redraw


def test_a_drawing_error_at_a_pause_still_pauses():
    """A redraw that raised on every tick (a bug) left Start/Pause unable to pause, 1 run in
    4: the pause drew the last steps first and the error skipped the rest."""
    m = model_with("SGD(lr=0.0001)")
    m.set_speed(2000)
    m.start()
    for i in range(50):
        m.tick(now=10.0 + i / 1000, budget_s=math.inf)
    assert m.pacer.dirty  # steps not drawn yet: the pause draws them
    m.events.stepped.connect(lambda: 1 / 0)
    told = record(m, "running_changed")
    with pytest.raises(ZeroDivisionError):  # the error still reaches the error report
        m.pause()
    assert not m.running and told == [("running_changed", False)]


def test_running_with_no_runner_says_what_to_do():
    m = SurfacesModel()
    m.start()
    assert not m.running and m.note == "add an optimizer to race"
    m.add_runner("SGD(lr=0.01)")
    m.start()
    assert m.running
    m.clear_runners()
    assert not m.running and m.note == "add an optimizer to race"


def test_a_session_round_trips_through_the_session_file_format():
    m = SurfacesModel()
    a = m.add_runner("Adam(lr=0.05)", label="mine", visible=False, start=(0.5, 0.5))
    m.set_schedule(a.id, None)
    m.add_runner("SGD(lr=0.001)", scheduler="StepLR(step_size=10, gamma=0.5)")
    m.set_noise(0.25, seed=3)
    m.set_speed(250)
    for _ in range(7):
        m.step()
    session = loads_session(dumps_session(m.to_session()))
    other = SurfacesModel()
    other.default_race()
    other.apply(session)
    assert other.state(steps=False) == m.state(steps=False)
    assert other.replay_left == 7 and other.race.t == 0
    other.replay()
    assert other.race.t == 7 and not other.replaying
    for x, y in zip(other.entries.values(), m.entries.values(), strict=True):
        assert x.runner.snapshot().point == pytest.approx(y.runner.snapshot().point)
    assert m.to_session(steps=False).surfaces.steps == 0


def test_a_loaded_race_puts_its_runners_in_the_places_of_those_there_before():
    """A view reuses a replaced runner's rows and tracks: the first ones are replaced, the
    rest added or removed, and the selection moves to the new first runner."""
    m = model_with("SGD(lr=0.01)", "Adam(lr=0.01)", "RMSprop(lr=0.01)")
    a, b, c = m.entries
    m.select(b)
    seen = record(m, "runner_added", "runner_removed", "runner_replaced", "selection_changed")
    m.apply(SurfacesState(runners=(RunnerState("Adam(lr=0.1)"), RunnerState("SGD(lr=0.1)"))))
    x, y = m.entries
    assert [s[0] for s in seen] == [
        "runner_replaced", "runner_replaced", "runner_removed", "selection_changed"
    ]
    assert seen[0][1:] == (a, m.entries[x]) and seen[1][1:] == (b, m.entries[y])
    assert seen[2] == ("runner_removed", c) and seen[3] == ("selection_changed", x)
    assert m.race.runners == [m.entries[x].runner, m.entries[y].runner]
    assert [e.color for e in m.entries.values()] == ["red", "green"]
    del seen[:]
    m.apply(SurfacesState(runners=tuple(RunnerState(t) for t in ("SGD(lr=0.1)",) * 3)))
    assert [s[0] for s in seen] == [
        "runner_replaced", "runner_replaced", "runner_added", "selection_changed"
    ]


def test_replay_in_slices_counts_down_and_says_so():
    m = SurfacesModel()
    m.apply(SurfacesState(runners=(), steps=0))
    m.add_runner("SGD(lr=0.001)")
    m.replay_left = 3
    m.replay(budget_s=10.0)
    assert m.race.t == 3 and m.note == "" and not m.replaying
