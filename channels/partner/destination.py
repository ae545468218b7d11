"""SSRF guard: partner URLs may only point at public internet addresses.

Checked when an endpoint is saved and again before every send (DNS can change after saving), and
the transport re-checks the address it actually connected to, so a DNS answer that changes between
our check and the connection (rebinding) is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from channels.partner import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(ValueError):
    """The URL points somewhere partner webhooks must not go. Permanent: retrying will not help."""


class DestinationUnresolvable(OSError):
    """The host name does not resolve right now (may be temporary)."""


def address_refusal(address: str | IPAddress) -> str | None:
    """Why an IP address is not an acceptable destination, or None when it is a public address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for flag, label in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(ip, flag):
            return f"{ip} is {label} address"
    if not ip.is_global:  # e.g. 100.64.0.0/10 carrier-grade NAT, documentation ranges
        return f"{ip} is not a public internet address"
    return None


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(
            f"scheme {parts.scheme or '(none)'!r} is not allowed; use https:// or http://"
        )
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("credentials in the URL are not allowed; they would leak into logs")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("the URL's port is not a number between 0 and 65535")
    return parts.hostname, port


def destination_check(url: str) -> list[str]:
    """Resolve the URL's host and refuse it unless every address is public. Returns the addresses.

    Raises DestinationRefused (with the reason) or DestinationUnresolvable.
    """
    host, port = url_host_port(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationUnresolvable(f"host {host!r} does not resolve: {exc}")
    addresses = sorted({info[4][0] for info in infos})
    if not conf.allow_private():
        for address in addresses:
            reason = address_refusal(address.split("%", 1)[0])  # drop an IPv6 zone id
            if reason:
                raise DestinationRefused(
                    f"host {host!r} resolves to {reason}; partner webhooks only go to public addresses"
                )
    return addresses
