"""Measurements behind ``gdsim bench`` and the soak run: each against a bare torch loop."""
