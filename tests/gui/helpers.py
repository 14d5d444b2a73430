"""What a user does with the mouse and keyboard, for the GUI tests: find a control by its
objectName, scroll it into view, click it, type into it.

One copy for every test file, so that a fix to how a click or a keystroke is delivered (a check
box that reacts only on its indicator, a spin box that keeps its suffix, a control panel that
must be scrolled first) reaches all of them. Import them explicitly::

    from tests.gui.helpers import click, named, reveal, type_into

A test file whose controls all live under one view may keep a one-line wrapper such as
``def w(window, cls, name): return named(window.surface_view, cls, name)``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import TypeVar

import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, QThread
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QWidget,
)

T = TypeVar("T", bound=QObject)
W = TypeVar("W", bound=QWidget)

#: The offscreen platform warns about a feature it lacks; that is not our bug.
OFFSCREEN_NOISE = r"This plugin does not support"
#: A Qt warning fails the test (pytestmark = QT_WARNINGS_FAIL), except the offscreen one.
QT_WARNINGS_FAIL = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore(OFFSCREEN_NOISE),
]


def shown(qtbot, widget: W, width: int = 1280, height: int = 800) -> W:
    """``widget`` registered with qtbot (closed after the test), at that size, on screen."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def running_qthreads() -> list[QThread]:
    """Every QThread of the process still running, but the main one."""
    import shiboken6

    main = QApplication.instance().thread()
    return [
        o
        for o in gc.get_objects()
        if issubclass(type(o), QThread)  # type(): isinstance would poke lazy torch modules
        and shiboken6.isValid(o)
        and o is not main
        and o.isRunning()
    ]


def named(root: QObject, cls: type[T], name: str) -> T:
    """The one child of ``root`` of class ``cls`` with objectName ``name``.

    Asserts there is exactly one: a name that matches twice means the test could be driving a
    different control than the one on screen (e.g. a stale copy of a rebuilt form).
    """
    found = root.findChildren(cls, name)
    assert len(found) == 1, (
        f"expected exactly one {cls.__name__} named {name!r} under "
        f"{type(root).__name__} {root.objectName()!r}, found {len(found)}"
    )
    return found[0]


def reveal(widget: QWidget) -> None:
    """Scroll the enclosing QScrollArea (a view's control panel) so ``widget`` is on screen, as
    a user would, then let Qt process the events that causes.

    Events are processed first as well: controls that were just rebuilt are shown by a queued
    call, and a hidden widget cannot be scrolled to.
    """
    QApplication.processEvents()
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(widget)
    QApplication.processEvents()


def click(qtbot, widget: QWidget) -> None:
    """Reveal ``widget``, check it is enabled and left-click it.

    Buttons are clicked in their middle; a check box on its indicator (``QPoint(8, h/2)``),
    since it reacts only on its indicator and text, not on the empty width beyond them. Clicking
    a disabled control is a test bug (the click would silently do nothing), hence the assert.
    """
    reveal(widget)
    assert widget.isEnabled(), f"{widget.objectName() or type(widget).__name__} is disabled"
    if isinstance(widget, QCheckBox):
        pos = QPoint(8, widget.height() // 2)
    else:
        pos = widget.rect().center()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def type_into(qtbot, field: QWidget, text: str, enter: bool = True) -> None:
    """Replace the text of a line edit, spin box or editable combo box the way a user does:
    reveal it, focus it, Ctrl+A, Delete, type ``text`` and (unless ``enter=False``) press Enter.

    Keys go to the field itself, so a spin box selects only its value (Ctrl+A keeps a prefix,
    suffix or special-value text out of the selection) and sees the Enter that commits the
    value; an editable combo box gets them on its line edit. Focus is awaited only when the
    field is visible: a field on a page that is not shown (another tab) can never get it, and
    the key events reach it all the same.
    """
    reveal(field)
    target = field
    if isinstance(field, QComboBox):
        assert field.lineEdit() is not None, f"{field.objectName()} is not editable"
        target = field.lineEdit()
    target.setFocus()
    if target.isVisible():
        qtbot.waitUntil(target.hasFocus)
    qtbot.keyClick(target, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(target, Qt.Key.Key_Delete)
    qtbot.keyClicks(target, text)
    if enter:
        qtbot.keyClick(target, Qt.Key.Key_Return)


#: How long a test waits for something to happen (ms, a waitUntil deadline): generous for a
#: loaded 2-core machine; nothing here measures time.
WAIT = 15_000


def settle(qtbot, view) -> None:
    """Wait until the Training view's worker has its engine and no reset is on its way."""
    qtbot.waitUntil(
        lambda: view.controller.engine is not None and not view.model.awaiting_reset,
        timeout=WAIT,
    )


def map_drawn(qtbot, view) -> None:
    """Wait until the Surfaces view's map is drawn: a surface not shown before has its map
    computed on a worker, and the map says "computing map…" until then."""
    qtbot.waitUntil(lambda: not view.plots.map_pending, timeout=WAIT)


def tiny_training(qtbot, window, hidden: str = "8,8"):
    """The Training tab, set through its fields as a user types them to a tiny, long run (200
    samples, batch 16, 500 epochs): returns the view once the worker has built that engine."""
    window.show_view("training")
    view = window.training_view
    type_into(qtbot, named(view, QSpinBox, "samplesSpin"), "200")
    type_into(qtbot, named(view, QSpinBox, "batchSpin"), "16")
    type_into(qtbot, named(view, QSpinBox, "epochsSpin"), "500")
    type_into(qtbot, named(view, QLineEdit, "hiddenEdit"), hidden)
    settle(qtbot, view)
    assert view.controller.engine.config.samples == 200
    return view


@contextlib.contextmanager
def thread_waits(monkeypatch) -> Iterator[list[tuple[object, bool]]]:
    """Every ``QThread.wait`` made inside the block, as (its argument or None, what it returned).

    How a test proves a close is prompt without a clock: each wait has a deadline within the
    product's budget and returned True (the worker obeyed the stop in time), or False and the
    worker was parked. A wait without a deadline (None) could block the GUI for ever.
    """
    waits: list[tuple[object, bool]] = []
    real = QThread.wait

    def wait(thread: QThread, *args):
        ended = real(thread, *args)
        waits.append((args[0] if args else None, bool(ended)))
        return ended

    with monkeypatch.context() as patch:
        patch.setattr(QThread, "wait", wait)
        yield waits


def map_values(cmap):
    """The values a ContourMap colours, shape (ny, nx); nan where the field is undefined."""
    image = cmap.image.image  # the ImageItem is column-major: [x, y]
    return None if image is None else image.T


def data_to_widget(cmap, x: float, y: float) -> QPointF:
    """Viewport coordinates of data point (x, y) on a ContourMap: where to click it."""
    return cmap.mapFromScene(cmap.getViewBox().mapViewToScene(QPointF(x, y))).toPointF()


def slow_compute(monkeypatch, delay: float = 0.03) -> None:
    """Make every reported row take ``delay`` s longer, so Cancel/close land mid-computation."""
    import app.views.training_landscape as landscape_mod

    real = landscape_mod.compute_landscape

    def slowed(*args, report=None, **kwargs):
        import time

        def slow_report(fraction, text):
            time.sleep(delay)
            report(fraction, text)

        return real(*args, report=slow_report, **kwargs)

    monkeypatch.setattr(landscape_mod, "compute_landscape", slowed)
