"""The Training view through its real controls: buttons clicked, sliders moved, fields typed.

Every wait is ``qtbot.waitUntil`` with a timeout (training runs on a worker thread); nothing
asserts timing. Runs are tiny (200 points, batches of 16: 10 batches an epoch).
"""

from __future__ import annotations

import gc
import threading

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
)

from app.main_window import SHUTDOWN_BUDGET_S, MainWindow
from core.engine.commands import Step
from tests.gui import helpers
from tests.gui.helpers import WAIT, click, named, settle, thread_waits, tiny_training, type_into

pytestmark = pytest.mark.usefixtures("warm_torch")


@pytest.fixture
def tv(qtbot, window):
    """The Training tab of a shown window, set (through its fields) to a tiny, long run."""
    view = tiny_training(qtbot, window)
    assert view.model.batches_per_epoch == 10
    return window, view


def points(view, lane: int = 0) -> int:
    return view.plots.curve_points(lane)


def test_controls_have_names_tooltips_and_accessible_names(tv):
    win, view = tv
    names = [
        "datasetCombo", "noiseSpin", "samplesSpin", "seedSpin", "hiddenEdit", "activationCombo",
        "optimizerCombo", "schedulerCombo", "batchSpin", "epochsSpin", "patienceSpin",
        "deviceCombo", "trainLrSlider", "trainLrSpin", "trainRunButton", "trainStepButton",
        "trainResetButton", "raceList", "addRaceButton", "raceAddCombo", "lossLogCheck",
        "stopEarlyCheck", "epochProgress", "lossPlot", "accuracyPlot", "boundaryPlot",
        "datasetPreview",
    ]  # fmt: skip
    for name in names:
        w = view.findChild(object, name)
        assert w is not None, name
        assert w.toolTip(), f"{name} has no tooltip"
        assert w.accessibleName(), f"{name} has no accessible name"
    for hp in (
        "trainHp_betas_0",
        "trainHp_weight_decay",
        "trainHp_epsSlider",
    ):  # built from the registry
        assert view.findChild(object, hp) is not None


def test_start_pause_step_reset(qtbot, tv):
    win, view = tv
    run = named(win, QPushButton, "trainRunButton")
    progress = named(win, QProgressBar, "epochProgress")
    assert run.text() == "Start" and points(view) == 0

    click(qtbot, run)
    qtbot.waitUntil(lambda: points(view) > 25 and progress.value() > 25, timeout=WAIT)
    assert run.text() == "Pause"
    assert progress.format().startswith("Epoch ") and "batch" in progress.format()
    assert "Training · epoch" in win.status_label.text()

    click(qtbot, run)  # pause
    qtbot.waitUntil(lambda: view.controller.engine.state == "paused", timeout=WAIT)
    qtbot.waitUntil(lambda: run.text() == "Resume", timeout=WAIT)
    qtbot.wait(150)  # let anything in flight arrive
    paused_at = points(view)
    assert paused_at == view.model.steps
    qtbot.wait(200)
    assert points(view) == paused_at, "the curve grew while paused"

    step = named(win, QPushButton, "trainStepButton")
    click(qtbot, step)
    qtbot.waitUntil(lambda: points(view) == paused_at + 1, timeout=WAIT)
    qtbot.waitUntil(lambda: progress.value() == paused_at + 1, timeout=WAIT)
    qtbot.wait(150)
    assert points(view) == paused_at + 1, "Step trained more than one batch"
    epoch, batch = divmod(paused_at + 1 - 1, 10)
    assert progress.format() == f"Epoch {epoch + 1}/500 · batch {batch + 1}/10"

    click(qtbot, named(win, QPushButton, "trainResetButton"))
    qtbot.waitUntil(lambda: not view.model.awaiting_reset and view.model.steps == 0, timeout=WAIT)
    assert points(view) == 0 and progress.value() == 0
    assert run.text() == "Start"
    click(qtbot, run)  # and it trains again after the reset
    qtbot.waitUntil(lambda: points(view) > 5, timeout=WAIT)


def test_keys_space_s_r_drive_the_training_tab(qtbot, tv):
    win, view = tv
    view.run_button.setFocus()
    qtbot.keyClick(view.run_button, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: points(view) == 1, timeout=WAIT)
    qtbot.keyClick(view.run_button, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: points(view) == 2, timeout=WAIT)
    qtbot.keyClick(view.run_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: points(view) > 10, timeout=WAIT)
    qtbot.keyClick(view.run_button, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: not view.model.awaiting_reset and points(view) == 0, timeout=WAIT)


def test_live_lr_change_reaches_the_optimizer_without_a_restart(qtbot, tv):
    win, view = tv
    slider = named(win, QSlider, "trainLrSlider")
    spin = named(win, QAbstractSpinBox, "trainLrSpin")
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 30, timeout=WAIT)
    click(qtbot, named(win, QPushButton, "trainRunButton"))  # pause, to look closely
    engine = view.controller.engine
    qtbot.waitUntil(lambda: engine.state == "paused", timeout=WAIT)
    qtbot.wait(100)
    steps = engine.step_count
    adam_steps = next(iter(engine.lanes[0].optimizer.state.values()))["step"].item()
    old = engine.lanes[0].optimizer.param_groups[0]["lr"]

    for _ in range(2):  # the user presses PageUp on the slider: a bigger learning rate
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    new = spin.value()
    assert new > old * 2
    qtbot.waitUntil(
        lambda: engine.lanes[0].optimizer.param_groups[0]["lr"] == pytest.approx(new),
        timeout=WAIT,
    )
    assert engine.step_count == steps, "changing lr must not retrain or restart"
    # optimizer state kept (no rebuild): Adam's step counter continues
    assert next(iter(engine.lanes[0].optimizer.state.values()))["step"].item() == adam_steps
    qtbot.waitUntil(lambda: bool(view.plots.marker_positions("lr")), timeout=WAIT)
    assert view.plots.marker_positions("lr") == [
        pytest.approx(steps / view.model.batches_per_epoch)
    ]

    click(qtbot, named(win, QPushButton, "trainStepButton"))  # the next batch uses it
    qtbot.waitUntil(lambda: engine.step_count == steps + 1, timeout=WAIT)
    assert engine.lanes[0].optimizer.param_groups[0]["lr"] == pytest.approx(new)


def test_a_live_change_waits_for_reset_while_another_optimizer_is_pending(qtbot, tv):
    """The panel's lane 0 now names SGD while the engine's lane 0 trains Adam: an lr change is
    kept for the Reset, not sent to Adam (the engine reports each lane's optimizer by name)."""
    win, view = tv
    click(qtbot, named(win, QPushButton, "trainStepButton"))
    engine = view.controller.engine
    qtbot.waitUntil(lambda: view.model.steps == 1, timeout=WAIT)  # the view has seen the step
    assert engine.lanes[0].spec.name == "Adam"
    old = engine.lanes[0].optimizer.param_groups[0]["lr"]
    combo = named(win, QComboBox, "optimizerCombo")
    combo.setCurrentIndex(combo.findData("SGD"))
    for _ in range(2):
        qtbot.keyClick(named(win, QSlider, "trainLrSlider"), Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: not view.transport.lr_send_timer.isActive(), timeout=WAIT)
    view.controller.send(Step(1))  # queued after any live change the view sent
    qtbot.waitUntil(lambda: engine.step_count == 2, timeout=WAIT)
    assert engine.lanes[0].optimizer.param_groups[0]["lr"] == old


def test_with_a_scheduler_the_lr_in_force_is_shown_beside_the_base(qtbot, tv):
    win, view = tv
    now = named(win, QLabel, "trainLrNow")
    assert not now.isVisible()  # no scheduler: the control says it all
    combo = named(win, QComboBox, "schedulerCombo")
    combo.setCurrentIndex(combo.findData("ExponentialLR"))
    settle(qtbot, view)
    base = named(win, QAbstractSpinBox, "trainLrSpin").value()
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    engine = view.controller.engine
    qtbot.waitUntil(lambda: engine.lanes[0].epoch >= 3, timeout=WAIT)
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: engine.state == "paused", timeout=WAIT)
    in_force = engine.lanes[0].optimizer.param_groups[0]["lr"]
    qtbot.waitUntil(lambda: now.text() == f"now {in_force:.3g}", timeout=WAIT)
    assert now.isVisible() and in_force < base
    assert named(win, QAbstractSpinBox, "trainLrSpin").value() == base  # the base is unchanged


def test_dataset_change_updates_the_preview_and_the_run(qtbot, tv):
    win, view = tv
    combo = named(win, QComboBox, "datasetCombo")
    preview = view.controls.data.preview
    assert preview.data.name == "moons"
    before = preview.data.x.copy()
    combo.setCurrentIndex(combo.findData("circles"))
    assert preview.data.name == "circles"
    assert preview.data.x.shape == before.shape and (preview.data.x != before).any()
    # nothing trained yet: the run itself was reset to the new data
    qtbot.waitUntil(lambda: not view.model.awaiting_reset, timeout=WAIT)
    assert view.controller.engine.data.name == "circles"
    xs, _ys = view.plots.train_points.getData()
    assert len(xs) == len(view.controller.engine.data.train_idx)
    # data-set options come from the registry (spiral has arms)
    combo.setCurrentIndex(combo.findData("spiral"))
    arms = named(win, QSpinBox, "datasetOption_arms")
    type_into(qtbot, arms, "4")
    assert preview.data.n_classes == 4


def test_structural_change_mid_run_waits_for_reset(qtbot, tv):
    win, view = tv
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 10, timeout=WAIT)
    type_into(qtbot, named(win, QLineEdit, "hiddenEdit"), "4")
    reset = named(win, QPushButton, "trainResetButton")
    assert "Reset" in reset.text() and reset.text() != "Reset"  # marked as pending
    assert "Reset" in view.message_text()
    assert view.controller.engine.config.hidden == (8, 8)  # the running run is untouched
    click(qtbot, reset)
    qtbot.waitUntil(
        lambda: not view.model.awaiting_reset and view.controller.engine.config.hidden == (4,),
        timeout=WAIT,
    )
    assert reset.text() == "Reset"


def test_bad_hidden_layers_show_a_message_and_start_refuses(qtbot, tv):
    win, view = tv
    edit = named(win, QLineEdit, "hiddenEdit")
    type_into(qtbot, edit, "16,x")
    error = view.controls.net.hidden_error
    assert error.isVisible() and "whole numbers" in error.text()
    click(qtbot, named(win, QPushButton, "trainResetButton"))
    assert "whole numbers" in view.message_text()
    type_into(qtbot, edit, "16")
    assert not error.isVisible()


def test_unicode_digits_in_hidden_layers_are_refused_with_a_message(qtbot, tv):
    """Unicode digits ("²", "①") pass str.isdigit() but are no width: refused like "16,x", not an internal
    error (the unexpected-error dialog)."""
    win, view = tv
    edit = named(win, QLineEdit, "hiddenEdit")
    error = view.controls.net.hidden_error
    for text in ("\u00b2", "16,\u2460", "16,\u0663"):
        edit.setText(text)  # pasted: QTest cannot type characters beyond Latin-1
        assert error.isVisible() and "whole numbers" in error.text(), text
        click(qtbot, named(win, QPushButton, "trainResetButton"))
        assert "whole numbers" in view.message_text()
    type_into(qtbot, edit, "16")
    assert not error.isVisible()


def test_device_combo_lists_cpu_and_simulated_cuda(qtbot, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"Fake GPU {i}")
    win = MainWindow()
    qtbot.addWidget(win)
    win.show_view("training")
    combo = named(win, QComboBox, "deviceCombo")
    names = [combo.itemData(i) for i in range(combo.count())]
    assert names[0] == "cpu" and {"cuda", "cuda:0", "cuda:1"} <= set(names)
    model = combo.model()
    assert model.item(names.index("cuda:1")).isEnabled()
    assert not model.item(names.index("mps")).isEnabled()  # shown, disabled, reason as tip
    assert combo.itemData(names.index("mps"), Qt.ItemDataRole.ToolTipRole)
    win.close()


def test_without_cuda_the_entry_is_disabled_and_cannot_start(qtbot, tv, monkeypatch):
    win, view = tv
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    combo = named(win, QComboBox, "deviceCombo")
    view.controls.refresh_devices()
    row = combo.findData("cuda")
    assert row > 0 and not combo.model().item(row).isEnabled()
    reason = combo.itemData(row, Qt.ItemDataRole.ToolTipRole)
    assert "CUDA" in reason or "cuda" in reason
    combo.setCurrentIndex(row)  # e.g. restored from a GPU machine's settings
    assert "not available" in view.message_text()
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    assert "Cannot train" in view.message_text() and "not available" in view.message_text()
    qtbot.wait(100)
    assert view.controller.engine.step_count == 0 and view.model.state != "running"
    combo.setCurrentIndex(combo.findData("cpu"))  # back to a device that works: trains
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 3, timeout=WAIT)


def test_absurd_lr_diverges_visibly_and_reset_recovers(qtbot, tv):
    win, view = tv
    type_into(qtbot, named(win, QLineEdit, "hiddenEdit"), "16,16")
    combo = named(win, QComboBox, "optimizerCombo")
    combo.setCurrentIndex(combo.findData("SGD"))
    settle(qtbot, view)
    type_into(qtbot, named(win, QAbstractSpinBox, "trainHp_momentumSpin"), "0.9")
    type_into(qtbot, named(win, QAbstractSpinBox, "trainLrSpin"), "1000")
    group = view.controller.engine.lanes[0].optimizer.param_groups[0]
    qtbot.waitUntil(lambda: (group["lr"], group["momentum"]) == (1000, 0.9), timeout=WAIT)
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: view.model.state == "diverged", timeout=WAIT)
    assert "diverged" in view.message_text() and "Lower the learning rate" in view.message_text()
    assert any("diverged" in t for t in view.plots.legend_texts())
    qtbot.waitUntil(lambda: "diverged" in win.status_label.text(), timeout=WAIT)
    assert not named(win, QPushButton, "trainStepButton").isEnabled()
    assert named(win, QPushButton, "trainRunButton").text() == "Restart"

    type_into(qtbot, named(win, QAbstractSpinBox, "trainLrSpin"), "0.05")
    click(qtbot, named(win, QPushButton, "trainResetButton"))
    qtbot.waitUntil(
        lambda: not view.model.awaiting_reset and view.model.state == "ready", timeout=WAIT
    )
    assert view.message_text() == "" and points(view) == 0
    assert not any("diverged" in t for t in view.plots.legend_texts())
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 30, timeout=WAIT)
    assert view.model.state == "running"


def test_race_mode_draws_one_curve_per_optimizer(qtbot, tv):
    win, view = tv
    add_combo = named(win, QComboBox, "raceAddCombo")
    add_combo.setCurrentIndex(add_combo.findData("SGD"))
    click(qtbot, named(win, QPushButton, "addRaceButton"))
    add_combo.setCurrentIndex(add_combo.findData("RMSprop"))
    click(qtbot, named(win, QPushButton, "addRaceButton"))
    assert named(win, QListWidget, "raceList").count() == 3
    settle(qtbot, view)
    assert len(view.controller.engine.config.optimizers) == 3
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: all(points(view, i) > 20 for i in range(3)), timeout=WAIT)
    texts = view.plots.legend_texts()
    assert len(texts) == 3 and texts[1].startswith("SGD") and texts[2].startswith("RMSprop")
    colors = {lane.color for lane in view.plots.lanes}
    assert len(colors) == 3
    lane_combo = named(win, QComboBox, "boundaryLaneCombo")
    assert lane_combo.isVisible() and lane_combo.count() == 3
    # live lr goes to the selected lane only
    named(win, QListWidget, "raceList").setCurrentRow(1)
    type_into(qtbot, named(win, QAbstractSpinBox, "trainLrSpin"), "0.2")
    engine = view.controller.engine
    qtbot.waitUntil(lambda: view.model.lane_lrs[1] == pytest.approx(0.2), timeout=WAIT)
    assert view.model.lane_lrs[0] == pytest.approx(0.01) and engine.config.optimizers[1]


def test_decision_boundary_and_early_stop_marker_appear(qtbot, tv):
    win, view = tv
    type_into(qtbot, named(win, QSpinBox, "patienceSpin"), "1")
    settle(qtbot, view)
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: view.plots.boundary_step > 0, timeout=WAIT)
    assert view.plots.image.image is not None and view.plots.image.image.shape[:2] == (80, 80)
    qtbot.waitUntil(lambda: bool(view.plots.marker_positions("early")), timeout=WAIT)
    assert "has not improved" in view.message_text()


def test_theme_and_zoom_changes_restyle_without_errors(qtbot, tv):
    win, view = tv
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 10, timeout=WAIT)
    win.set_theme("dark")
    win.theme.zoom_in()
    qtbot.waitUntil(lambda: points(view) > 40, timeout=WAIT)
    pen = view.plots.lanes[0].items["smooth"].opts["pen"]
    assert pen.widthF() == pytest.approx(2.5 * win.theme.scale)


@pytest.mark.qt_log_level_fail("WARNING")
@pytest.mark.qt_log_ignore(helpers.OFFSCREEN_NOISE)
def test_closing_mid_training_stops_the_worker_quickly(qtbot, monkeypatch):
    py_before = {t.ident for t in threading.enumerate()}
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.tabs.setCurrentIndex(1)
    view = win.training_view
    type_into(qtbot, named(win, QSpinBox, "epochsSpin"), "100000")
    settle(qtbot, view)
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: points(view) > 20, timeout=WAIT)
    thread = view.controller.thread()
    engine = view.controller.engine
    assert thread.isRunning()
    with thread_waits(monkeypatch) as waits:
        win.close()
    assert thread.isFinished() and not thread.isRunning()
    # "quickly", without a clock: the close waited for the worker with a deadline within the
    # shutdown budget, the worker ended within it, and it ended because it was told to stop
    assert waits and all(
        isinstance(ms, int) and ms <= SHUTDOWN_BUDGET_S * 1000 and ended for ms, ended in waits
    )
    assert engine.state != "finished" and engine.step_count < 100000 * engine.batches_per_epoch
    gc.collect()
    leaked = [t for t in threading.enumerate() if t.ident not in py_before and t.is_alive()]
    assert leaked == []
    assert helpers.running_qthreads() == []


def test_settings_round_trip(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    c = first.training_view.controls
    c.data.dataset_combo.setCurrentIndex(c.data.dataset_combo.findData("spiral"))
    c.data.option_spins["arms"].setValue(5)
    type_into(qtbot, c.net.hidden_edit, "32,16")
    c.net.activation_combo.setCurrentIndex(c.net.activation_combo.findData("tanh"))
    c.race.race_add_combo.setCurrentIndex(c.race.race_add_combo.findData("SGD"))
    c.race.add_race_button.click()
    first.training_view.lr_control.setValue(0.003)  # lane 1 (SGD) is selected
    c.schedule.scheduler_combo.setCurrentIndex(c.schedule.scheduler_combo.findData("StepLR"))
    c.run.batch_spin.setValue(64)
    c.run.patience_spin.setValue(0)
    c.display.log_check.setChecked(False)
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    c2 = second.training_view.controls
    config = c2.config()
    assert config.dataset == "spiral" and config.dataset_options == {"arms": 5}
    assert config.hidden == (32, 16) and config.activation == "tanh"
    assert config.optimizers == ("Adam(lr=0.01)", "SGD(lr=0.003)")
    assert config.scheduler == "StepLR" and config.batch_size == 64 and config.patience is None
    assert not c2.display.log_check.isChecked()
    assert second.training_view.lr_control.value() == pytest.approx(0.01)  # lane 0 selected
    second.close()


def test_corrupt_view_settings_are_ignored_with_a_warning(qtbot, caplog):
    import logging

    from app.settings import open_settings

    s = open_settings()
    s.beginGroup("views/training")
    for key, value in {
        "dataset": "no-such-set",
        "samples": "many",
        "hidden": "16,banana",
        "optimizers": ["Adam(lr=-1)", "SGD(lr=0.1)"],
        "device": "tpu",
        "epochs": -3,
        "splitter": "xx",
    }.items():
        s.setValue(key, value)
    s.endGroup()
    s.sync()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = MainWindow()
        qtbot.addWidget(win)
    config = win.training_view.controls.config()
    assert config.dataset == "moons" and config.samples == 1000 and config.hidden == (16, 16)
    assert config.optimizers == ("SGD(lr=0.1)",) and config.device == "cpu"
    assert config.epochs == 30
    for key in ("dataset", "samples", "hidden", "Adam(lr=-1)", "device", "epochs"):
        assert key in caplog.text
    win.close()


def test_curves_stay_bounded_and_keep_their_shape(qapp):
    """An hour at thousands of batches a second: bounded storage, spikes and the newest point
    kept (the loss curve's history must not lose its shape)."""
    import numpy as np

    from app.views.training_plots import (
        RAW_POINTS,
        SMOOTH_POINTS,
        NoiseBand,
        StrideBuffer,
        TrainingPlots,
    )
    from core.engine.datasets import make_dataset

    plots = TrainingPlots()
    plots.reset(["Adam(lr=0.01)"], 25, make_dataset("moons", samples=100), epochs=1_000_000)
    n = 2_000_000
    steps = np.arange(n)
    losses = np.full(n, 0.5)
    losses[1_234_567] = 40.0  # one spike somewhere in the middle
    for chunk in range(0, n, 100_000):
        plots.add_losses(0, steps[chunk : chunk + 100_000], losses[chunk : chunk + 100_000])
    lane = plots.lanes[0]
    x, y = lane.raw.data()
    assert x.size <= RAW_POINTS + 4 and y.max() == 40.0
    xs, ys = lane.smooth.data()
    assert xs.size <= SMOOTH_POINTS + 1 and xs[-1] == n / 25
    plots.redraw()
    band = lane.items["raw"]
    assert isinstance(band, NoiseBand) and band.sample_count() == x.size
    top = band.path().boundingRect()
    assert top.top() == pytest.approx(np.log10(0.5)) and top.bottom() == pytest.approx(np.log10(40))

    sb = StrideBuffer(10)
    for i in range(0, 1000, 7):
        sb.extend(np.arange(i, i + 7), np.arange(i, i + 7) * 2.0)
    sx, sy = sb.data()
    assert len(sb) == 1001 and sx.size <= 11 and sx[-1] == 1000 and np.all(np.diff(sx) > 0)
