"""Servers for browser tests that need two origins, as a real shop has: Voyage over HTTPS, and the
shop's own pages over plain HTTP on another port (so CORS, cookies and the Segment snippet's
hard-coded https:// behave as in production).

Voyage runs the real Django WSGI application in Django's threaded server, with TLS from a
self-signed certificate made here for 127.0.0.1; Chromium is told to accept it
(`ignore_https_errors`). Both bind 127.0.0.1 on a free port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _QuietHandler(WSGIRequestHandler):
    # A client that keeps a connection open and goes away (a requests session a failing test never
    # closed) must not hold its request thread, and with it the server's close, forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _TLSServer(ThreadedWSGIServer):
    """Accepts plain TCP and does the TLS handshake in the request's own thread."""

    tls: ssl.SSLContext
    # Join request threads on close, so none still holds a database connection when the test's
    # database is dropped.
    daemon_threads = False
    block_on_close = True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.shutdown_request(request)
            return
        super().process_request_thread(request, client_address)


@dataclass(frozen=True)
class Voyage:
    url: str  # https://127.0.0.1:PORT
    ca: str  # the self-signed certificate, for requests' verify=

    @property
    def host(self) -> str:
        return self.url.removeprefix("https://")


@contextmanager
def voyage_https() -> Iterator[Voyage]:
    """Voyage's whole site over HTTPS on a free port."""
    tmp = tempfile.TemporaryDirectory()
    cert, key = _self_signed(Path(tmp.name))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = _TLSServer(("127.0.0.1", 0), _QuietHandler, ipv6=False)
    server.tls = tls
    # wsgiref decides wsgi.url_scheme from HTTPS=on; Django's request.scheme reads it.
    server.base_environ["HTTPS"] = "on"
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Voyage(url=f"https://127.0.0.1:{server.server_address[1]}", ca=str(cert))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        tmp.cleanup()


_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@contextmanager
def shop(pages: dict[str, str], *, headers: dict[str, str] | None = None) -> Iterator[str]:
    """A shop's site on plain HTTP: each path answers its HTML (or CSS/JS, by its suffix), with
    `headers` on every answer (e.g. a Content-Security-Policy); yields the base URL (its origin)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            body = pages.get(path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            suffix = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
            self.send_header("Content-Type", _TYPES.get(suffix, "text/html; charset=utf-8"))
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
