"""Benchmarks: each prints figures measured side by side in one run (not tests).

Run them as files (``python bench/engine.py``) or as modules (``python -m bench.engine``).
"""
