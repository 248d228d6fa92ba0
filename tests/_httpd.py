"""A loopback HTTP(S) server whose answers are plain functions, for fetch tests.

Each route is a function given the request handler; it writes whatever bytes it
likes, which is how the tests play a server that drips, lies or loops.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.requests.append((self.path, dict(self.headers.items())))
        route = self.server.routes.get(urlsplit(self.path).path)
        try:
            if route is None:
                reply(self, 404, b"not found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up on us, as some tests expect it to


class Server(ThreadingHTTPServer):
    """Serve ``routes`` on ``host``, port 0; record every request.

    Args:
        host: a loopback address; ``::1`` makes an IPv6 server.
        tls: a server-side SSL context, or None for plain HTTP.
    """

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        """Return the URL of ``path`` on this server, optionally via ``host``."""
        scheme = "http" if not isinstance(self.socket, ssl.SSLSocket) else "https"
        address, port = str(self.server_address[0]), self.server_address[1]
        host = host or (f"[{address}]" if ":" in address else address)
        return f"{scheme}://{host}:{port}{path}"

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete response with a Content-Length."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
