"""``python -m benchmarks [NAME ...]``: run the benchmarks (all by default), print a table per
benchmark and write each as Markdown to ``benchmarks/out/<name>.md``; then print one summary
table of the headline figures. A run of all of them also writes ``benchmarks/RESULTS.md``.

Exits 1 when a benchmark cannot run; a missed target is reported in the table, never as a failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import cast

from benchmarks.errors import BenchmarkError
from benchmarks.report import Report
from benchmarks.summary import table, write_results

# One module per benchmark, each with ``run() -> Report``; run in this order.
BENCHMARKS = ["api_list", "middleware", "metrics_render", "knowledge", "backup", "loadtest"]


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so that every ``finally`` runs (servers are stopped).
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: all ({', '.join(BENCHMARKS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    signal.signal(signal.SIGTERM, _terminate)

    failed: list[str] = []
    reports: list[Report] = []
    load_before = os.getloadavg()
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        run = cast(Callable[[], Report], module.run)
        try:
            report = run()
        except KeyboardInterrupt:
            print(f"\n[{name}] interrupted", file=sys.stderr)
            return 130
        except BenchmarkError as exc:
            print(f"\n[{name}] ERROR: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        print()
        print(report.to_text())
        path = report.write_markdown()
        print(f"\n(written to {path.relative_to(path.parents[2])})")
        reports.append(report)
    if reports:
        print()
        print(table(reports).to_text())
    if not args.names:
        path = write_results(reports, failed, load_before)
        print(f"\n(written to {path.relative_to(path.parents[1])})")
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
