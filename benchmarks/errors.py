class BenchmarkError(RuntimeError):
    """A benchmark could not run (setup failed, a request failed): ``make bench`` exits 1."""
