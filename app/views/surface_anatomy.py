"""Step anatomy and the narrated single step, drawn over the Surfaces view's contour map.

What the class sees (the "Step anatomy" group box, ``anatomyGroup``):

* ``anatomyCheck`` "Show step anatomy": for the runner selected in the optimizer list, after
  every redraw, arrows from the point the last step started at -- the gradient drawn downhill
  (−∇f), the update the optimizer applied, and what the optimizer's real ``optimizer.state``
  holds (SGD's momentum buffer, the first moment ``exp_avg``, RMSprop's ``grad_avg``) -- and
  the second moment it divides by as a dashed ellipse (a box for Adamax's running max), with a
  legend in the map's lower-left corner and the numbers (``anatomyInfo``): point, loss,
  gradient, update, lr, every state value and the per-coordinate step size.
* ``narrateButton`` "Narrate step" (Alt+N, and N: ``install`` offers it to the window's run
  keys): each press pauses the race and runs ONE line of the
  selected runner's step (``Race.narrate``): ``optimizer.zero_grad()`` → ``loss = f(p)`` →
  ``loss.backward()`` → ``optimizer.step()``. The four lines (``narrateLine0``..``3``) show the
  loop with the current one highlighted (and marked ▶), ``narrateText`` says what happened with
  the numbers, and the map shows what is known: the gradient after ``backward``, the update and
  the optimizer's state after ``step`` (which also steps every other runner once, so the race
  stays in step, and redraws the view). Anything else that changes the race (Start, Step,
  Reset, a new surface or start, another selection) abandons an open narration: its generator
  is closed, and nothing has moved before the ``step`` line.

Scales (see ``core.teach.anatomy``): gradient-unit items (−∇f, −buf, −m, the RMS ellipse) share one factor, steps
another (never below true size); each is a 1-2-5 number putting the longest arrow at ~22 % of
the visible map, kept while it still fits, re-chosen when the user zooms or the arrows outgrow
it, and printed in the legend.

Why the runner's ``watch`` flag: recording an anatomy costs a little per step, so only the
selected runner records one, only while the box is ticked.

All plot items are created once (five arrows, two extents, one legend) and updated in place;
arrow heads are pixel-sized ``ArrowItem``s whose angle follows the view's aspect.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGraphicsItem,
    QGroupBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.model_events import subscribe
from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, ThemeManager, get_theme
from app.warmup import LOADING_NOTE, run_when_warm, warming_up
from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.describe import describe, wrapping
from core.engine.race import Phase
from core.errors import GdsimError
from core.state.surfaces import SurfacesModel
from core.teach.anatomy import (
    GRADIENT,
    STEP,
    Picture,
    factor_text,
    fit_factor,
    fmt,
    fmt_pair,
    gradient_picture,
    recorded_picture,
)

#: The loop a narrated step walks through, one line per press (Phase.name order).
PHASES = ("zero_grad", "forward", "backward", "step")
CODE_LINES = ("optimizer.zero_grad()", "loss = f(p)", "loss.backward()", "optimizer.step()")
HINT = (
    "Press Narrate step ({key}) to run the selected optimizer's step one line at a time: "
    "each press runs the highlighted line."
)

ARROW_COLORS = {
    "gradient": "#FF4D4D",  # red: downhill
    "update": "#FFFFFF",  # white: what happened
    "momentum": "#FF5CF0",  # magenta: the optimizer's memory
    "first_moment": "#FF5CF0",
    "mean_gradient": "#FFB000",
}
EXTENT_COLORS = {GRADIENT: "#3FE0FF", STEP: "#FFFFFF"}
#: Width (px at 100 % zoom) and stacking of each arrow: the gradient widest and lowest, the update
#: thinnest and on top, so arrows that coincide (plain SGD steps along −∇f, momentum SGD along
#: −buf) show as a white line with coloured edges instead of hiding one another.
ARROW_LAYERS = {"gradient": (5.0, 0), "momentum": (3.6, 1), "first_moment": (3.6, 1),
                "mean_gradient": (3.6, 1), "update": (2.4, 2)}  # fmt: skip
HALO = "#000000"
ARROW_WIDTH = 3.0  # legend samples
HALO_EXTRA = 3.0  # the dark outline adds this much (px) to a line's width
HEAD_LEN = 15.0
EXTENT_WIDTH = 1.6
EXTENT_HALO = (0, 0, 0, 130)  # lighter than an arrow's: the extent is background
ELLIPSE_POINTS = 73
INFO_INTERVAL_S = 0.1  # the numbers are re-typeset at most ~10 times a second while running
# trajectories are at z 5 and the runners' dots at 30 (surface_plots): arrows go between them, so
# every runner's dot (the selected one's too, where its arrows start) stays visible. Every halo
# is under every coloured line, every line under every head.
Z_EXTENT, Z_HALO, Z_ARROW, Z_HEAD = 22, 25, 26, 28
ELIDE = Qt.TextElideMode.ElideRight


# --------------------------------------------------------------------------------------------
# the overlay: plot items on the map
# --------------------------------------------------------------------------------------------


class _LegendSample(pg.ItemSample):
    """A legend swatch drawn from the row's style (arrow, dashed ellipse, box or nothing).

    Clicking does nothing: pyqtgraph's samples hide their item on click, which would leave
    the arrow's head floating without its shaft.
    """

    def __init__(self, item) -> None:
        super().__init__(item)
        s = item.scale_factor
        self.setFixedWidth(26 * s)
        self.setFixedHeight(18 * s)

    def _scale(self) -> float:
        return self.item.scale_factor

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        s = self._scale()
        return QRectF(0, 0, 26 * s, 18 * s)

    def paint(self, p, *args) -> None:
        kind, color = self.item.kind, self.item.color
        if kind == "none":
            return
        s = self._scale()
        p.setRenderHint(p.RenderHint.Antialiasing)
        halo = pg.mkPen(HALO, width=(ARROW_WIDTH + HALO_EXTRA) * s)
        if kind == "arrow":
            line = pg.mkPen(color, width=ARROW_WIDTH * s)
            for pen in (halo, line):
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                p.setPen(pen)
                p.drawLine(QPointF(2 * s, 9 * s), QPointF(18 * s, 9 * s))
            head = pg.functions.makeArrowPath(headLen=9 * s, tipAngle=40, tailLen=None)
            p.translate(24 * s, 9 * s)
            p.rotate(180)
            p.setPen(pg.mkPen(HALO, width=1.2 * s))
            p.setBrush(pg.mkBrush(color))
            p.drawPath(head)
            return
        dash = pg.mkPen(color, width=EXTENT_WIDTH * s, style=Qt.PenStyle.DashLine)
        halo = pg.mkPen(HALO, width=(EXTENT_WIDTH + 2) * s)
        rect = QRectF(3 * s, 2 * s, 20 * s, 14 * s)
        for pen in (halo, dash):
            p.setPen(pen)
            if kind == "ellipse":
                p.drawEllipse(rect)
            else:
                p.drawRect(rect)

    def mouseClickEvent(self, event) -> None:  # noqa: N802 (pyqtgraph override)
        event.ignore()


class _LegendKey:
    """What a legend row's sample draws (the legend holds these, not the plot items)."""

    def __init__(self, kind: str, color: str, scale_factor: float) -> None:
        self.kind, self.color, self.scale_factor = kind, color, scale_factor

    def isVisible(self) -> bool:  # noqa: N802 (what pyqtgraph asks a legend's item)
        return True


class _Arrow:
    """One arrow: a dark halo line, the coloured line and a pixel-sized head."""

    def __init__(self, plot: pg.PlotItem, key: str, color: str) -> None:
        self.color = color
        self.width, layer = ARROW_LAYERS[key]
        self.head_len = HEAD_LEN * (0.75 + 0.1 * self.width)
        self.halo = pg.PlotCurveItem(antialias=True)
        self.line = pg.PlotCurveItem(antialias=True)
        self.head = pg.ArrowItem(pxMode=True, tailLen=None, tipAngle=36, headLen=self.head_len)
        layers = (
            (self.halo, Z_HALO),
            (self.line, Z_ARROW + 0.5 * layer),
            (self.head, Z_HEAD + 0.5 * layer),
        )
        for item, z in layers:
            item.setZValue(z)
            plot.addItem(item, ignoreBounds=True)
            item.hide()
        self.tip: np.ndarray | None = None

    def style(self, th: ThemeManager) -> None:
        halo = th.pen(HALO, self.width + HALO_EXTRA)
        line = th.pen(self.color, self.width)
        for pen in (halo, line):
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        self.halo.setPen(halo)
        self.line.setPen(line)
        self.head.setStyle(pen=th.pen(HALO, 1.2), brush=pg.mkBrush(self.color))

    def set(self, origin: np.ndarray, tip: np.ndarray, vb: pg.ViewBox, th: ThemeManager) -> None:
        a = vb.mapViewToScene(QPointF(float(origin[0]), float(origin[1])))
        b = vb.mapViewToScene(QPointF(float(tip[0]), float(tip[1])))
        dx, dy = b.x() - a.x(), b.y() - a.y()
        length = math.hypot(dx, dy)  # px
        xs = np.array([origin[0], tip[0]])
        ys = np.array([origin[1], tip[1]])
        head = min(th.size(self.head_len), 0.6 * length)
        if length >= 1.0 and head >= 4.0:
            # the shaft stops where the head begins, so its square end never pokes out of the tip
            back = head / length
            xs[1] = tip[0] - back * (tip[0] - origin[0])
            ys[1] = tip[1] - back * (tip[1] - origin[1])
            # ArrowItem's angle 0 points left; Qt rotates clockwise on screen (y grows down)
            self.head.setStyle(angle=math.degrees(math.atan2(-dy, -dx)), headLen=head)
            self.head.setPos(float(tip[0]), float(tip[1]))
            self.head.show()
        else:
            self.head.hide()
        self.halo.setData(xs, ys)
        self.line.setData(xs, ys)
        self.halo.show()
        self.line.show()
        self.tip = np.asarray(tip, dtype=np.float64).copy()

    def hide(self) -> None:
        for item in (self.halo, self.line, self.head):
            item.hide()
        self.tip = None

    @property
    def visible(self) -> bool:
        return self.line.isVisible()


class _Extent:
    """A dashed ellipse or box around the origin (the second moment, Rprop's step sizes)."""

    def __init__(self, plot: pg.PlotItem, color: str) -> None:
        self.color = color
        self.halo = pg.PlotCurveItem(antialias=True)
        self.line = pg.PlotCurveItem(antialias=True)
        for item in (self.halo, self.line):
            item.setZValue(Z_EXTENT)
            plot.addItem(item, ignoreBounds=True)
            item.hide()
        t = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS)
        self._circle = (np.cos(t), np.sin(t))
        self._box = (np.array([1.0, -1.0, -1.0, 1.0, 1.0]), np.array([1.0, 1.0, -1.0, -1.0, 1.0]))

    def style(self, th: ThemeManager) -> None:
        self.halo.setPen(th.pen(EXTENT_HALO, EXTENT_WIDTH + 2))
        self.line.setPen(th.pen(self.color, EXTENT_WIDTH, style=Qt.PenStyle.DashLine))

    def set(self, origin: np.ndarray, half: np.ndarray, shape: str) -> None:
        ux, uy = self._circle if shape == "ellipse" else self._box
        xs = origin[0] + half[0] * ux
        ys = origin[1] + half[1] * uy
        self.halo.setData(xs, ys)
        self.line.setData(xs, ys)
        self.halo.show()
        self.line.show()

    def hide(self) -> None:
        self.halo.hide()
        self.line.hide()

    @property
    def visible(self) -> bool:
        return self.line.isVisible()


class AnatomyOverlay(QObject):
    """The anatomy's plot items on the contour map: arrows, extents, legend, scale."""

    def __init__(self, plot_widget: pg.PlotWidget, theme: ThemeManager) -> None:
        super().__init__(plot_widget)  # destroyed (and disconnected from the theme) with it
        self.theme = th = theme
        self.plot_widget = plot_widget
        pi = plot_widget.getPlotItem()
        self.vb: pg.ViewBox = pi.getViewBox()
        self.arrows = {key: _Arrow(pi, key, color) for key, color in ARROW_COLORS.items()}
        self.extents = {fam: _Extent(pi, color) for fam, color in EXTENT_COLORS.items()}
        self.legend = pg.LegendItem(
            offset=None, sampleType=_LegendSample, verSpacing=-6, horSpacing=6, frame=True
        )
        self.legend.setParentItem(self.vb)
        self.legend.anchor(itemPos=(0, 1), parentPos=(0, 1), offset=(8, -8))
        self.legend.setZValue(40)
        self.legend.hide()
        self._legend_keys: tuple | None = None
        self._scale_label = None
        self._factors: dict[str, float | None] = {GRADIENT: None, STEP: None}
        self.picture: Picture | None = None
        self.vb.sigRangeChanged.connect(self._on_view_changed)
        self.vb.sigResized.connect(self._on_view_changed)
        self.restyle()
        th.changed.connect(self.restyle)

    # -- style ---------------------------------------------------------------------------
    @Slot()
    def restyle(self) -> None:
        th = self.theme
        for arrow in self.arrows.values():
            arrow.style(th)
        for ext in self.extents.values():
            ext.style(th)
        self._legend_keys = None  # samples and labels follow the zoom
        if self.picture is not None:
            self._render()

    # -- drawing -------------------------------------------------------------------------
    def show(self, pic: Picture | None) -> None:
        """Draw ``pic`` (None clears)."""
        self.picture = pic
        if pic is None:
            self.clear()
            return
        self._render()

    def clear(self) -> None:
        self.picture = None
        for arrow in self.arrows.values():
            arrow.hide()
        for ext in self.extents.values():
            ext.hide()
        self.legend.hide()

    def reset_scale(self) -> None:
        """Forget the factors (a new runner, optimizer or race start picks fresh ones)."""
        self._factors = {GRADIENT: None, STEP: None}

    @property
    def factors(self) -> dict[str, float | None]:
        return dict(self._factors)

    @Slot()
    def _on_view_changed(self, *_args) -> None:
        if self.picture is not None:
            self._render()

    def _render(self) -> None:
        pic = self.picture
        (x0, x1), (y0, y1) = self.vb.viewRange()
        view = (x1 - x0, y1 - y0)
        for fam, minimum in ((GRADIENT, None), (STEP, 1.0)):
            self._factors[fam] = fit_factor(
                [a.vector for a in pic.arrows if a.family == fam],
                [e.half for e in pic.extents if e.family == fam],
                view,
                self._factors[fam],
                minimum,
            )
        th, vb = self.theme, self.vb
        drawn = {a.key for a in pic.arrows}
        for arrow in pic.arrows:
            slot = self.arrows.get(arrow.key)
            factor = self._factors[arrow.family]
            if slot is None or factor is None or not np.all(np.isfinite(arrow.vector)):
                continue
            slot.set(pic.origin, pic.origin + factor * arrow.vector, vb, th)
        for key, slot in self.arrows.items():
            if key not in drawn:
                slot.hide()
        shown = set()
        for ext in pic.extents:
            factor = self._factors[ext.family]
            if factor is None or not np.all(np.isfinite(ext.half)) or ext.family in shown:
                continue
            self.extents[ext.family].set(pic.origin, factor * ext.half, ext.shape)
            shown.add(ext.family)
        for fam, slot in self.extents.items():
            if fam not in shown:
                slot.hide()
        self._update_legend(pic)

    def _update_legend(self, pic: Picture) -> None:
        keys = pic.keys()
        if keys != self._legend_keys:
            self._legend_keys = keys
            self.legend.clear()
            s = self.theme.scale
            for a in pic.arrows:
                self.legend.addItem(_LegendKey("arrow", ARROW_COLORS[a.key], s), a.label)
            for e in pic.extents:
                self.legend.addItem(_LegendKey(e.shape, EXTENT_COLORS[e.family], s), e.label)
            self.legend.addItem(_LegendKey("none", "", s), self._scale_text(pic))
            self._scale_label = self.legend.items[-1][1]
            for sample, label in self.legend.items:
                sample.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
                label.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self._style_legend()
        else:
            text = self._scale_text(pic)
            if self._scale_label is not None and self._scale_label.text != text:
                self._scale_label.setText(text)
        self.legend.show()

    def _style_legend(self) -> None:
        """The theme's legend look (what ``ThemeManager.style_plot`` does), for this legend
        only: restyling the whole map would re-render its axes too."""
        th = self.theme
        c = th.colors
        self.legend.setLabelTextColor(c.foreground)
        self.legend.setLabelTextSize(f"{th.point_size():.1f}pt")
        for _sample, label in self.legend.items:
            label.setText(label.text)
        self.legend.setBrush(pg.mkBrush(c.legend_brush))
        self.legend.setPen(th.pen(c.foreground, 1))

    def _scale_text(self, pic: Picture) -> str:
        parts = []
        families = {a.family for a in pic.arrows} | {e.family for e in pic.extents}
        if GRADIENT in families and self._factors[GRADIENT] is not None:
            parts.append(f"∇f {factor_text(self._factors[GRADIENT])}")
        if STEP in families and self._factors[STEP] is not None:
            parts.append(f"steps {factor_text(self._factors[STEP])}")
        return "to scale: " + ", ".join(parts)

    # -- read-back (tests) ---------------------------------------------------------------
    def arrow_keys(self) -> list[str]:
        return [key for key, slot in self.arrows.items() if slot.visible]

    def arrow_data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the arrow's shaft as plotted (origin first)."""
        x, y = self.arrows[key].line.getData()
        return np.asarray(x), np.asarray(y)

    def arrow_tip(self, key: str) -> np.ndarray | None:
        return self.arrows[key].tip

    def extent_data(self, family: str) -> tuple[np.ndarray, np.ndarray] | None:
        slot = self.extents[family]
        if not slot.visible:
            return None
        x, y = slot.line.getData()
        return np.asarray(x), np.asarray(y)

    def legend_texts(self) -> list[str]:
        if not self.legend.isVisible():
            return []
        return [label.text for _sample, label in self.legend.items]


# --------------------------------------------------------------------------------------------
# the tool: group box, narration, wiring
# --------------------------------------------------------------------------------------------


def _mono() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    return font


class NumbersTable(QWidget):
    """Rows of (name, value) under a bold title, painted directly.

    Why not a QLabel: ``setText`` re-lays out the whole control panel (~9 ms per call here), ten
    times a second while the race runs. Changing the numbers repaints only this widget; the
    layout is asked again only when the number of rows (or the font) changes.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = ""
        self._rows: tuple[tuple[str, str], ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def set_content(self, title: str, rows: tuple[tuple[str, str], ...]) -> None:
        if (title, tuple(rows)) == (self._title, self._rows):
            return
        relayout = len(rows) != len(self._rows)
        self._title, self._rows = title, tuple(rows)
        if relayout:
            self.updateGeometry()
        self.setAccessibleDescription(self.text())
        self.update()

    def text(self) -> str:
        """What is shown, as plain text (tests, screen readers)."""
        return "\n".join([self._title, *(f"{n}  {v}".strip() for n, v in self._rows)])

    def _height(self) -> int:
        return (len(self._rows) + 1) * self.fontMetrics().lineSpacing() + 4

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(220, self._height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self._height())

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.updateGeometry()

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        fm = self.fontMetrics()
        line = fm.lineSpacing()
        width = self.width()
        p.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(0, fm.ascent(), QFontMetrics(bold).elidedText(self._title, ELIDE, width))
        p.setFont(self.font())
        names = [fm.horizontalAdvance(n) for n, _v in self._rows if n]
        col = min(max(names, default=0) + fm.horizontalAdvance("  "), int(width * 0.45))
        for i, (name, value) in enumerate(self._rows):
            y = (i + 1) * line + fm.ascent()
            p.drawText(0, y, fm.elidedText(name, ELIDE, col - 4))
            p.drawText(col, y, fm.elidedText(value, ELIDE, max(0, width - col)))
        p.end()


class AnatomyTool(QObject):
    """The "Step anatomy" group box and its overlay (see the module docstring)."""

    def __init__(
        self, model: SurfacesModel, map_plot, panel: CollapsiblePanel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.control_panel = panel  # scrolled to the narration as it goes
        self.theme: ThemeManager = get_theme()
        self._narration: Iterator[Phase] | None = None
        self._narr_rid: int | None = None
        self._phase: Phase | None = None  # the narrated phase on show (until something else)
        self._busy = False  # our own redraw after a narrated step
        self._drawn: object = None  # the anatomy on show (skip identical redraws)
        self._info_pending: str | None = None
        self._info_time = 0.0
        self._closed = False
        self._build()
        self.overlay = AnatomyOverlay(map_plot, self.theme)
        self._info_timer = QTimer(self)
        self._info_timer.setSingleShot(True)
        self._info_timer.setInterval(int(INFO_INTERVAL_S * 1000))
        self._info_timer.timeout.connect(self._flush_info)
        ev = model.events
        subscribe(self, self._on_redrawn, ev.stepped, ev.runner_added, ev.runner_removed)
        subscribe(self, self._on_redrawn, ev.runner_replaced)
        subscribe(self, self._on_restarted, ev.restarted)
        subscribe(self, self._on_current_changed, ev.selection_changed)
        self.theme.changed.connect(self._on_theme)
        self._on_theme()

    # -- widgets -------------------------------------------------------------------------
    def _build(self) -> None:
        box = QGroupBox("Step anatomy")
        box.setObjectName("anatomyGroup")
        self.box = box
        self.check = describe(
            QCheckBox("Show step anatomy", box),
            "anatomyCheck",
            "Show step anatomy",
            "Draw, for the optimizer selected in the list, where its last step started: the "
            "gradient (red, drawn downhill as −∇f), the update it applied (white) and what its "
            "real optimizer.state holds (momentum buffer or first moment in magenta, the second "
            "moment it divides by as a dashed ellipse), with the numbers below.",
        )
        self.check.toggled.connect(self._on_toggled)
        self.info = describe(
            NumbersTable(box),
            "anatomyInfo",
            "Step anatomy numbers",
            "The numbers behind the arrows: p where the step started, the loss before → after, "
            "∇f, the update, the learning rate, every value in optimizer.state for the point "
            "and the per-coordinate step size they imply.",
        )
        self.info.hide()
        self.message = describe(
            PlainLabel(box),
            "anatomyMessage",
            "Step anatomy status",
            "Why there is nothing to draw right now, and what to do.",
        )
        wrapping(self.message)
        self.message.hide()

        self.narrate_button = describe(
            QPushButton("&Narrate step", box),
            "narrateButton",
            "Narrate step",
            "Walk through ONE step of the selected optimizer, one line of the PyTorch loop per "
            "press: zero_grad, forward (the loss), backward (the gradient), step (the update; "
            "every other optimizer takes its step too). Pauses the race. (Alt+N)",
        )
        self.narrate_button.clicked.connect(self.narrate)

        self.code = describe(QFrame(box), "narrateCode", "The training loop's four lines")
        self.code.setFrameShape(QFrame.Shape.StyledPanel)
        code_lay = QVBoxLayout(self.code)
        code_lay.setContentsMargins(4, 3, 4, 3)
        code_lay.setSpacing(0)
        self.lines: list[QLabel] = []
        for i, text in enumerate(CODE_LINES):
            label = describe(
                PlainLabel(self.code),
                f"narrateLine{i}",
                f"Loop line {i + 1}",
                "The line of the PyTorch loop a narrated step runs at this press.",
            )
            label.setProperty("code", text)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            code_lay.addWidget(label)
            self.lines.append(label)
        self.hint = HINT.format(key="Alt+N")
        self.text = describe(
            PlainLabel(self.hint, box),
            "narrateText",
            "Narration",
            "What the highlighted line did, with its numbers.",
        )
        wrapping(self.text)
        self._current_line = -1
        self._set_line(-1)

        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.check)
        lay.addWidget(self.info)
        lay.addWidget(self.message)
        lay.addWidget(self.narrate_button)
        lay.addWidget(self.code)
        lay.addWidget(self.text)

    @Slot()
    def _on_theme(self) -> None:
        font = _mono()
        font.setPointSizeF(self.theme.point_size())
        for label in self.lines:
            label.setFont(font)
        self._set_line(self._current_line)
        if self.text.property("error"):
            self.text.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")

    # -- selection and watch -------------------------------------------------------------
    def _entry(self):
        return self.model.selected_entry

    def _sync_watch(self) -> None:
        on = self.check.isChecked() and not self._closed
        rid = self.model.selected
        for entry in self.model.entries.values():
            entry.runner.watch = bool(on and entry.id == rid)

    @Slot(bool)
    def _on_toggled(self, on: bool) -> None:
        self._sync_watch()
        if not on:
            self.info.hide()
            self.message.hide()
        self._refresh(force=True)

    @Slot(int)
    def _on_current_changed(self, _rid: int) -> None:
        self.abandon()
        self._sync_watch()
        self.overlay.reset_scale()
        self._refresh(force=True)

    @Slot()
    def _on_restarted(self) -> None:
        self.abandon()
        self.overlay.reset_scale()
        self._refresh(force=True)

    def _on_redrawn(self, *_args: object) -> None:
        if self._busy:
            return
        self.abandon()
        self._sync_watch()  # runners added or removed since
        self._refresh()

    # -- anatomy -------------------------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        """Show the selected runner's last anatomy (or the narrated phase on show)."""
        if self._phase is not None:
            return
        if not self.check.isChecked():
            self._drawn = None
            self.overlay.clear()
            return
        entry = self._entry()
        runner = entry.runner if entry is not None else None
        message = None
        anatomy = None
        if runner is None:
            message = "Select an optimizer in the list to see its step anatomy."
        elif runner.status != "ok":
            message = (
                f"{entry.label} diverged at step {runner.diverged_at}: nothing to draw. "
                "Reset (R) to step again."
            )
        else:
            anatomy = runner.anatomy
            if anatomy is None or anatomy.step != runner.steps or anatomy.diverged:
                anatomy = None
                message = (
                    f"{entry.label}: take a step (S) or start the race (Space) to see what "
                    "its next step does."
                )
        if anatomy is None:
            self._drawn = None
            self.overlay.clear()
            self._info_pending = None
            self.info.hide()
            if self.message.text() != message:
                self.message.setText(message)
            self.message.show()
            return
        if anatomy is self._drawn and not force:
            return
        self._drawn = anatomy
        pic = recorded_picture(runner, anatomy)
        self.overlay.show(pic)
        self._set_info(entry.label, pic.lines, force=force or not self.model.running)

    def _set_info(self, title: str, rows: tuple, force: bool = False) -> None:
        """Typeset the numbers now, or within INFO_INTERVAL_S while the race runs."""
        self._info_pending = (title, rows)
        now = time.perf_counter()
        if force or now - self._info_time >= INFO_INTERVAL_S:
            self._flush_info()
        elif not self._info_timer.isActive() and not self._closed:
            self._info_timer.start()

    @Slot()
    def _flush_info(self) -> None:
        pending = self._info_pending
        if pending is None:
            return
        self._info_pending = None
        self._info_time = time.perf_counter()
        self.message.hide()
        self.info.set_content(*pending)
        self.info.show()

    # -- narration -----------------------------------------------------------------------
    @Slot()
    def narrate(self) -> None:
        """Run the next line of the selected runner's narrated step (see the module docs)."""
        model = self.model
        if model.running:
            model.pause()
        if warming_up():  # its first line would wait for the start-up import (app.warmup)
            self._message(f"Narrate: {LOADING_NOTE}")
            run_when_warm(self, self.narrate)
            return
        if self._narration is None:
            entry = model.selected_entry
            if entry is None:
                self._end_phase_display()
                self._message("Select an optimizer in the list to narrate its step.", True)
                return
            try:
                self._narration = iter(model.race.narrate(entry.runner))
            except GdsimError as exc:
                self._end_phase_display()
                self._message(str(exc), True)
                self._refresh(force=True)
                return
            self._narr_rid = entry.id
        try:
            phase = next(self._narration)
        except StopIteration:  # cannot happen (closed after "step"), but never leave it open
            self._narration = None
            return
        except GdsimError as exc:
            self._close_narration()
            self._message(str(exc), True)
            return
        self._show_phase(phase)
        self.control_panel.reveal(self.code, self.text)  # the narration, not scrolled away
        if phase.name == "step":
            self._close_narration()
            self._busy = True
            try:
                model.stepped_elsewhere()  # plots and status follow; not our own refresh
            finally:
                self._busy = False

    def _show_phase(self, phase: Phase) -> None:
        self._phase = phase
        idx = PHASES.index(phase.name) if phase.name in PHASES else -1
        if idx == 3:
            self.lines[3].setProperty("code", phase.code)  # optimizer.step(closure) for LBFGS
        self._set_line(idx)
        self._message(phase.text, phase.diverged)
        self._drawn = None
        entry = self.model.entries.get(self._narr_rid)
        pic = None
        if phase.name == "backward" and phase.grad is not None:
            self.overlay.reset_scale()
            pic = gradient_picture(phase.point, phase.grad, phase.loss)
        elif phase.name == "step" and not phase.diverged and entry is not None:
            if entry.runner.anatomy is not None:
                pic = recorded_picture(entry.runner, entry.runner.anatomy)
        self.overlay.show(pic)
        if self.check.isChecked() and entry is not None:
            # the numbers known so far, in the panel too
            point = ("p", fmt_pair(phase.point))
            if pic is not None:
                rows = pic.lines
            elif phase.name == "zero_grad":
                rows = (point, ("p.grad", "None (cleared)"))
            elif phase.name == "forward":
                rows = (point, ("f", fmt(phase.loss)))
            else:
                rows = (point, ("", "diverged: nothing to draw"))
            self._set_info(f"{entry.label} · {phase.code}", rows, force=True)

    def _close_narration(self) -> None:
        gen, self._narration = self._narration, None
        if gen is not None:
            close = getattr(gen, "close", None)
            if callable(close):
                close()

    def abandon(self) -> None:
        """Close an open narration (nothing has moved before its step) and stop showing it."""
        was_open = self._narration is not None
        self._close_narration()
        if was_open:
            self._end_phase_display()
            self._message(
                "Narration abandoned before its step line: nothing moved. Press Narrate step "
                "to start again."
            )
        elif self._phase is not None:
            self._end_phase_display()
            self._message(self.hint)

    def _end_phase_display(self) -> None:
        if self._phase is None:
            return
        self._phase = None
        self._set_line(-1)
        self.overlay.clear()
        self._drawn = None

    def _message(self, text: str, error: bool = False) -> None:
        self.text.setText(text)
        self.text.setProperty("error", error)
        self.text.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};" if error else "")

    def _set_line(self, idx: int) -> None:
        """Highlight loop line ``idx`` (−1: none) with the palette's highlight and a ▶."""
        self._current_line = idx
        for i, label in enumerate(self.lines):
            code = label.property("code")
            if i == idx:
                label.setText(f"▶ {code}")
                label.setStyleSheet(
                    "background: palette(highlight); color: palette(highlighted-text);"
                )
            else:
                label.setText(f"  {code}")
                label.setStyleSheet("")

    def set_key_hint(self, key: str) -> None:
        """Name the key that narrates (the mnemonic Alt+N, or N once the window has it)."""
        old = self.hint
        self.hint = HINT.format(key=key)
        self.narrate_button.setToolTip(self.narrate_button.toolTip().rsplit("(", 1)[0] + f"({key})")
        if self.text.text() == old:
            self.text.setText(self.hint)

    # -- read-back and lifecycle ---------------------------------------------------------
    def current_line(self) -> int:
        """Which loop line is highlighted (0..3), −1 for none."""
        return self._current_line

    @property
    def narrating(self) -> bool:
        return self._narration is not None

    def shutdown(self) -> None:
        """Stop the info timer and any open narration (call from the view's shutdown)."""
        self._closed = True
        self._info_timer.stop()
        self._close_narration()
        for entry in self.model.entries.values():
            entry.runner.watch = False


def install(view) -> AnatomyTool:
    """Add the "Step anatomy" box to a SurfaceView, narrated by the window's N key."""
    tool = AnatomyTool(view.model, view.plots.map, view.control_panel(), parent=view)
    view.add_tool(tool.box)
    view.add_shortcut_target("narrate", tool.narrate)
    tool.set_key_hint("N")
    return tool
