"""The Training view's learning rate: a page with the lr every batch used, markers where a
schedule jumped or stopped, and the lr in the CSV (issue 14 items 1 and 8)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QSpinBox

from app import export
from tests.gui.helpers import click, named, settle, tiny_training, type_into

WAIT = 60_000


@pytest.fixture
def tv(qtbot, window):
    view = tiny_training(qtbot, window)  # 10 batches per epoch
    type_into(qtbot, named(view, QSpinBox, "epochsSpin"), "6")
    settle(qtbot, view)
    return window, view


def run_to_the_end(qtbot, win, view):
    settle(qtbot, view)
    engine = view.controller.engine
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: engine.state == "finished", timeout=WAIT)
    qtbot.waitUntil(lambda: view.model.steps == 60, timeout=WAIT)
    view.plots.flush()
    return engine


def drawn_lrs(view, lane: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = view.plots.lanes[lane].items["lrs"].getOriginalDataset()
    return np.asarray(x), np.asarray(y)


def test_the_lr_page_draws_every_batch_and_marks_the_drops(qtbot, tv):
    win, view = tv
    tabs = view.pages.tabs
    assert "Learning rate" in [tabs.tabText(i) for i in range(tabs.count())]
    combo = named(win, QComboBox, "schedulerCombo")
    combo.setCurrentIndex(combo.findData("StepLR"))  # defaults: a drop every 6 // 3 epochs
    base = view.controls.config().optimizer_specs()[0].hparams()["lr"]
    run_to_the_end(qtbot, win, view)
    x, y = drawn_lrs(view)
    assert x.tolist() == pytest.approx([(b + 1) / 10 for b in range(60)])
    want = [base] * 20 + [base * 0.1] * 20 + [base * 0.1 * 0.1] * 20
    np.testing.assert_allclose(y, want, rtol=1e-12)
    assert view.plots.marker_positions("lr") == [2.0, 4.0]  # not after the last epoch
    header, *rows = [r.split(",") for r in export.training_csv_text(view).splitlines()[1:]]
    assert header[-1] == "lr"
    np.testing.assert_allclose([float(r[-1]) for r in rows], want, rtol=1e-12)


def test_onecycle_past_its_end_holds_and_both_plots_say_so(qtbot, tv):
    win, view = tv
    view.controls.schedule.select("OneCycleLR(total_steps=25)")  # as a session sets it
    engine = run_to_the_end(qtbot, win, view)
    assert engine.lanes[0].schedule.held
    _x, y = drawn_lrs(view)
    assert y[24] > 0 and np.all(y[24:] == y[24])  # batch 25 used the last rate; it stays
    assert view.plots.marker_positions("lr") == [2.5]
    (line,) = view.plots.marks.lr_lines
    assert line.value() == 2.5 and "held" in line.label.toPlainText()


def test_a_typed_composition_with_a_formula_trains_as_torch_would(qtbot, tv):
    import torch

    win, view = tv
    edit = named(win, QLineEdit, "schedulerSpecEdit")
    error = named(win, QLabel, "schedulerError")
    before = view.controls.config().scheduler
    type_into(qtbot, edit, "LambdaLR(lr_lambda='epoch +')")
    assert error.isVisible() and "lr_lambda: unexpected end of expression" in error.text()
    assert "\n" not in error.text() and view.controls.config().scheduler == before
    text = (
        "SequentialLR(schedulers=[ConstantLR(factor=0.5, total_iters=1), "
        "LambdaLR(lr_lambda='0.5^epoch')], milestones=[2])"
    )
    type_into(qtbot, edit, text)
    assert not error.isVisible() and view.controls.config().scheduler == text
    assert named(win, QComboBox, "schedulerCombo").currentText() == text
    base = view.controls.config().optimizer_specs()[0].hparams()["lr"]
    run_to_the_end(qtbot, win, view)

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    first = torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=1)
    second = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda e: 0.5**e)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [first, second], milestones=[2])
    want = []
    for _ in range(6):
        want += [opt.param_groups[0]["lr"]] * 10
        opt.step()
        sched.step()
    assert drawn_lrs(view)[1].tolist() == want


def test_the_lr_slider_follows_the_selected_optimizer(qtbot, tv):
    # issue 15 item 9: one 1e-5..1000 slider for every optimizer made a short drag jump decades
    from core.engine.optimizers import get_optimizer

    _win, view = tv
    combo = view.controls.race.optimizer_combo
    seen = set()
    for name in ("SGD", "LBFGS", "Adam"):
        combo.setCurrentIndex(combo.findData(name))
        want = get_optimizer(name).hparam("lr").slider_range()
        assert view.lr_control.range() == pytest.approx(want), name
        seen.add(view.lr_control.range())
    assert len(seen) == 3
