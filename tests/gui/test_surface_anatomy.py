"""Step anatomy and the narrated step as a user drives them: real check box, real Step / Reset /
Narrate buttons, real clicks in the optimizer list; assertions on the arrows plotted on the map,
the legend, the highlighted loop line and the text beside it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QListWidget,
    QPushButton,
    QWidget,
)

from app.main_window import MainWindow
from app.theme import get_theme
from app.views.surface_anatomy import ARROW_LAYERS, HINT, AnatomyTool, NumbersTable
from app.views.surface_view import SurfaceView
from tests.gui.helpers import click, named, reveal


# -- helpers ---------------------------------------------------------------------------------
def w(window: MainWindow, cls: type[QWidget], name: str):
    return named(window.surface_view, cls, name)


def press(qtbot, window, name: str, cls: type[QWidget] = QPushButton) -> None:
    click(qtbot, w(window, cls, name))


def select(qtbot, window, name: str, **hparams) -> int:
    """Click the list row of the first runner of that optimizer (and those hyperparameters)."""
    view = window.surface_view
    rid = next(
        rid
        for rid, e in view.entries.items()
        if e.runner.spec.name == name
        and all(e.runner.spec.hparams().get(k) == v for k, v in hparams.items())
    )
    lst = w(window, QListWidget, "optimizerList")
    reveal(lst)
    item = view.panel._item(rid)
    lst.scrollToItem(item)
    qtbot.mouseClick(
        lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(item).center()
    )
    assert view.panel.current_id() == rid
    return rid


def setup(qtbot, window) -> tuple[SurfaceView, AnatomyTool]:
    view = window.surface_view
    tool = window.tools["surfaces"]["surface_anatomy"]  # installed by MainWindow (VIEW_TOOLS)
    assert view.shortcut_targets()["narrate"] == tool.narrate
    return view, tool


def turn_on(qtbot, window) -> None:
    check = w(window, QCheckBox, "anatomyCheck")
    reveal(check)
    check.click()  # a real toggle through the button's own click path
    assert check.isChecked()


def narrate(qtbot, window) -> None:
    press(qtbot, window, "narrateButton")


def finite(xy) -> bool:
    x, y = xy
    return len(x) == 2 and np.all(np.isfinite(x)) and np.all(np.isfinite(y))


# -- the overlay -----------------------------------------------------------------------------
def test_controls_have_names_tooltips_and_accessible_names(qtbot, window):
    setup(qtbot, window)
    for cls, name in (
        (QCheckBox, "anatomyCheck"),
        (NumbersTable, "anatomyInfo"),
        (QLabel, "anatomyMessage"),
        (QPushButton, "narrateButton"),
        (QLabel, "narrateText"),
        *((QLabel, f"narrateLine{i}") for i in range(4)),
    ):
        widget = w(window, cls, name)
        assert widget.toolTip() and widget.accessibleName(), name
    hint = w(window, QLabel, "narrateText").text()
    assert hint == HINT.format(key="Alt+N") or hint == HINT.format(key="N")
    assert "Narrate step" in hint


def printed_pair(text: str) -> np.ndarray:
    """A pair as the panel prints it: '(−0.5, 1.2e−05)'."""
    return np.array([float(v) for v in text.strip().replace("−", "-").strip("()").split(",")])


def test_adam_anatomy_after_a_real_step(qtbot, window):
    view, tool = setup(qtbot, window)
    rid = select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    assert [e.runner.watch for e in view.entries.values()] == [eid == rid for eid in view.entries]
    assert tool.overlay.arrow_keys() == []  # no step recorded yet: nothing to draw
    assert "take a step" in w(window, QLabel, "anatomyMessage").text()
    press(qtbot, window, "stepButton")
    ov = tool.overlay
    assert set(ov.arrow_keys()) == {"gradient", "update", "first_moment"}
    for key in ov.arrow_keys():
        assert finite(ov.arrow_data(key)), key
    runner = view.entries[rid].runner
    a = runner.anatomy
    # every arrow starts where the step started; the update points where the runner went
    for key in ov.arrow_keys():
        x, y = ov.arrow_data(key)
        assert (x[0], y[0]) == pytest.approx(tuple(a.point_before))
    tip = ov.arrow_tip("update") - a.point_before
    cross = tip[0] * a.update[1] - tip[1] * a.update[0]
    assert np.dot(tip, a.update) > 0 and abs(cross) < 1e-9 * np.dot(tip, tip)
    # the gradient is drawn downhill
    assert np.dot(ov.arrow_tip("gradient") - a.point_before, a.gradient) < 0
    assert ov.extent_data("gradient") is not None  # the √v ellipse
    legend = " | ".join(ov.legend_texts())
    for word in ("gradient", "update", "first moment", "step size", "to scale"):
        assert word in legend, word
    info = w(window, NumbersTable, "anatomyInfo").text()
    assert w(window, NumbersTable, "anatomyInfo").isVisible()
    assert not w(window, QLabel, "anatomyMessage").isVisible()
    assert "exp_avg" in info and "step size" in info and "Adam" in info
    # the printed rows multiply out to the update drawn (raw m gave a tenth of it at t = 1)
    rows = dict(line.split("  ", 1) for line in info.splitlines()[1:] if "  " in line)
    size, m_hat = printed_pair(rows["step size"]), printed_pair(rows["m_hat"])
    np.testing.assert_allclose(-size * m_hat, a.update, rtol=2e-3)
    assert "update = −step size·m_hat" in info
    # drawn to scale: the longest arrow of each family is a readable part of the map
    (x0, x1), (y0, y1) = ov.vb.viewRange()
    for key in ("gradient", "update"):
        x, y = ov.arrow_data(key)
        frac = np.hypot((ov.arrow_tip(key)[0] - x[0]) / (x1 - x0),
                        (ov.arrow_tip(key)[1] - y[0]) / (y1 - y0))  # fmt: skip
        assert 0.05 < frac < 0.5, key


def test_sgd_without_momentum_shows_gradient_and_update_only(qtbot, window):
    view, tool = setup(qtbot, window)
    select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    press(qtbot, window, "stepButton")
    assert "first_moment" in tool.overlay.arrow_keys()
    rid = select(qtbot, window, "SGD", momentum=0.0)
    assert view.entries[rid].runner.watch
    assert sum(e.runner.watch for e in view.entries.values()) == 1
    assert tool.overlay.arrow_keys() == []  # its last step was not recorded
    press(qtbot, window, "stepButton")
    assert sorted(tool.overlay.arrow_keys()) == ["gradient", "update"]
    assert tool.overlay.extent_data("gradient") is None
    legend = " | ".join(tool.overlay.legend_texts())
    assert "first moment" not in legend and "step size" not in legend
    # plain SGD: the update is −lr·∇f, so the two arrows point the same way
    a = view.entries[rid].runner.anatomy
    g = tool.overlay.arrow_tip("gradient") - a.point_before
    u = tool.overlay.arrow_tip("update") - a.point_before
    assert np.dot(g, u) / (np.linalg.norm(g) * np.linalg.norm(u)) == pytest.approx(1.0)
    # momentum SGD shows its buffer
    select(qtbot, window, "SGD", momentum=0.9)
    press(qtbot, window, "stepButton")
    assert "momentum" in tool.overlay.arrow_keys()


def test_unticking_stops_watching_and_clears(qtbot, window):
    view, tool = setup(qtbot, window)
    turn_on(qtbot, window)
    press(qtbot, window, "stepButton")
    assert tool.overlay.arrow_keys()
    w(window, QCheckBox, "anatomyCheck").click()
    assert tool.overlay.arrow_keys() == [] and tool.overlay.legend_texts() == []
    assert not any(e.runner.watch for e in view.entries.values())
    assert not w(window, NumbersTable, "anatomyInfo").isVisible()
    assert not w(window, QLabel, "anatomyMessage").isVisible()


def test_arrows_follow_the_run_and_clear_on_reset(qtbot, window):
    view, tool = setup(qtbot, window)
    rid = select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    view.set_speed(200)
    press(qtbot, window, "runButton")
    runner = view.entries[rid].runner
    qtbot.waitUntil(lambda: runner.steps >= 5, timeout=5000)
    press(qtbot, window, "runButton")  # pause
    x, y = tool.overlay.arrow_data("update")
    assert (x[0], y[0]) == pytest.approx(tuple(runner.anatomy.point_before))
    assert runner.anatomy.step == runner.steps
    press(qtbot, window, "resetButton")
    assert tool.overlay.arrow_keys() == []


def test_a_removed_runner_leaves_nothing_behind(qtbot, window):
    view, tool = setup(qtbot, window)
    select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    press(qtbot, window, "stepButton")
    press(qtbot, window, "removeOptimizerButton")
    # the list selects another runner: nothing of Adam's is drawn, nothing crashes
    assert "first_moment" not in tool.overlay.arrow_keys()
    press(qtbot, window, "stepButton")
    assert set(tool.overlay.arrow_keys()) >= {"gradient", "update"}


def test_pens_follow_zoom_and_theme(qtbot, window):
    view, tool = setup(qtbot, window)
    turn_on(qtbot, window)
    press(qtbot, window, "stepButton")
    line = tool.overlay.arrows["gradient"].line
    assert line.opts["pen"].widthF() == pytest.approx(ARROW_LAYERS["gradient"][0])
    get_theme().configure("dark", 2.0)
    assert line.opts["pen"].widthF() == pytest.approx(2 * ARROW_LAYERS["gradient"][0])
    assert tool.overlay.arrow_keys() and tool.overlay.legend_texts()
    view.plots.map.grab()  # paints without error in the dark theme


# -- the narrated step -----------------------------------------------------------------------
def test_narrating_four_presses_is_one_step(qtbot, window):
    view, tool = setup(qtbot, window)
    rid = select(qtbot, window, "Adam")
    runner = view.entries[rid].runner
    others = {e.id: e.runner.point for e in view.entries.values() if e.id != rid}
    start, t0 = runner.point, view.race.t
    lengths = {e_id: len(view.trajectory(e_id)[0]) for e_id in view.entries}
    text = w(window, QLabel, "narrateText")
    lines = [w(window, QLabel, f"narrateLine{i}") for i in range(4)]

    narrate(qtbot, window)  # zero_grad
    assert tool.current_line() == 0 and lines[0].text().startswith("▶")
    assert "gradient" in text.text().lower()
    assert tool.overlay.arrow_keys() == []

    narrate(qtbot, window)  # forward
    assert tool.current_line() == 1 and lines[1].text().startswith("▶")
    assert not lines[0].text().startswith("▶")
    loss = runner.loss  # still the loss at the start: nothing has moved
    assert f"{loss:.4g}" in text.text()

    narrate(qtbot, window)  # backward
    assert tool.current_line() == 2
    assert "gradient" in text.text() and "(" in text.text()
    assert tool.overlay.arrow_keys() == ["gradient"]
    assert finite(tool.overlay.arrow_data("gradient"))
    assert runner.point == start and view.race.t == t0
    assert all(view.entries[e].runner.point == p for e, p in others.items())

    narrate(qtbot, window)  # step
    assert tool.current_line() == 3 and lines[3].text() == "▶ optimizer.step()"
    assert runner.point != start and runner.steps == 1 and view.race.t == t0 + 1
    assert all(view.entries[e].runner.point != p for e, p in others.items())
    assert all(len(view.trajectory(e)[0]) == n + 1 for e, n in lengths.items())
    assert "moves p by" in text.text()
    assert set(tool.overlay.arrow_keys()) == {"gradient", "update", "first_moment"}
    assert "Paused" in window.status_label.text() and "step 1" in window.status_label.text()

    narrate(qtbot, window)  # a new narration starts at the top
    assert tool.current_line() == 0 and tool.narrating


def test_narrating_pauses_a_running_race(qtbot, window):
    view, tool = setup(qtbot, window)
    press(qtbot, window, "runButton")
    assert view.model.running
    narrate(qtbot, window)
    assert not view.model.running and tool.current_line() == 0


@pytest.mark.parametrize("action", ["resetButton", "stepButton", "select"])
def test_any_other_action_abandons_an_open_narration(qtbot, window, action):
    view, tool = setup(qtbot, window)
    rid = select(qtbot, window, "Adam")
    runner = view.entries[rid].runner
    narrate(qtbot, window)
    narrate(qtbot, window)
    narrate(qtbot, window)  # backward done: the gradient is on show
    assert tool.narrating and runner.steps == 0
    if action == "select":
        select(qtbot, window, "RMSprop")
    else:
        press(qtbot, window, action)
    assert not tool.narrating and tool.current_line() == -1
    assert "abandoned" in w(window, QLabel, "narrateText").text()
    assert tool.overlay.arrow_keys() == []
    assert runner.steps == (1 if action == "stepButton" else 0)  # only the Step button moved it
    narrate(qtbot, window)  # starts over cleanly
    assert tool.current_line() == 0


def test_a_diverging_runner_is_told_not_crashed(qtbot, window):
    view, tool = setup(qtbot, window)
    entry = view.add_runner("SGD(lr=1000)", select=True)
    text = w(window, QLabel, "narrateText")
    for _ in range(4):  # its narrated step leaves the safe range
        narrate(qtbot, window)
    assert entry.runner.status == "diverged"
    assert "diverged" in text.text()
    assert tool.overlay.arrow_keys() == []
    narrate(qtbot, window)  # narrating a diverged runner: a message, nothing else
    assert "diverged" in text.text() and "reset" in text.text().lower()
    assert tool.current_line() == -1 and not tool.narrating
    turn_on(qtbot, window)
    assert tool.overlay.arrow_keys() == []
    assert "diverged" in w(window, QLabel, "anatomyMessage").text()


def test_alt_n_narrates(qtbot, window):
    view, tool = setup(qtbot, window)
    step = w(window, QPushButton, "stepButton")
    reveal(step)
    step.setFocus()
    qtbot.waitUntil(step.hasFocus)
    qtbot.keyClick(step, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    # a mnemonic "animates" the click: the button is pressed for a moment, then clicked
    qtbot.waitUntil(lambda: tool.current_line() == 0, timeout=2000)


def test_shutdown_stops_watching(qtbot, window):
    view, tool = setup(qtbot, window)
    turn_on(qtbot, window)
    narrate(qtbot, window)
    tool.shutdown()
    assert not tool.narrating
    assert not any(e.runner.watch for e in view.entries.values())


def test_narration_shows_its_numbers_in_the_panel_when_anatomy_is_on(qtbot, window):
    view, tool = setup(qtbot, window)
    select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    info = w(window, NumbersTable, "anatomyInfo")
    narrate(qtbot, window)
    assert "None" in info.text() and "optimizer.zero_grad()" in info.text()
    narrate(qtbot, window)
    narrate(qtbot, window)
    assert "loss.backward()" in info.text() and "∇f" in info.text()
    assert "exp_avg" not in info.text()  # not known before the step
    narrate(qtbot, window)
    assert "exp_avg" in info.text() and "step size" in info.text()
    press(qtbot, window, "stepButton")  # back to the live anatomy of the race's steps
    assert tool.current_line() == -1 and "optimizer." not in info.text().splitlines()[0]


def test_zooming_the_map_keeps_the_arrows_readable(qtbot, window):
    view, tool = setup(qtbot, window)
    select(qtbot, window, "Adam")
    turn_on(qtbot, window)
    press(qtbot, window, "stepButton")
    ov = tool.overlay
    before = ov.factors["gradient"]
    a = view.entries[view.panel.current_id()].runner.anatomy
    ov.vb.scaleBy((0.05, 0.05), center=tuple(a.point_before))  # 20x zoom in, as the wheel does
    assert ov.factors["gradient"] < before  # re-chosen: the arrow would leave the view
    (x0, x1), (y0, y1) = ov.vb.viewRange()
    tip = ov.arrow_tip("gradient") - a.point_before
    assert 0.05 < np.hypot(tip[0] / (x1 - x0), tip[1] / (y1 - y0)) < 0.5
    assert finite(ov.arrow_data("gradient"))
    assert any(f"× {ov.factors['gradient']:g}" in t for t in ov.legend_texts())


def test_the_hint_names_n_and_the_n_key_narrates(qtbot, window):
    view, tool = setup(qtbot, window)
    assert view.shortcut_targets()["narrate"] == tool.narrate
    assert "(N)" in w(window, QLabel, "narrateText").text()
    assert tool.narrate_button.toolTip().endswith("(N)")
    view.setFocus()
    start = next(iter(view.entries.values())).runner.steps
    for _ in range(4):  # zero_grad, forward, backward, step: one line per key press
        qtbot.keyClick(window, Qt.Key.Key_N)
    assert next(iter(view.entries.values())).runner.steps == start + 1
