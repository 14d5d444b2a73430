"""Lecture-hall theming: one zoom factor and one light/dark choice for the whole window.

One object, because Ctrl+= must grow everything at once (widget fonts, pyqtgraph axes and legends,
line widths) and Qt scales only widget fonts by itself. ``ThemeManager`` applies the state to the
QApplication and every pyqtgraph view, then emits ``changed``; views keep their pens current with
``theme.bind_pen(item, color, width)`` or a bound-method slot (never a lambda: it would outlive
the view). Data colours: ``series_color(i)``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSize, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QProxyStyle,
    QStyle,
    QToolTip,
    QWidget,
)

from app.input_policy import guards_paused

log = logging.getLogger("gdsim.theme")

THEMES: tuple[str, ...] = ("light", "dark")
ZOOM_STEPS: tuple[float, ...] = (
    0.5, 0.67, 0.75, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0,
)  # fmt: skip
MIN_ZOOM, MAX_ZOOM = ZOOM_STEPS[0], ZOOM_STEPS[-1]

#: The smallest a plot widget may be, px: 260×180 at 100 %, and 60×50 more per 100 % of zoom
#: (axes, tick labels and titles grow with the text; the data area keeps >= 200×130 px).
MIN_PLOT_BASE, MIN_PLOT_PER_ZOOM = (200, 130), (60, 50)

#: Error text (refused input, a failed action), readable on each theme's background.
ERROR_COLORS = {"light": "#C62828", "dark": "#FF6B6B"}

# Sixteen series colours (MAX_RUNNERS): Okabe-Ito's eight, then Paul Tol's muted ones, both
# designed for colour-blind viewers; the first four (the default race) stay far apart under
# deuteranopia, protanopia and on a washed-out projector. No two colours that look alike in
# those conditions share a marker shape (SERIES_SYMBOLS), so the markers tell them apart;
# tests/gui/test_palette.py checks both. Pure black and dark blue are left out (dark theme).
SERIES_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#999999",  # grey
    "#882255",  # wine
    "#44AA99",  # teal
    "#DDCC77",  # sand
    "#117733",  # dark green
    "#AA4499",  # purple
    "#999933",  # olive
    "#AA7744",  # brown
    "#EE8866",  # salmon
)
#: pyqtgraph marker shapes paired with SERIES_COLORS ("x" is kept for a diverged runner).
SERIES_SYMBOLS: tuple[str, ...] = (
    "o", "s", "t", "d", "p", "h", "star", "t1",
    "o", "s", "t", "d", "p", "h", "star", "t1",
)  # fmt: skip


@dataclass(frozen=True)
class Colors:
    """The handful of colours plots need; widgets get theirs from the QPalette."""

    background: str
    foreground: str
    contour: tuple[int, int, int, int]  # contour lines over the heat map
    legend_brush: tuple[int, int, int, int]


LIGHT = Colors("#FFFFFF", "#1E1E1E", (0, 0, 0, 110), (255, 255, 255, 200))
DARK = Colors("#1B1D21", "#DADADA", (0, 0, 0, 120), (30, 32, 36, 210))


def _dark_palette() -> QPalette:
    """A Fusion dark palette: high contrast text, muted surfaces, a visible highlight."""
    p = QPalette()
    # input fields a shade *lighter* than the window, so Fusion's dark outlines stay visible
    window, base, alt = QColor("#232529"), QColor("#2D3035"), QColor("#34373C")
    text = QColor("#E6E6E6")

    disabled = QColor("#7A7D83")
    highlight = QColor("#3D8BFD")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor("#33363B"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#383C42"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#FF6B6B"),
        QPalette.ColorRole.Link: QColor("#6CB2FF"),
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: QColor("#FFFFFF"),
        QPalette.ColorRole.Light: QColor("#4E525A"),
        QPalette.ColorRole.Midlight: QColor("#3A3D42"),
        QPalette.ColorRole.Mid: QColor("#2A2C30"),
        QPalette.ColorRole.Dark: QColor("#141518"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor("#50545A"))
    return p


class _ZoomStyle(QProxyStyle):
    """Fusion with check box and radio button indicators that grow with the zoom (Fusion
    sizes them in pixels, not from the font)."""

    METRICS = frozenset({
        QStyle.PixelMetric.PM_IndicatorWidth, QStyle.PixelMetric.PM_IndicatorHeight,
        QStyle.PixelMetric.PM_ExclusiveIndicatorWidth,
        QStyle.PixelMetric.PM_ExclusiveIndicatorHeight,
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__("Fusion")
        self._scale = 1.0
        # Qt asks thousands of times per zoom step (every widget re-measures), and each call
        # crosses into Python: answers that depend on nothing but the metric (no option, no
        # widget) are remembered for the current zoom
        self._metrics: dict[Any, int] = {}

    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, scale: float) -> None:
        if scale != self._scale:
            self._scale = scale
            self._metrics.clear()

    def pixelMetric(self, metric, option=None, widget=None) -> int:  # noqa: N802 (Qt override)
        if option is None and widget is None:
            value = self._metrics.get(metric)
            if value is None:
                value = self._metrics[metric] = self._zoomed_metric(metric, None, None)
            return value
        return self._zoomed_metric(metric, option, widget)

    def _zoomed_metric(self, metric, option, widget) -> int:
        if widget is not None and not isinstance(widget, QWidget):
            widget = None  # a stale wrapper at a reused address: its TypeError would crash PySide
        value = super().pixelMetric(metric, option, widget)
        if metric in self.METRICS:
            return int(round(value * self._scale))
        return value


class ThemeManager(QObject):
    """Holds the zoom factor and the theme name and pushes them to Qt and pyqtgraph.

    ``changed`` fires after every change has been applied to widgets and plots, so a slot
    can simply rebuild its pens with ``pen()``.
    """

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._name = "light"
        self._scale = 1.0
        self._base_font: QFont | None = None
        self._style: _ZoomStyle | None = None
        self._applied: tuple[str | None, float | None] = (None, None)  # what Qt has now
        self._bindings: list[tuple[weakref.ref, Callable[[Any, ThemeManager], None]]] = []

    # -- state ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def colors(self) -> Colors:
        return DARK if self._name == "dark" else LIGHT

    @property
    def is_dark(self) -> bool:
        return self._name == "dark"

    def set_theme(self, name: str) -> None:
        """Switch to 'light' or 'dark' (ValueError otherwise) and re-apply everything."""
        if name not in THEMES:
            raise ValueError(f"unknown theme {name!r}; expected one of {', '.join(THEMES)}")
        self._name = name
        self.apply()

    def set_scale(self, scale: float) -> None:
        """Set the zoom factor, clamped to [MIN_ZOOM, MAX_ZOOM], and re-apply."""
        self._scale = float(min(MAX_ZOOM, max(MIN_ZOOM, scale)))
        self.apply()

    def configure(self, name: str, scale: float) -> None:
        """Set theme and zoom together with a single apply (start-up from saved settings)."""
        if name not in THEMES:
            raise ValueError(f"unknown theme {name!r}; expected one of {', '.join(THEMES)}")
        self._name = name
        self._scale = float(min(MAX_ZOOM, max(MIN_ZOOM, scale)))
        self.apply()

    def zoom_in(self) -> None:
        bigger = [s for s in ZOOM_STEPS if s > self._scale + 1e-6]
        self.set_scale(bigger[0] if bigger else MAX_ZOOM)

    def zoom_out(self) -> None:
        smaller = [s for s in ZOOM_STEPS if s < self._scale - 1e-6]
        self.set_scale(smaller[-1] if smaller else MIN_ZOOM)

    def reset_zoom(self) -> None:
        self.set_scale(1.0)

    def reset(self) -> None:
        """Back to light, 100 % (tests use this to leave the application as they found it)."""
        self._name = "light"
        self._scale = 1.0
        self.apply()

    # -- helpers for views ---------------------------------------------------------------
    def pen(self, color: Any, width: float = 1.0, **kwargs: Any) -> QPen:
        """A cosmetic pen whose width follows the zoom factor (kwargs go to ``pg.mkPen``)."""
        return pg.mkPen(color, width=width * self._scale, **kwargs)

    def size(self, base: float) -> float:
        """Scale a pixel size (marker size, fixed widths) by the zoom factor."""
        return base * self._scale

    def min_plot_size(self) -> QSize:
        """The smallest readable plot at the current zoom (see MIN_PLOT_BASE): views lay
        their plots out so that none gets less, reflowing to tabs rather than squeezing."""
        (bw, bh), (zw, zh) = MIN_PLOT_BASE, MIN_PLOT_PER_ZOOM
        return QSize(int(round(bw + zw * self._scale)), int(round(bh + zh * self._scale)))

    def font(self, relative: float = 1.0, bold: bool = False) -> QFont:
        """The zoomed application font, ``relative`` times larger (for headings)."""
        f = QFont(self._base())
        f.setPointSizeF(self.point_size(relative))
        f.setBold(bold)
        return f

    def point_size(self, relative: float = 1.0) -> float:
        base = self._base().pointSizeF()
        return max(1.0, (base if base > 0 else 9.0) * self._scale * relative)

    def series_color(self, index: int) -> str:
        return SERIES_COLORS[index % len(SERIES_COLORS)]

    def series_symbol(self, color: str) -> str:
        """The marker shape that goes with a series colour ("o" for one not in the palette)."""
        try:
            return SERIES_SYMBOLS[SERIES_COLORS.index(color)]
        except ValueError:
            return "o"

    def connect_when_shown(self, widget: QWidget, slot: Callable[[], None]) -> None:
        """Call ``slot`` after every change, but for ``widget`` on a hidden tab of a shown
        window only when it is next shown: restyling the tab nobody sees made a zoom step or
        theme switch stall twice as long. ``widget`` owns the connection."""
        _WhenShown(widget, slot, self)

    def bind(self, item: Any, apply: Callable[[Any, ThemeManager], None]) -> None:
        """Call ``apply(item, theme)`` now and after every change, while ``item`` lives."""
        apply(item, self)
        self._bindings.append((weakref.ref(item), apply))

    def bind_pen(self, item: Any, color: Any, width: float = 1.0, **kwargs: Any) -> None:
        """Keep ``item.setPen(theme.pen(color, width))`` up to date with the zoom factor."""
        self.bind(item, lambda it, th: it.setPen(th.pen(color, width, **kwargs)))

    # -- applying ------------------------------------------------------------------------
    def _base(self) -> QFont:
        if self._base_font is None:
            app = QApplication.instance()
            self._base_font = QFont(app.font()) if isinstance(app, QApplication) else QFont()
        return self._base_font

    def apply(self) -> None:
        """Push font, palette and plot styling to the running application.

        No application style sheet: with one, Qt restyles every widget on each change (0.3-
        0.4 s a zoom step here) and stops passing a new application font down. Only what
        changed is pushed: a zoom step sets the font, a theme switch the palette."""
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        with guards_paused():  # ~2,000 font and geometry events, none of them input
            self._push(app)
        self.changed.emit()

    def _push(self, app: QApplication) -> None:
        base = self._base()
        if self._style is None:
            self._style = _ZoomStyle()  # native styles ignore a dark palette on some platforms
            app.setStyle(self._style)
        self._style.scale = self._scale
        if self._applied[0] != self._name:
            palette = _dark_palette() if self.is_dark else app.style().standardPalette()
            app.setPalette(palette)
            QToolTip.setPalette(palette)
            # posted to each widget like the font: deliver it now, so a grab right after a
            # theme switch (an export) shows the new theme
            app.sendPostedEvents(None, QEvent.Type.ApplicationPaletteChange.value)
            # a widget with its own sheet (a bold title) keeps the palette it was polished
            # with: black titles on the dark panel, pale ones back in the light theme
            _repolish_own_sheets(app)
        if self._applied[1] != self._scale:
            font = QFont(base)
            font.setPointSizeF(self.point_size())
            app.setFont(font)
            # Qt posts the change to each widget; deliver it now, so that everything below
            # (and every slot of ``changed``) measures the new font
            app.sendPostedEvents(None, QEvent.Type.ApplicationFontChange.value)
            _repolish_own_sheets(app)
            _forget_combo_minimums(app)
        self._applied = (self._name, self._scale)
        c = self.colors
        pg.setConfigOption("background", c.background)
        pg.setConfigOption("foreground", c.foreground)
        for top in app.topLevelWidgets():
            for view in _plot_views(top):
                if _on_hidden_tab(view):
                    view.setBackground(c.background)  # cheap; axes and legends can wait
                    if not getattr(view, "_gdsim_restyle", False):  # one pending restyle
                        view._gdsim_restyle = True  # type: ignore[attr-defined]
                        _WhenShown(view, partial(self._restyle_later, view), None, once=True)
                else:
                    self.style_plot(view)
        self._run_bindings()

    def _run_bindings(self) -> None:
        alive = []
        for ref, fn in self._bindings:
            item = ref()
            if item is None:
                continue
            try:
                fn(item, self)
            except RuntimeError:  # the C++ object is gone although the wrapper lives
                continue
            alive.append((ref, fn))
        self._bindings = alive

    def _restyle_later(self, view: pg.GraphicsView) -> None:
        view._gdsim_restyle = False  # type: ignore[attr-defined]
        self.style_plot(view)

    def style_plot(self, view: pg.GraphicsView) -> None:
        """Background, axes (pen, tick font, label font), titles and legends of one view."""
        c = self.colors
        view.setBackground(c.background)
        scene = view.scene()
        if scene is None:
            return
        tick_font = self.font()
        label_pt = self.point_size(1.1)
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                self._style_axis(item, tick_font, label_pt)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(c.foreground)
                item.setLabelTextSize(f"{self.point_size():.1f}pt")
                for _sample, label in item.items:  # setAttr() alone does not re-render
                    label.setText(label.text)
                item.setBrush(pg.mkBrush(c.legend_brush))
                item.setPen(self.pen(c.foreground, 1))
            elif isinstance(item, pg.PlotItem):
                title = item.titleLabel
                if title.text:
                    title.setText(
                        title.text, color=c.foreground, size=f"{self.point_size(1.2):.1f}pt"
                    )

    def _style_axis(self, axis: pg.AxisItem, tick_font: QFont, label_pt: float) -> None:
        c = self.colors
        base = getattr(axis, "_gdsim_base", None)
        if base is None:  # remember the un-zoomed geometry once, so zooming is reversible
            base = (axis.fixedWidth, axis.fixedHeight, axis.style.get("tickLength", -5))
            axis._gdsim_base = base  # type: ignore[attr-defined]
        fixed_w, fixed_h, tick_len = base
        axis.setPen(self.pen(c.foreground, 1))
        axis.setTextPen(c.foreground)
        vertical = axis.orientation in ("left", "right")
        axis.setStyle(
            tickFont=tick_font,
            tickLength=int(round(tick_len * self._scale)),
            tickTextOffset=int(round((5 if vertical else 2) * self._scale)),
        )
        if fixed_w is not None:
            axis.setWidth(int(round(fixed_w * self._scale)))
        if fixed_h is not None:
            axis.setHeight(int(round(fixed_h * self._scale)))
        # pyqtgraph's automatic SI prefix divides the tick labels and appends "(x1e+12)" to the
        # title, which is wrong on a log axis (a loss of 1e12 read 1) and clipped anyway
        axis.autoSIPrefix = False
        axis.autoSIPrefixScale = 1.0
        axis.labelUnitPrefix = ""
        axis.labelStyle = {**axis.labelStyle, "color": c.foreground,
                           "font-size": f"{label_pt:.1f}pt"}  # fmt: skip
        axis._updateLabel()  # public setLabel() would reset SI-prefix ranges and visibility


def _plot_views(root: QWidget) -> list[pg.GraphicsView]:
    views = root.findChildren(pg.GraphicsView)
    if isinstance(root, pg.GraphicsView):
        views.append(root)
    return views


def _on_hidden_tab(widget: QWidget) -> bool:
    """Hidden with a hidden ancestor in a shown window (another tab is in front): it can
    wait. A widget not shown yet itself (just added) is styled at once."""
    return not widget.isVisible() and not widget.isHidden() and widget.window().isVisible()


class _WhenShown(QObject):
    """Runs ``slot`` on each theme change (``theme``), or once (``once``), deferring it to the
    widget's next Show event while the widget sits on a hidden tab."""

    def __init__(
        self,
        widget: QWidget,
        slot: Callable[[], None],
        theme: ThemeManager | None,
        once: bool = False,
    ) -> None:
        super().__init__(widget)
        self._slot = slot
        self._once = once
        self._pending = False
        if theme is not None:
            theme.changed.connect(self._on_changed)
        if once:
            self._pending = True
            widget.installEventFilter(self)

    @Slot()
    def _on_changed(self) -> None:
        widget = self.parent()
        if isinstance(widget, QWidget) and _on_hidden_tab(widget):
            if not self._pending:
                self._pending = True
                widget.installEventFilter(self)
            return
        self._slot()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Show and self._pending:
            self._pending = False
            obj.removeEventFilter(self)
            self._slot()
            if self._once:
                self.deleteLater()
        return False


def _repolish_own_sheets(app: QApplication) -> None:
    """A widget with a style sheet of its own (an error label's colour) keeps its old font
    when the application font changes; setting its sheet again re-polishes it."""
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet(sheet)


def _forget_combo_minimums(app: QApplication) -> None:
    """QComboBox forgets its size hint on a font change but keeps its minimum size hint, so
    after a zoom step every combo (and the panel holding it) kept the old zoom's least width;
    a style change makes it measure again."""
    for combo in app.allWidgets():
        if isinstance(combo, QComboBox):
            QApplication.sendEvent(combo, QEvent(QEvent.Type.StyleChange))
            combo.updateGeometry()


_THEME: ThemeManager | None = None


def get_theme() -> ThemeManager:
    """The process-wide theme (created on first use; needs no QApplication until applied)."""
    global _THEME
    if _THEME is None:
        _THEME = ThemeManager()
    return _THEME


def pen(color: Any, width: float = 1.0, **kwargs: Any) -> QPen:
    """Shortcut for ``get_theme().pen(...)``."""
    return get_theme().pen(color, width, **kwargs)
