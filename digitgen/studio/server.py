"""Running the studio: bind the port first (a port in use is a clear error), serve with uvicorn, stop on SIGINT/SIGTERM.

The socket is bound before the models are loaded, so a port already in use
fails at once with a message naming it, and no other process can take the
port while the models load. uvicorn then serves on that socket; on SIGINT or
SIGTERM it stops accepting connections, lets running requests finish, shuts
the application down (the registry's threads stop) and :func:`serve` returns
normally, so ``digitgen serve`` exits 0 after logging which signal stopped it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator

from digitgen.errors import InputError

logger = logging.getLogger(__name__)

#: Hosts that are this machine only.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises
    ------
    InputError
        The port is in use, or the host is not an address of this machine; the message says which and what to do.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise InputError(f"--host == {host!r} is not an address this machine can listen on ({error.strerror}).", "--host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise InputError(
                f"--port == {port}: {host}:{port} is already in use (another server is listening there); stop it or choose another --port.",
                "--port",
            ) from None
        if error.errno == errno.EACCES:
            raise InputError(f"--port == {port}: not allowed to listen on {host}:{port} (ports below 1024 need privileges); choose another --port.", "--port") from None
        raise InputError(f"--host == {host!r}: cannot listen on {host}:{port} ({error.strerror}).", "--host") from None
    sock.setblocking(False)
    return sock


def serve(app, sock: socket.socket, *, log_level: str = "info", on_ready: Callable[[], None] | None = None) -> str | None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM; returns the signal's name (None if stopped otherwise)."""
    server = make_server(app, log_level=log_level, on_ready=on_ready)
    server.run(sockets=[sock])
    return server.stopped_by


def make_server(app, *, log_level: str = "info", on_ready: Callable[[], None] | None = None):
    """The uvicorn server of :func:`serve`: graceful stop on SIGINT/SIGTERM (in the main thread) or ``server.should_exit = True``.

    Run from another thread than the main one (as the browser test does), it
    installs no signal handler: signals reach the main thread only.
    """
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping gracefully on SIGINT/SIGTERM without re-raising the signal afterwards."""

        stopped_by: str | None = None

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return

            def handle(number, frame) -> None:
                self.stopped_by = signal.Signals(number).name
                self.handle_exit(number, frame)

            previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if on_ready is not None and not self.should_exit:
                on_ready()

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    return Server(config)
