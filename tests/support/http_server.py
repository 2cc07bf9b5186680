"""A local HTTP server for the fakes of outside services (OAuth providers, vendors)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar


def send_json(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    """Answer with a JSON body; a client that has already gone (a timeout test) is fine."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class LoopbackServer:
    """`handler` served by a ThreadingHTTPServer on 127.0.0.1 (a free port), in a daemon
    thread, until `close()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


class LoopbackFake:
    """Base of a fake outside service: `start()` sets `self.server`; stop and address."""

    server: LoopbackServer

    def start(self) -> None:
        raise NotImplementedError("a fake sets self.server = LoopbackServer(its handler)")

    def stop(self) -> None:
        self.server.close()

    @property
    def base_url(self) -> str:
        return self.server.base_url


F = TypeVar("F", bound=LoopbackFake)


@contextmanager
def running(fake: F) -> Iterator[F]:
    """`fake` started for the block, stopped after it (a module fixture's body)."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
