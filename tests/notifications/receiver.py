"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, answers as scripted."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer, in order; once used up every request gets `default_status`.
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    hang_seconds: float = 0.0

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]

    def types(self) -> list[str]:
        import json

        return [json.loads(r.body)["type"] for r in self.requests]


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with lock:
                receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.script.pop(0) if receiver.script else receiver.default_status
            if receiver.hang_seconds:
                time.sleep(receiver.hang_seconds)
            answer = b'{"ok": true}' if status < 300 else b"receiver error: try later"
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cx"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
