"""The Training view's control panel: data, model, optimizers (race), training settings.

Everything is built from the registries (``core.engine.datasets``, ``core.engine.optimizers``,
``core.engine.schedulers``, ``core.engine.devices``, ``core.engine.training.ACTIVATIONS``), so a
data set, optimizer or scheduler added there appears here without a UI edit.

The panel is made of sections (``training_panel_data``, ``training_panel_race``,
``training_panel_run``); it writes the edited ``TrainConfig`` to the ``TrainingModel`` on every
edit and tells the view what kind of edit it was:
* ``structuralChanged`` — a setting that defines the run: applies on reset.
* ``hparamChanged(lane, name, value)`` — a live optimizer hyperparameter change (not lr: the lr
  control lives in the transport bar and calls ``set_lane_lr``).
* ``deviceChanged(str)`` — live (the engine moves the run between batches).
* ``laneSelected(int)`` — which race lane the optimizer controls (and the lr) edit.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QSettings, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QVBoxLayout, QWidget

from app.theme import ERROR_COLORS  # noqa: F401 (the tools' import path for it)
from app.views.training_panel_data import DataSection
from app.views.training_panel_parts import Quiet, swatch  # noqa: F401 (swatch: shared)
from app.views.training_panel_race import MAX_LANES, RaceSection
from app.views.training_panel_run import DisplaySection, ModelSection, RunSection, ScheduleSection
from core.engine.datasets import get_dataset, parse_dataset_spec
from core.engine.training import TrainConfig
from core.errors import GdsimError, error_line
from core.state.training import TrainingModel


def _effective(config: TrainConfig) -> dict[str, Any]:
    """What a configuration means, one entry per thing the panel shows, named as a user reads
    it: a data set SPEC's own values ("spiral(arms=4)") merged over the explicit ones the way
    ``core.engine.datasets.make_dataset`` merges them, the scheduler in canonical form. Two
    configurations that train the same run give equal dicts (the device aside)."""
    name, merged = parse_dataset_spec(config.dataset)
    explicit = {"samples": config.samples, "noise": config.noise, **config.dataset_options}
    merged = {**merged, **{k: v for k, v in explicit.items() if v is not None}}
    out: dict[str, Any] = {
        "data set": name,
        "samples": merged.pop("samples", 1000),
        "noise": merged.pop("noise", get_dataset(name).default_noise),
        "validation share": merged.pop("val_fraction", config.val_fraction),
        "seed": merged.pop("seed", config.seed),
    }
    out.update(merged)  # the data set's own options (arms, centres...)
    out.update(
        {
            "hidden layers": tuple(config.hidden),
            "activation": config.activation,
            "optimizers": tuple(config.optimizers),
            "scheduler": None if config.scheduler is None else str(config.scheduler_spec()),
            "epochs": config.epochs,
            "batch size": config.batch_size,
            "patience": config.patience,
            "stop early": config.stop_early,
        }
    )
    return out


def _shown(value: Any) -> str:
    """A value in a note: patience None reads "off", a layer list "8,12,4"."""
    if value is None:
        return "off"
    if isinstance(value, tuple):
        return (
            ",".join(str(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else ("; ".join(str(v) for v in value))
        )
    return f"{value:g}" if isinstance(value, float) else str(value)


class TrainingControls(QWidget):
    """The content of the Training view's collapsible panel."""

    structuralChanged = Signal()
    hparamChanged = Signal(int, str, object)  # (lane, name, value), live
    deviceChanged = Signal(str)
    laneSelected = Signal(int)
    lanesChanged = Signal()  # race list edited (names/colours to refresh)
    displayChanged = Signal()

    def __init__(self, model: TrainingModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingControls")
        self.model = model
        self.quiet = Quiet()  # held while the panel sets its own values (no signals out)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 6)
        lay.setSpacing(4)
        self.data = DataSection(self, self.quiet, lay)
        self.net = ModelSection(self, self.quiet, lay)
        self.race = RaceSection(self, self.quiet, lay, model)
        self.schedule = ScheduleSection(self, self.quiet, lay)
        self.run = RunSection(self, self.quiet, lay)
        self.display = DisplaySection(self, self.quiet, lay)
        lay.addStretch(1)
        for combo in (
            self.data.dataset_combo,
            self.net.activation_combo,
            self.race.optimizer_combo,
            self.race.race_add_combo,
            self.schedule.scheduler_combo,
            self.run.device_combo,
        ):  # long entries ("cuda · NVIDIA ... (not available)") must not widen the panel
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6 if combo is self.race.race_add_combo else 9)
        self.race.refresh_list()
        self.race.show_lane(0)
        for section in (self.data, self.net, self.race, self.schedule, self.run):
            section.changed.connect(self._structural)
        self.net.typed.connect(self.push)  # the text as typed is what a command runs with
        self.race.connect_signals()
        self.race.hparamChanged.connect(self._on_hparam)
        self.race.laneSelected.connect(self.laneSelected)
        self.race.lanesChanged.connect(self.lanesChanged)
        self.run.deviceChanged.connect(self._on_device)
        self.display.changed.connect(self.displayChanged)
        model.config_loaded.connect(self._on_config_loaded)
        self.push()

    # -- what the rest of the view reads ---------------------------------------------------
    @property
    def specs(self):
        return self.race.specs

    @property
    def preview_data(self):
        return self.data.preview_data

    def current_lane(self) -> int:
        return self.race.current

    def lane_name(self, lane: int) -> str:
        return str(self.specs[lane]) if 0 <= lane < len(self.specs) else ""

    def lane_lr(self, lane: int) -> float:
        return self.race.lane_lr(lane)

    def select_lane(self, row: int) -> None:
        self.race.race_list.setCurrentRow(row)

    def device(self) -> str:
        return self.run.device()

    def refresh_devices(self) -> None:
        self.run.refresh_devices()

    def log_y(self) -> bool:
        return self.display.log_check.isChecked()

    def raw_visible(self) -> bool:
        return self.display.raw_check.isChecked()

    # -- writing the model -----------------------------------------------------------------
    def push(self) -> None:
        """Write the edited settings to the model (or why they make no valid config)."""
        if self.quiet:
            return
        try:
            self.model.set_config(self.config())
        except GdsimError as exc:
            self.model.set_invalid(error_line(exc))

    def _structural(self) -> None:
        if not self.quiet:
            self.push()
            self.structuralChanged.emit()

    @Slot(int, str, object)
    def _on_hparam(self, lane: int, name: str, value: object) -> None:
        self.push()
        self.hparamChanged.emit(lane, name, value)

    @Slot(str)
    def _on_device(self, name: str) -> None:
        self.push()
        self.deviceChanged.emit(name)

    def set_lane_lr(self, lane: int, lr: float) -> None:
        """The transport bar's lr control changed (validated there): keep the lane in step."""
        self.race.set_lane_lr(lane, lr)
        self.push()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoom: rows got taller, swatches bigger
            QTimer.singleShot(0, self, self.race.refresh_list)

    # -- the run's configuration -----------------------------------------------------------
    def config(self) -> TrainConfig:
        """The settings as a validated ``TrainConfig`` (GdsimError, one line, if wrong)."""
        return TrainConfig(
            **self.data.fields(),
            **self.net.fields(),
            optimizers=tuple(str(s) for s in self.specs),
            scheduler=self.schedule.scheduler(),
            **self.run.fields(),
        )

    def set_config(self, config: TrainConfig) -> str:
        """Show a (validated) configuration from a session; returns a one-line note for the
        user, "" if everything fitted.

        The note names whatever the panel could not keep, so opening a file never changes it
        silently: optimizers beyond MAX_LANES, a device this machine lacks (the CPU is shown;
        "auto" stays "auto"), and any value a box cannot hold exactly ("seed 2**40 -> ...").
        A scheduler with arguments gets its own combo entry.
        """
        wanted = _effective(config)
        notes: list[str] = []
        with self.quiet.held():
            self.data.show_config(wanted)
            self.net.show_config(config.hidden, config.activation)
            self.race.show_optimizers(config.optimizers, notes)
            self.schedule.select(config.scheduler)
            self.run.show_config(config, notes)
        self._shown_afresh()
        try:
            shown = _effective(self.config())
        except GdsimError as exc:  # not expected: every box holds a valid value
            notes.append(f"the panel cannot show these settings: {error_line(exc)}")
        else:
            wanted["optimizers"] = tuple(wanted["optimizers"])[:MAX_LANES]  # said above
            changed = [
                f"{key} {_shown(value)} → {_shown(shown.get(key))}"
                for key, value in wanted.items()
                if shown.get(key) != value
            ]
            if changed:
                notes.append("changed to fit the panel: " + ", ".join(changed))
        if not notes:
            return ""
        text = "; ".join(notes)
        return f"{text[0].upper()}{text[1:]}."

    def _shown_afresh(self) -> None:
        """After the sections were set quietly: list, lane, errors, preview, the model."""
        self.race.refresh_list()
        self.race.show_lane(0)
        self.net.check_hidden(self.net.hidden_edit.text())
        self.data.refresh_preview()
        self.push()

    def _on_config_loaded(self, config: TrainConfig) -> None:
        """A session's config: shown, and what the panel could not hold said after the reset."""
        note = self.set_config(config)
        self.lanesChanged.emit()
        self.laneSelected.emit(0)
        self.model.fitted(note)

    # -- settings (the setup itself is saved as a session: training_settings) -------------
    def save_settings(self, s: QSettings) -> None:
        self.display.save(s)

    def restore_settings(self, s: QSettings) -> None:
        """How the loss is drawn; a bad value is ignored with a warning (never raises)."""
        self.display.restore(s)
