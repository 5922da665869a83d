"""A thin keep-alive HTTP/1.1 client over the standard library, for generating load.

Why not httpx here: on this 2-core machine the load generator shares the CPUs with gunicorn and
PostgreSQL. httpx costs ~0.8 ms of client CPU per request, ~1.8 ms with 8 threads contending for
the GIL, which capped the floor at the client instead of the server. http.client costs ~0.2 ms.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One connection to one server, reopened when the server closes it (gunicorn sync workers do)."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.headers = {"Accept": "application/json", **(headers or {})}
        self._conn: http.client.HTTPConnection | None = None
        self._reused = False  # the open connection has already carried a request

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._reused = False
        return self._conn

    def request(
        self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        parts = urlsplit(url)  # `next` links are absolute; keep only the path and query
        target = parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else url
        all_headers = {**self.headers, **(headers or {})}
        while True:
            conn = self._connection()
            reused = self._reused
            try:
                conn.request(method, target, body=body, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused:
                    # The server dropped an idle kept-alive connection before reading: send again, fresh.
                    continue
                raise
            if response.will_close:
                self.close()
            else:
                self._reused = True
            return Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()})

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.request("GET", url, **kwargs)

    def post_json(self, url: str, body: bytes | Any, **kwargs: Any) -> Answer:
        """POST a JSON body; pass bytes to keep encoding out of a timed loop."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", url, body=raw, headers={"Content-Type": "application/json"}, **kwargs)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
