"""Benchmarks run by ``make bench`` (``python -m benchmarks``).

Each benchmark is a module with a ``run() -> Report`` function, listed in
``benchmarks.__main__.BENCHMARKS``. Reports are printed as plain-text tables and written as
Markdown to ``benchmarks/out/<name>.md`` (git-ignored).
"""
