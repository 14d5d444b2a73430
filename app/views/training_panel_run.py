"""The Model, Scheduler, Training and Display parts of the Training panel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.settings import read_bool
from app.views.training_panel_parts import Quiet, Section, header, show_error
from app.widgets.describe import add_item, describe
from app.widgets.form_rows import wrapping_form
from core.engine.devices import available_devices, resolve_device
from core.engine.schedulers import get_scheduler, parse_scheduler, scheduler_names
from core.engine.training import ACTIVATIONS, MAX_BATCH_SIZE, MAX_EPOCHS, MAX_PATIENCE, parse_hidden
from core.errors import GdsimError, error_line

AUTO_DEVICE = "auto"


def _int_spin(
    panel: QWidget, name: str, accessible: str, span: tuple[int, int], value: int, tip: str
):
    spin = describe(QSpinBox(panel), name, accessible)
    spin.setRange(*span)
    spin.setValue(value)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)
    return spin


class ModelSection(Section):
    """Hidden layers and activation."""

    changed = Signal()  # applies on Reset
    typed = Signal()  # the hidden-layer text changed (a command runs with it as typed)

    def __init__(self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout) -> None:
        super().__init__(panel, quiet)
        lay.addWidget(header("Model", panel))
        form = wrapping_form()
        self.hidden_edit = describe(
            QLineEdit("16,16", panel),
            "hiddenEdit",
            "Hidden layers",
            "Neurons per hidden layer, e.g. 16,16 (empty: a linear model); wider and deeper "
            "networks can bend the boundary more (applies on Reset)",
        )
        form.addRow(self.label("Hidden layers", self.hidden_edit), self.hidden_edit)
        self.hidden_error = self.error_label("hiddenError")
        form.addRow(self.hidden_error)
        self.activation_combo = describe(QComboBox(panel), "activationCombo", "Activation")
        for name in ACTIVATIONS:
            self.activation_combo.addItem(name, name)
        self.activation_combo.setToolTip(
            "The non-linearity after each hidden layer; without one the network could only "
            "draw straight boundaries (applies on Reset)"
        )
        form.addRow(self.label("Activation", self.activation_combo), self.activation_combo)
        lay.addLayout(form)
        self.applied = self.hidden_edit.text()
        self.hidden_edit.textChanged.connect(self._on_text)
        self.hidden_edit.editingFinished.connect(self._on_hidden_done)
        self.activation_combo.currentIndexChanged.connect(self._on_change)

    def fields(self) -> dict[str, Any]:
        return {
            "hidden": parse_hidden(self.hidden_edit.text()),
            "activation": str(self.activation_combo.currentData()),
        }

    def check_hidden(self, text: str) -> bool:
        try:
            parse_hidden(text)
        except GdsimError as exc:
            show_error(self.hidden_error, str(exc))
            return False
        show_error(self.hidden_error, "")
        return True

    def _on_text(self, text: str) -> None:
        if not self.quiet:
            self.typed.emit()
        self.check_hidden(text)

    @Slot()
    def _on_hidden_done(self) -> None:
        text = self.hidden_edit.text()
        if text == self.applied or not self.check_hidden(text):
            return
        self.applied = text
        self._on_change()

    def _on_change(self, *_args: Any) -> None:
        if not self.quiet:
            self.changed.emit()

    def show_config(self, hidden: tuple[int, ...], activation: str) -> None:
        text = ",".join(str(n) for n in hidden)
        self.hidden_edit.setText(text)
        self.applied = text
        self.activation_combo.setCurrentIndex(self.activation_combo.findData(activation))


class ScheduleSection(Section):
    """The learning-rate scheduler: a registry name, or any SPEC typed with its arguments."""

    changed = Signal()  # applies on Reset

    def __init__(self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout) -> None:
        super().__init__(panel, quiet)
        form = wrapping_form()
        self.scheduler_combo = describe(
            QComboBox(panel), "schedulerCombo", "Learning-rate scheduler"
        )
        self.scheduler_combo.addItem("none", None)
        for name in scheduler_names():
            add_item(self.scheduler_combo, name, name, get_scheduler(name).description)
        self.scheduler_combo.setToolTip(
            "Changes the learning rate during the run (e.g. lower it every few epochs) so "
            "training can settle into a minimum (applies on Reset)"
        )
        form.addRow(self.label("Scheduler", self.scheduler_combo), self.scheduler_combo)
        self.scheduler_edit = describe(
            QLineEdit(panel), "schedulerSpecEdit", "Scheduler SPEC with arguments"
        )
        self.scheduler_edit.setPlaceholderText("or type one: LambdaLR(lr_lambda='0.95^epoch')")
        self.scheduler_edit.setToolTip(
            "A scheduler with its arguments, as in a session file or gdsim train --scheduler: "
            "StepLR(step_size=5, gamma=0.5), LambdaLR(lr_lambda='1/(1 + 0.1*epoch)') (a formula "
            "in epoch), SequentialLR(schedulers=[LinearLR(start_factor=0.1), "
            "CosineAnnealingLR], milestones=[5]). Enter applies it (on Reset)."
        )
        form.addRow(self.scheduler_edit)
        self.scheduler_error = self.error_label("schedulerError")
        form.addRow(self.scheduler_error)
        lay.addLayout(form)
        self.scheduler_combo.currentIndexChanged.connect(self._on_change)
        self.scheduler_combo.currentIndexChanged.connect(self._show_text)
        self.scheduler_edit.editingFinished.connect(self._on_typed)

    def scheduler(self) -> str | None:
        sched = self.scheduler_combo.currentData()
        return None if sched is None else str(sched)

    def select(self, text: str | None) -> None:
        """Select scheduler SPEC ``text`` (validated), adding a combo entry for one with
        arguments (the registry lists only the bare names)."""
        if text is None or text.strip().lower() in ("", "none"):
            self.scheduler_combo.setCurrentIndex(0)
            return
        spec = parse_scheduler(text)
        index = self.scheduler_combo.findData(text)
        if index < 0 and not spec.kwargs and spec.parts is None:
            index = self.scheduler_combo.findData(spec.name)
        if index < 0:  # a scheduler with arguments: offer exactly that one
            index = add_item(self.scheduler_combo, text, text, text)
        self.scheduler_combo.setCurrentIndex(index)

    def _on_typed(self) -> None:
        """A typed SPEC: validated by the SPEC parser, then chosen like a session's."""
        text = self.scheduler_edit.text().strip()
        current = self.scheduler_combo.currentData()
        if text == (current or "") or (not text and current is None):
            return
        try:
            spec = None if text.lower() in ("", "none") else parse_scheduler(text)
        except GdsimError as exc:
            show_error(self.scheduler_error, f"Scheduler: {error_line(exc)}")
            return
        show_error(self.scheduler_error, "")
        self.select(None if spec is None else str(spec))

    def _show_text(self, *_args) -> None:
        self.scheduler_edit.setText(self.scheduler_combo.currentData() or "")
        show_error(self.scheduler_error, "")

    def _on_change(self, *_args: Any) -> None:
        if not self.quiet:
            self.changed.emit()


class RunSection(Section):
    """Batch size, epochs, patience, early stopping and the device."""

    changed = Signal()  # applies on Reset
    deviceChanged = Signal(str)  # live

    def __init__(self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout) -> None:
        super().__init__(panel, quiet)
        lay.addWidget(header("Training", panel))
        form = wrapping_form()
        self.batch_spin = _int_spin(
            panel, "batchSpin", "Batch size", (1, MAX_BATCH_SIZE), 32,
            "Points per gradient step: small batches give noisy, cheap steps, large batches "
            "smooth but fewer steps per epoch (applies on Reset)",
        )  # fmt: skip
        form.addRow(self.label("Batch size", self.batch_spin), self.batch_spin)
        self.epochs_spin = _int_spin(
            panel, "epochsSpin", "Epochs", (1, MAX_EPOCHS), 30,
            "How many full passes over the training data before the run finishes (applies on "
            "Reset)",
        )  # fmt: skip
        form.addRow(self.label("Epochs", self.epochs_spin), self.epochs_spin)
        self.patience_spin = _int_spin(
            panel, "patienceSpin", "Patience", (0, MAX_PATIENCE), 10,
            "Epochs without a better validation loss before the plot marks where validation "
            "stopped improving (early-stopping signal; applies on Reset)",
        )  # fmt: skip
        self.patience_spin.setSpecialValueText("off")
        form.addRow(self.label("Patience", self.patience_spin), self.patience_spin)
        self.stop_early_check = describe(
            QCheckBox("Stop early", panel),
            "stopEarlyCheck",
            "Stop early",
            "Early stopping: end training when validation has not improved for 'patience' "
            "epochs, instead of overfitting further (applies on Reset)",
        )
        form.addRow(self.stop_early_check)
        self.device_combo = describe(
            QComboBox(panel),
            "deviceCombo",
            "Device",
            "Where the network trains: the numbers are the same, only the speed differs; "
            "changing it mid-run moves the run between two batches",
        )
        form.addRow(self.label("Device", self.device_combo), self.device_combo)
        lay.addLayout(form)
        self.refresh_devices()
        for w in (self.batch_spin, self.epochs_spin, self.patience_spin):
            w.valueChanged.connect(self._on_change)
        self.stop_early_check.toggled.connect(self._on_change)
        self.device_combo.currentIndexChanged.connect(self._on_device)

    def fields(self) -> dict[str, Any]:
        patience = int(self.patience_spin.value())
        return {
            "epochs": int(self.epochs_spin.value()),
            "batch_size": int(self.batch_spin.value()),
            "device": self.device(),
            "patience": patience if patience > 0 else None,
            "stop_early": self.stop_early_check.isChecked(),
        }

    def _on_change(self, *_args: Any) -> None:
        if not self.quiet:
            self.changed.emit()

    def refresh_devices(self) -> None:
        """List every device ``core.engine.devices`` knows; unavailable ones disabled, reason as
        tip."""
        combo = self.device_combo
        current = self.device()
        with self.quiet.held():
            combo.clear()
            model = combo.model()
            for d in available_devices():
                suffix = "" if d.description.endswith(f"({d.name})") else f" · {d.description}"
                text = d.name + suffix + ("" if d.available else " (not available)")
                row = add_item(combo, text, d.name, d.reason or f"Train on {d.description}")
                if not d.available:
                    model.item(row).setEnabled(False)
            # last, after the devices themselves: "auto" is what a session written for any
            # machine asks for (CUDA, then MPS, then the CPU)
            try:
                best = str(resolve_device(AUTO_DEVICE))
            except GdsimError:
                best = "cpu"
            add_item(
                combo,
                f"auto (best here: {best})",
                AUTO_DEVICE,
                "The best device of the machine it runs on: a CUDA GPU, else an Apple GPU, "
                f"else the CPU (here: {best}); a session saved with it uses a GPU wherever "
                "there is one",
            )
            combo.setCurrentIndex(max(0, combo.findData(current or "cpu")))

    def device(self) -> str:
        data = self.device_combo.currentData()
        return str(data) if data else "cpu"

    def set_device(self, name: str) -> None:
        """Select ``name`` even if it is unavailable here (a setting from another machine)."""
        idx = self.device_combo.findData(name)
        if idx < 0:
            self.device_combo.addItem(f"{name} (not available)", name)
            idx = self.device_combo.count() - 1
        self.device_combo.setCurrentIndex(idx)

    @Slot(int)
    def _on_device(self, _index: int) -> None:
        if not self.quiet:
            self.deviceChanged.emit(self.device())

    def show_config(self, config, notes: list[str]) -> None:
        """A config's training values (quiet is held by the caller); a device this machine
        lacks is noted and the CPU shown ("auto" stays "auto")."""
        self.batch_spin.setValue(int(config.batch_size))
        self.epochs_spin.setValue(int(config.epochs))
        self.patience_spin.setValue(0 if config.patience is None else int(config.patience))
        self.stop_early_check.setChecked(bool(config.stop_early))
        here = [d.name for d in available_devices() if d.available]
        device = config.device.strip().lower()
        if device != AUTO_DEVICE and device not in here:
            notes.append(
                f"this session asks for device {device!r}, which this machine lacks: "
                "fell back to the CPU"
            )
            device = "cpu"
        self.set_device(device)


class DisplaySection(Section):
    """How the loss is drawn (display only)."""

    changed = Signal()

    def __init__(self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout) -> None:
        super().__init__(panel, quiet)
        lay.addWidget(header("Display", panel))
        self.log_check = describe(
            QCheckBox("Log-scale loss axis", panel), "lossLogCheck", "Log-scale loss axis"
        )
        self.log_check.setChecked(True)
        self.log_check.setToolTip(
            "Show the loss on a log scale, where late, small improvements stay visible "
            "(display only)"
        )
        lay.addWidget(self.log_check)
        self.raw_check = describe(
            QCheckBox("Per-batch loss", panel), "rawLossCheck", "Show per-batch loss"
        )
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip(
            "Show every batch's loss (faint) under the smoothed curve: the noise is what "
            "'stochastic' in stochastic gradient descent looks like (display only)"
        )
        lay.addWidget(self.raw_check)
        self.log_check.toggled.connect(self.changed)
        self.raw_check.toggled.connect(self.changed)

    def save(self, s: QSettings) -> None:
        s.setValue("logLoss", self.log_check.isChecked())
        s.setValue("rawLoss", self.raw_check.isChecked())

    def restore(self, s: QSettings) -> None:
        self.log_check.setChecked(read_bool(s, "logLoss", True))
        self.raw_check.setChecked(read_bool(s, "rawLoss", True))
