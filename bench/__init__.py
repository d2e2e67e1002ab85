"""Benchmarks of cortex_gpu against NEST 3.10 (not part of the installed package)."""
