"""Presets, icons and styles, found with importlib.resources."""
