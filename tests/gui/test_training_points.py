"""The decision-boundary picture keeps its boundary visible: markers shrink as data sets grow."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox


def shown_size(qtbot, window, samples: int) -> float:
    spin = window.findChild(QSpinBox, "samplesSpin")
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), str(samples))
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    plots = window.training_view.plots
    qtbot.waitUntil(
        lambda: plots.boundary.data is not None and plots.boundary.data.x.shape[0] == samples
    )
    assert len(plots.train_points.data) > 0
    return float(plots.train_points.opts["size"])  # one size for every marker


def test_markers_shrink_for_a_thousand_points_and_stay_readable(qtbot, window):
    window.show_view("training")
    small = shown_size(qtbot, window, 200)
    big = shown_size(qtbot, window, 1000)
    assert big < 0.7 * small  # the boundary between a thousand points stays visible
    assert big >= 3.5  # still a dot, not a speck
    assert shown_size(qtbot, window, 100) == small  # small sets keep the full size
