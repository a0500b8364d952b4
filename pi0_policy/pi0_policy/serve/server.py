"""The websocket server: openpi's protocol around a ConventionPolicy.

Per connection: the server sends its metadata (one msgpack frame) first; then each binary frame from
the client is an observation and gets one binary frame back, ``{"actions": float32 [H, D],
"server_timing": {...}, "policy_timing": {...}}``. A request that cannot be served gets a text frame
(openpi's client raises it as an error) and the connection stays open for the next one; other clients
are not affected. ``GET /healthz`` answers 200 OK.
"""

from __future__ import annotations

import asyncio
import http
import logging
import time

import msgpack
import websockets
from websockets.asyncio.server import Request, Response, ServerConnection, serve

from ..convention_policy import ConventionPolicy
from . import wire
from .batcher import Batcher
from .layouts import MalformedObservationError, to_response, to_sample

log = logging.getLogger("pi0_policy.serve")
ERROR_PREFIX = "pi0_policy.serve: "


def _health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None


class PolicyServer:
    def __init__(self, policy: ConventionPolicy, metadata: dict, batcher: Batcher, host: str = "0.0.0.0",
                 port: int = 8000):
        self.policy, self.metadata, self.batcher = policy, metadata, batcher
        self.host, self.port = host, port
        self.bound_port: int | None = None
        self.served = 0
        self.errors = 0

    async def run(self, started: asyncio.Event | None = None) -> None:
        """Serve until cancelled; ``started`` is set once the port is bound (``bound_port``)."""
        batch_task = asyncio.create_task(self.batcher.run())
        try:
            async with serve(self._handle, self.host, self.port, compression=None, max_size=None,
                             process_request=_health) as server:
                self.bound_port = next(iter(server.sockets)).getsockname()[1]
                if started is not None:
                    started.set()
                await server.serve_forever()
        finally:
            batch_task.cancel()
            self.batcher.close()

    async def _handle(self, ws: ServerConnection) -> None:
        self.batcher.connected(ws)
        loop = asyncio.get_running_loop()
        try:
            await ws.send(wire.pack(self.metadata))
            prev_total_ms = None
            async for message in ws:
                start = time.perf_counter()
                try:
                    if isinstance(message, str):
                        raise MalformedObservationError("observations are binary msgpack frames, got text")
                    obs = wire.unpack(message)
                    layout, sample = to_sample(obs, self.policy)
                    prepared = await loop.run_in_executor(None, self.policy.prepare, sample)
                except (ValueError, TypeError, KeyError, msgpack.UnpackException) as e:
                    self.errors += 1
                    log.warning("refused an observation from %s: %s", ws.remote_address, e)
                    await ws.send(f"{ERROR_PREFIX}malformed observation: {e}")
                    continue
                try:
                    chunk, timing = await self.batcher.submit(prepared, ws)
                except Exception as e:  # noqa: BLE001 - the client hears of it, the server goes on
                    self.errors += 1
                    log.exception("inference failed")
                    await ws.send(f"{ERROR_PREFIX}inference failed: {type(e).__name__}: {e}")
                    continue
                actions = to_response(layout, chunk, sample, self.policy)
                server_timing = {"infer_ms": timing["infer_ms"], "queue_ms": timing["queue_ms"],
                                 "batch_size": timing["batch_size"], "padded_batch_size": timing["padded_batch_size"],
                                 "handle_ms": 1e3 * (time.perf_counter() - start)}
                if prev_total_ms is not None:
                    server_timing["prev_total_ms"] = prev_total_ms
                await ws.send(wire.pack({"actions": actions, "server_timing": server_timing,
                                         "policy_timing": {"infer_ms": timing["infer_ms"]}}))
                self.served += 1
                prev_total_ms = 1e3 * (time.perf_counter() - start)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.batcher.disconnected(ws)


def metadata_for(policy: ConventionPolicy, checkpoint: str, embodiment: str) -> dict:
    """The first frame of every connection: what this server serves."""
    c = policy.conv
    return {"server": "pi0_ros", "checkpoint": checkpoint, "embodiment": embodiment, "conventions": c.name,
            "layouts": sorted({c.layout, "embodiment"}), "action_horizon": c.action_horizon,
            "action_dim": c.action_dim, "actions": c.actions, "control_rate_hz": c.control_rate_hz,
            "executed_steps": c.executed_steps, "cameras": {s: c.cameras[s] for s in policy.camera_slots},
            "robot_cameras": dict(policy.robot_cameras)}


class ServerThread:
    """A PolicyServer on its own event loop in a background thread (tests, benchmarks, embedding)."""

    def __init__(self, server: PolicyServer):
        import threading

        self.server = server
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._main, name="pi0_serve", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        started = asyncio.Event()

        async def main():
            waiter = asyncio.create_task(started.wait())
            self._task = asyncio.create_task(self.server.run(started))
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            self._started.set()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

        self._loop.run_until_complete(main())

    def start(self, timeout: float = 30.0) -> int:
        """Start serving; returns the bound port."""
        self._thread.start()
        if not self._started.wait(timeout) or self.server.bound_port is None:
            raise RuntimeError(f"the server did not start on port {self.server.port}")
        return self.server.bound_port

    def stop(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=10)
