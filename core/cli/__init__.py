"""The headless command line: ``gdsim trace`` and ``gdsim train`` (the window adds its own)."""
