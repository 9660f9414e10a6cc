"""Huiju (汇聚): a government-integrated e-affairs workflow engine for smart communities."""

__version__ = "0.1.0"
