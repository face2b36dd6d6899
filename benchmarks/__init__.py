"""Benchmarks run by ``make bench`` (``python -m benchmarks``).

Each benchmark is a module with a ``run() -> Report`` function, listed in
``benchmarks.__main__.BENCHMARKS``. Reports are printed as plain-text tables and written as
Markdown to ``benchmarks/out/<name>.md`` (git-ignored); each report's ``summary`` rows (its
headline figures, same-run baselines and targets) make the combined table that a full run
also writes to ``benchmarks/RESULTS.md`` (``benchmarks.summary``).
"""
