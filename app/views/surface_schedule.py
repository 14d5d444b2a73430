"""Schedule & noise on the Surfaces view: an lr schedule per optimizer, seeded gradient noise,
and a "Learning rate" page with lr against step.

What a lecturer does: select an optimizer in the list, pick a scheduler in "Schedule & noise"
(its arguments appear below it, with the values the race will use), and watch the learning rate
page draw the lr each optimizer used at every step, in the optimizer's colour. Tick "Gradient
noise" and drag σ to show what mini-batches do to a path; the seed picks the draws.

How it applies (``core.engine.race``, "Schedules" and "Noise"):

* *A schedule restarts the race*. ``Race.set_schedule`` restarts that runner (a schedule is a
  plan over steps from 0), and this tool then resets the whole race, so every loss and lr curve
  starts at step 0 together and stays comparable. Changing an argument does the same.
* *σ applies live*, from the next step, with no restart: a lecturer can turn noise up while the
  race runs. Unticking sets σ = 0, which is exactly no noise. Reset replays the same noise.
* *A new seed restarts the race*: different draws from step 0, so the run can be replayed.
* Built from the ``core.engine.schedulers`` registry only: a scheduler added there appears in the combo
  with its arguments, with no edit here. The arguments' defaults are the registry's run-derived
  ones for a run of ``race.horizon`` steps; a value the user edits is written into the SPEC.

The lr page holds one curve per runner (created once, updated with ``setData``, only for the
runners whose step count changed, and only while the page is shown: a hidden page costs one
flag per redraw). Each curve is the runner's bounded ``lr_series()`` (at most the trail's cap of
points); runners without a schedule draw their constant lr. With no schedule anywhere the page
says so instead of showing flat lines. The y axis is logarithmic (schedules multiply the lr);
an lr of exactly 0 (CosineAnnealingLR's end) is left out of the line rather than sent to -inf.

Past its end a schedule goes on as torch's does; OneCycleLR (torch raises past its cycle) holds
its last lr, and the page draws a labelled line where (``lrHoldMarker``). A live lr change on a
runner without a schedule shows too, as the staircase it is: the page shows the plot whenever
some runner's lr changed since step 0.

Objects: ``scheduleGroup``, ``scheduleTarget``, ``surfaceSchedulerCombo``, ``scheduleArgs``
(its controls are ``sched_<argument>``; a list of whole numbers, a formula in ``epoch`` and a
composition's parts are line edits ``sched_<argument>Edit``, the parts ``sched_schedulersEdit``),
``scheduleError``, ``noiseCheck``, ``noiseSlider``/``noiseSpin``, ``noiseSeedSpin``, and on the
page ``surfaceLrPlot`` and ``lrEmptyLabel``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from app.model_events import subscribe
from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, ThemeManager, get_theme
from app.widgets.describe import add_item, describe, wrapping
from app.widgets.form_rows import retire_rows, wrapping_form
from app.widgets.hparam_form import HParamForm, pretty_name
from app.widgets.lazy_menu import plot_widget
from app.widgets.slider_spin import LogSliderSpin
from core.engine.race import MAX_NOISE, MAX_SEED, Runner, check_schedule
from core.engine.schedulers import (
    SchedArg,
    SchedulerSpec,
    get_scheduler,
    parse_scheduler,
    scheduler_names,
)
from core.errors import GdsimError
from core.state.format import nice_ceiling
from core.state.surfaces import RunnerEntry, SurfacesModel

NOISE_RANGE = (1e-3, 1e3)  # the slider's span; the spin box takes up to MAX_NOISE
NOISE_DEFAULT = 1.0
LR_WIDTH = 2.0
#: Float arguments shown on a log slider (they span decades); others get a plain spin box
#: (eta_min, min_lr, threshold: often 0) or a linear slider (factors in (0, 1]).
LOG_ARGS = ("max_lr", "base_lr", "div_factor", "final_div_factor")
SPIN_ARGS = ("eta_min", "min_lr", "threshold")
HOLD_TEXT = "{name}: cycle over, lr held (torch stops here)"
EMPTY_TEXT = (
    "No learning-rate schedule yet: every optimizer keeps its learning rate. Select an "
    "optimizer and pick a scheduler under Schedule & noise to see its lr, step by step."
)


@dataclass(frozen=True)
class _ArgView:
    """A scheduler argument as ``HParamForm`` wants it (its duck-typed HParam)."""

    name: str
    default: Any
    kind: str
    low: float | None
    high: float | None
    log: bool
    help: str
    choices: tuple = ()


def _arg_view(arg: SchedArg, value: Any) -> _ArgView:
    high = arg.high
    log = arg.name in LOG_ARGS
    if arg.kind == "float" and arg.name in SPIN_ARGS:
        high = None  # no slider: a spin box that takes 0 and 1e-6 alike
    return _ArgView(arg.name, value, arg.kind, arg.low, high, log, arg.help, tuple(arg.choices))


def worth_a_plot(entries: Iterable[RunnerEntry]) -> bool:
    """Some runner's lr changed since step 0 (a schedule or a live change)."""
    return any(getattr(e.runner, "lr_changed", False) for e in entries)


def _readable(color: str, theme: ThemeManager) -> str:
    """The runner's colour, darkened where it would vanish on a light background (yellow)."""
    if theme.is_dark:
        return color
    c = pg.mkColor(color)
    if 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF() > 0.7:
        return c.darker(160).name()
    return color


#: Arguments typed into a line edit (not a slider): what to type, for the tooltip.
EDIT_HINTS = {
    "ints": "whole numbers separated by commas",
    "expr": "a formula in epoch, e.g. 0.95^epoch or 1/(1 + 0.1*epoch)",
    "schedulers": "scheduler SPECs separated by commas, e.g. LinearLR(start_factor=0.1), "
    "CosineAnnealingLR",
}


def _edit_text(value: Any) -> str:
    """A line-edit argument as text: whole numbers joined by commas, a formula as typed."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class LrPage(QWidget):
    """The "Learning rate" page: lr against step per runner, or a sentence when none is
    scheduled."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lrPage")
        self.theme = theme
        self.empty = describe(
            PlainLabel(EMPTY_TEXT, self), "lrEmptyLabel", "No learning-rate schedule"
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMargin(12)
        self.empty.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.plot = describe(
            plot_widget(self),
            "surfaceLrPlot",
            "Learning rate against step for every optimizer",
            "The learning rate each optimizer used at every step (log axis; same colours as "
            "the map). A schedule changes it after every optimizer.step().",
        )
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "step")
        pi.setLabel("left", "learning rate")
        pi.hideButtons()
        pi.disableAutoRange()  # ranges jump when the data leave them (see _fit)
        pi.setLogMode(False, True)
        pi.getAxis("left").setWidth(52)
        pi.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on an lr axis only confuses
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.plot)
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.holds: dict[int, pg.InfiniteLine] = {}  # runner id -> "lr held from here" line
        self._drawn: dict[int, tuple] = {}
        self._extent: dict[int, tuple[float, float, float]] = {}
        self._range: tuple[float, float, float] | None = None
        self.dirty = True
        self.on_show: Callable[[], None] | None = None
        theme.style_plot(self.plot)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self.on_show is not None:
            self.on_show()  # the race may have run while the page was hidden

    def update_from(self, entries: Iterable[RunnerEntry], generation: int) -> None:
        """Push what changed into the curves (cheap when nothing did)."""
        entries = list(entries)
        scheduled = worth_a_plot(entries)
        self.stack.setCurrentWidget(self.plot if scheduled else self.empty)
        alive = {e.id for e in entries}
        for rid in [r for r in self.curves if r not in alive]:
            self.plot.removeItem(self.curves.pop(rid))
            self._drawn.pop(rid, None)
            self._extent.pop(rid, None)
        for rid in [r for r in self.holds if r not in alive]:
            self.plot.removeItem(self.holds.pop(rid))
        if not scheduled:
            return
        changed = False
        for entry in entries:
            r = entry.runner
            curve = self.curves.get(entry.id)
            if curve is None:
                curve = self.curves[entry.id] = pg.PlotDataItem()
                self.plot.addItem(curve)
            key = (generation, r.steps, r.status, str(r.scheduler), r.lr, entry.color)
            if curve.isVisible() != entry.visible:
                curve.setVisible(entry.visible)
                changed = True
            if self._drawn.get(entry.id) == key:
                continue
            self._drawn[entry.id] = key
            self._show_hold(entry)
            steps, lrs = r.lr_series()
            y = np.where(lrs > 0, lrs, np.nan)  # log axis: a zero lr leaves a gap, not -inf
            curve.setData(steps.astype(np.float64), y, connect="finite")
            self._style(curve, entry.color)
            finite = y[np.isfinite(y)]
            if finite.size:
                self._extent[entry.id] = (float(steps[-1]), finite.min(), finite.max())
            else:
                self._extent.pop(entry.id, None)
            changed = True
        if changed:
            self._fit([e.id for e in entries if e.visible])

    def _show_hold(self, entry: RunnerEntry) -> None:
        """A labelled line where a schedule stops and holds its last lr (OneCycleLR: torch
        raises past its cycle), once the runner has got there."""
        r = entry.runner
        end = r.schedule.end if r.schedule is not None else None
        line = self.holds.get(entry.id)
        if end is None or r.steps < end:
            if line is not None:
                self.plot.removeItem(self.holds.pop(entry.id))
            return
        if line is None:
            line = self.holds[entry.id] = pg.InfiniteLine(
                angle=90,
                movable=False,
                label=HOLD_TEXT.format(name=r.scheduler.name),
                labelOpts={"position": 0.9, "anchors": [(0, 0), (0, 0)]},
            )
            line.setObjectName("lrHoldMarker")
            self.plot.addItem(line)
        line.setValue(float(end))
        line.setVisible(entry.visible)
        line._gdsim_color = entry.color  # type: ignore[attr-defined]
        self._style_hold(line)

    def _style_hold(self, line: pg.InfiniteLine) -> None:
        color = _readable(line._gdsim_color, self.theme)  # type: ignore[attr-defined]
        line.setPen(self.theme.pen(color, 1.0, style=Qt.PenStyle.DashLine))
        line.label.setColor(color)

    def hold_markers(self) -> dict[int, tuple[float, str]]:
        """Runner id -> (step, text) of each hold line shown (tests, screen readers)."""
        return {rid: (float(m.value()), m.label.toPlainText()) for rid, m in self.holds.items()}

    def _style(self, curve: pg.PlotDataItem, color: str) -> None:
        curve.setPen(self.theme.pen(_readable(color, self.theme), LR_WIDTH))
        curve._gdsim_color = color  # type: ignore[attr-defined]

    def restyle(self) -> None:
        for line in self.holds.values():
            self._style_hold(line)
        for curve in self.curves.values():
            color = getattr(curve, "_gdsim_color", None)
            if color is not None:
                self._style(curve, color)
        self.theme.style_plot(self.plot)

    def _fit(self, visible: list[int]) -> None:
        """Keep the range still until the data leave it, then jump to a rounded one (moving the
        axes every frame would re-render them; see surface_plots)."""
        ext = [self._extent[rid] for rid in visible if rid in self._extent]
        if not ext:
            return
        x1 = max(10.0, max(e[0] for e in ext))
        lo = math.log10(min(e[1] for e in ext))
        hi = math.log10(max(e[2] for e in ext))
        y0, y1 = math.floor(lo - 0.05) - 0.1, math.ceil(hi + 0.05) + 0.1
        cur = self._range
        if cur is not None and cur[0] >= x1 and cur[0] <= 8 * nice_ceiling(2 * x1):
            x1 = cur[0]
        else:
            x1 = nice_ceiling(2 * x1)
        if cur is not None and cur[1] <= lo and hi <= cur[2] and cur[2] - cur[1] <= 4 + y1 - y0:
            y0, y1 = cur[1], cur[2]
        if cur == (x1, y0, y1):
            return
        self._range = (x1, y0, y1)
        self.plot.getPlotItem().getViewBox().setRange(xRange=(0, x1), yRange=(y0, y1), padding=0)

    def reset_range(self) -> None:
        self._range = None
        self._drawn.clear()

    def curve_data(self, rid: int) -> tuple[np.ndarray, np.ndarray]:
        """``(step, lr)`` the page draws for a runner (lr in data units; empty if none)."""
        curve = self.curves.get(rid)
        if curve is None or curve.xData is None:
            return np.empty(0), np.empty(0)
        x, y = curve.getOriginalDataset()
        return np.asarray(x), np.asarray(y)


class ScheduleTool(QObject):
    """The "Schedule & noise" group and the "Learning rate" page of one SurfaceView."""

    def __init__(self, model: SurfacesModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = get_theme()
        self._syncing = False
        self._closed = False
        self._rid = -1
        self._arg_edits: dict[str, QLineEdit] = {}
        self._args_key: tuple[int | None, str | None] | None = None
        self.box = self._build_box()
        self.page = LrPage(self.theme)
        self.page.on_show = self._on_page_shown
        ev = model.events
        subscribe(self, self._on_selected, ev.selection_changed)
        subscribe(self, self._on_runner_changed, ev.runner_changed)
        subscribe(self, self._on_redrawn, ev.stepped, ev.runner_added, ev.runner_removed)
        subscribe(self, self._on_redrawn, ev.runner_replaced)
        subscribe(self, self._on_restarted, ev.restarted)
        self.theme.changed.connect(self._on_theme)
        self._on_selected(model.selected)
        self._sync_noise()

    # -- building ----------------------------------------------------------------------------
    def _build_box(self) -> QGroupBox:
        box = describe(QGroupBox("Schedule && noise"), "scheduleGroup", "Schedule and noise")
        self.target = describe(
            PlainLabel(box), "scheduleTarget", "Optimizer the schedule applies to"
        )
        wrapping(self.target)
        self.combo = describe(
            QComboBox(box),
            "surfaceSchedulerCombo",
            "Learning-rate scheduler for the selected optimizer",
            "A torch.optim.lr_scheduler for the selected optimizer, stepped after every "
            "optimizer.step(). Choosing one restarts the race, so every curve starts at step 0.",
        )
        # as wide as the panel gives, not as the longest scheduler's name (a 400 px combo at
        # 200 % zoom kept the whole panel too wide for a 1024 px window)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(12)
        self.combo.addItem("none (constant lr)", None)
        for name in scheduler_names():
            add_item(self.combo, name, name, get_scheduler(name).description)
        self.combo.currentIndexChanged.connect(self._on_combo)
        self.args = HParamForm((), box, name_prefix="sched_")
        self.args.setObjectName("scheduleArgs")
        self.args.changed.connect(self._on_arg)
        self.ints_box = QWidget(box)
        self.ints_form = wrapping_form(self.ints_box)
        self._retired: list[QWidget] = []  # old rows' edits until the event loop deletes them
        self.ints_form.setContentsMargins(0, 0, 0, 0)
        self.error = describe(PlainLabel(box), "scheduleError", "Schedule error")
        wrapping(self.error)
        self.error.hide()

        self.noise_check = describe(
            QCheckBox("Gradient noise σ", box), "noiseCheck", "Gradient noise"
        )
        tip = (
            "Add Gaussian noise of standard deviation σ to every gradient, every step, as a "
            "mini-batch's estimate of the gradient would be noisy. Applies at once (no restart); "
            "Reset replays the same noise. Unticked: no noise at all."
        )
        self.noise_check.setToolTip(tip)
        self.noise_check.toggled.connect(self._on_noise)
        self.noise = LogSliderSpin(*NOISE_RANGE, NOISE_DEFAULT, parent=box)
        self.noise.setObjectName("noiseControl")
        self.noise.setObjectNames("noiseSlider", "noiseSpin")
        self.noise.setToolTip(tip + f" (log slider; type up to {MAX_NOISE:g} in the box)")
        self.noise.setAccessibleName("Gradient noise sigma")
        self.noise.setValidRange(0.0, MAX_NOISE, low_inclusive=False)  # beyond the slider's end
        self.noise.setLabel("Gradient noise σ")
        self.noise.valueChanged.connect(self._on_noise)
        self.seed = describe(
            QSpinBox(box),
            "noiseSeedSpin",
            "Noise seed",
            "Which random draws the noise uses: the same seed gives the same paths. Changing "
            "it restarts the race with the new draws.",
        )
        self.seed.setRange(0, MAX_SEED)
        self.seed.setKeyboardTracking(False)
        self.seed.valueChanged.connect(self._on_seed)

        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.target)
        lay.addWidget(self.combo)
        lay.addWidget(self.args)
        lay.addWidget(self.ints_box)
        lay.addWidget(self.error)
        lay.addWidget(self.noise_check)
        lay.addWidget(self.noise)
        seed_row = QHBoxLayout()
        seed_label = PlainLabel("Seed", box)
        seed_label.setBuddy(self.seed)
        seed_row.addWidget(seed_label)
        seed_row.addWidget(self.seed, 1)
        lay.addLayout(seed_row)
        return box

    # -- the selected runner -----------------------------------------------------------------
    def _runner(self) -> Runner | None:
        entry = self.model.entries.get(self._rid)
        runner = entry.runner if entry is not None else None
        return runner if isinstance(runner, Runner) else None

    def _on_runner_changed(self, entry: RunnerEntry) -> None:
        if entry.id == self._rid and not self._closed:
            self._show_runner()  # defaults such as OneCycleLR's max_lr follow the lr

    @Slot(int)
    def _on_selected(self, rid: int) -> None:
        self._rid = rid
        self._show_runner()

    def _show_runner(self) -> None:
        """Show the selected runner's schedule (combo, arguments) without applying anything."""
        runner = self._runner()
        self._clear_error()
        self._syncing = True
        try:
            self.combo.setEnabled(runner is not None)
            if runner is None:
                self.target.setText("Select an optimizer to give it a schedule.")
                self.combo.setCurrentIndex(0)
                self._build_args(None, None)
                return
            self.target.setText(f"Schedule for: {self.model.entries[self._rid].label}")
            sched = runner.scheduler
            index = 0 if sched is None else max(0, self.combo.findData(sched.name))
            self.combo.setCurrentIndex(index)
            self._build_args(runner, sched)
        finally:
            self._syncing = False

    def _build_args(self, runner: Runner | None, sched: SchedulerSpec | None) -> None:
        """The scheduler's arguments, showing the values the race passes to torch.

        The controls are rebuilt only when the runner or the scheduler class changes (from the
        combo or the list); otherwise only the shown values change, so an edit keeps its control.
        Old rows are deleted by the event loop (``retire_rows``), never inside a signal.
        """
        key = (None if runner is None else runner.id, None if sched is None else sched.name)
        values: dict[str, Any] = {}
        if runner is not None and sched is not None:
            try:
                values = check_schedule(runner.spec, sched, self.model.race.horizon)
            except GdsimError:
                values = dict(sched.kwargs)
        if sched is not None and sched.info.composite:
            values["schedulers"] = ", ".join(str(p) for p in sched.schedulers())
        if key == self._args_key:
            self.args.set_values({n: v for n, v in values.items() if n in self.args.names()})
            for name, edit in self._arg_edits.items():
                edit.setText(_edit_text(values.get(name)))
            return
        self._args_key = key
        retire_rows(self.ints_form, self._retired)
        self._arg_edits.clear()
        if runner is None or sched is None:
            self.args.set_hparams(())
            self.ints_box.hide()
            return
        plain = [a for a in sched.info.args if a.kind not in EDIT_HINTS]
        self.args.set_hparams(_arg_view(a, values.get(a.name)) for a in plain)
        self.args.set_values({a.name: values.get(a.name) for a in plain})
        edits = [(a.name, a.kind, a.help) for a in sched.info.args if a.kind in EDIT_HINTS]
        if sched.info.composite:
            edits.insert(0, ("schedulers", "schedulers", "the schedulers, in order"))
        for name, kind, help_text in edits:
            edit = describe(
                QLineEdit(_edit_text(values.get(name)), self.ints_box),
                f"sched_{name}Edit",
                pretty_name(name),
                f"{help_text} ({EDIT_HINTS[kind]}; Enter applies)",
            )
            edit.editingFinished.connect(self._on_ints_edited)
            label = PlainLabel(pretty_name(name), self.ints_box)
            label.setBuddy(edit)
            self.ints_form.addRow(label, edit)
            self._arg_edits[name] = edit
        self.ints_box.setVisible(bool(self._arg_edits))

    # -- applying ----------------------------------------------------------------------------
    @Slot(int)
    def _on_combo(self, _index: int) -> None:
        if self._syncing:
            return
        name = self.combo.currentData()
        self._apply(None if name is None else parse_scheduler(name))

    @Slot(str, object)
    def _on_arg(self, name: str, value: object) -> None:
        runner = self._runner()
        if self._syncing or runner is None or runner.scheduler is None:
            return
        self._apply_args(runner.scheduler, {name: value})

    @Slot()
    def _on_ints_edited(self) -> None:
        runner = self._runner()
        edit = self.sender()
        if self._syncing or runner is None or runner.scheduler is None:
            return
        sched = runner.scheduler
        for name, e in self._arg_edits.items():
            if e is edit:
                text = e.text().strip()
                if name == "schedulers":
                    if text != ", ".join(str(p) for p in sched.schedulers()):
                        self._apply_args(sched, {}, parts=text)
                    return
                arg = sched.info.arg(name)
                if arg.kind == "expr":  # (a formula's default does not depend on the run)
                    if text != sched.kwargs.get(name, arg.default(None)):
                        self._apply_args(sched, {name: text})
                    return
                try:
                    values = [int(v) for v in text.replace(";", ",").split(",") if v.strip()]
                except ValueError:
                    self._show_error(f"{pretty_name(name)}: whole numbers separated by commas")
                    return
                if values != sched.kwargs.get(name):
                    self._apply_args(sched, {name: values})
                return

    def _apply_args(
        self, sched: SchedulerSpec, changes: dict[str, Any], parts: str | None = None
    ) -> None:
        """``sched`` with ``changes`` (and a composition's parts as SPEC text), applied."""
        args = [f"{k}={v!r}" for k, v in {**sched.kwargs, **changes}.items()]
        if parts is None and sched.parts is not None:
            parts = ", ".join(str(p) for p in sched.parts)
        if parts is not None:
            args.insert(0, f"schedulers=[{parts}]")
        text = f"{sched.name}({', '.join(args)})"
        try:  # through the SPEC parser: the same validation as a file or the command line
            spec = parse_scheduler(text)
        except GdsimError as exc:
            self._show_error(str(exc))
            self._show_runner_keep_error()
            return
        self._apply(spec)

    def _apply(self, spec: SchedulerSpec | None) -> None:
        runner = self._runner()
        if runner is None:
            return
        try:  # restarts the race: every curve from step 0 together (see the module docstring)
            self.model.set_schedule(runner.id, spec)
        except GdsimError as exc:
            self._show_error(str(exc))
            self._show_runner_keep_error()
            return
        self._clear_error()
        self._show_runner()

    def _show_runner_keep_error(self) -> None:
        text, shown = self.error.text(), self.error.isVisible()
        self._show_runner()
        if shown:
            self._show_error(text)

    def _show_error(self, text: str) -> None:
        self.error.setText(text.splitlines()[0] if text else "")
        self.error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")
        self.error.show()

    def _clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    # -- noise -------------------------------------------------------------------------------
    def _sigma(self) -> float:
        return float(self.noise.value()) if self.noise_check.isChecked() else 0.0

    @Slot()
    def _on_noise(self, *_args: object) -> None:
        if self._syncing:
            return
        self.noise.setEnabled(self.noise_check.isChecked())
        try:
            self.model.set_noise(self._sigma())
        except GdsimError as exc:  # the spin box keeps values in range; defensive
            self._show_error(str(exc))

    @Slot(int)
    def _on_seed(self, seed: int) -> None:
        if self._syncing:
            return
        self.model.set_noise(self._sigma(), seed)  # restarts: the new draws from step 0

    def _sync_noise(self) -> None:
        """Show the race's noise (a loaded session may have set it)."""
        race = self.model.race
        self._syncing = True
        try:
            self.noise_check.setChecked(race.noise > 0)
            if race.noise > 0:
                self.noise.setValue(race.noise)
            self.noise.setEnabled(race.noise > 0)
            self.seed.setValue(race.seed)
        finally:
            self._syncing = False

    # -- following the view ------------------------------------------------------------------
    def _on_redrawn(self, *_args: object) -> None:
        if self._closed:
            return
        if not self.page.isVisible():
            self.page.dirty = True
            scheduled = worth_a_plot(self.model.entries.values())
            self.page.stack.setCurrentWidget(self.page.plot if scheduled else self.page.empty)
            return
        self.page.dirty = False
        self.page.update_from(self.model.entries.values(), self.model.generation)

    def _on_restarted(self) -> None:
        if self._closed:
            return
        self.page.reset_range()
        self._sync_noise()
        if self._rid not in self.model.entries:
            self._rid = self.model.selected
        self._show_runner()
        self._on_redrawn()

    def refresh(self) -> None:
        """Draw the page now (it is shown, or a test wants its data)."""
        self.page.dirty = False
        self.page.update_from(self.model.entries.values(), self.model.generation)

    @Slot()
    def _on_theme(self) -> None:
        if self._closed:
            return
        self.page.restyle()
        if self.error.isVisible():
            self.error.setStyleSheet(f"color: {ERROR_COLORS[self.theme.name]};")

    def _on_page_shown(self) -> None:
        if self.page.dirty and not self._closed:
            self.refresh()

    def shutdown(self) -> None:
        """The window is closing: stop reacting (this tool owns no timer or thread)."""
        self._closed = True


def install(view) -> ScheduleTool:
    """Add "Schedule & noise" and the "Learning rate" page to a SurfaceView."""
    tool = ScheduleTool(view.model, parent=view)
    view.add_tool(tool.box)
    view.add_plot_page(tool.page, "Learning rate")
    return tool
