"""Shared test setup: Qt runs headless everywhere (CI has no display)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GDSIM_SETTINGS_ORG", "gdsim-tests")  # keep tests out of a user's settings
