"""The combined table of ``make bench``: every benchmark's headline figures beside their
same-run baselines, and ``benchmarks/RESULTS.md`` with the machine's description."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import Report, Table

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DETAILED = ("loadtest",)
HEADERS = ["benchmark", "figure", "value", "same-run baseline", "ratio", "target", "result"]


def table(reports: list[Report]) -> Table:
    rows: list[Sequence[str]] = [
        [report.name, row.figure, row.value, row.baseline, row.ratio, row.target, row.verdict]
        for report in reports
        for row in report.summary
    ]
    return Table("Summary: each figure beside its same-run baseline", HEADERS, rows, align="lllllll")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        match = None
    return f"{int(match.group(1)) / 1024 / 1024:.1f} GiB" if match else "unknown"


def _os() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return platform.platform()


def _postgres() -> str:
    try:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine(load_before: tuple[float, float, float]) -> list[tuple[str, str]]:
    load_after = os.getloadavg()
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} CPUs"),
        ("RAM", _memory()),
        ("OS", _os()),
        ("Python", platform.python_version()),
        ("PostgreSQL", _postgres()),
        (
            "load average (1, 5, 15 min)",
            f"{' / '.join(f'{x:.2f}' for x in load_before)} at the start, "
            f"{' / '.join(f'{x:.2f}' for x in load_after)} at the end",
        ),
    ]


def write_results(reports: list[Report], failed: list[str], load_before: tuple[float, float, float]) -> Path:
    facts = machine(load_before)
    busy = max(load_before[0], os.getloadavg()[0]) > (os.cpu_count() or 1) * 0.5
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`): each figure beside a baseline measured in the",
        "same run on the same machine, their ratio and the target. The detailed tables of each benchmark",
        "are in `benchmarks/out/<name>.md` after a run.",
        "",
        "| | |",
        "|:---|:---|",
        *(f"| {name} | {value} |" for name, value in facts),
        "",
    ]
    if busy:
        lines += [
            "Other work was running on the machine during this run (see the load average): absolute",
            "figures are noisy; the ratios, measured against baselines taken in the same minutes, much less.",
            "",
        ]
    if failed:
        lines += [f"Not run (could not run): {', '.join(failed)}.", ""]
    lines += [table(reports).to_markdown().replace("### ", "## ", 1), ""]
    # The load test's own table in full: its per-request-type figures are headline figures too.
    lines += [report.to_markdown() for report in reports if report.name in DETAILED]
    RESULTS.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return RESULTS
