"""Reusable Qt pieces for the views (no engine imports here: they only turn values into pixels).

* ``CollapsiblePanel`` — side panel that collapses to a strip (``setContent``, ``setExpanded``).
* ``LogSliderSpin`` / ``LinearSliderSpin`` — slider + spin box that agree; ``valueChanged(float)``.
* ``SciDoubleSpinBox`` — spin box showing significant digits (0.0003, 1e-8).
* ``HParamForm`` — controls from hyperparameter descriptions; ``values``/``set_values``/``changed``.
* ``ContourMap`` — heat map + contours + colour bar + minima; ``pointClicked``/``pointDragged``.
* ``CurveBuffer`` — bounded min/max-decimating live curve; ``Throttle`` — ≤30 Hz redraws.
"""

from app.widgets.collapsible_panel import CollapsiblePanel
from app.widgets.contour_map import ContourMap, contour_segments, display_values
from app.widgets.curve_buffer import CurveBuffer, Throttle
from app.widgets.hparam_form import HParamForm, float_range, pretty_name
from app.widgets.slider_spin import (
    LinearSliderSpin,
    LogSliderSpin,
    SciDoubleSpinBox,
    format_number,
)

__all__ = [
    "CollapsiblePanel",
    "ContourMap",
    "CurveBuffer",
    "HParamForm",
    "LinearSliderSpin",
    "LogSliderSpin",
    "SciDoubleSpinBox",
    "Throttle",
    "contour_segments",
    "display_values",
    "float_range",
    "format_number",
    "pretty_name",
]
