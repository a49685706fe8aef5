"""A local Slack-compatible webhook receiver for tests: records every POST, can be told to fail."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``with Receiver() as hook: ... hook.url, hook.messages``; ``hook.fail(500, times=2)``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self._failures: list[tuple[int, dict[str, str]]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.attempts += 1
                    status, headers = receiver._failures.pop(0) if receiver._failures else (200, {})
                    if status == 200:
                        receiver.messages.append(json.loads(body))
                    receiver.arrived.notify_all()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_payload")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/s3cretWebhookToken"
        )
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        self._failures.extend([(status, headers or {})] * times)

    def wait_for(self, count: int, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Wait until ``count`` messages arrived (a generous bound that only catches a hang)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
