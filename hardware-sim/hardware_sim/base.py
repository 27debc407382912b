"""The life cycle every simulator shares: a link, a background thread, a log of bytes and events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .faults import NO_FAULTS, FaultInjector, Faults, SimEvent
from .link import Link, LinkClosed, PtyLink, TcpServerLink


class SimulatorError(Exception):
    """A simulator was used wrongly (started twice, bad configuration)."""


class ThreadedSim:
    """Runs ``_serve(link)`` on a background thread; subclasses write through :meth:`_send`.

    ``log`` holds the exact byte strings written (after fault injection), ``events`` what the
    simulator did (lines sent, corruptions, ACKs received …).
    """

    def __init__(self, *, seed: int = 0, faults: Faults | None = None) -> None:
        self.faults = faults or NO_FAULTS
        self.seed = seed
        self.injector = FaultInjector(self.faults, seed)
        self.log: list[bytes] = []
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.link: Link | None = None
        self.error: BaseException | None = None

    @property
    def events(self) -> list[SimEvent]:
        return self.injector.events

    def _event(self, kind: str, detail: str = "", index: int | None = None) -> None:
        self.injector.events.append(SimEvent(kind, detail, index))

    # -- life cycle ---------------------------------------------------------------------------------
    def start_pty(self) -> str:
        """Open a raw pty pair and start talking on it; return the slave path for the host."""
        link = PtyLink()
        self._start(link)
        return link.path

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Listen on TCP (``port`` 0 picks a free one) and serve one host at a time; return the port."""
        link = TcpServerLink(port, host)
        self._start(link)
        return link.port

    def _start(self, link: Link) -> None:
        if self._thread is not None:
            link.close()
            raise SimulatorError(f"{type(self).__name__} already started")
        self.link = link
        self._thread = threading.Thread(target=self._main, name=type(self).__name__, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        assert self.link is not None
        try:
            self._serve(self.link)
        except LinkClosed:
            pass
        except BaseException as exc:  # kept for the test to see, never lost silently
            self.error = exc
            self._event("error", repr(exc))
        finally:
            self._done.set()

    def _serve(self, link: Link) -> None:
        raise NotImplementedError

    def wait(self, timeout: float) -> bool:
        """True when the simulator finished its work (all bytes written) within ``timeout``."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Stop the thread and close the link (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self.link is not None:
            self.link.close()

    def __enter__(self) -> ThreadedSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for subclasses ------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def _wait_host(self, link: Link) -> None:
        while not link.wait_for_host(self._stop, timeout=0.5):
            if self._stop.is_set():
                raise LinkClosed("stopped")

    def _read(self, link: Link, timeout: float) -> bytes:
        """Read what the host sent; if the host went away, wait for it to come back (b"")."""
        try:
            data = link.read(timeout)
        except LinkClosed:
            if self._stop.is_set():
                raise
            self._event("host_disconnected")
            self._wait_host(link)
            return b""
        if data:
            self.received.append(data)
        return data

    def _send(self, link: Link, data: bytes, *, frame_index: int | None = None,
              damage: bool = True) -> bool:
        """Write ``data`` with faults applied; False when the one-time disconnect happened in it."""
        out = self.injector.damage(data, frame_index=frame_index) if damage else data
        out, dropped = self.injector.split_for_disconnect(out)
        if out:
            self.log.append(out)
            link.write(out, self._stop, self.faults.slow_byte_delay_s)
        if dropped:
            self._disconnect(link)
            return False
        return True

    def _disconnect(self, link: Link) -> None:
        link.drop()
        self._sleep(self.faults.reconnect_delay_s)
        self._wait_host(link)


def run_until_interrupted(sim: ThreadedSim, poll: Callable[[], bool] | None = None) -> None:
    """Block the foreground until Ctrl-C (or ``poll`` returns True); then stop ``sim``."""
    try:
        while True:
            if poll is not None and poll():
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
