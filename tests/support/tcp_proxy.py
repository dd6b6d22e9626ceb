"""A TCP proxy on 127.0.0.1 that a test can cut, to play a database outage.

    with TcpProxy(5432) as proxy:       # the machine's PostgreSQL behind it
        url = through_port(pg_url, proxy.port)
        proxy.pause()                   # every connection dropped, new ones refused
        proxy.resume()                  # the database is back

Pausing is what a stopped server looks like to a client: open connections
reset, new ones closed at once. Unlike stopping the real cluster, it only
touches this test's connections, so other tests sharing the server go on.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from contextlib import suppress

_CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:`port` (any free one) to 127.0.0.1:`target_port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._paused = False
        self._closed = False
        self.refused = 0  # connections refused while paused
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pause(self) -> None:
        """Reset every open connection and refuse new ones until `resume`."""
        with self._lock:
            self._paused = True
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            for sock in pair:  # wakes the pump thread, which closes both ends
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def close(self) -> None:
        self._closed = True
        self.pause()
        with suppress(OSError):
            self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                paused = self._paused
            if paused:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(_CHUNK)  # type: ignore[union-attr]
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
            except (OSError, ValueError):
                return  # reset by `pause`, or closed by a peer
            finally:
                with self._lock:
                    self._pairs.discard(pair)
                _reset(client, upstream)


def _reset(*sockets: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dying server's kernel would."""
    for sock in sockets:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with suppress(OSError):
            sock.close()
