"""The Data part of the Training panel: which points the network learns, and a picture of them."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QPointF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.theme import get_theme
from app.views.training_boundary import class_color
from app.views.training_panel_parts import Quiet, Section, header
from app.widgets.describe import add_item, describe
from app.widgets.form_rows import retire_rows, wrapping_form
from core.engine.datasets import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    GeneratedData,
    dataset_names,
    get_dataset,
    make_dataset,
)
from core.engine.training import MAX_VAL_FRACTION
from core.errors import GdsimError

log = logging.getLogger("gdsim.training")

# The boxes take every value the engine accepts (core's limits), so that a session file's
# values fit them: a box narrower than the engine silently clamped a value on opening.
VAL_SHARE_MIN_PERCENT = 0.1  # the box shows a percentage with one decimal: 0.001 .. 0.9
VAL_SHARE_MAX_PERCENT = 100 * MAX_VAL_FRACTION
MAX_SEED = 2**31 - 1  # a QSpinBox holds an int32; core accepts up to 2**63 - 1 (set_config says)


class DataPreview(QWidget):
    """A small picture of the data set: every point coloured by class (drawn with QPainter,
    cheap enough to redraw on every keystroke of the sample count)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        describe(
            self,
            "datasetPreview",
            "Data set preview",
            "The data the network will learn, one colour per class",
        )
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


def _spin(spin, name: str, tip: str) -> None:
    describe(spin, name, name.removesuffix("Spin").capitalize())
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)


class DataSection(Section):
    """Data set, its own options, noise, samples, validation share and seed."""

    changed = Signal()  # applies on Reset

    def __init__(self, panel: QWidget, quiet: Quiet, lay: QVBoxLayout) -> None:
        super().__init__(panel, quiet)
        self.preview_data: GeneratedData | None = None
        lay.addWidget(header("Data", panel))
        form = wrapping_form()
        self.dataset_combo = describe(
            QComboBox(panel),
            "datasetCombo",
            "Data set",
            "The 2-D points the network learns to classify; harder shapes need a bigger network "
            "and more epochs (applies on Reset)",
        )
        for name in dataset_names():
            add_item(self.dataset_combo, name, name, get_dataset(name).description)
        form.addRow(self.label("Data set", self.dataset_combo), self.dataset_combo)
        self.preview = DataPreview(panel)
        form.addRow(self.preview)
        self.noise_spin = QDoubleSpinBox(panel)
        _spin(
            self.noise_spin, "noiseSpin",
            "Random jitter added to every point: more noise blurs the classes, so the loss "
            "cannot reach zero and overfitting shows (applies on Reset)",
        )  # fmt: skip
        self.noise_spin.setRange(0.0, 5.0)
        self.noise_spin.setDecimals(2)
        self.noise_spin.setSingleStep(0.05)
        form.addRow(self.label("Noise", self.noise_spin), self.noise_spin)
        self.samples_spin = QSpinBox(panel)
        _spin(
            self.samples_spin, "samplesSpin",
            "How many points are generated (the validation share is held out); more points "
            "mean more batches per epoch and a less noisy gradient estimate (applies on Reset)",
        )  # fmt: skip
        self.samples_spin.setRange(MIN_SAMPLES, MAX_SAMPLES)
        self.samples_spin.setSingleStep(100)
        self.samples_spin.setValue(1000)
        form.addRow(self.label("Samples", self.samples_spin), self.samples_spin)
        self.val_share_spin = QDoubleSpinBox(panel)
        _spin(
            self.val_share_spin, "valShareSpin",
            "The share of the points held out for validation: never trained on, they show "
            "whether the network generalises or only memorises (applies on Reset)",
        )  # fmt: skip
        self.val_share_spin.setAccessibleName("Validation share")
        self.val_share_spin.setRange(VAL_SHARE_MIN_PERCENT, VAL_SHARE_MAX_PERCENT)
        self.val_share_spin.setDecimals(1)
        self.val_share_spin.setSingleStep(5.0)
        self.val_share_spin.setSuffix(" %")
        self.val_share_spin.setValue(20.0)
        form.addRow(self.label("Validation share", self.val_share_spin), self.val_share_spin)
        self.options_form = wrapping_form()
        self._retired: list[QWidget] = []  # old option rows until the event loop deletes them
        self.option_spins: dict[str, QSpinBox] = {}
        form.addRow(self.options_form)
        self.seed_spin = QSpinBox(panel)
        _spin(
            self.seed_spin, "seedSpin",
            "Fixes the points, the train/validation split, the initial weights and the batch "
            "order: the same seed replays the same run exactly (applies on Reset)",
        )  # fmt: skip
        self.seed_spin.setRange(0, MAX_SEED)
        form.addRow(self.label("Seed", self.seed_spin), self.seed_spin)
        lay.addLayout(form)
        self.rebuild_options(self.dataset_name())
        self.noise_spin.setValue(get_dataset(self.dataset_name()).default_noise)
        self.refresh_preview()
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset)
        for w in (self.noise_spin, self.samples_spin, self.val_share_spin, self.seed_spin):
            w.valueChanged.connect(self._on_setting)

    def dataset_name(self) -> str:
        return str(self.dataset_combo.currentData())

    def rebuild_options(self, name: str) -> None:
        """Spin boxes for the data set's own options (spiral arms, blob centres...)."""
        retire_rows(self.options_form, self._retired)
        self.option_spins = {}
        for opt in get_dataset(name).options:
            spin = describe(
                QSpinBox(self.panel), f"datasetOption_{opt.name}", opt.name.capitalize()
            )
            spin.setRange(opt.low, opt.high)
            spin.setValue(opt.default)
            spin.setKeyboardTracking(False)
            spin.setToolTip(f"{opt.help[0].upper()}{opt.help[1:]} (applies on Reset)")
            spin.valueChanged.connect(self._on_setting)
            self.options_form.addRow(self.label(opt.name.capitalize(), spin), spin)
            self.option_spins[opt.name] = spin

    def dataset_options(self) -> dict[str, int]:
        return {k: int(s.value()) for k, s in self.option_spins.items()}

    def val_fraction(self) -> float:
        """The validation share as ``TrainConfig.val_fraction`` (the box shows a percentage;
        rounded so 40.0 % is 0.4, not 0.4000000000000001, in a saved session)."""
        return round(float(self.val_share_spin.value()) / 100.0, 6)

    def fields(self) -> dict[str, Any]:
        """This part of a ``TrainConfig``."""
        return {
            "dataset": self.dataset_name(),
            "samples": int(self.samples_spin.value()),
            "noise": float(self.noise_spin.value()),
            "val_fraction": self.val_fraction(),
            "dataset_options": self.dataset_options(),
            "seed": int(self.seed_spin.value()),
        }

    @Slot(int)
    def _on_dataset(self, _index: int) -> None:
        name = self.dataset_name()
        with self.quiet.held():
            self.rebuild_options(name)
            self.noise_spin.setValue(get_dataset(name).default_noise)
        self._on_setting()

    def _on_setting(self, *_args: Any) -> None:
        if self.quiet:
            return
        self.refresh_preview()
        self.changed.emit()

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

    def show_config(self, wanted: dict[str, Any]) -> None:
        """Show a config's effective data values (quiet is held by the caller)."""
        name = str(wanted["data set"])
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))
        self.rebuild_options(name)
        for opt, spin in self.option_spins.items():
            if opt in wanted:
                spin.setValue(int(wanted[opt]))
        self.noise_spin.setValue(float(wanted["noise"]))
        self.samples_spin.setValue(int(wanted["samples"]))
        self.val_share_spin.setValue(float(wanted["validation share"]) * 100.0)
        self.seed_spin.setValue(min(int(wanted["seed"]), MAX_SEED))
