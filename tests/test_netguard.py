"""netguard: which addresses a poll may reach. Literal IPs only, plus "localhost"."""

from __future__ import annotations

import ipaddress

import pytest

from poller import netguard
from poller.errors import BlockedAddress, UnusableURL


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_named_by_kind(address: str, kind: str) -> None:
    assert kind in (netguard.refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert netguard.refusal(ipaddress.ip_address(address)) is None


def test_a_loopback_literal_is_blocked_with_a_hint() -> None:
    with pytest.raises(BlockedAddress) as caught:
        netguard.check_host("127.0.0.2", 80, allow_private=False)
    message = str(caught.value)
    assert "127.0.0.2 is a loopback address" in message
    assert "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS=1" in message
    assert "\n" not in message


def test_a_mapped_ipv6_literal_is_blocked() -> None:
    with pytest.raises(BlockedAddress):
        netguard.check_host("::ffff:127.0.0.1", 80, allow_private=False)


def test_localhost_is_blocked_naming_the_address_it_resolves_to() -> None:
    with pytest.raises(BlockedAddress, match=r"localhost resolves to .*, a loopback address"):
        netguard.check_host("localhost", 80, allow_private=False)


def test_a_public_literal_passes_the_check_without_any_connection() -> None:
    assert netguard.check_host("8.8.8.8", 443, allow_private=False) == ["8.8.8.8"]


def test_private_addresses_pass_when_allowed() -> None:
    assert netguard.check_host("10.0.0.1", 80, allow_private=True) == ["10.0.0.1"]
    assert "127.0.0.1" in netguard.check_host("localhost", 80, allow_private=True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/feed", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("https:///feed", "has no host"),
        ("https://user:pw@8.8.8.8/feed", "user name or password"),
        ("https://8.8.8.8:99999/feed", "not a valid URL"),
        ("http://127.0.0.2/feed", "127.0.0.2 is a loopback address"),
        ("http://[::1]:8080/feed", "::1 is a loopback address"),
        ("http://10.0.0.1/feed", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("http://localhost:8080/feed", "localhost resolves to"),
    ],
)
def test_unusable_urls_are_refused_with_a_one_line_reason(url: str, reason: str) -> None:
    with pytest.raises(UnusableURL) as caught:
        netguard.check_url(url, allow_private=False)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_public_literal_url_is_accepted() -> None:
    netguard.check_url("https://8.8.8.8/feed.xml", allow_private=False)


def test_a_name_is_not_resolved_when_resolve_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolved a name")

    monkeypatch.setattr(netguard.socket, "getaddrinfo", no_dns)
    netguard.check_url("https://feeds.example.org/x.xml", allow_private=False, resolve=False)


def test_private_literals_are_accepted_when_allowed() -> None:
    netguard.check_url("http://127.0.0.1:8080/feed", allow_private=True)
    netguard.check_url("http://localhost:8080/feed", allow_private=True)
