"""The board's end of a real pseudo-terminal, for tests that run the real `reengage record` against it."""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyPeer(threading.Thread):
    """The far end of a pty: reads whatever the host sends (``received``) and writes what ``talk(peer)`` writes;
    the port stays open after ``talk`` returns, as a board that stopped sending. Use as a context manager."""

    def __init__(self, talk=None) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self.slave)
        self.talk = talk
        self.stop = threading.Event()
        self.received = b""

    def wait_for(self, token: bytes) -> None:
        while token not in self.received and not self.stop.is_set():
            self.poll(0.05)

    def poll(self, timeout_s: float) -> None:
        if select.select([self.master], [], [], timeout_s)[0]:
            try:
                self.received += os.read(self.master, 4096)
            except OSError:
                pass

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.stop.is_set():
            try:
                view = view[os.write(self.master, view):]
            except BlockingIOError:
                self.poll(0.005)
            except OSError:
                return  # the recorder closed the port

    def run(self) -> None:
        if self.talk is not None:
            self.talk(self)
        while not self.stop.is_set():
            self.poll(0.05)

    def __enter__(self) -> "PtyPeer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.join(5)
        os.close(self.master)
        os.close(self.slave)
