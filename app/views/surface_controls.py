"""The Surfaces view's Run and Surface groups: small controls over a ``SurfacesModel``.

Each control writes a command to the model; the model's events update the controls (under a
signal blocker, so showing a value never sends it back), as napari's layer controls do.

Objects: ``runButton``, ``stepButton``, ``resetButton``, ``speedSlider``/``speedLabel``,
``surfaceCombo``/``surfaceDescription``, ``expressionEdit``/``expressionError``, ``startLabel``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.model_events import subscribe
from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, ThemeManager
from app.warmup import LOADING_NOTE, run_when_warm, warming_up
from app.widgets.describe import add_item, describe, wrapping
from core.engine.expression import expression_help
from core.engine.surfaces import SURFACES, Surface, surface_names
from core.errors import GdsimError
from core.files.session import SPEED_MAX, SPEED_MIN
from core.state.format import format_number
from core.state.surfaces import SurfacesModel, error_column, expression_problem

SPEED_POSITIONS = 1000
EXPRESSION_CHECK_MS = 400


def speed_to_position(speed: float) -> int:
    frac = math.log(speed / SPEED_MIN) / math.log(SPEED_MAX / SPEED_MIN)
    return int(round(min(1.0, max(0.0, frac)) * SPEED_POSITIONS))


def position_to_speed(pos: int) -> float:
    v = SPEED_MIN * (SPEED_MAX / SPEED_MIN) ** (pos / SPEED_POSITIONS)
    return float(f"{v:.2g}") if v >= 10 else round(v, 1)


def surface_title(name: str) -> str:
    """'six-hump-camel' -> 'Six-Hump-Camel' (the combo's text; the registry key stays data)."""
    return name.title()


class RunControls(QGroupBox):
    """Start/pause, one step, reset, and the speed (steps per second, log slider)."""

    def __init__(self, model: SurfacesModel, parent: QWidget | None = None) -> None:
        super().__init__("Run", parent)
        self.setObjectName("runGroup")
        self.model = model
        tips = {
            "run": "Start or pause the race: every optimizer takes steps at the chosen speed "
            "(Space).",
            "step": "Advance every optimizer by exactly one optimizer step (S or →).",
            "reset": "Send every optimizer back to the start point with a fresh optimizer state "
            "(R).",
        }
        self.run_button = self._button("runButton", "Start", tips["run"], model.toggle_run)
        self.step_button = self._button("stepButton", "Step", tips["step"], self.step_once)
        self.reset_button = self._button("resetButton", "Reset", tips["reset"], model.reset)
        self.speed_slider = describe(
            QSlider(Qt.Orientation.Horizontal, self),
            "speedSlider",
            "Speed in steps per second",
            "How many optimizer steps per second the race takes while running (log scale, "
            f"{SPEED_MIN:g} to {SPEED_MAX:g}); it does not change what each step does.",
        )
        self.speed_slider.setRange(0, SPEED_POSITIONS)
        self.speed_slider.setPageStep(SPEED_POSITIONS // 10)
        self.speed_slider.valueChanged.connect(self._on_slider)
        self.speed_label = describe(PlainLabel(self), "speedLabel", "Speed", "Steps per second asked for (the status line shows the rate "
                                    "reached).")  # fmt: skip
        self.speed_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("2000 steps/s") + 4)
        self._layout()
        subscribe(self, self._show_speed, model.events.speed_changed)
        subscribe(self, self._show_running, model.events.running_changed)
        self._show_speed(model.speed)

    def _button(self, name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        b = QPushButton(text, self)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setAccessibleName(text)
        b.clicked.connect(slot)
        return b

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.addWidget(self.run_button, 0, 0)
        grid.addWidget(self.step_button, 0, 1)
        grid.addWidget(self.reset_button, 0, 2)
        speed_row = QHBoxLayout()
        speed_title = PlainLabel("Speed", self)
        speed_title.setBuddy(self.speed_slider)
        speed_row.addWidget(speed_title)
        speed_row.addWidget(self.speed_slider, 1)
        speed_row.addWidget(self.speed_label)
        grid.addLayout(speed_row, 1, 0, 1, 3)

    @Slot()
    def step_once(self) -> None:
        """Exactly one optimizer step for every runner that is still going (while the start-up
        warm-up import runs, once it is done: see app.warmup)."""
        model = self.model
        if model.running:
            model.pause()
        if warming_up():
            model.set_note(LOADING_NOTE)
            run_when_warm(self, partial(self._step_now, model.generation))
            return
        model.step()

    def _step_now(self, generation: int) -> None:
        if generation == self.model.generation:  # not reset (or moved) while it waited
            self.model.step()

    @Slot(int)
    def _on_slider(self, pos: int) -> None:
        self.model.set_speed(position_to_speed(pos))

    def _show_speed(self, speed: float) -> None:
        if position_to_speed(self.speed_slider.value()) != speed:
            with QSignalBlocker(self.speed_slider):
                self.speed_slider.setValue(speed_to_position(speed))
        self.speed_label.setText(f"{speed:.0f} steps/s" if speed >= 10 else f"{speed:g} steps/s")

    def _show_running(self, running: bool) -> None:
        self.run_button.setText("Pause" if running else "Start")
        self.run_button.setAccessibleName(self.run_button.text())


class SurfaceControls(QGroupBox):
    """The surface (a registry entry or a typed f(x, y)) and the start point."""

    def __init__(
        self, model: SurfacesModel, theme: ThemeManager, parent: QWidget | None = None
    ) -> None:
        super().__init__("Surface", parent)
        self.setObjectName("surfaceGroup")
        self.model = model
        self.theme = theme
        self._build()
        self._expr_timer = QTimer(self)
        self._expr_timer.setSingleShot(True)
        self._expr_timer.setInterval(EXPRESSION_CHECK_MS)
        self._expr_timer.timeout.connect(self._check_expression)
        subscribe(self, self._show_surface, model.events.surface_changed)
        subscribe(self, self._show_start, model.events.restarted)
        self._show_surface(model.race.surface)

    def _build(self) -> None:
        self.surface_combo = combo = QComboBox(self)
        describe(
            combo,
            "surfaceCombo",
            "Built-in surface",
            "The loss surface the optimizers race on; switching restarts every optimizer from "
            "the surface's default start.",
        )
        combo.setPlaceholderText("Your expression")
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        for name in surface_names():
            add_item(combo, surface_title(name), name, SURFACES[name].description)
        combo.currentIndexChanged.connect(self._on_combo)
        self.surface_description = wrapping(
            describe(PlainLabel(self), "surfaceDescription", "Surface description")
        )
        self.expression_edit = edit = QLineEdit(self)
        describe(edit, "expressionEdit", "Surface expression f(x, y)")
        edit.setPlaceholderText("or type f(x, y), e.g. x**2 + 10*y**2")
        edit.setClearButtonEnabled(True)
        edit.setToolTip(
            "Type your own loss f(x, y) and press Enter: the optimizers race on it from a fresh "
            "start.\n\n" + expression_help()
        )
        edit.returnPressed.connect(self.apply_expression)
        edit.textEdited.connect(lambda _text: self._expr_timer.start())
        self.expression_error = wrapping(
            describe(PlainLabel(self), "expressionError", "Expression error")
        )
        self.expression_error.hide()
        self.start_label = wrapping(describe(PlainLabel(self), "startLabel", "Start point"))
        self.start_label.setToolTip("Where every optimizer starts; click or drag on the map to "
                                    "move it.")  # fmt: skip
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        for w in (combo, self.surface_description, edit, self.expression_error, self.start_label):
            lay.addWidget(w)

    # -- model -> widgets
    def _show_surface(self, surface: Surface) -> None:
        self.surface_description.setText(surface.description)
        combo = self.surface_combo
        combo.setToolTip(combo.toolTip().split("\n\n")[0] + "\n\n" + surface.description)
        idx = -1 if surface.is_expression else combo.findData(surface.name)
        if combo.currentIndex() != idx:
            with QSignalBlocker(combo):
                combo.setCurrentIndex(idx)
        if not surface.is_expression:  # the field described the surface left behind
            self.expression_edit.clear()
        elif self.expression_edit.text().strip() != surface.name:
            self.expression_edit.setText(surface.name)
        self.clear_error()
        self._show_start()

    def _show_start(self) -> None:
        x, y = self.model.race.start
        self.start_label.setText(
            f"Start: ({format_number(x, 3)}, {format_number(y, 3)}) — click the map to move it"
        )

    # -- widgets -> model
    @Slot(int)
    def _on_combo(self, index: int) -> None:
        name = self.surface_combo.itemData(index) if index >= 0 else None
        if name and name != self.model.race.surface.name:
            self.model.set_surface(name)

    @Slot()
    def _check_expression(self) -> None:
        """While typing: say what is wrong (or nothing) without touching the race."""
        text = self.expression_edit.text().strip()
        problem = expression_problem(text) if text else None
        if problem is None:
            self.clear_error()
        else:
            self.show_error(problem)

    @Slot()
    def apply_expression(self) -> bool:
        """Enter in ``expressionEdit``: race on the typed surface, or say why not."""
        self._expr_timer.stop()
        try:
            applied = self.model.apply_expression(self.expression_edit.text())
        except GdsimError as exc:
            self.show_error(exc)
            return False
        self.clear_error()
        return applied

    def show_error(self, exc: GdsimError) -> None:
        msg = str(exc)
        column = error_column(exc)
        if column is not None and "column" not in msg:
            msg = f"{msg} (column {column})"
        self.expression_error.setText(msg)
        self.expression_error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")
        self.expression_error.show()
        if column is not None and self.expression_edit.hasFocus():
            self.expression_edit.setCursorPosition(max(0, column - 1))

    def clear_error(self) -> None:
        self.expression_error.clear()
        self.expression_error.hide()

    def restyle(self) -> None:
        if self.expression_error.isVisible():
            self.expression_error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")

    def shutdown(self) -> None:
        self._expr_timer.stop()
