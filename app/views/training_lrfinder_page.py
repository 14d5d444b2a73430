"""The LR finder's page beside the decision boundary: the plot, what it suggests, and the buttons
that put a suggestion into the lr control. The texts are written here, from a finished result."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.plaintext import RichLabel, esc
from app.theme import ThemeManager
from app.views.training_lrfinder_plot import LRFinderPlot, round_lr
from app.widgets.slider_spin import format_number
from core.teach.lr_finder import LRFinderResult

IDLE_TEXT = "Press “Find learning rate” in the panel (Learning-rate finder) to run the range test."


def result_text(r: LRFinderResult, who: str, stale: bool) -> str:
    """Rich text: the suggestion for ``who`` (plain text, escaped here) and the rule behind it."""
    who = esc(who)
    valley = (
        f" fastai's valley rule (dotted): {format_number(round_lr(r.valley), 3)}."
        if r.valley is not None
        else ""
    )
    if r.suggestion is None:
        return f"No suggestion for {who}: {esc(r.reason)}.{valley}"
    best = r.best_index
    lowest = f"lowest loss at lr {format_number(float(r.lrs[best]), 3)}" if best is not None else ""
    if r.rule == "steepest":
        rule = f"steepest descent of the smoothed loss (the dot); {lowest}"
    else:
        rule = esc(f"{r.rule} — {r.reason}")
    again = " <i>Settings changed since: run it again.</i>" if stale else ""
    return (
        f"<b>Suggested learning rate: {format_number(round_lr(r.suggestion), 3)}</b> "
        f"for {who} · rule: {rule}.{valley}{again}"
    )


def summary(r: LRFinderResult) -> str:
    """The status line of a finished run: how far it went, how long it took, where."""
    how = {
        "completed": f"all {r.steps} steps",
        "diverged": f"{len(r.lrs)} of {r.steps} steps, stopped when the loss blew up at lr "
        f"{format_number(float(r.lrs[-1]), 3)}",
        "cancelled": f"cancelled after {len(r.lrs)} steps",
    }.get(r.stopped, r.stopped)
    return f"Done: {how} ({r.seconds:.1f} s on {r.device})."


class LRFinderPage(QWidget):
    """``plot``, ``result_label`` and the *Use this learning rate* / *Use valley* buttons."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lrFinderPage")
        self.setAccessibleName("Learning-rate finder")
        self.plot = LRFinderPlot(theme, self)
        self.result_label = RichLabel(IDLE_TEXT, self)
        self.result_label.setObjectName("lrFinderResult")
        self.result_label.setAccessibleName("Suggested learning rate")
        self.result_label.setWordWrap(True)
        self.result_label.setMinimumWidth(1)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use this learning rate", self)
        self.use_button.setObjectName("useLrButton")
        self.use_button.setAccessibleName("Use the suggested learning rate")
        self.use_button.setToolTip(
            "Put the suggested value into the learning-rate control of the race entry the test "
            "ran for (it applies live if that entry is training)"
        )
        self.valley_button = QPushButton("Use valley", self)
        self.valley_button.setObjectName("useValleyButton")
        self.valley_button.setAccessibleName("Use the valley learning rate")
        self.valley_button.setToolTip(
            "Put fastai's 'valley' suggestion (the dotted line) into the learning-rate control "
            "instead, the same way"
        )
        buttons = QVBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.valley_button)
        buttons.addStretch(1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.result_label, 1)
        bottom.addLayout(buttons)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot, 1)
        lay.addLayout(bottom)

    def offer(self, result: LRFinderResult | None, running: bool) -> None:
        """Enable each *Use* button when the last finished run has its value to use."""
        idle = result is not None and not running
        self.use_button.setEnabled(idle and result.suggestion is not None)  # type: ignore[union-attr]
        self.valley_button.setEnabled(idle and result.valley is not None)  # type: ignore[union-attr]
