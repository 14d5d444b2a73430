"""Text above and on plots asks for the room it takes."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.widgets.plot_labels import WrappedTitle


def test_a_wrapped_title_asks_its_layout_for_all_its_lines(qtbot):
    """The decision boundary's title wrapped onto two lines at 200 % while its layout gave it
    one (Qt's minimum for a wrapped label), which pushed the plot out of its page."""
    box = QWidget()
    lay = QVBoxLayout(box)
    title = WrappedTitle("Decision boundary · epoch 60.0", box)
    lay.addWidget(title)
    qtbot.addWidget(box)
    line = title.fontMetrics().lineSpacing()
    box.resize(title.fontMetrics().horizontalAdvance("Decision boundary ·") + 10, 200)
    box.show()
    qtbot.waitUntil(lambda: title.minimumHeight() >= 2 * line)
    assert box.minimumSizeHint().height() >= 2 * line
    box.resize(2000, 200)  # one line again
    qtbot.waitUntil(lambda: title.minimumHeight() < 2 * line)
