"""A user-space TCP relay that plays a network link: one-way delay, partitions and emulated loss.

The kernel here has no netem, so `tc` cannot delay or drop; every connection that crosses a fleet
link (fleet_hosts.py) goes through one of these relays instead. Pure asyncio, no Django.

What the conditions mean with a TCP relay (it sees byte streams, not packets):
- `delay`: every chunk read on one side is written on the other `delay` seconds later, in order, in
  both directions; throughput is not limited, so a round trip costs 2 x delay as on a real link.
- `partitioned`: live connections are aborted and new ones are accepted and then held silent until
  the link heals (then closed), as a peer that never answers; the fleet also takes the veth down.
- `loss`: TCP hides lost packets behind retransmission, so what an application sees of "10 % loss"
  is stalls: each chunk is, with probability `loss`, held back one retransmission timeout
  (`retransmit_timeout`, 200 ms + 2 x delay) before it and everything after it goes through; and
  `reset_rate` (per chunk) cuts a connection outright, as a middlebox giving up would. It is not a
  packet-level model: throughput under loss is only roughly what a kernel's TCP would reach.
"""
from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass
class LinkConditions:
    delay: float = 0.0  # one-way, seconds
    loss: float = 0.0  # probability that a chunk stalls one retransmission timeout
    reset_rate: float = 0.0  # probability that a chunk cuts its connection
    partitioned: bool = False
    # A few counters for reports and tests.
    connections: int = 0
    stalls: int = 0
    resets: int = 0
    refused_while_partitioned: int = 0

    @property
    def retransmit_timeout(self) -> float:
        return 0.2 + 2 * self.delay


@dataclass(eq=False)  # kept in a set: identity, not value
class _Connection:
    writers: list = field(default_factory=list)

    def abort(self):
        for writer in self.writers:
            transport = writer.transport
            if transport and not transport.is_closing():
                transport.abort()


class LinkRelays:
    """The relays of one link, sharing its conditions, run on an asyncio loop in a thread of their own."""

    def __init__(self, name: str, conditions: LinkConditions | None = None, *, rng: random.Random | None = None):
        self.name = name
        self.conditions = conditions or LinkConditions()
        self.rng = rng or random.Random()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"link-{name}", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.base_events.Server] = []
        self._live: set[_Connection] = set()
        self._held: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def forward(self, *, listen: tuple[str, int], target: tuple[str, int], rewrite_request=None) -> None:
        """Accept on `listen` and relay each connection to `target` under the link's conditions.

        rewrite_request(body: bytes) -> bytes, for HTTP/1.1 with Content-Length bodies (what Distribution's
        notifications send): each request's body is passed through it on the way to `target`."""
        async def open_server():
            server = await asyncio.start_server(lambda r, w: self._serve(r, w, target, rewrite_request), *listen,
                                                reuse_address=True)
            self._servers.append(server)
        self._call(open_server())

    # The link's state; safe to call from any thread.
    def partition(self) -> None:
        self.conditions.partitioned = True
        self._loop.call_soon_threadsafe(self._abort_live)

    def heal(self) -> None:
        self.conditions.partitioned = False
        self._loop.call_soon_threadsafe(self._release_held)

    def set(self, **conditions) -> None:
        for key, value in conditions.items():
            if not hasattr(self.conditions, key):
                raise AttributeError(key)
            setattr(self.conditions, key, value)

    def close(self) -> None:
        async def shut():
            for server in self._servers:
                server.close()
            self._abort_live()
            self._release_held()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self._call(shut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _abort_live(self):
        for connection in list(self._live):
            connection.abort()
        self._live.clear()

    def _release_held(self):
        for writer in list(self._held):
            writer.transport.abort()
        self._held.clear()

    async def _serve(self, client_reader, client_writer, target, rewrite_request=None):
        try:
            await self._relay(client_reader, client_writer, target, rewrite_request)
        except asyncio.CancelledError:
            client_writer.transport.abort()  # close(): end quietly, not as a failed callback

    async def _relay(self, client_reader, client_writer, target, rewrite_request=None):
        conditions = self.conditions
        if conditions.partitioned:
            conditions.refused_while_partitioned += 1
            self._held.add(client_writer)  # silent until heal() closes it
            return
        conditions.connections += 1
        try:
            if conditions.delay:
                await asyncio.sleep(conditions.delay)  # the SYN crossing
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.transport.abort()
            return
        connection = _Connection([client_writer, upstream_writer])
        if conditions.partitioned:  # cut while connecting
            connection.abort()
            return
        self._live.add(connection)
        try:
            if rewrite_request is not None:
                client_reader = await self._rewritten(client_reader, rewrite_request)
            await asyncio.gather(self._pipe(client_reader, upstream_writer, connection),
                                 self._pipe(upstream_reader, client_writer, connection))
        finally:
            self._live.discard(connection)
            connection.abort()

    async def _rewritten(self, reader, rewrite_request) -> asyncio.StreamReader:
        """A reader giving the client's HTTP requests with each body rewritten (Content-Length fixed)."""
        out = asyncio.StreamReader()

        async def feed():
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.split(b"\r\n")
                    length = 0
                    for line in lines:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    body = rewrite_request(await reader.readexactly(length)) if length else b""
                    kept = [line for line in lines if line.partition(b":")[0].strip().lower() != b"content-length"]
                    head = b"\r\n".join(kept[:-2] + [b"Content-Length: %d" % len(body), b"", b""])
                    out.feed_data(head + body)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
                out.feed_eof()

        self._feeders = getattr(self, "_feeders", set())
        task = asyncio.create_task(feed())
        self._feeders.add(task)
        task.add_done_callback(self._feeders.discard)
        return out

    async def _pipe(self, reader, writer, connection):
        """Copy one direction: a reader task stamps chunks, a writer task releases them when due."""
        conditions = self.conditions
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        deliverer = asyncio.create_task(deliver())
        stalled_until = 0.0
        try:
            while True:
                data = await reader.read(CHUNK)
                now = loop.time()
                if data and conditions.reset_rate and self.rng.random() < conditions.reset_rate:
                    conditions.resets += 1
                    connection.abort()
                    return
                if data and conditions.loss and self.rng.random() < conditions.loss:
                    conditions.stalls += 1
                    stalled_until = max(stalled_until, now) + conditions.retransmit_timeout
                due = max(now + conditions.delay, stalled_until)
                await queue.put((due, data or None))
                if not data:
                    break
                if queue.qsize() > 64:  # back-pressure: do not buffer a whole blob in memory
                    while queue.qsize() > 16 and not deliverer.done():
                        await asyncio.sleep(0.005)
            await deliverer
        except (ConnectionError, OSError):
            connection.abort()
        finally:
            if not deliverer.done():
                deliverer.cancel()
