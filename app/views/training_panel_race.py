"""The Optimizer part of the Training panel: the race list (each entry trains its own copy of the
network), the selected entry's optimizer and its hyperparameters."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import plain_tip
from app.theme import get_theme
from app.views.training_panel_parts import Quiet, Section, header, show_error, swatch
from app.views.training_plots import lane_label
from app.widgets.describe import add_item, describe
from app.widgets.form_rows import wrapping_form
from app.widgets.hparam_form import HParamForm
from core.engine.optimizers import OptimizerSpec, get_optimizer, optimizer_names, parse_spec
from core.errors import GdsimError, error_line
from core.state.training import TrainingModel

DEFAULT_SPEC = "Adam(lr=0.01)"
MAX_LANES = 8


class _ViewportWidthDelegate(QStyledItemDelegate):
    """Rows as wide as the list's viewport, their text elided (the full SPEC is the tooltip):
    a row as wide as its text brought a horizontal scroll bar that covered the last lane."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return QSize(1, super().sizeHint(option, index).height())


class RaceSection(Section):
    """The race entries (``specs``) and the one being edited (``current``)."""

    changed = Signal()  # entries added, removed or given another optimizer: applies on Reset
    hparamChanged = Signal(int, str, object)  # (lane, name, value), live
    laneSelected = Signal(int)
    lanesChanged = Signal()  # names/colours to refresh

    def __init__(
        self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout, model: TrainingModel
    ) -> None:
        super().__init__(panel, quiet)
        self.model = model
        self.specs: list[OptimizerSpec] = [parse_spec(DEFAULT_SPEC)]
        self.current = 0
        lay.addWidget(header("Optimizer", panel))
        self.race_list = describe(
            QListWidget(panel),
            "raceList",
            "Optimizers training side by side",
            "Each entry trains its own copy of the same network from the same weights on the "
            "same batches, so the curves compare the optimizers alone; select one to edit it",
        )
        self.race_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.race_list.setItemDelegate(_ViewportWidthDelegate(self.race_list))
        self.race_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.race_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.race_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        lay.addWidget(self.race_list)
        self._build_buttons(lay)
        opt_form = wrapping_form()
        self.optimizer_combo = describe(QComboBox(panel), "optimizerCombo", "Optimizer")
        for name in optimizer_names():
            add_item(self.optimizer_combo, name, name, get_optimizer(name).description)
        self.optimizer_combo.setToolTip(
            "The torch.optim rule that turns each batch's gradient into a weight update for "
            "the selected entry (applies on Reset; its settings below apply live)"
        )
        opt_form.addRow(self.label("Optimizer", self.optimizer_combo), self.optimizer_combo)
        lay.addLayout(opt_form)
        self.hparam_form = HParamForm(
            (),
            panel,
            lr_slider_name="trainFormLrSlider",
            lr_spin_name="trainFormLrSpin",
            name_prefix="trainHp_",
        )
        self.hparam_form.setObjectName("trainHParams")
        lay.addWidget(self.hparam_form)
        self.hparam_error = self.error_label("hparamError")
        lay.addWidget(self.hparam_error)

    def _build_buttons(self, lay: QVBoxLayout) -> None:
        panel = self.panel
        row = QGridLayout()
        self.race_add_combo = describe(
            QComboBox(panel),
            "raceAddCombo",
            "Optimizer to add",
            "An optimizer to race against the ones in the list: pick it, then 'Add to race'",
        )
        for name in optimizer_names():
            self.race_add_combo.addItem(name, name)
        self.add_race_button = describe(
            QPushButton("Add to race", panel),
            "addRaceButton",
            "Add optimizer to race",
            "Train one more identical network with this optimizer, side by side, each with its "
            "own curve (applies on Reset)",
        )
        self.remove_race_button = describe(
            QPushButton("Remove", panel),
            "removeRaceButton",
            "Remove optimizer from race",
            "Stop racing the selected optimizer (applies on Reset)",
        )
        # Remove under Add, as in the Surfaces panel: three in a row made the panel ~420 px
        # wide at 200 % zoom, more than it may take of a 1024 px window
        row.addWidget(self.race_add_combo, 0, 0)
        row.addWidget(self.add_race_button, 0, 1)
        row.addWidget(self.remove_race_button, 1, 1)
        row.setColumnStretch(0, 1)
        lay.addLayout(row)

    def connect_signals(self) -> None:
        """After the panel's first fill: edits from here on are the user's."""
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer)
        self.hparam_form.changed.connect(self._on_hparam)
        self.race_list.currentRowChanged.connect(self._on_row)
        self.add_race_button.clicked.connect(self.add_lane)
        self.remove_race_button.clicked.connect(self.remove_lane)
        self.model.lane_selected.connect(self._follow_lane)

    # -- the list --------------------------------------------------------------------------
    def refresh_list(self) -> None:
        with self.quiet.held():
            # rows are updated in place, never cleared and remade: clear() from a zoom's timer
            # segfaulted in Shiboken's releaseWrapper for the old items (2 runs in 3)
            rows = self.race_list
            while rows.count() > len(self.specs):
                rows.takeItem(rows.count() - 1)
            while rows.count() < len(self.specs):
                rows.addItem("")
            size = max(10, self.panel.fontMetrics().height() - 4)
            for i in range(len(self.specs)):
                rows.item(i).setIcon(swatch(get_theme().series_color(i), size))
                self._label_item(i)
            self.race_list.setCurrentRow(self.current)
            self._fit_list_height()
            self.remove_race_button.setEnabled(len(self.specs) > 1)
            self.add_race_button.setEnabled(len(self.specs) < MAX_LANES)

    def _label_item(self, lane: int) -> None:
        item = self.race_list.item(lane)
        if item is not None:
            spec = self.specs[lane]
            item.setText(lane_label(str(spec)))
            # the row may be elided: the tooltip has it all
            item.setToolTip(plain_tip(f"{spec}\n{spec.info.description}"))

    def _fit_list_height(self) -> None:
        """Show every lane (at most MAX_LANES) without scrolling; recomputed when zoom changes
        the font. Rows never need a horizontal scroll bar (they elide), so none eats a row."""
        rows = max(1, len(self.specs))
        h = self.race_list.sizeHintForRow(0) if self.race_list.count() else 18
        self.race_list.setFixedHeight(rows * h + 2 * self.race_list.frameWidth() + 2)

    @Slot()
    def add_lane(self) -> None:
        if len(self.specs) >= MAX_LANES:
            return
        spec = parse_spec(str(self.race_add_combo.currentData()))
        try:  # race at the same learning rate as the selected entry: a fair comparison
            spec = spec.with_changes(lr=self.specs[self.current].hparams()["lr"])
        except (GdsimError, KeyError):
            pass
        self.specs.append(spec)
        self._lanes_edited(len(self.specs) - 1)

    @Slot()
    def remove_lane(self) -> None:
        if len(self.specs) <= 1:
            return
        del self.specs[self.current]
        self._lanes_edited(min(self.current, len(self.specs) - 1))

    def _lanes_edited(self, current: int) -> None:
        self.current = current
        self.refresh_list()
        self.show_lane(current)
        self.lanesChanged.emit()
        self.laneSelected.emit(current)
        self.changed.emit()

    @Slot(int)
    def _on_row(self, row: int) -> None:
        if self.quiet or row < 0 or row == self.current:
            return
        self.current = row
        self.show_lane(row)
        self.laneSelected.emit(row)

    def _follow_lane(self, lane: int) -> None:
        """Another widget (a tool) selected a race entry through the model."""
        if lane != self.current and 0 <= lane < len(self.specs):
            self.race_list.setCurrentRow(lane)

    def show_lane(self, lane: int) -> None:
        """The optimizer and hyperparameters of race entry ``lane``."""
        self.model.select_lane(lane)
        spec = self.specs[lane]
        with self.quiet.held():
            self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(spec.name)))
            self.hparam_form.set_hparams([hp for hp in spec.info.hparams if hp.name != "lr"])
            self.hparam_form.set_values(spec.hparams())
            show_error(self.hparam_error, "")

    def _update_item(self, lane: int) -> None:
        self._label_item(lane)
        self.lanesChanged.emit()

    # -- the selected entry ----------------------------------------------------------------
    @Slot(int)
    def _on_optimizer(self, _index: int) -> None:
        if self.quiet:
            return
        old = self.specs[self.current]
        spec = parse_spec(str(self.optimizer_combo.currentData()))
        try:  # keep the learning rate the lecturer chose when switching the rule
            spec = spec.with_changes(lr=old.hparams()["lr"])
        except (GdsimError, KeyError):
            pass
        self.specs[self.current] = spec
        self.show_lane(self.current)
        self._update_item(self.current)
        self.laneSelected.emit(self.current)  # the lr control shows this lane's lr
        self.changed.emit()

    @Slot(str, object)
    def _on_hparam(self, name: str, value: object) -> None:
        if self.quiet:
            return
        lane = self.current
        try:
            self.specs[lane] = self.specs[lane].with_changes(**{name: value})
        except GdsimError as exc:
            show_error(self.hparam_error, error_line(exc))
            return
        show_error(self.hparam_error, "")
        self._update_item(lane)
        self.hparamChanged.emit(lane, name, value)

    def lane_lr(self, lane: int) -> float:
        return float(self.specs[lane].hparams()["lr"])

    def set_lane_lr(self, lane: int, lr: float) -> None:
        self.specs[lane] = self.specs[lane].with_changes(lr=lr)
        self._update_item(lane)

    # -- configs and settings --------------------------------------------------------------
    def show_optimizers(self, optimizers: tuple[str, ...], notes: list[str]) -> None:
        """A config's entries (quiet is held by the caller); the first MAX_LANES are kept."""
        self.specs = [parse_spec(text) for text in optimizers][:MAX_LANES]
        if len(optimizers) > MAX_LANES:
            notes.append(
                f"loaded the first {MAX_LANES} of {len(optimizers)} optimizers "
                f"(the Training view races at most {MAX_LANES})"
            )
        self.current = 0
