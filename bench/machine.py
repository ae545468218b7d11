"""The machine a benchmark ran on, printed with every result (nproc, memory, CPU model)."""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        out = subprocess.run(["free", "-h"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.startswith("Mem:"):
                return line.split()[1]
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def machine_info() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count() or "unknown"),
        "memory": _memory(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def machine_describe(extra: dict[str, str] | None = None) -> str:
    """One line per fact, ready to print above a benchmark's figures."""
    info = {**machine_info(), **(extra or {})}
    return "\n".join(f"  {key:<10} {value}" for key, value in info.items())


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed with a result: a busy machine's figures say so."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"


def timed_median(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """The median wall time of `runs` calls of fn, and what the last call returned."""
    times: list[float] = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result  # type: ignore[return-value]


def process_group_stop(proc: subprocess.Popen) -> None:
    """Stop a server a benchmark started in its own process group: TERM, then KILL after 20 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
