"""Graceful shutdown under daphne, bounded in time.

On SIGTERM (or SIGINT) a daphne process serving tasktrack.asgi:
1. stops accepting connections;
2. closes every WebSocket with 1001 (going away): the page reconnects, to another process;
3. lets HTTP requests in flight finish, for up to settings.SHUTDOWN_TIMEOUT seconds;
4. then stops daphne, which cancels whatever still runs and drops the remaining connections;
5. exits at the latest EXIT_MARGIN seconds after the timeout, whatever its threads are doing.

Daphne alone stops its reactor at once on SIGTERM: it cancels every request and drops every
socket without a close frame (browsers see 1006), then waits for the cancelled requests, and a
request cancelled while its view runs in a thread waits for that thread. A render that takes a
minute keeps the process up for a minute, and further SIGTERMs do nothing (the reactor is
already stopping). Hence step 5: os._exit from a timer thread, and behind it a SIGALRM left at
its default action, which the kernel carries out even when a thread holds the GIL in C code.
"""

import asyncio
import contextlib
import functools
import logging
import math
import os
import signal
import sys
import threading

from django.conf import settings

log = logging.getLogger(__name__)

GOING_AWAY = 1001
EXIT_MARGIN = 2.0  # seconds after SHUTDOWN_TIMEOUT before the process exits regardless
ALARM_MARGIN = 3  # seconds after that before the kernel ends it (SIGALRM)


# Close codes an endpoint may send (RFC 6455 7.4.1, IANA registry) besides 1000 and 3000-4999.
STANDARD_CLOSE_CODES = {1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


class _Connection:
    """One HTTP request or WebSocket in flight, and the send that reaches its client."""

    def __init__(self, kind: str, send):
        self.kind = kind
        self._send = send
        self.closed = False  # the socket is closing: later messages have nowhere to go

    async def send(self, message: dict) -> None:
        if self.closed:
            return
        if message["type"] == "websocket.close":
            self.closed = True
            if _close_frame(self._send, message.get("code")):
                return
        await self._send(message)

    async def go_away(self) -> None:
        await self.send({"type": "websocket.close", "code": GOING_AWAY})


def _close_frame(send, code) -> bool:
    """Under daphne, close an open socket with a standard code such as 1001 or 1013; True if sent.

    Daphne hands the code to autobahn's sendClose, which takes only 1000 and 3000-4999 from an
    application and raises for the rest, so the socket would stay open; autobahn's frame-level
    sendCloseFrame sends any code. Daphne's send is partial(server.handle_reply, protocol).
    """
    if code not in STANDARD_CLOSE_CODES or not isinstance(send, functools.partial) or not send.args:
        return False
    protocol = send.args[0]
    if getattr(protocol, "state", None) != getattr(protocol, "STATE_OPEN", object()):
        return False  # not accepted yet (the ASGI close rejects the handshake) or already closing
    protocol.sendCloseFrame(code=code, isReply=False)
    return True


class GracefulShutdown:
    """ASGI middleware that knows what is in flight, so that a shutdown can close or wait for it."""

    def __init__(self, app):
        self.app = app
        self.connections: set[_Connection] = set()
        self.stopping = False
        self.shutdown_task: asyncio.Task | None = None  # held here: the loop keeps only a weak reference
        self._changed: asyncio.Event | None = None

    def __getattr__(self, name):
        # Otherwise the router it wraps, for code that inspects it (application_mapping).
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if self.stopping and scope["type"] == "websocket":
            # Accepted just before the listener closed: refuse the handshake, the page retries.
            await send({"type": "websocket.close", "code": GOING_AWAY})
            return None
        connection = _Connection(scope["type"], send)
        self.connections.add(connection)
        try:
            return await self.app(scope, receive, connection.send)
        finally:
            self.connections.discard(connection)
            if self._changed is not None:
                self._changed.set()

    async def shut_down(self, timeout: float) -> None:
        """Close the sockets, then wait up to `timeout` seconds for everything in flight to end."""
        self.stopping = True
        self._changed = asyncio.Event()
        sockets = [connection for connection in self.connections if connection.kind == "websocket"]
        for connection in sockets:
            try:
                await connection.go_away()
            except Exception:  # noqa: BLE001 - a socket already gone: nothing to tell it
                log.debug("closing a socket on shutdown failed", exc_info=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.connections and loop.time() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
        requests = sum(connection.kind == "http" for connection in self.connections)
        if self.connections:
            log.warning(
                "shutdown: %d requests and %d sockets still open after %s s; cancelling them",
                requests,
                len(self.connections) - requests,
                timeout,
            )
        else:
            log.info("shutdown: closed %d sockets; every request in flight finished", len(sockets))


def install(app: GracefulShutdown) -> None:
    """Under daphne, take SIGTERM and SIGINT over from Twisted once the reactor runs.

    Anywhere else (tests driving the ASGI app, another server) nothing changes.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or "daphne.server" not in sys.modules:
        return
    reactor.callWhenRunning(_take_signals, app, reactor)


def _take_signals(app: GracefulShutdown, reactor) -> None:
    # Only where Twisted installed its own handlers (the daphne command): a server embedded with
    # signal_handlers=False is stopped by its owner.
    if getattr(signal.getsignal(signal.SIGTERM), "__self__", None) is not reactor:
        return
    started = False

    def on_signal(signum, frame):
        nonlocal started
        if started:
            # A supervisor may signal every process of the group, and the parent forward it again:
            # a repeat must not cut the shutdown short; the bound holds either way.
            return
        started = True
        reactor.callFromThread(_begin, app, reactor, signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    if getattr(signal.getsignal(signal.SIGINT), "__self__", None) is reactor:
        signal.signal(signal.SIGINT, on_signal)


def _begin(app: GracefulShutdown, reactor, name: str) -> None:
    timeout = float(settings.SHUTDOWN_TIMEOUT)
    log.info("%s: shutting down within %s s", name, timeout)
    _bound_exit(timeout + EXIT_MARGIN)
    for port in _listening_ports(reactor):
        port.stopListening()
    app.shutdown_task = asyncio.ensure_future(app.shut_down(timeout))
    app.shutdown_task.add_done_callback(lambda _: _stop(reactor))


def _listening_ports(reactor) -> list:
    from twisted.internet.interfaces import IListeningPort

    return [reader for reader in reactor.getReaders() if IListeningPort.providedBy(reader)]


def _stop(reactor) -> None:
    from twisted.internet.error import ReactorNotRunning

    with contextlib.suppress(ReactorNotRunning):  # stopped meanwhile: nothing left to do
        reactor.stop()


def _bound_exit(seconds: float) -> None:
    """Exit after `seconds` if the process has not by then: a thread still running a view keeps
    Python from exiting (it joins its worker threads), and cannot be interrupted."""

    def exit_now():
        log.error("shutdown: still running %.1f s after the signal; exiting without waiting for threads", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(math.ceil(seconds) + ALARM_MARGIN)
