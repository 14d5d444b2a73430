"""Basins of attraction on the Surfaces view: where you start decides where you end.

The "Basins of attraction" group runs the selected optimizer (the one highlighted in the
optimizer list, with its current hyperparameters) from every point of a grid over the surface
(``core.teach.basins``: one batched swarm of real ``torch.optim`` steps) and paints each start in the
colour of the minimum it reached, over the contour map, with a legend of the shares.

Why it is built this way:

* *Never freezes the window*: the computation runs on the GUI thread in slices of at most
  :data:`SLICE_BUDGET_S` (8 ms) from a ``QTimer``, so the race, the sliders and Cancel respond
  while it runs. A 100 x 100 grid on Himmelblau is a few hundred batched steps of 10,000 points
  (0.2-2 ms each here, depending on the load), i.e. about a second of work; a worker thread
  would buy nothing but a copy of the surface and a lock. The final classification is sliced
  too (``BasinsRun.classify``: ~0.1 s in one go for 300 x 300 on Rastrigin). For grids up to
  :data:`PREVIEW_MAX_POINTS` starts the partial map is drawn every ~0.3 s, so the class
  watches the grey "still moving" area fill in with basins.
* *One image item*, created once and updated with ``setImage``: the labels (an ``(n, n)`` uint8
  array) are coloured by a lookup table, semi-transparent, between the heat map (z = -100) and
  the contour lines (z = -50), so the contours, the trajectories (z = 5) and the minima stars
  (z = 10) all stay visible on top. The colours are a qualitative palette chosen away from the
  viridis heat map; "diverged", "still moving" and "settled elsewhere" are greys, starts where
  the surface is undefined are left transparent.
* *Invalidation*: a map of one surface means nothing on another, so a surface change (seen on
  ``restarted`` event) clears the overlay and cancels a run. A new start point or a reset keeps
  it: the basins do not depend on where the race starts.

Objects: ``basinsGroup``, ``basinsOptimizerLabel``, ``basinsGridSpin``, ``basinsStepsSpin``,
``computeBasinsButton``, ``cancelBasinsButton``, ``basinsProgress``, ``showBasinsCheck``,
``basinsStatus`` and ``basinsLegend`` (one row per class: colour swatch, name, share).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from app.model_events import subscribe
from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, get_theme
from app.views.surface_runners import swatch
from app.warmup import LOADING_NOTE, warming_up
from app.widgets.describe import describe, wrapping
from core.engine.optimizers import OptimizerSpec
from core.errors import GdsimError, error_line
from core.state.surfaces import RunnerEntry, SurfacesModel, auto_label
from core.teach.basins import (
    DEFAULT_N,
    DEFAULT_STEPS,
    MAX_N,
    MAX_STEPS,
    MIN_N,
    BasinClass,
    BasinsResult,
    BasinsRun,
)

#: Longest slice of work per timer tick (the race's own tick budget is 8 ms too).
SLICE_BUDGET_S = 0.008
TICK_MS = 1
#: Partial maps are drawn this often while computing, for grids up to PREVIEW_MAX_POINTS starts
#: (classifying 15,000 points takes a few ms; a 300 x 300 grid would take too long per frame).
PREVIEW_INTERVAL_S = 0.3
PREVIEW_MAX_POINTS = 15_000
OVERLAY_OPACITY = 0.72
OVERLAY_Z = -75  # above the heat map (-100), below the contour lines (-50) and trajectories
LEGEND_ROWS = 7  # rows shown before the legend scrolls

#: Basin colours: qualitative, saturated, none of them on viridis' purple-teal-yellow ramp
#: (so a basin never reads as "a level of the surface"); known minima take them in order, the
#: clustered "other minima" continue the cycle.
BASIN_COLORS: tuple[str, ...] = (
    "#E6194B",  # red
    "#4363D8",  # blue
    "#F58231",  # orange
    "#F032E6",  # magenta
    "#FFE119",  # yellow
    "#42D4F4",  # cyan
    "#911EB4",  # purple
    "#9A6324",  # brown
    "#FABED4",  # pink
    "#3CB44B",  # green
    "#800000",  # maroon
    "#000075",  # navy
)
GREYS = {"diverged": "#6E6E6E", "moving": "#C8C8C8", "elsewhere": "#3A3A3A"}
UNDEFINED_COLOR = "#00000000"  # transparent: the heat map is blank there too


def class_color(c: BasinClass, n_minima: int) -> str:
    """The colour of one legend class (stable: a known minimum keeps its colour across runs)."""
    if c.kind == "minimum":
        return BASIN_COLORS[c.minimum_index % len(BASIN_COLORS)]
    if c.kind == "other":
        return BASIN_COLORS[(n_minima + c.other_index) % len(BASIN_COLORS)]
    if c.kind == "undefined":
        return UNDEFINED_COLOR
    return GREYS.get(c.kind, "#808080")


def _percent(fraction: float) -> str:
    if fraction == 0:
        return "0 %"
    if fraction < 0.001:
        return "< 0.1 %"
    return f"{100 * fraction:.1f} %"


class BasinsTool(QObject):
    """The group box, the overlay and the sliced computation (see the module docstring)."""

    def __init__(self, model: SurfacesModel, map_plot, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = get_theme()
        self.run: BasinsRun | None = None
        self._classifier: Iterator[BasinsResult | None] | None = None  # the final, in pieces
        self.result: BasinsResult | None = None
        self._surface = None  # the Surface the overlay (or the run) belongs to
        self._t0 = 0.0
        self._last_preview = 0.0
        self._status_error = False
        self._label = ""  # what the list calls the optimizer being (or last) computed

        self.box = self._build_box()
        self.image = pg.ImageItem()
        self.image.setObjectName("basinsOverlay")
        self.image.setZValue(OVERLAY_Z)
        self.image.setOpacity(OVERLAY_OPACITY)
        self.image.setVisible(False)
        map_plot.addItem(self.image, ignoreBounds=True)

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

        subscribe(self, self._on_selection, model.events.selection_changed)
        subscribe(self, self._on_runner_changed, model.events.runner_changed)
        subscribe(self, self._on_restarted, model.events.restarted)
        self.theme.changed.connect(self._on_theme)
        self._show_spec()
        self._sync_buttons()

    # ===================================================================== widgets
    def _build_box(self) -> QGroupBox:
        box = QGroupBox("Basins of attraction")
        box.setObjectName("basinsGroup")
        box.setToolTip(
            "Start the selected optimizer from every point of a grid and colour each start by "
            "the minimum it reaches: where you start decides where you end."
        )
        self.spec_label = describe(
            PlainLabel(box),
            "basinsOptimizerLabel",
            "Optimizer used for the basins",
            "The basins use the optimizer selected in the list above, with its current "
            "hyperparameters (select another one or change its learning rate, then compute).",
        )
        wrapping(self.spec_label)

        self.grid_spin = describe(
            QSpinBox(box),
            "basinsGridSpin",
            "Grid points per side",
            f"Start points per side of the grid ({MIN_N}–{MAX_N}); 100 means 100 × 100 = "
            "10,000 starts, all stepped together.",
        )
        self.grid_spin.setRange(MIN_N, MAX_N)
        self.grid_spin.setValue(DEFAULT_N)
        self.grid_spin.setSuffix(" per side")

        self.steps_spin = describe(
            QSpinBox(box),
            "basinsStepsSpin",
            "Maximum optimizer steps",
            "The most optimizer steps each start takes; the computation stops earlier once "
            "every start has arrived or diverged. Starts still on their way are 'still moving'.",
        )
        self.steps_spin.setRange(10, MAX_STEPS)
        self.steps_spin.setSingleStep(100)
        self.steps_spin.setValue(DEFAULT_STEPS)

        self.compute_button = describe(
            QPushButton("Compute basins", box),
            "computeBasinsButton",
            "Compute basins",
            "Run the selected optimizer from every grid point and colour the map by where each "
            "start ends (the window stays responsive; Cancel stops it).",
        )
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = describe(
            QPushButton("Cancel", box),
            "cancelBasinsButton",
            "Cancel basins",
            "Stop computing the basins (the map keeps what it had).",
        )
        self.cancel_button.clicked.connect(self.cancel)

        self.progress = describe(
            QProgressBar(box),
            "basinsProgress",
            "Basins progress",
            "Steps taken of the maximum (ends early once all have arrived).",
        )
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")

        self.show_check = describe(
            QCheckBox("Show basins", box),
            "showBasinsCheck",
            "Show basins on the map",
            "Show or hide the basin colours over the contour map.",
        )
        self.show_check.setChecked(True)
        self.show_check.toggled.connect(self._sync_overlay_visibility)

        self.status = describe(
            PlainLabel(box),
            "basinsStatus",
            "Basins status",
            "What the last computation did, or why it could not start.",
        )
        wrapping(self.status)

        self.legend = describe(
            QListWidget(box),
            "basinsLegend",
            "Basins legend",
            "Each colour on the map: where those starts ended, and their share.",
        )
        self.legend.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.legend.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.legend.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.legend.hide()

        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.spec_label)
        form = QGridLayout()
        grid_title = PlainLabel("Grid", box)
        grid_title.setBuddy(self.grid_spin)
        steps_title = PlainLabel("Steps", box)
        steps_title.setBuddy(self.steps_spin)
        form.addWidget(grid_title, 0, 0)
        form.addWidget(self.grid_spin, 0, 1)
        form.addWidget(steps_title, 1, 0)
        form.addWidget(self.steps_spin, 1, 1)
        form.setColumnStretch(1, 1)
        lay.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button, 1)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.show_check)
        lay.addWidget(self.status)
        lay.addWidget(self.legend)
        return box

    # ===================================================================== the optimizer
    def selected_spec(self) -> OptimizerSpec | None:
        """The spec of the runner selected in the optimizer list (None if none is)."""
        entry = self.model.selected_entry
        return entry.runner.spec if entry is not None else None

    def _show_spec(self) -> None:
        spec = self.selected_spec()
        self.spec_label.setText(
            f"Optimizer: {auto_label(spec)}"
            if spec is not None
            else "Optimizer: select one in the list"
        )

    @Slot(int)
    def _on_selection(self, _rid: int) -> None:
        self._show_spec()
        self._sync_buttons()

    def _on_runner_changed(self, _entry: RunnerEntry) -> None:
        self._show_spec()

    # ===================================================================== running
    @property
    def computing(self) -> bool:
        return self.run is not None

    @Slot()
    def compute(self) -> bool:
        """Start computing the basins of the selected optimizer (False, with a reason, if not)."""
        self._show_spec()
        spec = self.selected_spec()
        if spec is None:
            self._set_status("Select an optimizer in the list first.", error=True)
            return False
        surface = self.model.race.surface
        t0 = time.perf_counter()
        try:
            run = BasinsRun(surface, spec, n=self.grid_spin.value(), steps=self.steps_spin.value())
        except GdsimError as exc:
            self._set_status(str(exc), error=True)
            return False
        self.timer.stop()
        self.run = run
        self._classifier = None
        self._surface = surface
        self._t0 = t0
        self._last_preview = time.perf_counter()
        self.progress.setValue(0)
        n = run.n
        self._label = auto_label(spec)
        self._set_status(f"Computing {self._label} from {n} × {n} starts…")
        self._sync_buttons()
        self.timer.start()
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop a computation; the map keeps the last complete result (if any)."""
        if self.run is None:
            return
        self.timer.stop()
        self.run = None
        self._classifier = None
        self.progress.setValue(0)
        if self.result is not None and self.result.surface == self.model.race.surface.name:
            self._draw(self.result)  # the partial preview goes, the last full map comes back
        else:
            self._clear_overlay()
        self._set_status("Cancelled.")
        self._sync_buttons()

    @Slot()
    def _tick(self) -> None:
        run = self.run
        if run is None:
            self.timer.stop()
            return
        if warming_up():  # the first step would wait for the start-up import (app.warmup)
            self._set_status(f"Computing {self._label}: {LOADING_NOTE}")
            return
        deadline = time.perf_counter() + SLICE_BUDGET_S
        try:
            if self._classifier is None:
                progress = run.advance(MAX_STEPS, budget_s=SLICE_BUDGET_S)
                self.progress.setValue(int(round(1000 * progress)))
                if run.done:  # classify in pieces too: 300 x 300 takes ~0.1 s in one go
                    self._classifier = run.classify()
                elif (
                    run.n * run.n <= PREVIEW_MAX_POINTS
                    and time.perf_counter() - self._last_preview >= PREVIEW_INTERVAL_S
                ):
                    self._draw(run.result(), preview=True)
                    self._last_preview = time.perf_counter()
                return
            while time.perf_counter() < deadline:
                result = next(self._classifier)
                if result is not None:
                    self.timer.stop()
                    self.run = None
                    self._classifier = None
                    self._finish(result, time.perf_counter() - self._t0)
                    return
        except Exception as exc:  # a surface that blows up in torch: say so, keep the window
            self.timer.stop()
            self.run = None
            self._classifier = None
            self._set_status(f"Basins failed: {error_line(exc)}", error=True)
            self._sync_buttons()

    def _finish(self, result: BasinsResult, seconds: float) -> None:
        self.result = result
        self._draw(result)
        arrived = "all arrived" if result.finished else "stopped at the step limit"
        self._set_status(
            f"{self._label}: {len(result.xs)} × {len(result.ys)} starts, "
            f"{result.steps} steps ({arrived}), {seconds:.1f} s"
        )
        self._sync_buttons()

    # ===================================================================== drawing
    def _draw(self, result: BasinsResult, preview: bool = False) -> None:
        n_minima = sum(c.kind == "minimum" for c in result.legend)
        colors = [class_color(c, n_minima) for c in result.legend]
        lut = np.array([pg.mkColor(c).getRgb() for c in colors] or [(0, 0, 0, 0)], dtype=np.uint8)
        xs, ys = result.xs, result.ys
        dx = (xs[-1] - xs[0]) / (len(xs) - 1)
        dy = (ys[-1] - ys[0]) / (len(ys) - 1)
        # uint8 labels through a LUT indexed 0..K-1 (levels (0, K) map label k to lut[k])
        labels = result.labels.astype(np.uint8).T  # ImageItem is column-major: [x, y]
        self.image.setImage(labels, lut=lut, levels=(0, len(lut)), autoLevels=False)
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys)))
        self._fill_legend(result, colors, preview)
        self._sync_overlay_visibility()

    def _fill_legend(self, result: BasinsResult, colors: list[str], preview: bool) -> None:
        self.legend.clear()
        size = int(round(14 * self.theme.scale))
        for c, color in zip(result.legend, colors, strict=True):
            text = f"{c.name} — {_percent(c.fraction)}"
            icon = swatch(color, size) if c.kind != "undefined" else QIcon()
            item = QListWidgetItem(icon, text)
            where = (
                f"ends at ({c.location[0]:.4g}, {c.location[1]:.4g}), f = {c.value:.4g}"
                if c.location is not None and c.value is not None
                else {
                    "diverged": "left for infinity (the divergence limit)",
                    "moving": "had not settled when the steps ran out",
                    "elsewhere": "settled beyond the number of classes shown",
                    "undefined": "f is not defined at these starts",
                }.get(c.kind, "")
            )
            item.setToolTip(f"{where}; {c.count:,} of {result.labels.size:,} starts")
            item.setData(Qt.ItemDataRole.UserRole, c.index)
            self.legend.addItem(item)
        self.legend.setEnabled(not preview)
        rows = min(LEGEND_ROWS, max(1, self.legend.count()))
        row_h = max(self.legend.sizeHintForRow(0), size + 4)
        self.legend.setFixedHeight(rows * row_h + 2 * self.legend.frameWidth() + 2)
        self.legend.show()

    def _clear_overlay(self) -> None:
        self.image.clear()
        self.image.setVisible(False)
        self.legend.clear()
        self.legend.hide()

    @Slot(bool)
    def _sync_overlay_visibility(self, _checked: bool = False) -> None:
        has = self.result is not None or self.run is not None
        self.image.setVisible(bool(has and self.show_check.isChecked()))

    def overlay_visible(self) -> bool:
        """True if basin colours are on the map now (tests, and what a user sees)."""
        return self.image.isVisible() and self.image.image is not None

    def legend_texts(self) -> list[str]:
        return [self.legend.item(i).text() for i in range(self.legend.count())]

    # ===================================================================== state
    def _set_status(self, text: str, error: bool = False) -> None:
        self._status_error = error
        self.status.setText(text)
        self.status.setStyleSheet(
            f"color: {ERROR_COLORS.get(self.theme.name, '#C62828')};" if error else ""
        )

    def _sync_buttons(self) -> None:
        running = self.run is not None
        self.compute_button.setEnabled(not running and self.selected_spec() is not None)
        self.cancel_button.setEnabled(running)
        self.show_check.setEnabled(self.result is not None or running)

    def _on_restarted(self) -> None:
        """A new surface invalidates the map (and a run); a new start or a reset does not."""
        if self._surface is None or self.model.race.surface.name == self._surface.name:
            return
        was_running = self.run is not None
        self.timer.stop()
        self.run = None
        self._classifier = None
        self.result = None
        self._surface = None
        self.progress.setValue(0)
        self._clear_overlay()
        self._set_status(
            "Surface changed: basins cancelled."
            if was_running
            else "Surface changed: basins cleared (compute them again for this surface)."
        )
        self._sync_buttons()

    @Slot()
    def _on_theme(self) -> None:
        if self._status_error:
            self._set_status(self.status.text(), error=True)
        if self.result is not None and self.run is None:
            self._draw(self.result)  # swatches follow the zoom

    def shutdown(self) -> None:
        """Stop the timer (call from the view's shutdown, before the window goes)."""
        self.timer.stop()
        self.run = None
        self._classifier = None


def install(view) -> BasinsTool:
    """Add the basins tool to a SurfaceView."""
    tool = BasinsTool(view.model, view.plots.map, parent=view)
    view.add_tool(tool.box)
    return tool
