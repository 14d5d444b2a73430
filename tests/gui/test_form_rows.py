"""Forms whose rows are rebuilt: a rebuild run from inside one of the old rows' signals must not
delete that row's widget under it (``QFormLayout.removeRow`` did: segfaults in test_stress)."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QFormLayout, QSpinBox, QVBoxLayout, QWidget

from app.views.training_panel_data import DataSection
from app.views.training_panel_parts import Quiet
from app.widgets.form_rows import retire_rows
from tests.gui.helpers import named


def test_a_form_rebuilt_from_its_own_row_keeps_that_widget_until_the_event_loop(qtbot):
    box = QWidget()
    qtbot.addWidget(box)
    form = QFormLayout(box)
    retired: list[QWidget] = []

    def build() -> QSpinBox:
        spin = QSpinBox(box)
        spin.setObjectName("countSpin")
        spin.valueChanged.connect(rebuild)
        form.addRow("Count", spin)
        return spin

    alive_in_signal = []

    def rebuild(_value: int) -> None:
        retire_rows(form, retired)
        build()
        alive_in_signal.append(shiboken6.isValid(old))

    old = build()
    old.setValue(3)  # the rebuild runs inside old's valueChanged
    assert alive_in_signal == [True]
    assert form.rowCount() == 1 and named(box, QSpinBox, "countSpin") is not old
    qtbot.waitUntil(lambda: not shiboken6.isValid(old))
    assert [shiboken6.isValid(w) for w in retired] == [False, False]  # label and spin


def test_data_options_rebuilt_from_one_of_them_keep_it_until_the_event_loop(qtbot):
    panel = QWidget()
    qtbot.addWidget(panel)
    data = DataSection(panel, Quiet(), QVBoxLayout(panel))
    data.dataset_combo.setCurrentIndex(data.dataset_combo.findData("spiral"))
    arms = data.option_spins["arms"]
    alive_in_signal = []

    def rebuild(_value: int) -> None:  # e.g. a session applied from a value change
        data.rebuild_options("spiral")
        alive_in_signal.append(shiboken6.isValid(arms))

    arms.valueChanged.connect(rebuild)
    arms.setValue(arms.value() + 1)
    assert alive_in_signal == [True]
    assert named(panel, QSpinBox, "datasetOption_arms") is data.option_spins["arms"] is not arms
    qtbot.waitUntil(lambda: not shiboken6.isValid(arms))
