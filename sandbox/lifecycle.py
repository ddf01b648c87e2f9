"""Stop when the parent goes: `make serve` may be sent SIGTERM alone, and make does not pass it on."""

from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
