"""A titled side panel that collapses to a thin strip, giving the plot the whole width.

Why: on a 1024×768 projector the controls would eat a third of the plot the class is
looking at. Collapsed, the panel is a strip with a toggle button and its title written
vertically, so it is obvious where the controls went. The content sits in a scroll area so a
long form still fits a short laptop screen.
"""

from __future__ import annotations

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
            self.setMaximumWidth(16777215)
            content = self._scroll.widget()
            if content is not None:
                bar = self._scroll.verticalScrollBar().sizeHint().width()
                self._scroll.setMinimumWidth(content.minimumSizeHint().width() + bar + 4)
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        else:
            frame = 2 * self.frameWidth()
            inner = max(self._toggle.sizeHint().width(), self._strip_label.sizeHint().width())
            self.setFixedWidth(inner + frame + 4)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
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
