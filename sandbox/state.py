"""The sandbox's state: the world (persisted), the clock, and the knobs for latency and faults."""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import fleet, jit
from .seed import generated_history, seed
from .timeutil import Clock

STALL_AFTER_APPLY = "stall-after-apply"
SAVE_DELAY_SECONDS = 0.5  # writes within this long share one save
FAULT_KINDS = ("429", "500", "503", "drop", STALL_AFTER_APPLY)


def _settle() -> None:
    """Take the world just built out of the garbage collector's sight: it lives until the next fleet, holds no
    cycles to collect, and a 100,000-VM world made each full collection (run while answers are built) walk
    millions of objects. Measured: Resource Graph's query family over 10,000 VMs took 40 % less CPU."""
    gc.freeze()


@dataclass
class Fault:
    operation: str  # an operation name or "*"
    kind: str  # one of FAULT_KINDS; all but STALL_AFTER_APPLY answer instead of the handler
    count: int | None = None  # how many times; None with rate for "at random"
    rate: float = 1.0
    retry_after: int = 1
    path_contains: str = ""
    seconds: float = 0.0  # STALL_AFTER_APPLY: how long the answer is held after the handler ran
    drop_after: bool = False  # STALL_AFTER_APPLY: then close the connection instead of answering

    def applies(self, operation: str, path: str) -> bool:
        if self.operation not in ("*", operation) or self.path_contains.lower() not in path.lower():
            return False
        if self.count is not None:
            return self.count > 0
        return random.random() < self.rate


@dataclass
class Knobs:
    latency_ms: dict[tuple[str, str], int] = field(default_factory=dict)  # (operation or "*", path_contains) → ms
    faults: list[Fault] = field(default_factory=list)
    page_size: int = 200
    access_token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 86400
    device_code_lifetime_s: int = 900  # Entra's device codes last 15 minutes
    device_code_interval_s: int = 5  # and ask clients to poll every 5 seconds
    # Resource Graph (sandbox/graph.py): per person, `graph_quota` queries per `graph_quota_window_s` seconds, as
    # Microsoft's throttling guidance's example; writes show in it `graph_lag_seconds` after they are saved.
    graph_quota: int = 15
    graph_quota_window_s: int = 5
    graph_lag_seconds: float = 0.0

    def delay_ms(self, operation: str, path: str) -> int:
        """The latency for this call: a setting for its path beats one for any path, its operation beats "*"."""
        matching = [
            (bool(contains), op != "*", ms)
            for (op, contains), ms in self.latency_ms.items()
            if op in ("*", operation) and contains.lower() in path.lower()
        ]
        return max(matching)[2] if matching else 0


class Sandbox:
    def __init__(self, data_dir: Path, graph_lag_seconds: float = 0.0) -> None:
        self.data_dir = data_dir
        self.graph_lag_seconds = graph_lag_seconds  # what a reset sets the knob back to
        self.state_path = data_dir / "state.json"
        self.lock = threading.RLock()
        self.knobs = Knobs(graph_lag_seconds=graph_lag_seconds)
        self.write_listeners: list[Callable[[], None]] = []  # called under the lock after each saved write
        self.stats: Counter[str] = Counter()
        self.codes: dict[str, dict] = {}
        self.device_codes: dict[str, dict] = {}  # sandbox.device: by device code
        self.generation = 0  # bumped whenever the fleet is replaced, so indexes over it are rebuilt
        self.version = 0  # bumped by every write (each one saves), so pages made before it are not served again
        self._saved = -1  # the version on disk
        self._walked, self._next_end = -1, None  # the version `tick` last walked, and the next open port's end then
        self._dirty = threading.Event()
        self._writing = threading.Lock()
        threading.Thread(target=self._write_behind, name="sandbox-save", daemon=True).start()
        atexit.register(self.flush)
        if self.state_path.exists():
            self.world = json.loads(self.state_path.read_text())
            _settle()
        else:
            self.world = fleet.empty_world()
            self.reset()
        self.clock = Clock(self.world.get("clock_offset_seconds", 0.0))

    def reset(self) -> None:
        with self.lock:
            self.world.clear()
            self.world.update(fleet.empty_world())
            self.clock = Clock(0.0)
            seed(self.world, self.clock.now())
            _settle()
            self.generation += 1
            self.knobs = Knobs(graph_lag_seconds=self.graph_lag_seconds)
            self.codes.clear()
            self.device_codes.clear()
            self.save()

    def generate(self, vm_count: int, subscription_count: int, events: int = 0) -> None:
        """A generated fleet; with `events`, that many past requests over the last 80 days (audit benchmarks)."""
        with self.lock:
            fleet.generate(self.world, vm_count, subscription_count)
            now = self.clock.now()
            generated_history(self.world, events, now - dt.timedelta(days=80), now - dt.timedelta(hours=1))
            _settle()
            self.generation += 1
            self.save()

    def add_history(self, events: int, within: dt.timedelta) -> None:
        """`events` more past requests over the last `within`: new activity for incremental collection."""
        with self.lock:
            now = self.clock.now()
            generated_history(self.world, events, now - within, now)
            self.save()

    def tick(self) -> None:
        """Apply what time has done since the last call: expire ports whose end has passed.

        The walk over every policy's history runs only after a write or once the next open port's end has
        passed: run on every call, it made each answer cost the history's size (100,000 past requests: tens
        of ms per call, under the lock), where Azure's does not."""
        with self.lock:
            now = self.clock.now()
            if self._walked == self.version and (self._next_end is None or now < self._next_end):
                return
            changed, self._next_end = jit.expire(self.world, now)
            if changed:
                self.save()
            self._walked = self.version

    def save(self) -> None:
        """Persist the world soon. Dumping a generated 10,000-VM world takes ~0.3 s under the lock: done on
        every write, it queued parallel writes (a request's initiates) one behind the other."""
        with self.lock:
            self.version += 1
            for listener in self.write_listeners:
                listener()
        self._dirty.set()

    def flush(self) -> None:
        """Persist the world now (at exit, so that a restart finds every write).

        A forked copy of this process writes it: dumping a generated world with 100,000 past requests holds
        the GIL for seconds, and Azure does not stop answering while it saves. The fork, taken under the lock,
        is a consistent snapshot; only the fork itself (copying page tables) pauses the other threads."""
        with self._writing:
            self._dirty.clear()
            with self.lock:
                self.world["clock_offset_seconds"] = self.clock.offset_seconds if hasattr(self, "clock") else 0.0
                version = self.version
                if version == self._saved:
                    return
                if not hasattr(os, "fork"):
                    self._write(json.dumps(self.world))
                    self._saved = version
                    return
                child = os.fork()
                if child == 0:
                    code = 1
                    try:
                        self._write(json.dumps(self.world))
                        code = 0
                    finally:
                        os._exit(code)  # the copy must not run the parent's exit handlers nor return into its threads
            _, status = os.waitpid(child, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                self._saved = version

    def _write(self, text: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.state_path)

    def _write_behind(self) -> None:
        while True:
            self._dirty.wait()
            time.sleep(SAVE_DELAY_SECONDS)
            self.flush()

    def take_fault(self, operation: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.knobs.faults:
                if fault.applies(operation, path):
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None
