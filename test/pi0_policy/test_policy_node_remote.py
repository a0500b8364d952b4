"""The policy node's openpi backend against ``python -m pi0_policy.serve`` in its own process: chunks
stamped with the observation, nothing on a dead or silent server, reconnection after a restart."""

import asyncio
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
from websockets.asyncio.server import serve

from pi0_common.messages import to_sec
from pi0_policy.policy_node import PolicyNode
from pi0_policy.serve import wire

from .test_policy_node import Robot


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port):
    proc = subprocess.Popen([sys.executable, "-m", "pi0_policy.serve", "--checkpoint", "random:pi0_tiny",
                             "--embodiment", "ur5e", "--host", "127.0.0.1", "--port", str(port), "--no-warmup",
                             "--num-threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not come up")


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def node(ros, port, timeout=5.0):
    return ros.make(PolicyNode, {"embodiment": "ur5e", "backend": "openpi", "server": f"127.0.0.1:{port}",
                                 "server_timeout": timeout, "instruction": "reach the red block", "warmup": False})


@pytest.mark.slow
def test_remote_chunks_survive_a_server_restart(ros):
    port = free_port()
    proc = start_server(port)
    try:
        policy = node(ros, port)
        robot = Robot(ros)
        stamp, chunk = robot.ask(timeout=30)
        assert chunk is not None, policy.last_error
        assert chunk.horizon == 50 and chunk.valid_dims == 7 and chunk.dt == pytest.approx(0.05)
        assert np.all(np.isfinite(np.asarray(chunk.actions)))
        # stamped with the observation it answers (the joint state sent), not the reply's arrival
        assert to_sec(chunk.header.stamp) <= stamp + 1e-6 and stamp - to_sec(chunk.header.stamp) < 1.0

        stop_server(proc)
        before = len(robot.chunks)
        for _ in range(5):
            robot.publish()
            robot.request()
            ros.wait_for(lambda: False, 0.2)
        assert len(robot.chunks) == before
        assert ros.wait_for(lambda: "remote policy" in policy.last_error, 10), policy.last_error

        proc = start_server(port)
        _, chunk = robot.ask(timeout=30)
        assert chunk is not None, policy.last_error
        assert policy.remote.connects >= 2
    finally:
        stop_server(proc)


class SilentServer:
    """Sends openpi's metadata frame, then never answers."""

    def __init__(self):
        self.port, self.loop = None, asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),), daemon=True)
        self.stop_event = None

    async def main(self):
        self.stop_event = asyncio.Event()

        async def handler(ws):
            await ws.send(wire.pack({}))
            async for _ in ws:
                pass

        async with serve(handler, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.ready.set()
            await self.stop_event.wait()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)


def test_a_silent_server_gets_no_chunk_published(ros):
    with SilentServer() as silent:
        policy = node(ros, silent.port, timeout=0.3)
        robot = Robot(ros)
        for _ in range(10):
            robot.publish()
            robot.request()
            ros.wait_for(lambda: False, 0.2)
        assert not robot.chunks
        assert ros.wait_for(lambda: "no reply" in policy.last_error, 10), policy.last_error


def test_backend_openpi_needs_a_server(ros):
    with pytest.raises(ValueError, match="parameter server: backend openpi needs server:=host:port"):
        ros.make(PolicyNode, {"embodiment": "ur5e", "backend": "openpi", "warmup": False})
