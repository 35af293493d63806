"""uvicorn as the demo runs it: bounded headers, a deadline for them, bounded connections.

The app bounds what it reads (bytes, pixels, the time a body takes, the inferences at once:
:mod:`fastnst.demo.server`); the HTTP layer below it bounds the rest:

- the parser is h11 (uvicorn's ``httptools`` has no limit on a header's size), and a request
  line plus headers over ``max_header_bytes`` is answered 400 by uvicorn and the connection
  closed;
- a client that has not finished a request's line and headers ``header_timeout`` seconds after
  connecting, or after the first byte of its next request on a kept-alive connection, gets 408
  and is disconnected, so connections that trickle a byte at a time (slowloris) cannot pile up
  (an idle kept-alive connection is closed silently by uvicorn after ``timeout_keep_alive``: a
  408 there could cross a client's next request on the wire);
- beyond ``max_connections`` open connections uvicorn answers 503 at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

TIMEOUT_BODY = b'{"error": "the request\'s headers took too long; send them at once"}'
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(TIMEOUT_BODY)).encode() + b"\r\n\r\n" + TIMEOUT_BODY
)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers.

    The deadline is armed when the connection opens and when the first bytes of a later request
    arrive, and disarmed once h11 has parsed the request's headers (the app bounds the body's
    time itself).
    """

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        between = self.cycle is None or self.cycle.response_complete
        if self._deadline is None and between:  # a new request starts on a kept-alive connection
            self._arm()
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._waiting_for:  # a new request's headers arrived
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._waiting_for = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()


def uvicorn_options(
    *, header_timeout: float, max_header_bytes: int, max_connections: int
) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` for these limits."""
    limits = {"header_timeout": header_timeout}
    protocol = type("DemoHTTPProtocol", (HeaderDeadlineProtocol,), limits)
    return {
        "http": protocol,
        "h11_max_incomplete_event_size": max_header_bytes,
        "limit_concurrency": max_connections,
        "timeout_keep_alive": 5,
        "log_level": "warning",
    }
