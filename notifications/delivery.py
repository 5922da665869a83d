"""Sending one delivery over HTTP: the private-address guard, Standard Webhooks signing, the timeouts.

No database here: services.py claims a delivery, calls a sender from SENDERS and records what came back.
A new target kind (a helpdesk's write-back) adds its sender to SENDERS and reuses the retries, the attempt
log, the sweep and replay in services.py.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from notifications.secrets import secret_decrypt

EXCERPT_BYTES = 1000
USER_AGENT = "CX-Recovery-Webhooks/1"



@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt at a webhook delivery or a customer email came to."""

    state: str  # "skipped" when another run had it, else the delivery's new state
    retry_in: float | None = None


@dataclass(frozen=True)
class SendResult:
    success: bool
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""
    response_excerpt: str = ""
    # Seconds the receiver asked us to wait (Retry-After on a 429 or 503): used instead of the retry schedule.
    retry_after: float | None = None
    # No retry can help (e.g. a helpdesk connection lost its credentials): fail the delivery now.
    final: bool = False


class TargetRefused(Exception):
    """The target resolves to an address we must not call (server-side request forgery guard)."""


def private_targets_allowed() -> bool:
    return bool(settings.DEBUG or settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for private, loopback, link-local, shared (100.64/10), reserved and unspecified ranges.
    return ip.is_global and not ip.is_multicast


def resolve_public(host: str, port: int) -> str:
    """One address to connect to, after checking that EVERY address the name resolves to is public
    (a name with one public and one private address is refused: the client could pick either)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses = sorted({info[4][0] for info in infos})
    blocked = [address for address in addresses if not _public(address)]
    if blocked or not addresses:
        raise TargetRefused(
            f"{host} resolves to a private, loopback or link-local address ({', '.join(blocked)}); "
            "refused (set WEBHOOKS_ALLOW_PRIVATE_TARGETS=true only for trusted internal receivers)"
        )
    return addresses[0]


def sign_headers(*, secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers, signed by the standardwebhooks library."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def body_text(body: dict[str, Any]) -> str:
    # Compact and stable: the signed bytes are exactly the bytes sent.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110 §10.2.3). None if absent or
    unreadable. Capped at a day: a receiver cannot park a delivery for ever."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or timezone.now())).total_seconds()
    return min(max(seconds, 0.0), 86400.0)


def http_post(*, url: str, headers: dict[str, str], content: str) -> SendResult:
    """POST with short timeouts, no redirects, the target's address checked and pinned at send time."""
    return http_request(method="POST", url=url, headers=headers, content=content)


def http_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: str | bytes | None = None,
    max_bytes: int = EXCERPT_BYTES,
) -> SendResult:
    """One HTTP request with short timeouts, no redirects, the target's address checked (private-address
    guard) and pinned at send time. Reads at most `max_bytes` of the answer into response_excerpt."""
    target = httpx.URL(url)
    extensions: dict[str, Any] = {}
    request_url = target
    all_headers = {"user-agent": USER_AGENT, **({"content-type": "application/json"} if content is not None else {})}
    all_headers.update({key.lower(): value for key, value in headers.items()})
    started = time.monotonic()
    try:
        if target.scheme not in ("http", "https") or not target.host:
            raise TargetRefused(f"not an http(s) URL: {url}")
        if not private_targets_allowed():
            request_url = _pinned(target, all_headers, extensions)
        timeout = httpx.Timeout(
            settings.WEBHOOKS_READ_TIMEOUT, connect=settings.WEBHOOKS_CONNECT_TIMEOUT, pool=settings.WEBHOOKS_CONNECT_TIMEOUT
        )
        body = content.encode() if isinstance(content, str) else content
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(method, request_url, headers=all_headers, content=body, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                excerpt = _excerpt(response, started, max_bytes)
            finally:
                response.close()
        latency = int((time.monotonic() - started) * 1000)
        ok = 200 <= response.status_code < 300
        wait = retry_after_seconds(response.headers.get("retry-after")) if response.status_code in (429, 503) else None
        return SendResult(
            success=ok,
            status_code=response.status_code,
            latency_ms=latency,
            error="" if ok else f"the receiver answered {response.status_code}"
            + (f" (asked us to wait {wait:g} s)" if wait is not None else ""),
            response_excerpt=excerpt[:max_bytes].decode("utf-8", "replace"),
            retry_after=wait,
        )
    except TargetRefused as exc:
        return SendResult(False, None, int((time.monotonic() - started) * 1000), f"refused: {exc}"[:500])
    except httpx.TimeoutException as exc:
        kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
        return SendResult(False, None, int((time.monotonic() - started) * 1000), f"timed out ({kind})")
    except httpx.HTTPError as exc:
        return SendResult(False, None, int((time.monotonic() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500])


def _pinned(target: httpx.URL, headers: dict[str, str], extensions: dict[str, Any]) -> httpx.URL:
    """The URL to connect to: the public address the name resolves to (TargetRefused for a private one). The
    connection goes to the address we checked (no second lookup an attacker's DNS could answer differently),
    while the Host header and TLS (SNI and certificate check) still use the name."""
    port = target.port or (443 if target.scheme == "https" else 80)
    address = resolve_public(target.host, port)
    headers["host"] = target.netloc.decode("ascii")
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return target.copy_with(host=address)


def _excerpt(response: httpx.Response, started: float, max_bytes: int) -> bytes:
    """At most max_bytes of the answer. The read timeout bounds each read; the deadline bounds a receiver that
    drips its answer."""
    excerpt = b""
    deadline = started + settings.WEBHOOKS_CONNECT_TIMEOUT + 2 * settings.WEBHOOKS_READ_TIMEOUT
    for chunk in response.iter_bytes():
        excerpt += chunk
        if len(excerpt) >= max_bytes or time.monotonic() > deadline:
            break
    return excerpt


def retry_delay(failed_attempts: int) -> float | None:
    """Seconds to wait after this many failed attempts (±20% jitter so failures do not retry in lockstep),
    or None when the schedule is exhausted and the delivery has failed."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    return schedule[failed_attempts - 1] * random.uniform(0.8, 1.2)


# Senders by target kind: each takes the claimed delivery (with event and target loaded) and returns a SendResult.
SENDERS: dict[str, Callable[[Any], SendResult]] = {}


@dataclass(frozen=True)
class TargetKind:
    """A kind of delivery target other than webhook endpoints, registered by the app that knows the targets
    (tickets registers "helpdesk" in its AppConfig.ready): notifications asks it which targets want an event
    and lets it record which target each new delivery is for, without knowing what the targets are."""

    send: Callable[[Any], SendResult]
    # Cheap, no per-event data: could any target of this kind want events of this type?
    wants: Callable[[str], bool]
    # Opaque references (strings) of the targets that want this one event.
    targets: Callable[[str, Mapping[str, Any]], list[str]]
    # Called in the publishing transaction with (delivery, reference) for each new delivery of this kind.
    attach: Callable[[list[tuple[Any, str]]], None]


TARGET_KINDS: dict[str, TargetKind] = {}


def target_kind_register(kind: str, target: TargetKind) -> None:
    """Register (or replace) a target kind and its sender. Safe to call again."""
    TARGET_KINDS[kind] = target
    SENDERS[kind] = target.send


def webhook_sender(delivery: Any) -> SendResult:
    content = body_text(delivery.event.body)
    headers = sign_headers(
        secret=secret_decrypt(delivery.endpoint.secret_encrypted),
        msg_id=delivery.event.msg_id,
        timestamp=timezone.now(),
        body=content,
    )
    return http_post(url=delivery.endpoint.url, headers=headers, content=content)


SENDERS["webhook"] = webhook_sender
