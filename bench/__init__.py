"""Benchmarks: side-by-side ratios printed as tables. Run with `python -m bench`; not run as tests."""
