"""Batches requests from several clients into one network call.

The first waiting request opens a window (``window_s``); requests arriving in it join the batch, up to
the largest batch size. The window is only waited for while another client could still ask: one that
is connected and asked (or connected) within the last ``active_s`` seconds. A lone client never pays
the window, nor does one whose peers are connected but idle (a paused robot). The batch is padded to
the next of a few fixed sizes by repeating its last sample, so that a compiled model sees only those
shapes. One network call runs at a time, on a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..convention_policy import ConventionPolicy, Prepared


@dataclass
class _Request:
    prepared: Prepared
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


def padded_size(n: int, sizes: tuple[int, ...]) -> int:
    """The smallest allowed batch size that holds n samples."""
    for size in sizes:
        if size >= n:
            return size
    raise ValueError(f"{n} samples exceed the largest batch size {sizes[-1]}")


class Batcher:
    def __init__(self, policy: ConventionPolicy, batch_sizes: tuple[int, ...] = (1, 2, 4, 8),
                 window_s: float = 0.005, seed: int | None = None, active_s: float = 2.0):
        sizes = tuple(sorted(set(int(s) for s in batch_sizes)))
        if not sizes or sizes[0] < 1:
            raise ValueError(f"batch sizes must be positive integers, got {batch_sizes}")
        if window_s < 0:
            raise ValueError(f"the batch window must be >= 0 s, got {window_s}")
        self.policy, self.sizes, self.window_s, self.active_s = policy, sizes, window_s, active_s
        self.rng = np.random.default_rng(seed)
        self._last_ask: dict[object, float] = {}     # connected client -> when it last asked (perf_counter)
        self.batches: list[tuple[int, int]] = []    # (requests, padded size) of recent batches
        self.windows_waited = 0         # batches that waited for another client's request
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pi0_serve_model")

    def connected(self, client: object) -> None:
        """A client connected (the server calls it; ``client``: any hashable key of the connection). It
        counts as active from now: a client that just connected is about to ask."""
        self._last_ask[client] = time.perf_counter()

    def disconnected(self, client: object) -> None:
        self._last_ask.pop(client, None)

    @property
    def clients(self) -> int:
        """Connected clients."""
        return len(self._last_ask)

    def active_clients(self) -> int:
        """Connected clients that asked within the last ``active_s`` seconds."""
        since = time.perf_counter() - self.active_s
        return sum(t >= since for t in self._last_ask.values())

    async def submit(self, prepared: Prepared, client: object = None) -> tuple[np.ndarray, dict[str, float]]:
        """Queue one sample of ``client``; returns its data-space chunk and timing (queue_ms, infer_ms,
        batch_size)."""
        if self._queue is None:
            raise RuntimeError("Batcher.run() is not running")
        request = _Request(prepared, asyncio.get_running_loop().create_future())
        if client in self._last_ask:
            self._last_ask[client] = request.queued
        await self._queue.put(request)
        return await request.future

    async def run(self) -> None:
        """Serve the queue until cancelled."""
        self._queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(loop)
            size = padded_size(len(batch), self.sizes)
            samples = [r.prepared for r in batch] + [batch[-1].prepared] * (size - len(batch))
            noise = self.rng.standard_normal((size, self.policy.horizon, self.policy.action_dim)).astype(np.float32)
            started = time.perf_counter()
            try:
                chunks = await loop.run_in_executor(self._worker, self.policy.run, samples, noise)
            except Exception as e:  # noqa: BLE001 - every waiting client gets the error, the server goes on
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(e)
                continue
            infer_ms = 1e3 * (time.perf_counter() - started)
            self.batches = (self.batches + [(len(batch), size)])[-1000:]
            for r, chunk in zip(batch, chunks, strict=False):
                if not r.future.done():
                    r.future.set_result((chunk, {"queue_ms": 1e3 * (started - r.queued), "infer_ms": infer_ms,
                                                 "batch_size": len(batch), "padded_batch_size": size}))

    async def _collect(self, loop) -> list[_Request]:
        batch = [await self._queue.get()]
        deadline = loop.time() + self.window_s
        limit = self.sizes[-1]
        while len(batch) < limit:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0 or len(batch) >= self.active_clients():
                break               # no other active client could be asking, or the window is over
            self.windows_waited += len(batch) == 1
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
