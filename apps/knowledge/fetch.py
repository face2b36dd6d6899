"""Fetching a user-given URL without letting it reach inside the network (SSRF guard).

The host is resolved once per hop, every address must be public (not loopback, private,
link-local, multicast, reserved or unspecified) unless it lies in
``KNOWLEDGE_URL_ALLOWED_NETWORKS``, and the connection goes to that checked address (no
second DNS lookup that could answer differently). Redirects are followed by hand, each one
checked the same way. The body is capped at the upload limit and the whole fetch at a
deadline.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

USER_AGENT = "CommandCenter-Knowledge/0.1"
MAX_REDIRECTS = 5
READ_SIZE = 64 * 1024


class FetchError(Exception):
    """The URL cannot be ingested: refused address, bad status, too large, too slow."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    data: bytes
    filename: str


def _allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: list[str]) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for spec in networks:
        network = ipaddress.ip_network(spec.strip(), strict=False)
        if network.version == ip.version and ip in network:
            return True
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, networks: list[str]) -> str:
    """The first address of ``host``; FetchError if any of its addresses is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
    except UnicodeError:  # a label that IDNA cannot encode (over 63 characters once encoded)
        raise FetchError(f"cannot resolve {host}: not a valid host name") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not _allowed(ip, networks):
            raise FetchError(
                f"refused: {host} resolves to {address}, which is not a public address "
                "(loopback, private and link-local addresses are refused unless in KNOWLEDGE_URL_ALLOWED_NETWORKS)"
            )
    return addresses[0]


def check_url(url: str, networks: list[str]) -> None:
    """Validate scheme and host of ``url`` (used by the API before queueing work)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http:// and https:// URLs with a host name can be ingested")
    resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), networks)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch_url(url: str, *, max_bytes: int, timeout: float, networks: list[str]) -> Fetched:
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"cannot fetch {current!r}: only http and https URLs")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(parts.hostname, port, networks)
        remaining = max(deadline - time.monotonic(), 0.1)
        cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        conn = cls(parts.hostname, port, address, remaining)
        try:
            path = parts.path or "/"
            if parts.query:
                path = f"{path}?{parts.query}"
            conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"{current} redirects without a Location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise FetchError(f"{current} answered HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{current} is larger than the limit of {max_bytes // (1024 * 1024)} MB")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{current} took longer than {timeout:.0f} s")
                piece = response.read(READ_SIZE)
                if not piece:
                    break
                body.extend(piece)
                if len(body) > max_bytes:
                    raise FetchError(f"{current} is larger than the limit of {max_bytes // (1024 * 1024)} MB")
            content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
            filename = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname
            return Fetched(url=current, content_type=content_type, data=bytes(body), filename=filename)
        except TimeoutError as exc:
            raise FetchError(f"{current} took longer than {timeout:.0f} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"cannot fetch {current}: {exc}") from exc
        finally:
            conn.close()
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times")
