"""A module that fails on import, for the ``register_optimizer`` error-message test."""

raise RuntimeError("this module is broken on purpose")
