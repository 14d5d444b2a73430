"""Who gets a key or a wheel turn: the window's run keys, the focused control, or the panel.

One application event filter (``InputGuard``) applies the same rules to every control, without
per-widget code: a focused control that uses a run key keeps it, Enter presses a focused button,
Enter/Escape in a number field hand the keyboard back to the view, buttons take focus from Tab
only, the wheel scrolls a panel unless the control under it has the focus, and a Tab-reached
control wears a projector-visible focus ring.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject, QPoint, QRectF, Qt, Slot
from PySide6.QtGui import QFocusEvent, QKeyEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTabBar,
    QTextEdit,
    QToolButton,
    QWidget,
)
from shiboken6 import isValid

_SPACE = {int(Qt.Key.Key_Space)}
_RIGHT = {int(Qt.Key.Key_Right)}
_ENTER = {int(Qt.Key.Key_Return), int(Qt.Key.Key_Enter)}
_ESCAPE = int(Qt.Key.Key_Escape)

#: Controls that use a bare run key themselves (text fields use them all: ``is_text_input``).
KEY_OWNERS: tuple[tuple[type[QWidget], set[int]], ...] = (
    (QAbstractButton, _SPACE),  # push buttons, tool buttons, check boxes
    (QComboBox, _SPACE),  # opens the list
    (QAbstractItemView, _SPACE),  # toggles / selects the current row
    (QAbstractSlider, _RIGHT),  # ← and → both move it
    (QTabBar, _RIGHT),
)

#: Focus policy by control type: click-focus only where typing or arrows follow a click.
TAB_ONLY = (QAbstractButton, QComboBox)
CLICK_NOT_WHEEL = (QAbstractSpinBox, QAbstractSlider)
#: Controls a wheel turn changes; inside a scroll area only when they have the focus.
WHEEL_TAKERS = (QComboBox, QAbstractSpinBox, QSlider)  # not QScrollBar: it is how areas scroll


def is_text_input(widget: QObject | None) -> bool:
    """True if ``widget`` (or an ancestor in its window) is an *editable* text field.

    Read-only fields do not type, so the run keys keep working there.
    """
    w = widget if isinstance(widget, QWidget) else None
    while w is not None:
        if isinstance(w, (QLineEdit, QAbstractSpinBox)):
            return not w.isReadOnly()
        if isinstance(w, (QPlainTextEdit, QTextEdit)):
            return not w.isReadOnly()
        if isinstance(w, QComboBox):
            return w.isEditable()
        if w.isWindow():
            return False
        w = w.parentWidget()
    return False


def uses_key(widget: QObject | None, key: int) -> bool:
    """Whether the focused ``widget`` does something with the bare ``key`` itself."""
    if is_text_input(widget):
        return True
    return any(isinstance(widget, cls) and key in keys for cls, keys in KEY_OWNERS)


def view_of(widget: QWidget) -> QWidget | None:
    """The view (a widget offering ``shortcut_targets``) that ``widget`` sits in, if any."""
    w: QWidget | None = widget
    while w is not None and not w.isWindow():
        if callable(getattr(w, "shortcut_targets", None)):
            return w
        w = w.parentWidget()
    return None


def release_keyboard(widget: QWidget) -> None:
    """Move the focus from ``widget`` to its view (else its window): the run keys work again."""
    target = view_of(widget) or widget.window()
    target.setFocus(Qt.FocusReason.OtherFocusReason)


def revert_spin(spin: QAbstractSpinBox) -> None:
    """Show the spin box's value again, dropping what was typed (Qt has no public call)."""
    if isinstance(spin, (QSpinBox, QDoubleSpinBox)):
        special = spin.specialValueText()
        if special and spin.value() == spin.minimum():
            text = special
        else:
            text = spin.prefix() + spin.textFromValue(spin.value()) + spin.suffix()
        spin.lineEdit().setText(text)


def tab_stops(container: QWidget) -> list[QWidget]:
    """The controls Tab visits inside ``container`` (in creation order)."""
    out = []
    for w in container.findChildren(QWidget):
        parent = w.parentWidget()
        if isinstance(parent, (QAbstractSpinBox, QComboBox)):  # a spin box's own line edit
            continue
        if w.focusProxy() is None and w.focusPolicy() & Qt.FocusPolicy.TabFocus:
            out.append(w)
    return out


def order_tab_stops(container: QWidget) -> None:
    """Make Tab visit ``container``'s controls as they are laid out: row by row, top to bottom,
    left to right within a row. Creation order is not layout order: a rebuilt form's fields
    came after every panel below it, and controls made before their group box came first."""
    placed = []
    for w in tab_stops(container):
        if w.isVisibleTo(container):
            top = w.mapTo(container, QPoint(0, 0)).y()
            placed.append((top, top + w.height(), w.mapTo(container, QPoint(0, 0)).x(), w))
    placed.sort(key=lambda p: (p[0], p[2]))
    rows: list[list[tuple[int, int, int, QWidget]]] = []
    for p in placed:  # a control that overlaps the row's height vertically is on that row
        if rows and p[0] < min(q[1] for q in rows[-1]):
            rows[-1].append(p)
        else:
            rows.append([p])
    ordered = [p[3] for row in rows for p in sorted(row, key=lambda p: p[2])]
    for first, second in zip(ordered, ordered[1:], strict=False):
        QWidget.setTabOrder(first, second)


def _scroll_area(widget: QWidget) -> QScrollArea | None:
    w = widget.parentWidget()
    while w is not None and not w.isWindow():
        if isinstance(w, QScrollArea):
            return w
        w = w.parentWidget()
    return None


def adopt_focus_policy(widget: QWidget) -> None:
    """The focus policy the rules above give ``widget`` (dialogs keep Qt's own)."""
    if isinstance(widget.window(), QDialog):
        return
    policy = widget.focusPolicy()
    if isinstance(widget, TAB_ONLY) and not is_text_input(widget):
        if policy & Qt.FocusPolicy.TabFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    elif isinstance(widget, CLICK_NOT_WHEEL) and policy == Qt.FocusPolicy.WheelFocus:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


FOCUS_RING_PX = 2
_KEYBOARD_REASONS = (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason)


class FocusRing(QWidget):
    """The ring around the control the keyboard is on, drawn just outside it in the control's
    parent (it follows the control as it moves, resizes or hides; clicks pass through)."""

    MARGIN = FOCUS_RING_PX + 1

    def __init__(self) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._target: QWidget | None = None

    def widget(self) -> QWidget | None:
        return self._target

    def setWidget(self, target: QWidget | None) -> None:  # noqa: N802 (QFocusFrame's name)
        if self._target is not None and isValid(self._target):
            self._target.removeEventFilter(self)
            self._target.destroyed.disconnect(self._lost)
        self._target = target
        if target is None or target.parentWidget() is None:
            self.hide()
            return
        self.setParent(target.parentWidget())
        target.installEventFilter(self)
        target.destroyed.connect(self._lost)
        self._follow()

    @Slot()
    def _lost(self) -> None:
        self._target = None  # (a rebuilt form deleted the control)
        self.hide()

    def _follow(self) -> None:
        target = self._target
        if target is None or not isValid(target) or not target.isVisible():
            self.hide()
            return
        m = self.MARGIN
        self.setGeometry(target.geometry().adjusted(-m, -m, m, m))
        self.raise_()
        self.show()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self._target and event.type() in _FOLLOW_EVENTS:
            self._follow()
        return False

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), FOCUS_RING_PX))
        half = FOCUS_RING_PX / 2
        p.drawRoundedRect(QRectF(self.rect()).adjusted(half, half, -half, -half), 4, 4)
        p.end()


_FOLLOW_EVENTS = (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide)


class InputGuard(QObject):
    """The application event filter that applies the rules in the module docstring.

    ``run_keys`` are the bare keys the window has shortcuts for (Escape included: it leaves
    full screen, except in a text field, which keeps it).
    """

    def __init__(self, run_keys: set[int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._keys = run_keys
        self.ring: FocusRing | None = None
        self._handlers = {
            QEvent.Type.FocusIn: self._focus_in,
            QEvent.Type.ShortcutOverride: self._shortcut_override,
            QEvent.Type.KeyPress: self._key_press,
            QEvent.Type.Wheel: self._wheel,
            QEvent.Type.Polish: self._polish,
        }

    def adopt(self, root: QWidget) -> None:
        """Apply the focus policies to widgets polished before the guard was installed."""
        for w in [root, *root.findChildren(QWidget)]:
            adopt_focus_policy(w)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        handler = self._handlers.get(event.type())
        if handler is None or not isinstance(obj, QWidget):
            return False
        return handler(obj, event)

    def _shortcut_override(self, obj: QWidget, event: QEvent) -> bool:
        if not isinstance(event, QKeyEvent):
            return False
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        key = event.key()
        if key in self._keys and mods == Qt.KeyboardModifier.NoModifier and uses_key(obj, key):
            event.accept()  # "the widget wants this key": no shortcut fires, the widget gets it
            return True
        return False

    def _key_press(self, obj: QWidget, event: QEvent) -> bool:
        if not isinstance(event, QKeyEvent) or event.modifiers() & ~(
            Qt.KeyboardModifier.KeypadModifier
        ):
            return False
        key = event.key()
        if key in _ENTER and isinstance(obj, (QPushButton, QToolButton)):
            if isinstance(obj, QPushButton) and (obj.autoDefault() or obj.isDefault()):
                return False  # Qt presses those itself
            if obj.isEnabled():
                obj.click()
            return True
        if (
            isinstance(obj, QAbstractSpinBox)
            and not obj.isReadOnly()
            and (key in _ENTER or key == _ESCAPE)
            and view_of(obj) is not None
        ):
            if key == _ESCAPE:
                revert = getattr(obj, "revert", None)  # a box that says so (SciDoubleSpinBox)
                revert() if callable(revert) else revert_spin(obj)
            else:
                obj.keyPressEvent(event)  # applies the typed value (or says why not)
            release_keyboard(obj)
            return True
        return False

    def _wheel(self, obj: QWidget, event: QEvent) -> bool:
        if not isinstance(obj, WHEEL_TAKERS) or obj.hasFocus():
            return False
        area = _scroll_area(obj)
        if area is None:
            return False
        # handed to the panel itself (Qt would not pass on a synthesized one, as tests send)
        QApplication.sendEvent(area.viewport(), event.clone())
        event.accept()  # handled: Qt must not pass a real one on to the panel a second time
        return True

    def _focus_in(self, obj: QWidget, event: QEvent) -> bool:
        reason = event.reason() if isinstance(event, QFocusEvent) else None
        if reason == Qt.FocusReason.ActiveWindowFocusReason:
            return False  # the window came back: the ring stays where it was
        ring = self.ring if self.ring is not None and isValid(self.ring) else None
        if reason in _KEYBOARD_REASONS and view_of(obj) is not None:
            if ring is None:  # (the ring lives in the control's parent, and dies with it)
                ring = self.ring = FocusRing()
            ring.setWidget(obj)
        elif ring is not None and ring.widget() is not obj:
            ring.setWidget(None)
            ring.hide()
        return False

    def shutdown(self) -> None:
        if self.ring is not None and isValid(self.ring):
            self.ring.setWidget(None)
            self.ring.deleteLater()
            self.ring = None

    def _polish(self, obj: QWidget, _event: QEvent) -> bool:
        adopt_focus_policy(obj)
        return False


#: The guards installed on the application (weakly: a closed window's guard is gone).
_INSTALLED: weakref.WeakSet[InputGuard] = weakref.WeakSet()


def install(guard: InputGuard) -> None:
    app = QApplication.instance()
    if app is not None:
        app.installEventFilter(guard)
        _INSTALLED.add(guard)


def uninstall(guard: InputGuard) -> None:
    app = QApplication.instance()
    if app is not None:
        app.removeEventFilter(guard)
    _INSTALLED.discard(guard)


@contextmanager
def guards_paused() -> Iterator[None]:
    """Take the guards off the application for a burst of internal events and put them back.

    A zoom step sends ~2,000 font and geometry events, none of the kinds a guard handles, and
    an application filter written in Python costs a call into Python for every one of them.
    Only for synchronous work that handles no user input and creates no widgets."""
    app = QApplication.instance()
    guards = [g for g in _INSTALLED if isValid(g)] if app is not None else []
    for guard in guards:
        app.removeEventFilter(guard)
    try:
        yield
    finally:
        for guard in guards:
            if isValid(guard):
                app.installEventFilter(guard)
