"""Constancia: an offline-first archive for atrocity artefacts."""

__version__ = "0.1.0"
