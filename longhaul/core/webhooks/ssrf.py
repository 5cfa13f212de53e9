"""SSRF guard for customer-supplied webhook URLs (reliability.md §4.5).

Checked at every send, after DNS resolution: every resolved address must be public, then the
request goes to the checked address itself (``pin``) so DNS can't change between check and connect.
IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo, IPv4-compatible ``::a.b.c.d``) are unwrapped and the
embedded address is checked too. ``webhook_allow_hosts`` (CIDRs, IPs or host names) opens holes
for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from longhaul.core.errors import InvalidInput, Permanent

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class BlockedDestination(Permanent):
    code = "webhook_destination_blocked"


@dataclass(frozen=True)
class Allow:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allow:
        networks, hosts = [], set()
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


@dataclass(frozen=True)
class Pinned:
    """Where to connect: ``url`` has the checked IP as host; ``host`` is the original name, sent
    as the ``Host`` header and (for https) as the TLS SNI / certificate name."""

    url: str
    host: str
    host_header: str
    ip: str
    tls: bool


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in NAT64) or ip in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be a webhook destination, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{ip} embeds {inner}: {reason}" if reason else None
    for flag in ("is_loopback", "is_private", "is_link_local", "is_multicast", "is_unspecified"):
        if getattr(ip, flag):
            return f"{ip} is {flag[3:].replace('_', '-')}"
    if ip.is_reserved or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def validate_url(url: str) -> None:
    """Registration-time check: absolute http(s) URL with a host and no credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("Webhook URL must be an absolute http(s) URL.", param="url")
    if parts.username or parts.password:
        raise InvalidInput("Webhook URL must not contain credentials.", param="url")
    try:
        _ = parts.port
    except ValueError as exc:
        raise InvalidInput(f"Webhook URL has a bad port: {exc}", param="url") from exc


def pin(url: str, allow: Allow) -> Pinned:
    """Resolve ``url``'s host, refuse it unless every address is public (or allow-listed), and
    return the request target pinned to the first checked address."""
    validate_url(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BlockedDestination(f"Cannot resolve {host}: {exc}") from exc
    found = (ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    addresses = list(dict.fromkeys(found))
    if not addresses:
        raise BlockedDestination(f"{host} resolved to no address")
    if host.lower() not in allow.hosts:
        for ip in addresses:
            reason = None if allow.allows(ip) else blocked_reason(ip)
            if reason:
                raise BlockedDestination(f"Refusing to deliver to {host}: {reason}")
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    target = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Pinned(url=target, host=host, host_header=host_header, ip=str(ip), tls=tls)
