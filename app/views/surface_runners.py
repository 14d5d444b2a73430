"""The racing optimizers as the user manages them: the list, add/duplicate/remove, and the
selected optimizer's hyperparameters.

Why a separate widget: the list and the form are plain Qt and know nothing of plotting or
stepping. They show :class:`RunnerEntry` objects and turn the user's edits into signals; the
surface view applies them to the race (``Race.add``/``remove``/``set_hparams``) and reports
back. Everything here is built from ``core.engine.optimizers``' registry alone, so an optimizer added
there (or registered by a user) appears in the Add menu and gets its controls with no edit.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel, plain_tip
from app.theme import ERROR_COLORS
from app.widgets.describe import add_item, describe
from app.widgets.hparam_form import HParamForm
from core.engine.optimizers import OptimizerInfo, get_optimizer, optimizer_names
from core.files.session import MAX_RUNNERS
from core.state.surfaces import RunnerEntry

ROLE_ID = Qt.ItemDataRole.UserRole + 1
TITLE_CHARS = 24  # of a runner's label in the hyperparameter box's title
ADD_TIP = (
    "Add the chosen optimizer to the race, with its default hyperparameters, starting "
    "from the current start point."
)
DUPLICATE_TIP = (
    "Add a copy of the selected optimizer (same hyperparameters), e.g. to race Adam "
    "at two learning rates."
)


def swatch(color: str, size: int, crossed: bool = False) -> QIcon:
    """A colour square for the list (crossed out once the runner has diverged)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor("#000000"), 1))
    p.setBrush(QColor(color))
    p.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    if crossed:
        p.setPen(QPen(QColor("#000000"), max(2, size // 6)))
        p.drawLine(3, 3, size - 3, size - 3)
        p.drawLine(3, size - 3, size - 3, 3)
    p.end()
    return QIcon(pm)


class OptimizerPanel(QWidget):
    """``optimizerList`` with Add/Duplicate/Remove, and the selected runner's controls.

    Signals carry runner ids; the view owns the race and calls back ``add_entry``,
    ``update_entry``, ``remove_entry``, ``show_error``.
    """

    addRequested = Signal(str)  # optimizer name
    removeRequested = Signal(int)
    duplicateRequested = Signal(int)
    visibilityToggled = Signal(int, bool)
    renamed = Signal(int, str)  # "" = back to the automatic label
    hparamChanged = Signal(int, str, object)
    currentChanged = Signal(int)  # -1 = none selected

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: dict[int, RunnerEntry] = {}
        self._updating = False
        self._form_info: OptimizerInfo | None = None
        self._theme_name = "light"

        self.list = describe(
            QListWidget(self),
            "optimizerList",
            "Racing optimizers",
            "The optimizers racing on the surface: tick to show or hide one, double-click (or F2) "
            "to rename it, select one to tune its hyperparameters live.",
        )
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)  # full name in the tooltip
        self.list.setUniformItemSizes(True)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentItemChanged.connect(self._on_current_changed)

        self.add_combo = describe(
            QComboBox(self),
            "addOptimizerCombo",
            "Optimizer to add",
            "Which torch.optim optimizer the Add button puts into the race.",
        )
        self.refresh_registry()
        self.add_button = describe(
            QPushButton("Add", self), "addOptimizerButton", "Add optimizer", ADD_TIP
        )
        self.add_button.clicked.connect(self._on_add)
        self.duplicate_button = describe(
            QPushButton("Duplicate", self),
            "duplicateOptimizerButton",
            "Duplicate optimizer",
            DUPLICATE_TIP,
        )
        self.duplicate_button.clicked.connect(self._on_duplicate)
        self.remove_button = describe(
            QPushButton("Remove", self),
            "removeOptimizerButton",
            "Remove optimizer",
            "Take the selected optimizer out of the race.",
        )
        self.remove_button.clicked.connect(self._on_remove)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        # the buttons above the list: at 1024×768 and 200 % zoom, below a list of eight
        # they were scrolled out of the panel
        grid.addWidget(self.add_combo, 0, 0)
        grid.addWidget(self.add_button, 0, 1)
        grid.addWidget(self.duplicate_button, 1, 0)
        grid.addWidget(self.remove_button, 1, 1)
        grid.addWidget(self.list, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)

        # -- the selected runner's hyperparameters
        self.hparam_box = QGroupBox("Hyperparameters", self)
        self.hparam_box.setObjectName("hparamGroup")
        self.description = PlainLabel(self.hparam_box)
        self.description.setObjectName("optimizerDescription")
        self.description.setWordWrap(True)
        self.description.setAccessibleName("Optimizer description")
        self.form = HParamForm(parent=self.hparam_box)
        self.form.setObjectName("hparamForm")
        self.form.changed.connect(self._on_form_changed)
        self.error = describe(
            PlainLabel(self.hparam_box), "surfaceHparamError", "Hyperparameter error"
        )
        self.error.setWordWrap(True)
        self.error.hide()
        box_lay = QVBoxLayout(self.hparam_box)
        box_lay.addWidget(self.description)
        box_lay.addWidget(self.form)
        box_lay.addWidget(self.error)
        self.hparam_box.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(grid)
        lay.addWidget(self.hparam_box)
        self._sync_buttons()

    # -- registry ------------------------------------------------------------------------
    def refresh_registry(self) -> None:
        """(Re)fill the Add menu from ``optimizer_names()`` (e.g. after register_optimizer)."""
        keep = self.add_combo.currentText()
        self.add_combo.clear()
        for name in optimizer_names():
            add_item(self.add_combo, name, name, get_optimizer(name).description)
        if keep:
            self.add_combo.setCurrentText(keep)

    # -- entries -------------------------------------------------------------------------
    def _icon_size(self) -> int:
        return max(12, self.fontMetrics().height() - 2)

    def add_entry(self, entry: RunnerEntry, select: bool = False) -> None:
        self._entries[entry.id] = entry
        item = QListWidgetItem()
        item.setData(ROLE_ID, entry.id)
        item.setFlags(
            Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEditable
        )
        self._updating = True
        try:
            self.list.addItem(item)
        finally:
            self._updating = False
        self.update_entry(entry)
        if select:
            self.list.setCurrentItem(item)
        self._sync_buttons()

    def _item(self, rid: int) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(ROLE_ID) == rid:
                return item
        return None

    def update_entry(self, entry: RunnerEntry) -> None:
        """Show the entry's label, colour, visibility and status."""
        item = self._item(entry.id)
        if item is None:
            return
        self._updating = True
        try:
            if item.text() != entry.label:
                item.setText(entry.label)
            state = Qt.CheckState.Checked if entry.visible else Qt.CheckState.Unchecked
            if item.checkState() != state:
                item.setCheckState(state)
            item.setIcon(swatch(entry.color, self._icon_size(), entry.diverged))
            tip = f"{entry.runner.spec} — " + (
                f"diverged at step {entry.runner.diverged_at} (Reset brings it back)"
                if entry.diverged
                else "tick to show, double-click to rename"
            )
            item.setToolTip(plain_tip(tip))
            font = item.font()
            font.setItalic(entry.diverged)
            item.setFont(font)
        finally:
            self._updating = False
        if entry.id == self.current_id():
            self._title_form(entry)

    def replace_entry(self, old_rid: int, entry: RunnerEntry) -> None:
        """Show ``entry`` in runner ``old_rid``'s row: the row is reused, and the form too when
        the optimizer is the same (a preset rebuilt every row and the form, ~40 ms)."""
        item = self._item(old_rid)
        self._entries.pop(old_rid, None)
        if item is None:
            self.add_entry(entry)
            return
        self._entries[entry.id] = entry
        self._updating = True
        try:
            item.setData(ROLE_ID, entry.id)
        finally:
            self._updating = False
        self.update_entry(entry)
        if item is self.list.currentItem():  # as a new selection: the form, then the tools
            self._on_current_changed(item, None)

    def remove_entry(self, rid: int) -> None:
        self._entries.pop(rid, None)
        item = self._item(rid)
        if item is not None:
            self.list.takeItem(self.list.row(item))
        self._sync_buttons()
        if self.list.currentItem() is None:
            self._show_form(None)

    def current_id(self) -> int:
        item = self.list.currentItem()
        return int(item.data(ROLE_ID)) if item is not None else -1

    def select(self, rid: int) -> None:
        item = self._item(rid)
        if item is not None:
            self.list.setCurrentItem(item)

    def set_theme_name(self, name: str) -> None:
        self._theme_name = name
        self.error.setStyleSheet(f"color: {ERROR_COLORS.get(name, '#C62828')};")
        for entry in self._entries.values():
            self.update_entry(entry)

    # -- the form ------------------------------------------------------------------------
    def refresh_form(self) -> None:
        """Show the current runner's values again (after a change the core refused, or an
        external change such as restoring settings)."""
        self._show_form(self._entries.get(self.current_id()))

    def _show_form(self, entry: RunnerEntry | None) -> None:
        self.error.hide()
        if entry is None:
            self.hparam_box.hide()
            self._form_info = None
            return
        info = entry.runner.spec.info
        if info is not self._form_info:
            self.form.set_hparams(info.hparams)  # slider ranges: the registry's ui_range
            self._form_info = info
        self.form.set_values(entry.runner.spec.hparams())
        self._title_form(entry)
        self.description.setText(info.description)
        self.hparam_box.show()

    def _title_form(self, entry: RunnerEntry) -> None:
        """A group box is at least as wide as its title: a long label would widen the whole
        panel (and halve the map), so the title is the label alone, shortened, and the tooltip
        has it all (at 200 % zoom "Hyperparameters: " alone was a third of a 1024 px panel)."""
        label = entry.label
        short = label if len(label) <= TITLE_CHARS else label[: TITLE_CHARS - 1] + "…"
        self.hparam_box.setTitle(short)
        self.hparam_box.setToolTip(plain_tip(f"Hyperparameters of {label}"))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setStyleSheet(f"color: {ERROR_COLORS.get(self._theme_name, '#C62828')};")
        self.error.show()

    def clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    # -- slots ---------------------------------------------------------------------------
    def _fit_list_height(self) -> None:
        """As tall as its rows (3 to 10 of them): no empty box, no scrolling for a lecture's
        race."""
        rows = min(10, max(3, self.list.count()))
        row_h = self.list.sizeHintForRow(0) if self.list.count() else -1
        if row_h <= 0:
            row_h = self.fontMetrics().height() + 4
        self.list.setFixedHeight(rows * row_h + 2 * self.list.frameWidth() + 2)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:  # zoom: re-measure once the children have it
            QTimer.singleShot(0, self, self._after_font_change)

    def _after_font_change(self) -> None:
        for entry in self._entries.values():
            self.update_entry(entry)
        self.list.doItemsLayout()
        self._fit_list_height()

    def _sync_buttons(self) -> None:
        self._fit_list_height()
        has = self.list.currentItem() is not None
        full = self.list.count() >= MAX_RUNNERS  # what a session file (and the settings) hold
        self.add_button.setEnabled(not full)
        self.duplicate_button.setEnabled(has and not full)
        self.remove_button.setEnabled(has)
        note = f"\n\nThe race is full: at most {MAX_RUNNERS} optimizers. Remove one first."
        for button, tip in ((self.add_button, ADD_TIP), (self.duplicate_button, DUPLICATE_TIP)):
            button.setToolTip(tip + note if full else tip)

    @Slot()
    def _on_add(self) -> None:
        name = self.add_combo.currentData()
        if name:
            self.addRequested.emit(str(name))

    @Slot()
    def _on_duplicate(self) -> None:
        rid = self.current_id()
        if rid >= 0:
            self.duplicateRequested.emit(rid)

    @Slot()
    def _on_remove(self) -> None:
        rid = self.current_id()
        if rid >= 0:
            self.removeRequested.emit(rid)

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        rid = int(item.data(ROLE_ID))
        entry = self._entries.get(rid)
        if entry is None:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != entry.visible:
            self.visibilityToggled.emit(rid, visible)
        text = item.text().strip()
        if text != entry.label:
            self.renamed.emit(rid, text)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current: QListWidgetItem | None, _prev) -> None:
        self._sync_buttons()
        rid = int(current.data(ROLE_ID)) if current is not None else -1
        self._show_form(self._entries.get(rid))
        self.currentChanged.emit(rid)

    @Slot(str, object)
    def _on_form_changed(self, name: str, value: object) -> None:
        rid = self.current_id()
        if rid >= 0:
            self.hparamChanged.emit(rid, name, value)
