"""The Training view's control panel: data, model, optimizers (race), training settings.

Everything is built from the registries (``core.engine.datasets``, ``core.engine.optimizers``,
``core.engine.schedulers``, ``core.engine.devices``, ``core.engine.training.ACTIVATIONS``), so a data set, optimizer
or scheduler added there appears here without a UI edit (data-set options included).

The panel only turns edits into signals and into a ``TrainConfig``; the view decides what to
do with them:
* ``structuralChanged`` — a setting that defines the run (data, model, optimizer type, race
  lanes, batch size, epochs, scheduler, seed, patience): applies on reset.
* ``hparamChanged(lane, name, value)`` — a live optimizer hyperparameter change (not lr: the lr
  control lives in the view's top bar and calls ``set_lane_lr``).
* ``deviceChanged(str)`` — live (the engine moves the run between batches).
* ``laneSelected(int)`` — which race lane the optimizer controls (and the lr) edit.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPointF,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel, plain_tip
from app.settings import read_bool, read_float, read_int, read_str, read_str_list
from app.theme import ERROR_COLORS, get_theme
from app.views.training_plots import class_color, lane_label
from app.widgets.hparam_form import HParamForm
from core.engine.datasets import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    GeneratedData,
    dataset_names,
    get_dataset,
    make_dataset,
    parse_dataset_spec,
)
from core.engine.devices import available_devices, resolve_device
from core.engine.optimizers import OptimizerSpec, get_optimizer, optimizer_names, parse_spec
from core.engine.schedulers import get_scheduler, parse_scheduler, scheduler_names
from core.engine.training import (
    ACTIVATIONS,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_PATIENCE,
    MAX_VAL_FRACTION,
    TrainConfig,
    parse_hidden,
)
from core.errors import GdsimError, one_line
from core.state.training import TrainingModel

log = logging.getLogger("gdsim.training")

DEFAULT_SPEC = "Adam(lr=0.01)"
MAX_LANES = 8

# The boxes take every value the engine accepts (core's limits), so that a session file's
# values fit them: a box narrower than the engine silently clamped a value on opening.
VAL_SHARE_MIN_PERCENT = 0.1  # the box shows a percentage with one decimal: 0.001 .. 0.9
VAL_SHARE_MAX_PERCENT = 100 * MAX_VAL_FRACTION
MAX_SEED = 2**31 - 1  # a QSpinBox holds an int32; core accepts up to 2**63 - 1 (set_config says)
AUTO_DEVICE = "auto"


def swatch(color: str, size: int) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(color))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pm)


class DataPreview(QWidget):
    """A small picture of the data set: every point coloured by class (drawn with QPainter,
    cheap enough to redraw on every keystroke of the sample count)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPreview")
        self.setAccessibleName("Data set preview")
        self.setToolTip("The data the network will learn, one colour per class")
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.data: GeneratedData | None = None

    def set_data(self, data: GeneratedData) -> None:
        self.data = data
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        h = max(90, 7 * self.fontMetrics().height())
        return QSize(h, h)

    def heightForWidth(self, w: int) -> int:  # noqa: N802
        return self.sizeHint().height()

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        th = get_theme()
        p.fillRect(self.rect(), QColor(th.colors.background))
        data = self.data
        if data is not None and data.x.size:
            (x0, x1), (y0, y1) = data.bounds
            side = min(self.width(), self.height()) - 6
            ox = (self.width() - side) / 2
            oy = (self.height() - side) / 2
            span = max(x1 - x0, y1 - y0)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            step = max(1, data.x.shape[0] // 1500)
            pts, ys = data.x[::step], data.y[::step]
            r = max(1.2, side / 90)
            p.setPen(Qt.PenStyle.NoPen)
            for k in range(data.n_classes):
                p.setBrush(QColor(class_color(k)))
                for px, py in pts[ys == k]:
                    sx = ox + ((px - cx) / span + 0.5) * side
                    sy = oy + (0.5 - (py - cy) / span) * side
                    p.drawEllipse(QPointF(sx, sy), r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(self.palette().mid().color()))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()


class _ViewportWidthDelegate(QStyledItemDelegate):
    """Rows as wide as the list's viewport, their text elided (the full SPEC is the tooltip):
    a row as wide as its text brought a horizontal scroll bar that covered the last lane."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return QSize(1, super().sizeHint(option, index).height())


def _header(text: str, parent: QWidget) -> QLabel:
    label = PlainLabel(text, parent)
    label.setStyleSheet("font-weight: bold; margin-top: 6px;")  # bold via QSS: follows zoom
    return label


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
        self._quiet = 0  # >0 while the panel sets its own values (no signals out)
        self.specs: list[OptimizerSpec] = [parse_spec(DEFAULT_SPEC)]
        self._current = 0
        self.preview_data: GeneratedData | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 6)
        lay.setSpacing(4)

        # -- data ----------------------------------------------------------------------------
        lay.addWidget(_header("Data", self))
        data_form = QFormLayout()
        self.dataset_combo = QComboBox(self)
        self.dataset_combo.setObjectName("datasetCombo")
        self.dataset_combo.setAccessibleName("Data set")
        self.dataset_combo.setToolTip(
            "The 2-D points the network learns to classify; harder shapes need a bigger network "
            "and more epochs (applies on Reset)"
        )
        for name in dataset_names():
            self.dataset_combo.addItem(name, name)
            self.dataset_combo.setItemData(
                self.dataset_combo.count() - 1,
                get_dataset(name).description,
                Qt.ItemDataRole.ToolTipRole,
            )
        data_form.addRow(self._label("Data set", self.dataset_combo), self.dataset_combo)
        self.preview = DataPreview(self)
        data_form.addRow(self.preview)
        self.noise_spin = QDoubleSpinBox(self)
        self.noise_spin.setObjectName("noiseSpin")
        self.noise_spin.setAccessibleName("Noise")
        self.noise_spin.setRange(0.0, 5.0)
        self.noise_spin.setDecimals(2)
        self.noise_spin.setSingleStep(0.05)
        self.noise_spin.setKeyboardTracking(False)
        self.noise_spin.setToolTip(
            "Random jitter added to every point: more noise blurs the classes, so the loss "
            "cannot reach zero and overfitting shows (applies on Reset)"
        )
        data_form.addRow(self._label("Noise", self.noise_spin), self.noise_spin)
        self.samples_spin = QSpinBox(self)
        self.samples_spin.setObjectName("samplesSpin")
        self.samples_spin.setAccessibleName("Samples")
        self.samples_spin.setRange(MIN_SAMPLES, MAX_SAMPLES)
        self.samples_spin.setSingleStep(100)
        self.samples_spin.setValue(1000)
        self.samples_spin.setKeyboardTracking(False)
        self.samples_spin.setToolTip(
            "How many points are generated (the validation share is held out); more points "
            "mean more batches per epoch and a less noisy gradient estimate (applies on Reset)"
        )
        data_form.addRow(self._label("Samples", self.samples_spin), self.samples_spin)
        self.val_share_spin = QDoubleSpinBox(self)
        self.val_share_spin.setObjectName("valShareSpin")
        self.val_share_spin.setAccessibleName("Validation share")
        self.val_share_spin.setRange(VAL_SHARE_MIN_PERCENT, VAL_SHARE_MAX_PERCENT)
        self.val_share_spin.setDecimals(1)
        self.val_share_spin.setSingleStep(5.0)
        self.val_share_spin.setSuffix(" %")
        self.val_share_spin.setValue(20.0)
        self.val_share_spin.setKeyboardTracking(False)
        self.val_share_spin.setToolTip(
            "The share of the points held out for validation: never trained on, they show "
            "whether the network generalises or only memorises (applies on Reset)"
        )
        data_form.addRow(self._label("Validation share", self.val_share_spin), self.val_share_spin)
        self.options_form = QFormLayout()
        self.option_spins: dict[str, QSpinBox] = {}
        data_form.addRow(self.options_form)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setAccessibleName("Seed")
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip(
            "Fixes the points, the train/validation split, the initial weights and the batch "
            "order: the same seed replays the same run exactly (applies on Reset)"
        )
        data_form.addRow(self._label("Seed", self.seed_spin), self.seed_spin)
        lay.addLayout(data_form)

        # -- model ---------------------------------------------------------------------------
        lay.addWidget(_header("Model", self))
        model_form = QFormLayout()
        self.hidden_edit = QLineEdit("16,16", self)
        self.hidden_edit.setObjectName("hiddenEdit")
        self.hidden_edit.setAccessibleName("Hidden layers")
        self.hidden_edit.setToolTip(
            "Neurons per hidden layer, e.g. 16,16 (empty: a linear model); wider and deeper "
            "networks can bend the boundary more (applies on Reset)"
        )
        model_form.addRow(self._label("Hidden layers", self.hidden_edit), self.hidden_edit)
        self.hidden_error = PlainLabel("", self)
        self.hidden_error.setObjectName("hiddenError")
        self.hidden_error.setWordWrap(True)
        self.hidden_error.setVisible(False)
        model_form.addRow(self.hidden_error)
        self.activation_combo = QComboBox(self)
        self.activation_combo.setObjectName("activationCombo")
        self.activation_combo.setAccessibleName("Activation")
        for name in ACTIVATIONS:
            self.activation_combo.addItem(name, name)
        self.activation_combo.setToolTip(
            "The non-linearity after each hidden layer; without one the network could only "
            "draw straight boundaries (applies on Reset)"
        )
        model_form.addRow(self._label("Activation", self.activation_combo), self.activation_combo)
        lay.addLayout(model_form)

        # -- optimizers ----------------------------------------------------------------------
        lay.addWidget(_header("Optimizer", self))
        self.race_list = QListWidget(self)
        self.race_list.setObjectName("raceList")
        self.race_list.setAccessibleName("Optimizers training side by side")
        self.race_list.setToolTip(
            "Each entry trains its own copy of the same network from the same weights on the "
            "same batches, so the curves compare the optimizers alone; select one to edit it"
        )
        self.race_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.race_list.setItemDelegate(_ViewportWidthDelegate(self.race_list))
        self.race_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.race_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.race_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        lay.addWidget(self.race_list)
        race_row = QHBoxLayout()
        self.race_add_combo = QComboBox(self)
        self.race_add_combo.setObjectName("raceAddCombo")
        self.race_add_combo.setAccessibleName("Optimizer to add")
        self.race_add_combo.setToolTip(
            "An optimizer to race against the ones in the list: pick it, then 'Add to race'"
        )
        for name in optimizer_names():
            self.race_add_combo.addItem(name, name)
        self.add_race_button = QPushButton("Add to race", self)
        self.add_race_button.setObjectName("addRaceButton")
        self.add_race_button.setAccessibleName("Add optimizer to race")
        self.add_race_button.setToolTip(
            "Train one more identical network with this optimizer, side by side, each with its "
            "own curve (applies on Reset)"
        )
        self.remove_race_button = QPushButton("Remove", self)
        self.remove_race_button.setObjectName("removeRaceButton")
        self.remove_race_button.setAccessibleName("Remove optimizer from race")
        self.remove_race_button.setToolTip("Stop racing the selected optimizer (applies on Reset)")
        race_row.addWidget(self.race_add_combo, 1)
        race_row.addWidget(self.add_race_button)
        race_row.addWidget(self.remove_race_button)
        lay.addLayout(race_row)

        opt_form = QFormLayout()
        self.optimizer_combo = QComboBox(self)
        self.optimizer_combo.setObjectName("optimizerCombo")
        self.optimizer_combo.setAccessibleName("Optimizer")
        for name in optimizer_names():
            self.optimizer_combo.addItem(name, name)
            self.optimizer_combo.setItemData(
                self.optimizer_combo.count() - 1,
                get_optimizer(name).description,
                Qt.ItemDataRole.ToolTipRole,
            )
        self.optimizer_combo.setToolTip(
            "The torch.optim rule that turns each batch's gradient into a weight update for "
            "the selected entry (applies on Reset; its settings below apply live)"
        )
        opt_form.addRow(self._label("Optimizer", self.optimizer_combo), self.optimizer_combo)
        lay.addLayout(opt_form)
        self.hparam_form = HParamForm(
            (),
            self,
            lr_slider_name="trainFormLrSlider",
            lr_spin_name="trainFormLrSpin",
            name_prefix="trainHp_",
        )
        self.hparam_form.setObjectName("trainHParams")
        lay.addWidget(self.hparam_form)
        self.hparam_error = PlainLabel("", self)
        self.hparam_error.setObjectName("hparamError")
        self.hparam_error.setWordWrap(True)
        self.hparam_error.setVisible(False)
        lay.addWidget(self.hparam_error)
        sched_form = QFormLayout()
        self.scheduler_combo = QComboBox(self)
        self.scheduler_combo.setObjectName("schedulerCombo")
        self.scheduler_combo.setAccessibleName("Learning-rate scheduler")
        self.scheduler_combo.addItem("none", None)
        for name in scheduler_names():
            self.scheduler_combo.addItem(name, name)
            self.scheduler_combo.setItemData(
                self.scheduler_combo.count() - 1,
                get_scheduler(name).description,
                Qt.ItemDataRole.ToolTipRole,
            )
        self.scheduler_combo.setToolTip(
            "Changes the learning rate during the run (e.g. lower it every few epochs) so "
            "training can settle into a minimum (applies on Reset)"
        )
        sched_form.addRow(self._label("Scheduler", self.scheduler_combo), self.scheduler_combo)
        self.scheduler_edit = QLineEdit(self)
        self.scheduler_edit.setObjectName("schedulerSpecEdit")
        self.scheduler_edit.setAccessibleName("Scheduler SPEC with arguments")
        self.scheduler_edit.setPlaceholderText("or type one: LambdaLR(lr_lambda='0.95^epoch')")
        self.scheduler_edit.setToolTip(
            "A scheduler with its arguments, as in a session file or gdsim train --scheduler: "
            "StepLR(step_size=5, gamma=0.5), LambdaLR(lr_lambda='1/(1 + 0.1*epoch)') (a formula "
            "in epoch), SequentialLR(schedulers=[LinearLR(start_factor=0.1), "
            "CosineAnnealingLR], milestones=[5]). Enter applies it (on Reset)."
        )
        sched_form.addRow(self.scheduler_edit)
        self.scheduler_error = PlainLabel("", self)
        self.scheduler_error.setObjectName("schedulerError")
        self.scheduler_error.setTextFormat(Qt.TextFormat.PlainText)
        self.scheduler_error.setWordWrap(True)
        self.scheduler_error.setVisible(False)
        sched_form.addRow(self.scheduler_error)
        lay.addLayout(sched_form)

        # -- training ------------------------------------------------------------------------
        lay.addWidget(_header("Training", self))
        train_form = QFormLayout()
        self.batch_spin = QSpinBox(self)
        self.batch_spin.setObjectName("batchSpin")
        self.batch_spin.setAccessibleName("Batch size")
        self.batch_spin.setRange(1, MAX_BATCH_SIZE)
        self.batch_spin.setValue(32)
        self.batch_spin.setKeyboardTracking(False)
        self.batch_spin.setToolTip(
            "Points per gradient step: small batches give noisy, cheap steps, large batches "
            "smooth but fewer steps per epoch (applies on Reset)"
        )
        train_form.addRow(self._label("Batch size", self.batch_spin), self.batch_spin)
        self.epochs_spin = QSpinBox(self)
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setAccessibleName("Epochs")
        self.epochs_spin.setRange(1, MAX_EPOCHS)
        self.epochs_spin.setValue(30)
        self.epochs_spin.setKeyboardTracking(False)
        self.epochs_spin.setToolTip(
            "How many full passes over the training data before the run finishes (applies on Reset)"
        )
        train_form.addRow(self._label("Epochs", self.epochs_spin), self.epochs_spin)
        self.patience_spin = QSpinBox(self)
        self.patience_spin.setObjectName("patienceSpin")
        self.patience_spin.setAccessibleName("Patience")
        self.patience_spin.setRange(0, MAX_PATIENCE)
        self.patience_spin.setValue(10)
        self.patience_spin.setSpecialValueText("off")
        self.patience_spin.setKeyboardTracking(False)
        self.patience_spin.setToolTip(
            "Epochs without a better validation loss before the plot marks where validation "
            "stopped improving (early-stopping signal; applies on Reset)"
        )
        train_form.addRow(self._label("Patience", self.patience_spin), self.patience_spin)
        self.stop_early_check = QCheckBox("Stop early", self)
        self.stop_early_check.setObjectName("stopEarlyCheck")
        self.stop_early_check.setAccessibleName("Stop early")
        self.stop_early_check.setToolTip(
            "Early stopping: end training when validation has not improved for 'patience' "
            "epochs, instead of overfitting further (applies on Reset)"
        )
        train_form.addRow(self.stop_early_check)
        self.device_combo = QComboBox(self)
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.setAccessibleName("Device")
        self.device_combo.setToolTip(
            "Where the network trains: the numbers are the same, only the speed differs; "
            "changing it mid-run moves the run between two batches"
        )
        train_form.addRow(self._label("Device", self.device_combo), self.device_combo)
        lay.addLayout(train_form)

        # -- display -------------------------------------------------------------------------
        lay.addWidget(_header("Display", self))
        self.log_check = QCheckBox("Log-scale loss axis", self)
        self.log_check.setObjectName("lossLogCheck")
        self.log_check.setAccessibleName("Log-scale loss axis")
        self.log_check.setChecked(True)
        self.log_check.setToolTip(
            "Show the loss on a log scale, where late, small improvements stay visible "
            "(display only)"
        )
        lay.addWidget(self.log_check)
        self.raw_check = QCheckBox("Per-batch loss", self)
        self.raw_check.setObjectName("rawLossCheck")
        self.raw_check.setAccessibleName("Show per-batch loss")
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip(
            "Show every batch's loss (faint) under the smoothed curve: the noise is what "
            "'stochastic' in stochastic gradient descent looks like (display only)"
        )
        lay.addWidget(self.raw_check)
        lay.addStretch(1)

        for combo in (
            self.dataset_combo,
            self.activation_combo,
            self.optimizer_combo,
            self.race_add_combo,
            self.scheduler_combo,
            self.device_combo,
        ):  # long entries ("cuda · NVIDIA ... (not available)") must not widen the panel
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6 if combo is self.race_add_combo else 9)
        self.refresh_devices()
        self._rebuild_options(self.dataset_name())
        self.noise_spin.setValue(get_dataset(self.dataset_name()).default_noise)
        self._refresh_list()
        self._show_lane(0)
        self.refresh_preview()

        # signals
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset)
        for w in (self.noise_spin, self.samples_spin, self.val_share_spin, self.seed_spin):
            w.valueChanged.connect(self._on_data_setting)
        self.hidden_edit.textChanged.connect(self._check_hidden)
        self.hidden_edit.editingFinished.connect(self._on_hidden_done)
        self.activation_combo.currentIndexChanged.connect(self._structural)
        for w in (self.batch_spin, self.epochs_spin, self.patience_spin):
            w.valueChanged.connect(self._structural)
        self.stop_early_check.toggled.connect(self._structural)
        self.scheduler_combo.currentIndexChanged.connect(self._structural)
        self.scheduler_combo.currentIndexChanged.connect(self._show_scheduler_text)
        self.scheduler_edit.editingFinished.connect(self._on_scheduler_typed)
        self.device_combo.currentIndexChanged.connect(self._on_device)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer)
        self.hparam_form.changed.connect(self._on_hparam)
        self.race_list.currentRowChanged.connect(self._on_row)
        self.add_race_button.clicked.connect(self.add_lane)
        self.remove_race_button.clicked.connect(self.remove_lane)
        self.log_check.toggled.connect(self.displayChanged)
        self.raw_check.toggled.connect(self.displayChanged)
        self._hidden_applied = self.hidden_edit.text()
        model.config_loaded.connect(self._on_config_loaded)
        model.lane_selected.connect(self._follow_lane)
        self.push()

    # -- helpers ---------------------------------------------------------------------------
    def _label(self, text: str, buddy: QWidget) -> QLabel:
        label = PlainLabel(text, self)
        label.setBuddy(buddy)
        label.setToolTip(buddy.toolTip())
        return label

    def push(self) -> None:
        """Write the edited settings to the model (or why they make no valid config)."""
        if self._quiet:
            return
        try:
            self.model.set_config(self.config())
        except GdsimError as exc:
            self.model.set_invalid(one_line(exc))

    def _structural(self, *_args: Any) -> None:
        if not self._quiet:
            self.push()
            self.structuralChanged.emit()

    def dataset_name(self) -> str:
        return str(self.dataset_combo.currentData())

    # -- data ------------------------------------------------------------------------------
    def _rebuild_options(self, name: str) -> None:
        """Spin boxes for the data set's own options (spiral arms, blob centres...)."""
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.option_spins = {}
        for opt in get_dataset(name).options:
            spin = QSpinBox(self)
            spin.setObjectName(f"datasetOption_{opt.name}")
            spin.setAccessibleName(opt.name.capitalize())
            spin.setRange(opt.low, opt.high)
            spin.setValue(opt.default)
            spin.setKeyboardTracking(False)
            spin.setToolTip(f"{opt.help[0].upper()}{opt.help[1:]} (applies on Reset)")
            spin.valueChanged.connect(self._on_data_setting)
            self.options_form.addRow(self._label(opt.name.capitalize(), spin), spin)
            self.option_spins[opt.name] = spin

    def dataset_options(self) -> dict[str, int]:
        return {k: int(s.value()) for k, s in self.option_spins.items()}

    def val_fraction(self) -> float:
        """The validation share as ``TrainConfig.val_fraction`` (the box shows a percentage;
        rounded so 40.0 % is 0.4, not 0.4000000000000001, in a saved session)."""
        return round(float(self.val_share_spin.value()) / 100.0, 6)

    @Slot(int)
    def _on_dataset(self, _index: int) -> None:
        name = self.dataset_name()
        self._quiet += 1
        try:
            self._rebuild_options(name)
            self.noise_spin.setValue(get_dataset(name).default_noise)
        finally:
            self._quiet -= 1
        self._on_data_setting()

    def _on_data_setting(self, *_args: Any) -> None:
        if self._quiet:
            return
        self.refresh_preview()
        self._structural()

    def refresh_preview(self) -> None:
        """Regenerate the points for the preview (the engine makes the same ones: same seed)."""
        try:
            data = make_dataset(
                self.dataset_name(),
                samples=int(self.samples_spin.value()),
                noise=float(self.noise_spin.value()),
                val_fraction=self.val_fraction(),
                seed=int(self.seed_spin.value()),
                **self.dataset_options(),
            )
        except GdsimError as exc:
            log.warning("no preview: %s", exc)
            return
        self.preview_data = data
        self.preview.set_data(data)

    # -- model -----------------------------------------------------------------------------
    def _check_hidden(self, text: str) -> bool:
        self.push()  # the text as typed is what a command runs with
        try:
            parse_hidden(text)
        except GdsimError as exc:
            self._show_error(self.hidden_error, str(exc))
            return False
        self._show_error(self.hidden_error, "")
        return True

    @Slot()
    def _on_hidden_done(self) -> None:
        text = self.hidden_edit.text()
        if text == self._hidden_applied or not self._check_hidden(text):
            return
        self._hidden_applied = text
        self._structural()

    def _on_scheduler_typed(self) -> None:
        """A typed SPEC: validated by the SPEC parser, then chosen like a session's."""
        text = self.scheduler_edit.text().strip()
        current = self.scheduler_combo.currentData()
        if text == (current or "") or (not text and current is None):
            return
        try:
            spec = None if text.lower() in ("", "none") else parse_scheduler(text)
        except GdsimError as exc:
            self._show_error(self.scheduler_error, f"Scheduler: {str(exc).splitlines()[0]}")
            return
        self._show_error(self.scheduler_error, "")
        self._select_scheduler(None if spec is None else str(spec))

    def _show_scheduler_text(self, *_args) -> None:
        self.scheduler_edit.setText(self.scheduler_combo.currentData() or "")
        self._show_error(self.scheduler_error, "")

    def _show_error(self, label: QLabel, text: str) -> None:
        label.setText(text)
        label.setStyleSheet(f"color: {ERROR_COLORS[get_theme().name]};")
        label.setVisible(bool(text))

    # -- devices ---------------------------------------------------------------------------
    def refresh_devices(self) -> None:
        """List every device ``core.engine.devices`` knows; unavailable ones disabled, reason as tip."""
        current = self.device()
        self._quiet += 1
        try:
            self.device_combo.clear()
            model = self.device_combo.model()
            for d in available_devices():
                text = (
                    d.name
                    if d.description.endswith(f"({d.name})")
                    else f"{d.name} · {d.description}"
                )
                if not d.available:
                    text += " (not available)"
                self.device_combo.addItem(text, d.name)
                row = self.device_combo.count() - 1
                tip = d.reason or f"Train on {d.description}"
                self.device_combo.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
                if not d.available:
                    item = model.item(row)
                    item.setEnabled(False)
            # last, after the devices themselves: "auto" is what a session written for any
            # machine asks for (CUDA, then MPS, then the CPU)
            try:
                best = str(resolve_device(AUTO_DEVICE))
            except GdsimError:
                best = "cpu"
            self.device_combo.addItem(f"auto (best here: {best})", AUTO_DEVICE)
            self.device_combo.setItemData(
                self.device_combo.count() - 1,
                "The best device of the machine it runs on: a CUDA GPU, else an Apple GPU, "
                f"else the CPU (here: {best}); a session saved with it uses a GPU wherever "
                "there is one",
                Qt.ItemDataRole.ToolTipRole,
            )
            idx = self.device_combo.findData(current or "cpu")
            self.device_combo.setCurrentIndex(max(0, idx))
        finally:
            self._quiet -= 1

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
        if not self._quiet:
            self.push()
            self.deviceChanged.emit(self.device())

    # -- race lanes ------------------------------------------------------------------------
    def _refresh_list(self) -> None:
        self._quiet += 1
        try:
            self.race_list.clear()
            size = max(10, self.fontMetrics().height() - 4)
            for i, spec in enumerate(self.specs):
                label = lane_label(str(spec))
                item = QListWidgetItem(swatch(get_theme().series_color(i), size), label)
                # the row may be elided: the tooltip has it all
                item.setToolTip(plain_tip(f"{spec}\n{spec.info.description}"))
                self.race_list.addItem(item)
            self.race_list.setCurrentRow(self._current)
            self._fit_list_height()
            self.remove_race_button.setEnabled(len(self.specs) > 1)
            self.add_race_button.setEnabled(len(self.specs) < MAX_LANES)
        finally:
            self._quiet -= 1

    def _fit_list_height(self) -> None:
        """Show every lane (at most MAX_LANES) without scrolling; recomputed when zoom changes
        the font. Rows never need a horizontal scroll bar (they elide), so none eats a row."""
        rows = max(1, len(self.specs))
        h = self.race_list.sizeHintForRow(0) if self.race_list.count() else 18
        self.race_list.setFixedHeight(rows * h + 2 * self.race_list.frameWidth() + 2)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoom: rows got taller, swatches bigger
            QTimer.singleShot(0, self, self._refresh_list)

    def current_lane(self) -> int:
        return self._current

    def lane_name(self, lane: int) -> str:
        return str(self.specs[lane]) if 0 <= lane < len(self.specs) else ""

    @Slot()
    def add_lane(self) -> None:
        if len(self.specs) >= MAX_LANES:
            return
        name = str(self.race_add_combo.currentData())
        spec = parse_spec(name)
        try:  # race at the same learning rate as the selected entry: a fair comparison
            spec = spec.with_changes(lr=self.specs[self._current].hparams()["lr"])
        except (GdsimError, KeyError):
            pass
        self.specs.append(spec)
        self._current = len(self.specs) - 1
        self._refresh_list()
        self._show_lane(self._current)
        self.lanesChanged.emit()
        self.laneSelected.emit(self._current)
        self._structural()

    @Slot()
    def remove_lane(self) -> None:
        if len(self.specs) <= 1:
            return
        del self.specs[self._current]
        self._current = min(self._current, len(self.specs) - 1)
        self._refresh_list()
        self._show_lane(self._current)
        self.lanesChanged.emit()
        self.laneSelected.emit(self._current)
        self._structural()

    @Slot(int)
    def _on_row(self, row: int) -> None:
        if self._quiet or row < 0 or row == self._current:
            return
        self._current = row
        self._show_lane(row)
        self.laneSelected.emit(row)

    def select_lane(self, row: int) -> None:
        self.race_list.setCurrentRow(row)

    def _follow_lane(self, lane: int) -> None:
        """Another widget (a tool) selected a race entry through the model."""
        if lane != self._current and 0 <= lane < len(self.specs):
            self.select_lane(lane)

    def _show_lane(self, lane: int) -> None:
        self.model.select_lane(lane)
        spec = self.specs[lane]
        self._quiet += 1
        try:
            self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(spec.name)))
            self.hparam_form.set_hparams([hp for hp in spec.info.hparams if hp.name != "lr"])
            self.hparam_form.set_values(spec.hparams())
            self._show_error(self.hparam_error, "")
        finally:
            self._quiet -= 1

    def _update_item(self, lane: int) -> None:
        item = self.race_list.item(lane)
        if item is not None:
            spec = self.specs[lane]
            item.setText(lane_label(str(spec)))
            item.setToolTip(plain_tip(f"{spec}\n{spec.info.description}"))
        self.lanesChanged.emit()

    @Slot(int)
    def _on_optimizer(self, _index: int) -> None:
        if self._quiet:
            return
        name = str(self.optimizer_combo.currentData())
        old = self.specs[self._current]
        spec = parse_spec(name)
        try:  # keep the learning rate the lecturer chose when switching the rule
            spec = spec.with_changes(lr=old.hparams()["lr"])
        except (GdsimError, KeyError):
            pass
        self.specs[self._current] = spec
        self._show_lane(self._current)
        self._update_item(self._current)
        self.laneSelected.emit(self._current)  # the lr control shows this lane's lr
        self._structural()

    @Slot(str, object)
    def _on_hparam(self, name: str, value: object) -> None:
        if self._quiet:
            return
        lane = self._current
        try:
            self.specs[lane] = self.specs[lane].with_changes(**{name: value})
        except GdsimError as exc:
            self._show_error(self.hparam_error, str(exc).splitlines()[0])
            return
        self._show_error(self.hparam_error, "")
        self._update_item(lane)
        self.push()
        self.hparamChanged.emit(lane, name, value)

    def lane_lr(self, lane: int) -> float:
        return float(self.specs[lane].hparams()["lr"])

    def set_lane_lr(self, lane: int, lr: float) -> None:
        """The view's lr control changed (validated there): keep the lane's spec in step."""
        self.specs[lane] = self.specs[lane].with_changes(lr=lr)
        self._update_item(lane)
        self.push()

    # -- the run's configuration -----------------------------------------------------------
    def config(self) -> TrainConfig:
        """The settings as a validated ``TrainConfig`` (GdsimError, one line, if something is
        wrong)."""
        sched = self.scheduler_combo.currentData()
        patience = int(self.patience_spin.value())
        return TrainConfig(
            dataset=self.dataset_name(),
            samples=int(self.samples_spin.value()),
            noise=float(self.noise_spin.value()),
            val_fraction=self.val_fraction(),
            dataset_options=self.dataset_options(),
            hidden=parse_hidden(self.hidden_edit.text()),
            activation=str(self.activation_combo.currentData()),
            optimizers=tuple(str(s) for s in self.specs),
            scheduler=None if sched is None else str(sched),
            epochs=int(self.epochs_spin.value()),
            batch_size=int(self.batch_spin.value()),
            device=self.device(),
            seed=int(self.seed_spin.value()),
            patience=patience if patience > 0 else None,
            stop_early=self.stop_early_check.isChecked(),
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
        self._quiet += 1
        try:
            name = str(wanted["data set"])
            self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))
            self._rebuild_options(name)
            for opt, spin in self.option_spins.items():
                if opt in wanted:
                    spin.setValue(int(wanted[opt]))
            self.noise_spin.setValue(float(wanted["noise"]))
            self.samples_spin.setValue(int(wanted["samples"]))
            self.val_share_spin.setValue(float(wanted["validation share"]) * 100.0)
            self.seed_spin.setValue(min(int(wanted["seed"]), MAX_SEED))
            hidden = ",".join(str(n) for n in config.hidden)
            self.hidden_edit.setText(hidden)
            self._hidden_applied = hidden
            self.activation_combo.setCurrentIndex(self.activation_combo.findData(config.activation))
            self.specs = [parse_spec(text) for text in config.optimizers][:MAX_LANES]
            if len(config.optimizers) > MAX_LANES:
                notes.append(
                    f"loaded the first {MAX_LANES} of {len(config.optimizers)} optimizers "
                    f"(the Training view races at most {MAX_LANES})"
                )
            self._current = 0
            self._select_scheduler(config.scheduler)
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
        finally:
            self._quiet -= 1
        self._refresh_list()
        self._show_lane(0)
        self._check_hidden(self.hidden_edit.text())
        self.refresh_preview()
        self.push()
        try:
            shown = _effective(self.config())
        except GdsimError as exc:  # not expected: every box holds a valid value
            notes.append(f"the panel cannot show these settings: {str(exc).splitlines()[0]}")
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

    def _on_config_loaded(self, config: TrainConfig) -> None:
        """A session's config: shown, and what the panel could not hold said after the reset."""
        note = self.set_config(config)
        self.lanesChanged.emit()
        self.laneSelected.emit(0)
        self.model.fitted(note)

    def _select_scheduler(self, text: str | None) -> None:
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
            self.scheduler_combo.addItem(text, text)
            index = self.scheduler_combo.count() - 1
            self.scheduler_combo.setItemData(index, text, Qt.ItemDataRole.ToolTipRole)
        self.scheduler_combo.setCurrentIndex(index)

    def log_y(self) -> bool:
        return self.log_check.isChecked()

    def raw_visible(self) -> bool:
        return self.raw_check.isChecked()

    # -- settings --------------------------------------------------------------------------
    def save_settings(self, s: QSettings) -> None:
        s.setValue("dataset", self.dataset_name())
        s.setValue("samples", int(self.samples_spin.value()))
        s.setValue("noise", float(self.noise_spin.value()))
        s.setValue("valFraction", self.val_fraction())
        for k, v in self.dataset_options().items():
            s.setValue(f"option_{k}", v)
        s.setValue("seed", int(self.seed_spin.value()))
        s.setValue("hidden", self.hidden_edit.text())
        s.setValue("activation", str(self.activation_combo.currentData()))
        s.setValue("optimizers", [str(sp) for sp in self.specs])
        s.setValue("scheduler", str(self.scheduler_combo.currentData() or "none"))
        s.setValue("batch", int(self.batch_spin.value()))
        s.setValue("epochs", int(self.epochs_spin.value()))
        s.setValue("patience", int(self.patience_spin.value()))
        s.setValue("stopEarly", self.stop_early_check.isChecked())
        s.setValue("device", self.device())
        s.setValue("logLoss", self.log_check.isChecked())
        s.setValue("rawLoss", self.raw_check.isChecked())

    def restore_settings(self, s: QSettings) -> None:
        """Apply saved values; each bad one is ignored with a warning (never raises)."""
        self._quiet += 1
        try:
            name = read_str(s, "dataset", self.dataset_name(), dataset_names())
            self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))
            self._rebuild_options(name)
            self.noise_spin.setValue(
                read_float(s, "noise", get_dataset(name).default_noise, 0.0, 5.0)
            )
            self.samples_spin.setValue(read_int(s, "samples", 1000, MIN_SAMPLES, MAX_SAMPLES))
            share = read_float(
                s, "valFraction", 0.2, VAL_SHARE_MIN_PERCENT / 100, VAL_SHARE_MAX_PERCENT / 100
            )
            self.val_share_spin.setValue(share * 100.0)
            for opt in get_dataset(name).options:
                self.option_spins[opt.name].setValue(
                    read_int(s, f"option_{opt.name}", opt.default, opt.low, opt.high)
                )
            self.seed_spin.setValue(read_int(s, "seed", 0, 0, MAX_SEED))
            hidden = read_str(s, "hidden", "16,16")
            try:
                parse_hidden(hidden)
            except GdsimError as exc:
                log.warning("ignoring setting hidden=%r: %s", hidden, exc)
                hidden = "16,16"
            self.hidden_edit.setText(hidden)
            self._hidden_applied = hidden
            act = read_str(s, "activation", "relu", list(ACTIVATIONS))
            self.activation_combo.setCurrentIndex(self.activation_combo.findData(act))
            specs = []
            for text in read_str_list(s, "optimizers", [DEFAULT_SPEC])[:MAX_LANES]:
                try:
                    specs.append(parse_spec(text))
                except GdsimError as exc:
                    log.warning("ignoring saved optimizer %r: %s", text[:80], exc)
            self.specs = specs or [parse_spec(DEFAULT_SPEC)]
            self._current = 0
            sched = read_str(s, "scheduler", "none")
            try:  # any SPEC, "StepLR(step_size=5, gamma=0.5)" too, as set_config shows it
                self._select_scheduler(sched)
            except GdsimError as exc:
                log.warning("ignoring setting scheduler=%r: %s", sched[:200], exc)
                self.scheduler_combo.setCurrentIndex(0)
            self.batch_spin.setValue(read_int(s, "batch", 32, 1, MAX_BATCH_SIZE))
            self.epochs_spin.setValue(read_int(s, "epochs", 30, 1, MAX_EPOCHS))
            self.patience_spin.setValue(read_int(s, "patience", 10, 0, MAX_PATIENCE))
            self.stop_early_check.setChecked(read_bool(s, "stopEarly", False))
            device = read_str(s, "device", "cpu")
            if device.strip().lower() in {AUTO_DEVICE, *(d.name for d in available_devices())}:
                self.set_device(device.strip().lower())
            else:
                log.warning("ignoring setting device=%r: not a device name", device)
            self.log_check.setChecked(read_bool(s, "logLoss", True))
            self.raw_check.setChecked(read_bool(s, "rawLoss", True))
        finally:
            self._quiet -= 1
        self._refresh_list()
        self._show_lane(0)
        self._check_hidden(self.hidden_edit.text())
        self.refresh_preview()
        self.push()
