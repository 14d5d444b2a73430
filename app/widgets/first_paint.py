"""Run something once a widget's first frame is on screen (work that can wait for it)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    def __init__(self, widget: QWidget, fn: Callable[[], object]) -> None:
        super().__init__(widget)  # dies with the widget: a widget never painted calls nothing
        self._fn = fn
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self, self._fire)  # after this frame, not inside its painting
        return False

    def _fire(self) -> None:
        fn, self._fn = self._fn, None
        self.deleteLater()
        if fn is not None:
            fn()


def after_first_paint(widget: QWidget, fn: Callable[[], object]) -> None:
    """Call ``fn`` on the event-loop turn after ``widget`` is first painted."""
    _FirstPaint(widget, fn)
