"""The machine a benchmark ran on, printed with every result (nproc, memory, CPU model)."""

from __future__ import annotations

import os
import platform
import subprocess


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
