"""Extraction benchmark: `python -m bench.extraction` (see __main__.py)."""
