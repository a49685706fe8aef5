"""A tiny threaded HTTP server on 127.0.0.1 with routes and injectable faults.

Each emulated platform is an :class:`ApiServer` on its own ephemeral port. Tests inject
faults per endpoint (a path regex): a status with optional headers and body (429 with
Retry-After, 5xx, 401), a slow response, or a malformed JSON body, for the next N requests.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    match: re.Match | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    raw: bytes | None = None


@dataclass
class Fault:
    """What to do instead of answering, for the next ``times`` matching requests."""

    path: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    malformed: bool = False
    echo: bool = False  # answer with the request's headers, query and body (credentials included)
    # with ``echo``: what the server does to each value it echoes (a prefix, base64, URL-encoding)
    echo_as: Callable[[str], str] | None = None
    html: bool = False  # a proxy's or captive portal's HTML page, with ``status`` (default 200)
    reset: bool = False  # drop the connection without an answer (TCP RST)
    hang: bool = False  # never answer (until the server stops): the client's read timeout must fire
    release: threading.Event = field(
        default_factory=threading.Event
    )  # set: hanging requests give up now
    # answer as usual, then change the JSON body: schema drift, empty pages, repeated cursors
    transform: Callable[[Any, Request], Any] | None = None
    query: dict[str, str | None] = field(
        default_factory=dict
    )  # only requests with these parameters (None: any value)
    times: int = 1
    method: str | None = None
    hits: int = 0


Handler = Callable[[Request], Response]
RESET = Response(0)  # marker: close the connection without answering


class ApiServer:
    """Routes requests to handlers; the platform module supplies routes and error shapes."""

    def __init__(self, name: str, error_response: Callable[[int, str], Response]) -> None:
        self.name = name
        self.routes: list[tuple[str, re.Pattern, Handler]] = []
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.error_response = error_response
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.latency = (
            0.0  # seconds added to every answer: a real platform's round trip (benchmarks)
        )

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern + r"/?$"), fn))
            return fn

        return register

    def inject(self, path: str, **kwargs: Any) -> Fault:
        """Add a fault for requests whose path matches the regex ``path``."""
        fault = Fault(path=path, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            faults = list(self.faults)
            self.faults.clear()
        for fault in faults:
            fault.release.set()  # a request still hanging gives up now

    # ------------------------------------------------------------------ serving

    def start(self) -> str:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm and the
                # client's delayed ACK add ~40 ms to every response on loopback
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=split.path,
                    query={
                        k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()
                    },
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                resp = server.handle(req)
                if resp is RESET:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                payload = (
                    resp.raw
                    if resp.raw is not None
                    else (b"" if resp.body is None else json.dumps(resp.body).encode())
                )
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up (fault tests) is not an error here

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, daemon=True, name=f"sandbox-{self.name}"
        ).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        with self._lock:
            for fault in self.faults:
                fault.release.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def handle(self, req: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.requests.append(req)
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.hits < f.times
                    and re.search(f.path, req.path)
                    and f.method in (None, req.method)
                    and all(
                        k in req.query and v in (None, req.query[k]) for k, v in f.query.items()
                    )
                ),
                None,
            )
            if fault:
                fault.hits += 1
        if fault and fault.transform is not None:
            # the transform sees the usual body (None when the answer was an error) and what it
            # returns goes out with 200: a server that replays a page answers it as a success
            resp = self._route(req)
            body = fault.transform(
                resp.body if resp.status == 200 and resp.raw is None else None, req
            )
            if body is not None:
                resp.status, resp.body, resp.raw = 200, body, None
            return resp
        if fault:
            if fault.hang:
                fault.release.wait(120)  # the test, clear_faults or stop releases it
                return RESET
            if fault.reset:
                return RESET
            if fault.html:
                return Response(
                    fault.status or 200,
                    content_type="text/html; charset=utf-8",
                    raw=b"<!DOCTYPE html><html><head><title>Service unavailable</title></head>"
                    b"<body><h1>We'll be back soon</h1></body></html>",
                )
            if fault.delay:
                time.sleep(fault.delay)
            if fault.malformed:
                return Response(200, raw=b'{"truncated": [1, 2,')
            if fault.echo:
                return self._echo(req, fault)
            if fault.status:
                resp = self.error_response(fault.status, "injected fault")
                if fault.body is not None:
                    resp.body = fault.body
                resp.headers.update(fault.headers)
                return resp
        return self._route(req)

    def _route(self, req: Request) -> Response:
        for method, pattern, fn in self.routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                req.match = match
                try:
                    return fn(req)
                except ApiError as err:
                    return err.response or self.error_response(err.status, err.detail)
        return self.error_response(404, "The requested resource could not be found.")

    def _echo(self, req: Request, fault: Fault) -> Response:
        """A careless server or proxy that repeats the request's credentials in its error (no
        platform promises otherwise, docs/PLATFORMS.md#errors): in the message, in a JSON body and
        in response headers; as they came or re-encoded by ``fault.echo_as`` (a token's start, its
        base64, its URL-encoding)."""
        encode = fault.echo_as or str
        body = req.body.decode(errors="replace")
        seen = {
            "headers": {k: encode(v) for k, v in req.headers.items()},
            "query": {k: encode(v) for k, v in req.query.items()},
            "body": encode(body),
        }
        # the values bare too: "Invalid token ya29.abc" names no field a pattern could catch
        bare = [
            encode(v.split(" ", 1)[-1])
            for k, v in req.headers.items()
            if k in ("authorization", "developer-token")
        ]
        bare += [encode(v) for v in req.query.values()] + [encode(v) for v in body.split("&") if v]
        resp = self.error_response(
            fault.status or 401, f"invalid credentials {' '.join(bare)} in {json.dumps(seen)}"
        )
        for name, value in req.headers.items():
            if name in ("authorization", "developer-token", "login-customer-id"):
                resp.headers[f"X-Echo-{name}"] = encode(value)
        echoed = encode(req.headers.get("authorization", ""))
        resp.headers["WWW-Authenticate"] = (
            f'Bearer realm="api", error="invalid_token", echo="{echoed}"'
        )
        return resp


class ApiError(Exception):
    """Raised by handlers to answer with the platform's error shape."""

    def __init__(self, status: int, detail: str, response: Response | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.response = status, detail, response
