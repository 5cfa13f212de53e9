"""SSRF guard for customer-supplied webhook URLs (docs/webhooks.md, "SSRF").

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from longhaul.core.errors import InvalidInput, Permanent

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges no webhook may reach: the IANA IPv4/IPv6 special-purpose registries (every entry that is
# not globally reachable, plus a few "global" anycast ones no receiver lives on), multicast and the
# deprecated site-local block. Checked by table, not by ``ipaddress``'s ``is_*`` flags, which some
# Python versions get wrong (``fec0::/10``, ``192.0.0.8``). Forms that embed an IPv4 address are
# unwrapped first (see ``EMBEDDING``), and IPv6 outside global unicast (2000::/3) is refused too.
DENY: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network (RFC 791)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
    ("192.31.196.0/24", "AS112 anycast (RFC 7535)"),
    ("192.52.193.0/24", "AMT anycast (RFC 7450)"),
    ("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("192.175.48.0/24", "AS112 direct delegation (RFC 7534)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("255.255.255.255/32", "limited broadcast (RFC 919)"),
    ("::/128", "unspecified (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001::/23", "IETF protocol assignments (RFC 2928)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2620:4f:8000::/48", "AS112 direct delegation (RFC 7534)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique local (RFC 4193)"),
    ("fe80::/10", "link-local (RFC 4291)"),
    ("fec0::/10", "site-local, deprecated (RFC 3879)"),
    ("ff00::/8", "multicast (RFC 4291)"),
)
DENY_NETWORKS: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), name) for cidr, name in DENY
)
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


def _bits(ip: ipaddress.IPv6Address, *spans: tuple[int, int]) -> ipaddress.IPv4Address:
    """The IPv4 address made of the given (first bit, bit count) spans of ``ip``, in order."""
    value = 0
    for first, count in spans:
        value = (value << count) | ((int(ip) >> (128 - first - count)) & ((1 << count) - 1))
    return ipaddress.IPv4Address(value)


def _teredo_client(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(~int(ip) & 0xFFFFFFFF)  # the last 32 bits, inverted


# IPv6 forms that carry an IPv4 address, and where it sits (RFC 4291, 6052, 3056, 4380).
# NAT64 prefixes of /48 skip bits 64-71 (the "u" octet), so the address is split around it.
Extract = Callable[[ipaddress.IPv6Address], IPAddress]
EMBEDDING: tuple[tuple[ipaddress.IPv6Network, Extract], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), lambda ip: _bits(ip, (96, 32))),
    (ipaddress.IPv6Network("64:ff9b::/96"), lambda ip: _bits(ip, (96, 32))),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), lambda ip: _bits(ip, (48, 16), (72, 16))),
    (ipaddress.IPv6Network("2002::/16"), lambda ip: _bits(ip, (16, 32))),
    (ipaddress.IPv6Network("2001::/32"), _teredo_client),
    (ipaddress.IPv6Network("::/96"), lambda ip: _bits(ip, (96, 32))),  # IPv4-compatible
)


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


def embedded_ipv4(ip: ipaddress.IPv6Address) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64 /96 and /48, 6to4, Teredo,
    IPv4-compatible), or None."""
    if ip in ipaddress.IPv6Network("::/127"):  # :: and ::1 are not IPv4-compatible forms
        return None
    for network, extract in EMBEDDING:
        if ip in network:
            return extract(ip)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be a webhook destination, or None when it is public."""
    inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if inner is not None:
        reason = blocked_reason(inner)
        if reason:
            return f"{ip} embeds {inner}: {reason}"
    for network, name in DENY_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"{ip} is in {network}, {name}"
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST_V6 and inner is None:
        return f"{ip} is not a global unicast address"
    return None


def validate_url(url: str, param: str = "url") -> None:
    """Registration-time check (endpoints and per-job URLs): an absolute http(s) URL with a host,
    no credentials, no port 0."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: http://[::1/
        raise InvalidInput(f"Webhook URL is not a valid URL: {exc}.", param=param) from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidInput("Webhook URL must be an absolute http(s) URL.", param=param)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("Webhook URL must not contain credentials.", param=param)
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"Webhook URL has a bad port: {exc}", param=param) from exc
    if port == 0:
        raise InvalidInput("Webhook URL has a bad port: 0.", param=param)


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
