"""A real HTTP server on 127.0.0.1 for the download tests (no network needed).

Routes are plain functions of the request handler: :func:`send_bytes`, :func:`send_truncated`
and :class:`RangedFile` (HTTP ``Range`` resumption), or a test's own.

>>> with running_server() as server:                                  # doctest: +SKIP
...     toy = server.serve("toy.bin", RangedFile(b"..."))
...     download(f"{server.url}/toy.bin")
...     server.requests, toy.ranges
"""
from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
from collections.abc import Callable, Iterator

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class LocalServer:
    """Serves the registered routes; ``requests`` lists every requested path in order."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.release = threading.Event()  # set at teardown: frees routes that stall
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "no such file")
                else:
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def serve(self, rel: str, route: Route) -> Route:
        """Answer ``GET /<rel>`` with ``route``; returns it (to inspect a :class:`RangedFile`)."""
        self.routes[f"/{rel}"] = route
        return route


@contextlib.contextmanager
def running_server() -> Iterator[LocalServer]:
    """A started :class:`LocalServer`, shut down (stalled routes released) on exit."""
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()


def send_bytes(data: bytes) -> Route:
    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return route


def _drop_connection(h: http.server.BaseHTTPRequestHandler) -> None:
    h.wfile.flush()
    h.close_connection = True
    h.connection.shutdown(socket.SHUT_RDWR)


def send_truncated(data: bytes, keep: int) -> Route:
    """Announce the full length, send ``keep`` bytes, drop the connection."""
    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:keep])
        _drop_connection(h)
    return route


class RangedFile:
    """A route serving ``data`` that honours ``Range: bytes=N-`` (206 with ``Content-Range``;
    416 past the end) unless ``ignore_range``. ``cut``: send only that many bytes of the next
    response, then drop the connection. ``ranges``: the Range header of each request (or None).
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.cut: int | None = None
        self.ignore_range = False
        self.ranges: list[str | None] = []

    def __call__(self, h: http.server.BaseHTTPRequestHandler) -> None:
        header = h.headers.get("Range")
        self.ranges.append(header)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and not self.ignore_range:
            start = int(match.group(1))
            if start >= len(self.data):
                h.send_error(416)
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(self.data) - 1}/{len(self.data)}")
        else:
            h.send_response(200)
        body = self.data[start:]
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self.cut is not None:
            h.wfile.write(body[:self.cut])
            self.cut = None
            _drop_connection(h)
            return
        h.wfile.write(body)
