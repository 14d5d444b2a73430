"""The decision-boundary picture: the argmax class of the network on a grid, tinted by its
confidence (pale near the boundary, saturated far from it), under the data points coloured by
class (training filled, validation hollow)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Slot
from PySide6.QtGui import QColor

from app.theme import ThemeManager
from app.widgets.describe import describe
from app.widgets.lazy_menu import plot_widget
from app.widgets.plot_labels import WrappedTitle

# Class colours for data points and the boundary image (Okabe-Ito order, colour-blind safe).
CLASS_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#CC79A7",  # purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#999999",  # grey
    "#8C564B",  # brown
    "#17BECF",  # cyan
)
MAX_SCATTER = 3000  # data points drawn over the boundary (a deterministic subset beyond)


def class_color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def point_size(n_points: int) -> float:
    """Marker size (px at 100 %) for a data set of ``n_points``: full size up to 300 points, then
    smaller (area ~ 1/n), so that a thousand points still leave the decision boundary between
    them visible, the part of the picture the lesson is about."""
    return float(np.clip(6.5 * math.sqrt(300.0 / max(1, n_points)), 3.5, 6.5))


class BoundaryPicture(QObject):
    """``boundaryPlot``, its title (a QLabel above it), the class image and the data points."""

    def __init__(self, theme: ThemeManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.plot = describe(
            plot_widget(),
            "boundaryPlot",
            "Decision boundary",
            "The class the network predicts at each point of the plane (paler = less sure), "
            "with the data: filled dots are training points, rings are validation points",
        )
        bp = self.plot.getPlotItem()
        bp.setAspectLocked(True)
        bp.setLabel("bottom", "x₁")
        bp.setLabel("left", "x₂")
        # the title is a QLabel above the plot, not a pyqtgraph title: a title inside the scene
        # cannot shrink, and at 1024 px with zoom it pushed the plot out of its widget
        self.title = WrappedTitle("Decision boundary")
        self.title.setObjectName("boundaryTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bp.setMenuEnabled(False)
        bp.getViewBox().setDefaultPadding(0.02)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        bp.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(pxMode=True)
        self.val_points = pg.ScatterPlotItem(pxMode=True)
        bp.addItem(self.train_points)
        bp.addItem(self.val_points)
        self.step = -1  # step of the boundary shown (-1: none yet)
        self.data = None
        self._n_classes = 2
        bp.getViewBox().sigResized.connect(self._fit)

    def start(self, data) -> None:
        """A new run: its data set's points, framed; no boundary yet."""
        self.data = data
        self._n_classes = int(data.n_classes)
        self.restyle()
        # auto-range fits the points (and later the grid) whatever the widget's aspect ratio
        self.plot.getPlotItem().enableAutoRange()
        self._fit()
        self.step = -1
        self.image.clear()

    def restyle(self) -> None:
        data = self.data
        if data is None:
            return
        th = self.theme
        edge = pg.mkPen(th.colors.foreground, width=th.size(0.8))
        for item, idx, hollow in (
            (self.train_points, data.train_idx, False),
            (self.val_points, data.val_idx, True),
        ):
            if idx.size > MAX_SCATTER // (2 if hollow else 1):  # keep drawing cheap
                keep = max(1, MAX_SCATTER // (2 if hollow else 1))
                idx = idx[np.linspace(0, idx.size - 1, keep).astype(np.int64)]
            pts = data.x[idx]
            classes = data.y[idx]
            brushes = [
                pg.mkBrush(th.colors.background if hollow else class_color(int(k)))
                for k in range(self._n_classes)
            ]
            pens = [
                pg.mkPen(class_color(int(k)), width=th.size(1.6)) if hollow else edge
                for k in range(self._n_classes)
            ]
            item.setData(
                x=pts[:, 0],
                y=pts[:, 1],
                size=th.size(point_size(data.x.shape[0]) * (1.0 if not hollow else 0.92)),
                brush=[brushes[int(k)] for k in classes],
                pen=[pens[int(k)] for k in classes],
            )

    def set_boundary(self, xs: np.ndarray, ys: np.ndarray, probs: np.ndarray, step: int) -> None:
        """Colour each grid cell by its predicted class, paler where the network is unsure."""
        k = probs.shape[-1]
        colors = np.array([QColor(class_color(c)).getRgb()[:3] for c in range(k)], np.float32)
        bg = np.array(QColor(self.theme.colors.background).getRgb()[:3], np.float32)
        bad = ~np.isfinite(probs).all(axis=-1)  # a diverged network predicts nan
        probs = np.where(bad[..., None], 1.0 / k, probs)
        cls = probs.argmax(axis=-1)
        top = probs.max(axis=-1)
        conf = np.clip((top - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)  # 0 at chance, 1 when sure
        # dim regions in the dark theme, or the points (same hues) would vanish into them
        lo, span = (0.12, 0.3) if self.theme.is_dark else (0.12, 0.43)
        strength = (lo + span * conf)[..., None]
        rgb = bg + (colors[cls] - bg) * strength
        rgb[bad] = bg + (np.array([128.0, 128.0, 128.0], np.float32) - bg) * 0.35  # grey
        self.image.setImage(np.ascontiguousarray(rgb.astype(np.uint8)), levels=(0, 255))
        dx = (xs[-1] - xs[0]) / max(1, xs.size - 1)
        dy = (ys[-1] - ys[0]) / max(1, ys.size - 1)
        self.image.setRect(
            QRectF(
                float(xs[0] - dx / 2),
                float(ys[0] - dy / 2),
                float(dx * xs.size),
                float(dy * ys.size),
            )
        )
        self.step = int(step)

    def set_title(self, text: str) -> None:
        if self.title.text() != text:
            self.title.setText(text)

    @Slot(object)
    def _fit(self, *_args) -> None:
        """Refit the data when the plot is resized (pyqtgraph's auto-range does not, with a
        locked aspect ratio)."""
        vb = self.plot.getPlotItem().getViewBox()
        if any(vb.autoRangeEnabled()):
            vb.autoRange(padding=0.02)
