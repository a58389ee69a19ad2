"""Connectors: one adapter package per SaaS system over the shared HTTP core in ``connectors._core``."""
