"""The local endpoint's front: what nginx gives the SageMaker container, for ``music-recsys serve``.

In the container, nginx receives each request whole — its headers, then its body, waiting at
most ``client_body_timeout`` between two reads and answering 408 when that runs out — before it
hands it to gunicorn: a slow or stalled client holds one connection of nginx's event loop, never
one of gunicorn's worker threads. ``serve`` has no nginx, so this is that front, on asyncio, in
the server's master process (one thread):

- it reads a request's headers (at most 64 KB) and its whole body — by ``Content-Length``, or
  ``Transfer-Encoding: chunked`` — waiting at most ``body_timeout`` seconds for each read; a
  client that stalls longer gets ``408`` with ``{"error": ...}`` and its connection closed;
- a body over ``max_body_bytes`` (SageMaker's 6 MB) is refused with the handler's own 413 (read
  and dropped up to :data:`~music_recsys.serving.container.DRAIN_LIMIT`, so that the client
  hears why); ``Expect: 100-continue`` is answered as nginx answers it;
- a complete request goes to gunicorn over a private Unix socket, its answer back to the client
  (kept alive between requests, as HTTP/1.1 asks, for ``keepalive_timeout`` seconds).

So a hundred stalled uploads cost a hundred idle sockets, not the threads that answer everyone
else. What it leaves to a real front: TLS, connection limits per client, request rates, and
bodies buffered on disk (each buffered body is held in memory, at most ``max_body_bytes``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading

from music_recsys.serving.container import DRAIN_LIMIT, body_too_large

logger = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024
READ_SIZE = 2**20
# Headers that describe one hop's connection: the front's own business, never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


class _Refused(Exception):
    """A request the front answers itself (``status``, ``message``), then closes."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class _Gone(Exception):
    """The client closed its side: there is no one to answer."""


class Front:
    """The buffering front (see the module doc) on ``host:port``, forwarding to gunicorn on
    the Unix socket ``backend``."""

    def __init__(
        self,
        host: str,
        port: int,
        backend: str,
        max_body_bytes: int,
        body_timeout: float = 10.0,
        keepalive_timeout: float = 5.0,
        request_timeout: float = 120.0,
    ) -> None:
        self.host, self.port, self.backend = host, port, backend
        self.max_body_bytes = max_body_bytes
        self.body_timeout, self.keepalive_timeout = body_timeout, keepalive_timeout
        self.request_timeout = request_timeout
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        """Binds (so that a port in use fails at once) and serves in a daemon thread."""
        self._listener = socket.create_server((self.host, self.port), backlog=1024)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, sock=self._listener, limit=HEAD_LIMIT)
            )
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="front", daemon=True)
        self._thread.start()
        ready.wait()
        logger.info(
            "Listening on http://%s:%d (a buffering front: %g s for each read of a request, "
            "at most %d bytes a body) → gunicorn on unix:%s",
            self.host,
            self.port,
            self.body_timeout,
            self.max_body_bytes,
            self.backend,
        )

    def close_listener_in_child(self) -> None:
        """In a forked worker: drop the inherited listening socket (only the master accepts)."""
        if self._listener is not None:
            self._listener.detach()
            self._listener = None

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)

    # --- one connection --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            first = True
            while True:
                try:
                    request = await self._request(reader, writer, first)
                except _Refused as refused:
                    await self._answer(writer, refused.status, refused.reason, refused.message)
                    return
                if request is None:
                    return  # closed, or idle past keepalive_timeout, between requests
                first = False
                keep = await self._forward(writer, *request)
                if not keep:
                    return
        except (_Gone, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _request(self, reader, writer, first: bool):
        """The next request, read whole: ``(method, target, version, headers, body, keep
        alive)``; None when the client closed or went quiet between requests."""
        wait = self.body_timeout if first else self.keepalive_timeout
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
        except TimeoutError:
            if not first:
                return None  # an idle kept-alive connection: closed, as nginx closes it
            raise self._timed_out("headers") from None
        except asyncio.IncompleteReadError as error:
            if error.partial.strip():
                raise _Gone from None
            return None
        except asyncio.LimitOverrunError:
            raise _Refused(
                431,
                "Request Header Fields Too Large",
                f"The request's headers are over {HEAD_LIMIT:,} bytes",
            ) from None
        method, target, version, headers = _parse_head(head)
        keep = _keep_alive(version, headers)
        fields = {name.lower(): value for name, value in headers}
        if fields.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = await self._chunked(reader)
        else:
            body = await self._sized(reader, fields.get("content-length"))
        return method, target, version, headers, body, keep

    async def _within(self, read) -> bytes:
        """What ``read`` (a read of the body) gives within ``body_timeout``: 408 past it,
        :class:`_Gone` where the client closed."""
        try:
            data = await asyncio.wait_for(read, self.body_timeout)
        except TimeoutError:
            raise self._timed_out("body") from None
        if not data:
            raise _Gone
        return data

    async def _read(self, reader, size: int) -> bytes:
        return await self._within(reader.read(size))

    async def _line(self, reader) -> bytes:
        return await self._within(reader.readline())

    async def _sized(self, reader, length: str | None) -> bytes:
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _Refused(400, "Bad Request", f"Content-Length is not a number: {length!r}")
        left = int(length)
        if left > self.max_body_bytes:
            await self._drop(reader, left)
            raise self._too_large(left)
        parts = []
        while left > 0:
            chunk = await self._read(reader, min(left, READ_SIZE))
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    async def _chunked(self, reader) -> bytes:
        parts, total = [], 0
        while True:
            line = await self._line(reader)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Refused(
                    400, "Bad Request", f"A chunk's size is not hexadecimal: {size_text[:20]!r}"
                ) from None
            if size == 0:
                while (await self._line(reader)).strip():  # trailers, dropped
                    pass
                if total > self.max_body_bytes:
                    raise self._too_large(total)
                return b"".join(parts)
            total += size
            if total > self.max_body_bytes:
                parts.clear()
                if total > DRAIN_LIMIT:
                    raise self._too_large(total)
                await self._drop(reader, size + 2)
                continue  # read on (and dropped) to answer after the last chunk
            data = bytearray()
            while len(data) < size + 2:
                data += await self._read(reader, size + 2 - len(data))
            parts.append(bytes(data[:size]))

    async def _drop(self, reader, size: int) -> None:
        """Reads and drops ``size`` bytes (at most DRAIN_LIMIT) of a refused body."""
        left = min(size, DRAIN_LIMIT)
        while left > 0:
            left -= len(await self._read(reader, min(left, READ_SIZE)))

    def _timed_out(self, what: str) -> _Refused:
        return _Refused(
            408,
            "Request Timeout",
            f"The request's {what} did not arrive: nothing came for {self.body_timeout:g} s "
            "(send the whole request at once)",
        )

    def _too_large(self, length: int) -> _Refused:
        return _Refused(413, "Payload Too Large", body_too_large(length, self.max_body_bytes))

    # --- the answer ------------------------------------------------------------------------

    async def _forward(self, writer, method, target, version, headers, body, keep) -> bool:
        """Sends the request to gunicorn and its answer to the client; whether the client's
        connection stays open."""
        forwarded = [f"{method} {target} HTTP/1.1"]
        forwarded += [f"{n}: {v}" for n, v in headers if n.lower() not in HOP_BY_HOP]
        forwarded += [f"Content-Length: {len(body)}", "Connection: close"]
        request = ("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1") + body
        try:
            backend_reader, backend_writer = await asyncio.open_unix_connection(self.backend)
            backend_writer.write(request)
            await backend_writer.drain()
            answer = await asyncio.wait_for(backend_reader.read(), self.request_timeout)
            backend_writer.close()
        except (OSError, TimeoutError) as error:
            await self._answer(
                writer, 502, "Bad Gateway", f"The model server did not answer: {error}"
            )
            return False
        head, _, payload = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        kept = [line for line in lines[1:] if line.split(":", 1)[0].strip().lower() not in
                {"connection", "keep-alive", "content-length"}]  # fmt: skip
        if not method.upper() == "HEAD":
            kept.append(f"Content-Length: {len(payload)}")
        kept.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join([lines[0], *kept]) + "\r\n\r\n").encode("latin-1") + payload)
        await writer.drain()
        return keep

    async def _answer(self, writer, status: int, reason: str, message: str) -> None:
        body = json.dumps({"error": message}).encode("utf-8")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
            + body
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _Refused(400, "Bad Request", f"Not an HTTP request line: {lines[0][:100]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _Refused(400, "Bad Request", f"Not a header: {line[:100]!r}")
        headers.append((name.strip(), value.strip()))
    return parts[0], parts[1], parts[2], headers


def _keep_alive(version: str, headers: list[tuple[str, str]]) -> bool:
    connection = ",".join(v for n, v in headers if n.lower() == "connection").lower()
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection
