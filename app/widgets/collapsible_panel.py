"""A titled side panel that collapses to a thin strip, giving the plot the whole width.

Why: on a 1024×768 projector the controls would eat a third of the plot the class is
looking at. Collapsed, the panel is a strip with a toggle button and its title written
vertically, so it is obvious where the controls went. The content sits in a scroll area so a
long form still fits a short laptop screen.

Expanded, the panel gives way first: it takes at most ``PANEL_SHARE`` of its parent's width,
and no more than leaves the plots the room they need side by side (``leave_room``), unless its
controls cannot be narrower. Zooming in at 1024×768 made the panel as wide as the plots, which
then went to tabs; now its forms wrap and its content scrolls instead.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.input_policy import order_tab_stops
from app.plaintext import PlainLabel

PANEL_SHARE = 0.4  # of the view's width, at most, for an expanded panel: plots keep 60 %


class _VerticalLabel(QWidget):
    """The title written bottom-to-top on the collapsed strip."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

    def setText(self, text: str) -> None:  # noqa: N802
        self._text = text
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        fm = self.fontMetrics()
        return QSize(fm.height() + 6, fm.horizontalAdvance(self._text) + 12)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().height() + 6, 0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        p.translate(0, self.fontMetrics().horizontalAdvance(self._text) + 6)
        p.rotate(-90)
        p.drawText(0, (self.width() + self.fontMetrics().ascent() - self.fontMetrics().descent()) // 2,
                   self._text)  # fmt: skip
        p.end()


class CollapsiblePanel(QFrame):
    """Side panel with a header (title + collapse button) over a scrollable content widget.

    ``side`` is where the panel sits relative to the plot ("right" or "left"); the arrows
    point the way the panel will move. ``setContent(widget)`` installs the controls;
    ``setExpanded``/``toggle`` collapse it; ``expandedChanged(bool)`` reports it.
    """

    expandedChanged = Signal(bool)

    def __init__(
        self,
        title: str = "Controls",
        parent: QWidget | None = None,
        *,
        side: str = "right",
        content: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if side not in ("left", "right"):
            raise ValueError("side must be 'left' or 'right'")
        self.setObjectName("controlPanel")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._side = side
        self._expanded = True
        self._title = title

        self._toggle = QToolButton(self)
        self._toggle.setObjectName("panelToggle")
        self._toggle.setAutoRaise(True)
        self._toggle.clicked.connect(self.toggle)

        self._title_label = PlainLabel(title, self)
        self._title_label.setObjectName("panelTitle")
        # bold through a style sheet, not setFont(): an explicit font would stop following zoom
        self._title_label.setStyleSheet("font-weight: bold;")
        self._strip_label = _VerticalLabel(title, self)
        self._strip_label.setObjectName("panelStripTitle")

        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 4, 4)
        header.addWidget(self._title_label, 1)
        header.addWidget(self._toggle)

        self._scroll = QScrollArea(self)
        self._scroll.setObjectName("panelScroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self._strip = QWidget(self)
        strip_lay = QVBoxLayout(self._strip)
        strip_lay.setContentsMargins(2, 4, 2, 4)
        strip_lay.addWidget(self._strip_label, 1, Qt.AlignmentFlag.AlignHCenter)

        self._body = QVBoxLayout(self)
        self._body.setContentsMargins(0, 0, 0, 0)
        self._body.setSpacing(0)
        self._body.addLayout(header)
        self._body.addWidget(self._scroll, 1)
        self._body.addWidget(self._strip, 1)
        self._header = header
        self._tab_timer = QTimer(self)
        self._tab_timer.setSingleShot(True)
        self._tab_timer.setInterval(0)
        self._tab_timer.timeout.connect(self._order_tabs)
        self._watched: QWidget | None = None  # the parent whose width caps ours
        self._room: Callable[[], int] | None = None  # what the parent's plots need (px)
        self._watch_parent()
        if content is not None:
            self.setContent(content)
        self._apply()

    # -- content -------------------------------------------------------------------------
    def setContent(self, widget: QWidget) -> None:  # noqa: N802
        """Install the panel's controls (the previous content widget is deleted)."""
        old = self._scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self._scroll.setWidget(widget)
        widget.installEventFilter(self)  # re-measure when its layout changes (zoom, new rows)
        self._update_width()

    def content(self) -> QWidget | None:
        return self._scroll.widget()

    def title(self) -> str:
        return self._title

    def setTitle(self, title: str) -> None:  # noqa: N802
        self._title = title
        self._title_label.setText(title)
        self._strip_label.setText(title)
        self._apply()

    # -- showing what an action shows ----------------------------------------------------
    def reveal(self, *widgets: QWidget) -> None:
        """Expand the panel and scroll so that ``widgets`` (in the content) are in view: what
        an action shows there (a narration line) must not sit scrolled out of sight. Again
        once the layout has settled (the action may have grown the content)."""
        self.setExpanded(True)
        self._ensure_visible(widgets)
        QTimer.singleShot(0, self, lambda: self._ensure_visible(widgets))

    def scroll_to_top(self) -> None:
        """Back to the panel's first controls (Start/Step/Reset), now and once laid out."""
        bar = self._scroll.verticalScrollBar()
        bar.setValue(bar.minimum())
        QTimer.singleShot(0, bar, lambda: bar.setValue(bar.minimum()))

    def _ensure_visible(self, widgets: tuple[QWidget, ...]) -> None:
        for widget in widgets:
            if widget.isVisible():
                self._scroll.ensureWidgetVisible(widget, 0, 8)

    # -- collapsing ----------------------------------------------------------------------
    def isExpanded(self) -> bool:  # noqa: N802
        return self._expanded

    @Slot(bool)
    def setExpanded(self, expanded: bool) -> None:  # noqa: N802
        expanded = bool(expanded)
        if expanded == self._expanded:
            return
        self._expanded = expanded
        self._apply()
        self.expandedChanged.emit(expanded)

    @Slot()
    def toggle(self) -> None:
        self.setExpanded(not self._expanded)

    def _apply(self) -> None:
        e = self._expanded
        # collapsed, the header is just the button: thin margins keep the strip thin
        self._header.setContentsMargins(*((6, 4, 4, 4) if e else (2, 4, 2, 4)))
        self._scroll.setVisible(e)
        self._title_label.setVisible(e)
        self._strip.setVisible(not e)
        towards_plot = "◀" if self._side == "right" else "▶"
        away = "▶" if self._side == "right" else "◀"
        self._toggle.setText(away if e else towards_plot)
        verb = "Hide" if e else "Show"
        self._toggle.setToolTip(
            f"{verb} the {self._title.lower()} panel (View ▸ Show control panel)"
        )
        self._toggle.setAccessibleName(f"{verb} {self._title}")
        self._update_width()

    def _update_width(self) -> None:
        if self._expanded:
            self.setMinimumWidth(0)
            content = self._scroll.widget()
            if content is not None:
                bar = self._scroll.verticalScrollBar().sizeHint().width()
                self._scroll.setMinimumWidth(content.minimumSizeHint().width() + bar + 4)
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
            self.setMaximumWidth(self.width_cap())
            self.updateGeometry()  # the content's wish changed (see sizeHint)
        else:
            frame = 2 * self.frameWidth()
            inner = max(self._toggle.sizeHint().width(), self._strip_label.sizeHint().width())
            self.setFixedWidth(inner + frame + 4)

    def sizeHint(self) -> QSize:  # noqa: N802
        """The content's own wish, measured now: QScrollArea keeps the size hint its widget
        had first, so after a zoom step the panel asked for the old zoom's width."""
        hint = super().sizeHint()
        content = self._scroll.widget()
        if self._expanded and content is not None:
            bar = self._scroll.verticalScrollBar().sizeHint().width()
            frame = 2 * (self.frameWidth() + self._scroll.frameWidth())
            want = content.sizeHint().width() + bar + 4 + frame
            hint.setWidth(max(self.minimumSizeHint().width(), want))
        return hint

    def leave_room(self, need: Callable[[], int]) -> None:
        """Leave the rest of the parent ``need()`` px wide where the panel can be narrower
        (the plots side by side, which would otherwise become tabs)."""
        self._room = need
        self._update_width()

    def width_cap(self) -> int:
        """The most an expanded panel takes: its share of the parent's width and what leaves
        the plots their room, or what its controls need at the least when that is more."""
        parent = self.parentWidget()
        if parent is None:
            return 16777215
        cap = int(PANEL_SHARE * parent.width())
        if self._room is not None:
            cap = min(cap, parent.width() - self._room())
        return max(self.minimumSizeHint().width(), cap)

    def _watch_parent(self) -> None:
        parent = self.parentWidget()
        if parent is self._watched:
            return
        if self._watched is not None:
            self._watched.removeEventFilter(self)
        self._watched = parent
        if parent is not None:
            parent.installEventFilter(self)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ParentChange and hasattr(self, "_watched"):
            self._watch_parent()
            self._update_width()
        return super().event(event)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self._watched:
            # resized, or a plot's minimum changed (a zoom step): the cap moves
            kind = event.type()
            if kind in (QEvent.Type.Resize, QEvent.Type.LayoutRequest) and self._expanded:
                self.setMaximumWidth(self.width_cap())
            return False
        if obj is self._scroll.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._update_width()
            self._tab_timer.start()  # once laid out: Tab follows the new rows
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """A one-pixel edge on the plot's side, in the theme's palette (no style sheet: one
        would stop the panel's controls following the zoom)."""
        super().paintEvent(event)
        p = QPainter(self)
        p.setPen(self.palette().mid().color())
        x = 0 if self._side == "right" else self.width() - 1
        p.drawLine(x, 0, x, self.height())
        p.end()

    @Slot()
    def _order_tabs(self) -> None:
        content = self._scroll.widget()
        if content is not None:
            order_tab_stops(content)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoom: the strip and content need resizing
            # children get their FontChange after ours: measure once they have
            QTimer.singleShot(0, self, self._update_width)
