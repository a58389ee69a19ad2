"""One module per emulated system, each exposing ``SYSTEM: SandboxSystem``.

``create_app`` discovers them with ``pkgutil.iter_modules``; modules whose name starts with an
underscore (shared helpers) are skipped. ``sink`` is the smallest complete example.
"""
