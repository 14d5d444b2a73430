"""The app's ``QFormLayout``: made wrapping long rows, emptied without deleting widgets at once.

``wrapping_form``: a row whose label and field do not fit side by side puts the field under its
label (a side panel at 200 % zoom) instead of making the whole panel wider.

``removeRow`` deletes a row's widgets on the spot. A rebuild runs from a signal or event (a list
row, a combo, a focus change that finishes an edit), and when a deleted widget is still on that
call stack Qt goes on in freed memory: test_stress's training storm segfaulted in the next
widget's constructor. Rows are taken out, hidden, unparented (so a search by name finds only
the new rows) and deleted by the event loop.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QFormLayout, QWidget


def wrapping_form(parent: QWidget | None = None) -> QFormLayout:
    """A form that wraps long rows. Set here, not from a Python ``QStyle`` override: an error
    escaping an override crashes PySide 6.11 on Python 3.11, and walking layouts with
    ``itemAt`` leaves wrappers that outlive their items."""
    form = QFormLayout(parent) if parent is not None else QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def retire_rows(form: QFormLayout, retired: list[QWidget], keep: QWidget | None = None) -> None:
    """Take every row out of ``form`` and delete its widgets later; ``keep``'s row is taken out
    too, but its widget kept (the caller adds it again).

    ``retired`` is the caller's list of widgets waiting for their deletion: an unparented
    widget belongs to Python, and one whose last reference went would be deleted at once.
    """
    retired[:] = [w for w in retired if shiboken6.isValid(w)]
    if keep is not None:
        form.takeRow(keep)
    while form.rowCount():
        row = form.takeRow(0)
        for item in (row.labelItem, row.fieldItem):
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.blockSignals(True)
                widget.hide()
                widget.setParent(None)
                retired.append(widget)
                widget.deleteLater()
