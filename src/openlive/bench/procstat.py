"""CPU time and memory of the server process, read from /proc (Linux only; None elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_cpu_seconds(stat_line: str, ticks_per_second: int = _TICKS) -> float:
    """utime + stime (all threads) from a /proc/<pid>/stat line; the command name may hold spaces."""
    after_name = stat_line[stat_line.rindex(")") + 2 :].split()
    # Fields 14 and 15 of stat(5) are utime and stime; after the name, field 3 is at index 0.
    utime, stime = int(after_name[11]), int(after_name[12])
    return (utime + stime) / ticks_per_second


def parse_status_kib(status_text: str, key: str) -> int | None:
    """A ``kB`` value (e.g. VmHWM, VmRSS) from /proc/<pid>/status, in KiB."""
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        return parse_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def memory_kib(pid: int, key: str) -> int | None:
    try:
        return parse_status_kib(Path(f"/proc/{pid}/status").read_text(), key)
    except (OSError, ValueError):
        return None


def peak_rss_mib(pid: int) -> float | None:
    kib = memory_kib(pid, "VmHWM")
    return None if kib is None else kib / 1024.0


def rss_mib(pid: int) -> float | None:
    kib = memory_kib(pid, "VmRSS")
    return None if kib is None else kib / 1024.0
