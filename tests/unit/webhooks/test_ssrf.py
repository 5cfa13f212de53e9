"""SSRF guard: the address forms in docs/webhooks.md, resolved names, the allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from longhaul.core.errors import InvalidInput
from longhaul.core.webhooks.ssrf import (
    DENY,
    Allow,
    BlockedDestination,
    blocked_reason,
    embedded_ipv4,
    pin,
    validate_url,
)

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.1.1.1",
    "::1",
    "::",
    "fe80::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "64:ff9b:1::a00:1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo with client 127.0.0.1
    "::7f00:1",  # IPv4-compatible form of 127.0.0.1 (is_global is True for it)
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://localhost:9/hook",  # a name that resolves to loopback
    ],
)
def test_pin_refuses_after_resolution(url: str) -> None:
    with pytest.raises(BlockedDestination):
        pin(url, Allow())


def test_allow_list_by_network_and_by_name() -> None:
    pinned = pin("http://127.0.0.1:8080/hook?x=1", Allow.parse(["127.0.0.0/8"]))
    assert (pinned.url, pinned.host_header, pinned.ip) == (
        "http://127.0.0.1:8080/hook?x=1",
        "127.0.0.1:8080",
        "127.0.0.1",
    )
    by_name = pin("http://localhost:8080/hook", Allow.parse(["localhost"]))
    assert by_name.host == "localhost" and by_name.host_header == "localhost:8080"
    assert by_name.ip in {"127.0.0.1", "::1"}
    assert by_name.url.startswith(("http://127.0.0.1:8080/", "http://[::1]:8080/"))
    # An allow-listed network does not open other private ranges.
    with pytest.raises(BlockedDestination):
        pin("http://10.0.0.1/hook", Allow.parse(["127.0.0.1"]))


def test_pinned_https_keeps_the_name_for_sni() -> None:
    pinned = pin("https://[::1]/hook", Allow.parse(["::1"]))
    assert pinned.tls and pinned.url == "https://[::1]/hook" and pinned.host == "::1"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "/relative", "http://user:pw@example.com/", "http://:80/"]
)
def test_validate_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        validate_url(url)


@pytest.mark.parametrize(("cidr", "name"), DENY)
def test_every_deny_table_range_is_refused_at_both_ends(cidr: str, name: str) -> None:
    network = ipaddress.ip_network(cidr)
    for address in (network[0], network[-1]):
        reason = blocked_reason(address)
        assert reason is not None, f"{address} ({name}) passed"


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # site-local: this Python's ipaddress calls it global
        "feff:ffff::1",
        "192.0.0.8",  # IPv4 dummy address: this Python's ipaddress calls it global
        "192.0.0.170",
        "5f00::1",
        "3fff::1",
        "100::1",
        "::ffff:192.0.0.8",
        "4000::1",  # outside global unicast
    ],
)
def test_addresses_the_ipaddress_flags_get_wrong_are_refused(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        # RFC 6052 /48 layout: bits 48-63 then 72-87, around the zero "u" octet.
        ("64:ff9b:1:a00:0:100::", "10.0.0.1"),
        ("64:ff9b:1:7f00:0:100::", "127.0.0.1"),
        ("64:ff9b:1:808:8:800::", "8.8.8.8"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("2002:c0a8:101::1", "192.168.1.1"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo client, inverted
        ("::a00:1", "10.0.0.1"),
    ],
)
def test_embedded_ipv4_is_decoded_from_the_right_bits(address: str, embedded: str) -> None:
    assert str(embedded_ipv4(ipaddress.IPv6Address(address))) == embedded


def test_nat64_local_use_prefix_is_refused_even_with_a_public_address_inside() -> None:
    reason = blocked_reason(ipaddress.ip_address("64:ff9b:1:808:8:800::"))
    assert reason is not None and "RFC 8215" in reason


@pytest.mark.parametrize("url", ["http://example.com:0/hook", "gopher://example.com/"])
def test_validate_url_rejects_port_zero_and_other_schemes(url: str) -> None:
    with pytest.raises(InvalidInput):
        validate_url(url)
