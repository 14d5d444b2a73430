"""Training view bugs a QA pass found, each driven through the real controls.

* A lane kept the name it got at the last Reset: after a live lr change the divergence message
  named the old learning rate, and an lr typed before the first Start drew an "lr a → b"
  marker at epoch 0 of a run that had not trained.
* The status line said "Training paused" for a run nobody had started.
* At 800×600 (and the window's minimum, 640×480) the lr box showed "0." and its label
  "Learning rat".
* A bad value typed into the lr box (-1, 0, nan, 1e-9, abc) was reverted without a word.

Every wait is ``qtbot.waitUntil`` with a generous timeout (training runs on a worker thread);
nothing asserts timing. Runs are tiny (200 points, batches of 16: 10 batches an epoch).
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
)

from app.views import training_drawing
from core.engine.commands import Step
from core.state.training import INTENT_S
from tests.gui.helpers import WAIT, click, named, tiny_training, type_into
from tests.gui.helpers import settle as settle_worker

pytestmark = pytest.mark.usefixtures("warm_torch")


def settle(qtbot, view) -> None:
    """The worker is ready and the view has drained it (what it emitted is on screen)."""
    settle_worker(qtbot, view)
    drained(qtbot, view)


def drained(qtbot, view, ticks: int = 3) -> None:
    """Let the display timer drain the engine a few more times (events already queued by the
    engine are then on screen)."""
    target = view.ticks + ticks
    qtbot.waitUntil(lambda: view.ticks >= target, timeout=WAIT)


@pytest.fixture
def tv(qtbot, window):
    """The Training tab of a shown window, set (through its fields) to a tiny, long run."""
    view = tiny_training(qtbot, window)
    drained(qtbot, view)
    return window, view


def lr_spin(win) -> QAbstractSpinBox:
    return named(win, QAbstractSpinBox, "trainLrSpin")


def engine_lr(view, lane: int = 0) -> float:
    return float(view.controller.engine.lanes[lane].optimizer.param_groups[0]["lr"])


# -- 1. names follow live lr changes; no marker for an lr set before training ----------------


def test_divergence_message_names_the_lr_set_after_the_reset(qtbot, tv):
    win, view = tv
    type_into(qtbot, named(win, QLineEdit, "hiddenEdit"), "16,16")
    combo = named(win, QComboBox, "optimizerCombo")
    combo.setCurrentIndex(combo.findData("SGD"))
    settle(qtbot, view)
    type_into(qtbot, lr_spin(win), "0.1")
    click(qtbot, named(win, QPushButton, "trainResetButton"))  # the lanes are named lr=0.1
    settle(qtbot, view)
    assert engine_lr(view) == pytest.approx(0.1)

    type_into(qtbot, named(win, QAbstractSpinBox, "trainHp_momentumSpin"), "0.9")
    type_into(qtbot, lr_spin(win), "1000")  # live, before Start
    group = view.controller.engine.lanes[0].optimizer.param_groups[0]
    qtbot.waitUntil(lambda: (group["lr"], group["momentum"]) == (1000, 0.9), timeout=WAIT)
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: "diverged" in view.message_text(), timeout=WAIT)

    message = view.message_text()
    listed = named(win, QListWidget, "raceList").item(0).text()
    assert listed == "SGD (lr=1e3, momentum=0.9)"
    assert message.startswith(f"{listed} diverged"), message  # the list and the message agree
    assert "lr=0.1" not in message


def test_lr_set_before_the_first_start_draws_no_marker(qtbot, tv):
    win, view = tv
    plots = view.plots
    type_into(qtbot, lr_spin(win), "0.05")
    qtbot.waitUntil(lambda: engine_lr(view) == pytest.approx(0.05), timeout=WAIT)
    drained(qtbot, view)
    assert plots.marker_positions("lr") == [], "an untrained run got an lr-change marker"

    # the run trains with it, and a change after training has begun is still marked
    run = named(win, QPushButton, "trainRunButton")
    click(qtbot, run)
    qtbot.waitUntil(lambda: view.model.steps > 20, timeout=WAIT)
    click(qtbot, run)
    qtbot.waitUntil(lambda: view.controller.engine.state == "paused", timeout=WAIT)
    drained(qtbot, view)
    steps = view.controller.engine.step_count
    type_into(qtbot, lr_spin(win), "0.2")
    qtbot.waitUntil(lambda: bool(plots.marker_positions("lr")), timeout=WAIT)
    assert plots.marker_positions("lr") == [pytest.approx(steps / view.model.batches_per_epoch)]


def test_race_names_follow_live_changes(qtbot, tv):
    """The boundary's lane list names each lane as the race list does, after live changes."""
    win, view = tv
    click(qtbot, named(win, QPushButton, "addRaceButton"))
    settle(qtbot, view)
    lanes = named(win, QComboBox, "boundaryLaneCombo")
    race_list = named(win, QListWidget, "raceList")
    qtbot.waitUntil(lambda: lanes.count() == 2 and race_list.count() == 2, timeout=WAIT)
    race_list.setCurrentRow(1)
    assert view.controls.specs[1].name == "SGD"
    type_into(qtbot, lr_spin(win), "0.3")
    type_into(qtbot, named(win, QAbstractSpinBox, "trainHp_momentumSpin"), "0.9")
    group = view.controller.engine.lanes[1].optimizer.param_groups[0]
    qtbot.waitUntil(lambda: (group["lr"], group["momentum"]) == (0.3, 0.9), timeout=WAIT)
    assert race_list.item(1).text() == "SGD (lr=0.3, momentum=0.9)"
    qtbot.waitUntil(lambda: lanes.itemText(1) == race_list.item(1).text(), timeout=WAIT)
    assert lanes.itemText(0) == race_list.item(0).text()


# -- 2. "ready", not "paused", until the first Start ------------------------------------------


def test_status_says_ready_until_the_first_start(qtbot, window):
    window.tabs.setCurrentIndex(1)
    view = window.training_view
    qtbot.waitUntil(lambda: view.controller.engine is not None, timeout=WAIT)
    engine = view.controller.engine
    qtbot.waitUntil(lambda: engine.state == "paused", timeout=WAIT)  # how the worker parks it
    qtbot.wait(int(INTENT_S * 1000) + 100)  # a clicked state outlives stale engine states
    drained(qtbot, view)  # this long: after it, only what the engine says counts
    status = window.status_label.text()
    assert status.startswith("Training ready"), status
    run = named(window, QPushButton, "trainRunButton")
    assert run.text() == "Start"

    click(qtbot, run)
    qtbot.waitUntil(lambda: window.status_label.text().startswith("Training ·"), timeout=WAIT)
    click(qtbot, run)
    qtbot.waitUntil(lambda: window.status_label.text().startswith("Training paused"), timeout=WAIT)
    click(qtbot, named(window, QPushButton, "trainResetButton"))
    settle(qtbot, view)
    qtbot.waitUntil(lambda: window.status_label.text().startswith("Training ready"), timeout=WAIT)


# -- 3. the lr row stays readable at small windows ------------------------------------------


def lr_label(win) -> QLabel:
    """The label of the lr box (its buddy)."""
    spin = lr_spin(win)
    (label,) = [w for w in win.training_view.findChildren(QLabel) if w.buddy() is spin]
    return label


def _readable(win) -> None:
    view = win.training_view
    label = lr_label(win)
    spin = lr_spin(win)
    assert label.text() in ("Learning rate", "lr")
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()), (
        f"label {label.text()!r} squeezed to {label.width()} px at {win.size().toTuple()}"
    )
    edit = spin.lineEdit()
    assert edit.width() >= edit.fontMetrics().horizontalAdvance(spin.text()) + 4, (
        f"lr box {spin.text()!r} squeezed to {edit.width()} px at {win.size().toTuple()}"
    )
    for b in (view.run_button, view.step_button, view.reset_button):
        assert b.width() >= b.fontMetrics().horizontalAdvance(b.text()), b.text()
    right = spin.mapTo(view, spin.rect().topRight()).x()
    # the plots' deck, not its splitter: hidden while the deck shows tabs, it keeps the
    # geometry of the last time it was shown
    plots_right = view.deck.mapTo(view, view.deck.rect().topRight()).x()
    assert right <= plots_right + 1, "the lr box runs into the panel"


@pytest.mark.parametrize("race", [False, True])
def test_lr_row_readable_at_800x600_and_the_minimum_size(qtbot, tv, race):
    win, view = tv
    if race:  # the lane swatch and name appear beside the label
        click(qtbot, named(win, QPushButton, "addRaceButton"))
        click(qtbot, named(win, QPushButton, "addRaceButton"))
        settle(qtbot, view)
        assert named(win, QLabel, "trainLrLane").isVisible()
    type_into(qtbot, lr_spin(win), "0.05")
    min_w, min_h = win.minimumSize().toTuple()
    assert (min_w, min_h) == (640, 480)
    for size in ((800, 600), (min_w, min_h), (1280, 800)):
        win.resize(*size)
        qtbot.waitUntil(lambda size=size: win.size().toTuple() == size, timeout=WAIT)
        qtbot.wait(50)  # let the layouts settle (nothing timed)
        _readable(win)
        assert lr_spin(win).text() == "0.05"
    assert lr_label(win).text() == "Learning rate"  # room again


# -- 4. a bad lr gets a message and changes nothing -------------------------------------------


def test_bad_lr_input_gets_a_message_and_changes_nothing(qtbot, tv):
    win, view = tv
    spin = lr_spin(win)
    type_into(qtbot, spin, "0.05")
    qtbot.waitUntil(lambda: engine_lr(view) == pytest.approx(0.05), timeout=WAIT)
    drained(qtbot, view)
    spec = str(view.controls.specs[0])
    expected = {  # the reason, as the box words it (the key refused, or the value)
        "-1": "got -1",
        "0": "got 0",
        "nan": "number",
        "abc": "must be a number",
    }
    for text, why in expected.items():
        type_into(qtbot, spin, text)
        message = view.message_text()
        assert message.startswith("Learning rate "), (text, message)
        assert message.endswith("; kept 0.05"), (text, message)
        assert why in message, (text, message)
        assert "\n" not in message
        assert named(win, QLabel, "trainMessage").property("error") is True
        assert spin.value() == 0.05 and spin.text() == "0.05"
        assert str(view.controls.specs[0]) == spec
        drained(qtbot, view)
        assert engine_lr(view) == pytest.approx(0.05)
        assert view.plots.marker_positions("lr") == []
        assert view.model.steps == 0 and view.run_button.text() == "Start"

    type_into(qtbot, spin, "1e-9")  # below the slider, but an lr torch takes: accepted
    assert view.message_text() == ""
    qtbot.waitUntil(lambda: engine_lr(view) == pytest.approx(1e-9), timeout=WAIT)
    type_into(qtbot, spin, "0.02")  # a good value clears the complaint
    assert view.message_text() == ""
    qtbot.waitUntil(lambda: engine_lr(view) == pytest.approx(0.02), timeout=WAIT)


def test_the_boundary_shows_where_a_stopped_run_ended(qtbot, window, monkeypatch):
    """Boundary requests are throttled while training; the one for the step a run stopped at
    (early stopping here, found through gdsim render) was dropped, leaving the picture of an
    epoch five earlier under a status saying the run had stopped. (A throttle longer than the
    run makes that certain instead of a matter of timing.)"""
    monkeypatch.setattr(training_drawing, "BOUNDARY_EVERY_S", 3600.0)
    window.sessions.load_preset("early-stopping")
    window.tabs.setCurrentIndex(1)
    view = window.training_view
    stop_early = named(window, QCheckBox, "stopEarlyCheck")
    click(qtbot, stop_early)
    assert stop_early.isChecked()
    click(qtbot, named(window, QPushButton, "trainResetButton"))
    settle(qtbot, view)
    view.controller.send(Step(view.progress.maximum()))  # as gdsim render trains
    qtbot.waitUntil(lambda: view.run_button.text() == "Restart", timeout=60_000)
    done = view.model.steps
    assert 0 < done < view.progress.maximum()  # it stopped early
    qtbot.waitUntil(lambda: view.plots.boundary_step == done, timeout=WAIT)
