"""A fast ``/metrics`` renderer for prometheus_client's multiprocess mode.

prometheus_client's ``MultiProcessCollector`` re-reads every process's file from the start
and re-parses every key (JSON) on each scrape, then builds sample objects and formats each
label set again. The files are append-only dictionaries whose entries never move, so this
renderer remembers, per file, where each value sits and what series it belongs to, and
per series its rendered ``name{labels}``: a scrape reads the new entries only, unpacks
the doubles in place, merges them as the stock collector does (sums, gauge modes,
cumulative histogram buckets) and joins pre-rendered lines. The output carries the same
samples as ``generate_latest(MultiProcessCollector)`` (a test compares them).
"""

from __future__ import annotations

import glob
import json
import os
import struct
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

_INT = struct.Struct("i")
_DOUBLES = struct.Struct("dd")
LabelKey = tuple[tuple[str, str], ...]
AGGREGATED_GAUGE_MODES = {"min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent"}


@dataclass(frozen=True)
class Series:
    family: str
    sample: str
    labels: LabelKey  # sorted, without "le"
    help: str
    le: float | None  # the bucket bound of a histogram bucket sample


@dataclass
class FileIndex:
    inode: int
    used: int = 8
    entries: list[tuple[int, Series]] = field(default_factory=list)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _render_name(sample: str, labels: LabelKey) -> str:
    if not labels:
        return sample
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels))
    return f"{sample}{{{inner}}}"


class MultiProcessRenderer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._files: dict[str, FileIndex] = {}
        self._series: dict[str, Series] = {}
        self._names: dict[tuple[str, LabelKey], str] = {}
        self._lock = threading.Lock()

    def _parse_key(self, key: str) -> Series:
        series = self._series.get(key)
        if series is None:
            family, sample, labels, help_text = json.loads(key)
            le = labels.pop("le", None)
            series = Series(family, sample, tuple(sorted(labels.items())), help_text, float(le) if le else None)
            self._series[key] = series
        return series

    def _read(self, filename: str) -> tuple[bytes, FileIndex] | None:
        try:
            with open(filename, "rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                data = handle.read()
        except FileNotFoundError:  # a live gauge file removed by mark_process_dead
            return None
        if len(data) < 8:
            return None
        used = _INT.unpack_from(data, 0)[0]
        index = self._files.get(filename)
        if index is None or index.inode != inode or used < index.used:
            index = self._files[filename] = FileIndex(inode=inode)
        pos = index.used
        while pos < used:
            length = _INT.unpack_from(data, pos)[0]
            if length + pos > used:
                raise RuntimeError(f"{filename}: read beyond the used size, the file is corrupted")
            pos += 4
            key = data[pos : pos + length].decode("utf-8")
            pos += length + (8 - (length + 4) % 8)
            index.entries.append((pos, self._parse_key(key)))
            pos += 16
        index.used = used
        return data, index

    def _name(self, sample: str, labels: LabelKey) -> str:
        rendered = self._names.get((sample, labels))
        if rendered is None:
            rendered = self._names[(sample, labels)] = _render_name(sample, labels)
        return rendered

    def render(self) -> bytes:
        with self._lock:
            return self._render()

    def _render(self) -> bytes:
        types: dict[str, str] = {}
        helps: dict[str, str] = {}
        values: dict[str, dict[tuple[str, LabelKey], float]] = defaultdict(dict)
        stamps: dict[tuple[str, LabelKey], float] = {}
        buckets: dict[str, dict[LabelKey, dict[float, float]]] = defaultdict(lambda: defaultdict(dict))
        for filename in sorted(glob.glob(os.path.join(self.path, "*.db"))):
            parts = os.path.basename(filename)[:-3].split("_")
            kind = parts[0]
            mode = parts[1] if kind == "gauge" and len(parts) > 2 else ""
            pid = parts[-1]
            read = self._read(filename)
            if read is None:
                continue
            data, index = read
            unpack = _DOUBLES.unpack_from
            for pos, series in index.entries:
                value, stamp = unpack(data, pos)
                family = series.family
                types[family] = kind
                helps.setdefault(family, series.help)
                if kind == "histogram" and series.le is not None:
                    bounds = buckets[family][series.labels]
                    bounds[series.le] = bounds.get(series.le, 0.0) + value
                    continue
                labels = series.labels
                if kind == "gauge" and mode not in AGGREGATED_GAUGE_MODES:
                    labels = (*labels, ("pid", pid))
                key = (series.sample, labels)
                merged = values[family]
                if kind != "gauge" or mode in ("sum", "livesum"):
                    merged[key] = merged.get(key, 0.0) + value
                elif mode in ("min", "livemin"):
                    merged[key] = min(merged.get(key, value), value)
                elif mode in ("max", "livemax"):
                    merged[key] = max(merged.get(key, value), value)
                elif mode in ("mostrecent", "livemostrecent"):
                    if key not in merged or stamp > stamps[key]:
                        merged[key], stamps[key] = value, stamp
                else:  # all / liveall: one series per process
                    merged[key] = value
        out: list[str] = []
        for family in sorted(types):
            kind = types[family]
            exposed = f"{family}_total" if kind == "counter" else family
            help_text = helps[family].replace("\\", r"\\").replace("\n", r"\n")
            out.append(f"# HELP {exposed} {help_text}\n")
            out.append(f"# TYPE {exposed} {kind}\n")
            for labels, bounds in buckets.get(family, {}).items():
                total = 0.0
                for bound in sorted(bounds):
                    total += bounds[bound]
                    name = self._name(f"{family}_bucket", (*labels, ("le", floatToGoString(bound))))
                    out.append(f"{name} {floatToGoString(total)}\n")
                out.append(f"{self._name(f'{family}_count', labels)} {floatToGoString(total)}\n")
            for (sample, labels), value in values.get(family, {}).items():
                out.append(f"{self._name(sample, labels)} {floatToGoString(value)}\n")
        return "".join(out).encode("utf-8")


_renderers: dict[str, MultiProcessRenderer] = {}
_renderers_lock = threading.Lock()


def renderer(path: str) -> MultiProcessRenderer:
    with _renderers_lock:
        found = _renderers.get(path)
        if found is None:
            found = _renderers[path] = MultiProcessRenderer(path)
        return found
