"""The local stack and shared composition pieces: settings, the Temporal CLI, ``psflow dev``."""
