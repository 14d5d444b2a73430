"""The Training view's transport bar: Start/Pause, Step, Reset and the selected race entry's
learning rate, which acts live. One row when it fits, else the learning rate on a row of its own
(a 800×600 or 640×480 window squeezed "0.05" to "0." and the label to "Learning rat")."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QPushButton, QSpacerItem, QWidget

from app.plaintext import PlainLabel, RichLabel, esc
from app.theme import get_theme
from app.views.training_controls import TrainingControls
from app.views.training_status import MessageLine
from app.widgets.describe import describe
from app.widgets.slider_spin import LogSliderSpin
from core.engine.optimizers import get_optimizer
from core.errors import GdsimError, error_line
from core.state.training import DONE, TrainingModel

LR_SEND_MS = 60  # a slider drag sends at most ~16 lr changes a second
BAR_GAP = 12  # px between the transport buttons and the learning rate on one row
LR_LABEL, LR_LABEL_SHORT = "Learning rate", "lr"  # the short one when the window is narrow
RESET_TIP = "Start over from the same initial weights, applying any changed settings (R)"


class TransportBar(QWidget):
    """Buttons that command the model; an lr control that edits the panel's selected lane."""

    def __init__(
        self,
        model: TrainingModel,
        controls: TrainingControls,
        message: MessageLine,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainTransport")
        self.model, self.controls, self.message = model, controls, message
        self.theme = get_theme()
        self._setting_lr = False
        self._lr_error = ""  # the message a refused lr entry showed (cleared by a good one)
        self._lr_pending: tuple[int, float] | None = None
        self.run_button = describe(
            QPushButton("Start", self), "trainRunButton", "Start or pause training",
            "Start training, or pause it between two batches (Space)",
        )  # fmt: skip
        self.step_button = describe(
            QPushButton("Step", self), "trainStepButton", "Train one batch",
            "Train exactly one batch: one forward pass, one backward pass, one optimizer.step() "
            "(S or →)",
        )  # fmt: skip
        reset = QPushButton("Reset", self)
        self.reset_button = describe(reset, "trainResetButton", "Reset training", RESET_TIP)
        self._build_lr()
        self._build_rows()
        self.lr_send_timer = QTimer(self)
        self.lr_send_timer.setSingleShot(True)
        self.lr_send_timer.setInterval(LR_SEND_MS)
        self.lr_send_timer.timeout.connect(self._send_lr)
        self.run_button.clicked.connect(model.toggle_run)
        self.step_button.clicked.connect(model.step_once)
        self.reset_button.clicked.connect(self._reset)
        self.lr_control.valueChanged.connect(self._on_lr)
        self.lr_control.rejected.connect(self._on_lr_rejected)
        self.lr_control.spin.reverted.connect(self._on_lr_reverted)
        model.state_changed.connect(self.sync)
        model.pending_changed.connect(self.sync)
        model.lrs_changed.connect(self.show_lr_now)
        model.lr_suggested.connect(self.lr_control.setValue)  # as if typed: validated, sent
        controls.laneSelected.connect(self.show_lane)
        controls.lanesChanged.connect(self.show_lr_lane)

    def _build_lr(self) -> None:
        lr_info = get_optimizer("SGD").hparam("lr")
        low, high = lr_info.slider_range()
        self.lr_label = PlainLabel(LR_LABEL, self)
        self.lr_label.setObjectName("trainLrLabel")
        # the box explains a refused value itself (rejected); the view shows it in its message
        # line with its other errors, so the transport bar keeps its height
        self.lr_control = c = LogSliderSpin(low, high, 0.01, show_message=False, parent=self)
        c.setValidRange(  # typed: anything SGD's lr takes, beyond the slider's ends
            lr_info.low,
            lr_info.high,
            low_inclusive=lr_info.low_inclusive,
            high_inclusive=lr_info.high_inclusive,
        )
        c.setCheck(lr_info.check)
        c.setLabel(LR_LABEL)
        c.setObjectNames("trainLrSlider", "trainLrSpin")
        describe(
            c,
            "trainLr",
            "Learning rate",
            "How big a step the optimizer takes along the negative gradient; too small crawls, "
            "too large oscillates or diverges — applies live, from the next batch",
        )
        self.lr_label.setBuddy(c.spin)
        self.lr_label.setToolTip(c.toolTip())
        self.lr_lane = RichLabel("", self)
        self.lr_lane.setObjectName("trainLrLane")
        self.lr_lane.setToolTip(
            "The race entry the learning rate applies to (select it in the list)"
        )
        self.lr_now = PlainLabel("", self)  # the scheduled lr in force (the control shows the base)
        self.lr_now.setObjectName("trainLrNow")
        self.lr_now.setToolTip(
            "The learning rate the scheduler has set for the current batch; the control beside "
            "it is the base rate the schedule scales"
        )
        self.lr_now.setVisible(False)

    def _build_rows(self) -> None:
        self._buttons_row = QHBoxLayout()
        for b in (self.run_button, self.step_button, self.reset_button):
            self._buttons_row.addWidget(b)
        self._buttons_row.addStretch(1)  # only takes room when the lr has its own row
        self._lr_row = QHBoxLayout()
        self._lr_row.addWidget(self.lr_label)
        self._lr_row.addWidget(self.lr_lane)
        self._lr_row.addWidget(self.lr_control, 1)
        self._lr_row.addWidget(self.lr_now)
        self._bar = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._bar.setContentsMargins(0, 0, 0, 0)
        self._bar.addLayout(self._buttons_row, 0)
        self._bar_gap = QSpacerItem(BAR_GAP, 0)  # between buttons and lr on one row only
        self._bar.addSpacerItem(self._bar_gap)
        self._bar.addLayout(self._lr_row, 1)
        self.installEventFilter(self)

    # -- following the model ---------------------------------------------------------------
    @Slot()
    def sync(self, *_args) -> None:
        """Button texts for the run state: Start, Pause, Resume or Restart; a pending Reset."""
        s, pending = self.model.state, self.model.pending
        if s == "running":
            text, tip = "Pause", "Pause training between two batches (Space)"
        elif s in DONE:
            text, tip = "Restart", "Reset to the initial weights and train again (Space)"
        elif s in ("paused", "stopped") and self.model.steps > 0:
            text, tip = "Resume", "Continue training from here (Space)"
        else:
            text, tip = "Start", "Start training (Space)"
        self.run_button.setText(text)
        self.run_button.setToolTip(tip)
        self.step_button.setEnabled(s not in DONE)
        self.reset_button.setText("Reset •" if pending else "Reset")
        self.reset_button.setToolTip(
            RESET_TIP + (" — settings changed: press Reset to apply them" if pending else "")
        )

    @Slot(int)
    def show_lane(self, lane: int) -> None:
        """The lr control spans and shows the selected race entry's lr."""
        specs = self.controls.specs
        self._setting_lr = True
        try:
            if 0 <= lane < len(specs):  # the slider spans this optimizer's lr range
                self.lr_control.setRange(*specs[lane].info.hparam("lr").slider_range())
            self.lr_control.setValue(self.controls.lane_lr(lane))
        finally:
            self._setting_lr = False
        self.show_lr_lane()

    @Slot()
    def show_lr_lane(self) -> None:
        specs = self.controls.specs
        lane = self.controls.current_lane()
        if len(specs) > 1:
            color = self.theme.series_color(lane)
            self.lr_lane.setText(f"<span style='color:{color}'>●</span> {esc(specs[lane].name)}")
            self.lr_lane.setVisible(True)
        else:
            self.lr_lane.setVisible(False)

    @Slot()
    def show_lr_now(self) -> None:
        """With a scheduler, say which lr is in force now (the control holds the base lr)."""
        lr = self.model.lane_lr(self.controls.current_lane())
        scheduled = self.controls.schedule.scheduler() is not None
        text = f"now {lr:.3g}" if scheduled and math.isfinite(lr) else ""
        if text != self.lr_now.text():
            self.lr_now.setText(text)
            self.lr_now.setVisible(bool(text))

    # -- the lr control --------------------------------------------------------------------
    @Slot(float)
    def _on_lr(self, value: float) -> None:
        if self._setting_lr:
            return
        lane = self.controls.current_lane()
        try:
            self.controls.set_lane_lr(lane, value)
        except GdsimError as exc:
            self.message.show_message(error_line(exc), error=True)
            return
        if self._lr_error and self.message.shown_text() == self._lr_error:
            self.message.clear_message(errors_too=True)  # a good value replaced the refused one
        self._lr_error = ""
        self._lr_pending = (lane, value)
        if not self.lr_send_timer.isActive():
            self.lr_send_timer.start()

    @Slot()
    def _send_lr(self) -> None:
        if self._lr_pending is not None:
            (lane, value), self._lr_pending = self._lr_pending, None
            self.model.send_hparams(lane, {"lr": value})

    @Slot(str)
    def _on_lr_rejected(self, text: str) -> None:
        """A typed lr the box refused: say why where the view's other errors are said."""
        self._lr_error = text
        self.message.show_message(text, error=True)

    @Slot()
    def _on_lr_reverted(self) -> None:
        """Escape in the lr box: the value in force is shown, so a refusal said earlier is stale
        (it stayed red after the value was restored)."""
        if self._lr_error and self.message.shown_text() == self._lr_error:
            self.message.clear_message(errors_too=True)
        self._lr_error = ""

    @Slot()
    def _reset(self) -> None:
        self.model.reset()

    def stop(self) -> None:
        self.lr_send_timer.stop()

    # -- fitting the width -----------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self._fit()
        return super().eventFilter(watched, event)

    def _fit(self) -> None:
        """Buttons and learning rate on one row if their minimum widths fit; else two rows,
        and at the narrowest the label shortened to "lr" (the control and its number keep
        their room: a squeezed layout takes from its widest item first)."""
        avail = self.width()
        if avail <= 0:
            return
        fm = self.lr_label.fontMetrics()
        label_now = self.lr_label.minimumSizeHint().width()
        lr_min = self._lr_row.minimumSize().width() - label_now + fm.horizontalAdvance(LR_LABEL)
        gap = BAR_GAP + self._bar.spacing()  # spacers get no spacing of their own
        one_row = self._buttons_row.minimumSize().width() + gap + lr_min <= avail
        if one_row:
            direction, label = QBoxLayout.Direction.LeftToRight, LR_LABEL
        else:
            direction = QBoxLayout.Direction.TopToBottom
            label = LR_LABEL if lr_min <= avail else LR_LABEL_SHORT
        if self._bar.direction() != direction:
            self._bar_gap.changeSize(BAR_GAP if one_row else 0, 0)
            self._bar.setDirection(direction)
        if self.lr_label.text() != label:
            self.lr_label.setText(label)
