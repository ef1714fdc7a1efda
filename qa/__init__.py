"""Offline question answering over your documents, with checkable citations."""

__version__ = "0.1.0"
