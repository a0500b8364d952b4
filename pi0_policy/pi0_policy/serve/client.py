"""A synchronous openpi-protocol client for the policy node's ``backend:=openpi``.

It speaks to ``pi0_policy.serve`` and to openpi's own ``WebsocketPolicyServer`` alike: read the
metadata frame on connect, then one binary request -> one reply. Unlike openpi's client it never waits
forever: connecting and each reply have a timeout. After a timeout the connection is dropped (a late
reply would otherwise be read as the answer to the next request, an old chunk), and the next call
connects again; so does the call after the server went away and came back.
"""

from __future__ import annotations

import numpy as np
import websockets
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect

from . import wire


class RemoteError(RuntimeError):
    """The server answered with an error frame, or with something that is not a chunk."""


class RemoteUnavailableError(RuntimeError):
    """No connection (refused, closed, or no reply in time); the next call tries again."""


def parse_server(server: str) -> str:
    """'host:port' (or a ws:// URI) -> the URI."""
    server = server.strip()
    if server.startswith(("ws://", "wss://")):
        return server
    host, sep, port = server.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"server must be host:port, got {server!r}")
    return f"ws://{host}:{port}"


class RemotePolicyClient:
    def __init__(self, server: str, timeout: float = 1.0, connect_timeout: float = 2.0):
        self.uri = parse_server(server)
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.metadata: dict | None = None
        self.connects = 0
        self._ws: ClientConnection | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def connect(self) -> dict:
        """Open a connection and read the metadata frame."""
        self.close()
        try:
            # a short close timeout: dropping a connection whose server is stuck must not block the caller
            ws = connect(self.uri, compression=None, max_size=None, open_timeout=self.connect_timeout,
                         close_timeout=0.2, proxy=None)
        except (OSError, TimeoutError, websockets.WebSocketException) as e:
            raise RemoteUnavailableError(f"cannot connect to {self.uri}: {e}") from None
        try:
            metadata = wire.unpack(ws.recv(timeout=self.connect_timeout))
        except (TimeoutError, websockets.ConnectionClosed, ValueError) as e:
            ws.close()
            raise RemoteUnavailableError(f"{self.uri} sent no metadata frame: {e}") from None
        self._ws, self.metadata = ws, metadata if isinstance(metadata, dict) else {}
        self.connects += 1
        return self.metadata

    def infer(self, obs: dict) -> dict:
        """Send one observation, return the reply map (with "actions")."""
        if self._ws is not None and self._ws.state is not State.OPEN:
            self.close()                    # closed by the server (openpi's closes after an error frame)
        if self._ws is None:
            self.connect()
        try:
            self._ws.send(wire.pack(obs))
            reply = self._ws.recv(timeout=self.timeout)
        except TimeoutError:
            self.close()
            raise RemoteUnavailableError(f"no reply from {self.uri} within {self.timeout:g} s") from None
        except (websockets.ConnectionClosed, OSError) as e:
            self.close()
            raise RemoteUnavailableError(f"connection to {self.uri} lost: {e}") from None
        if isinstance(reply, str):      # an error frame: openpi's holds a traceback, its last line says what
            lines = [line for line in reply.strip().splitlines() if line.strip()]
            raise RemoteError(f"server error: {lines[-1] if lines else '(empty)'}")
        result = wire.unpack(reply)
        if not isinstance(result, dict) or "actions" not in result:
            raise RemoteError(f"reply has no actions: {type(result).__name__}")
        actions = np.asarray(result["actions"], dtype=np.float64)
        if actions.ndim != 2 or not np.all(np.isfinite(actions)):
            raise RemoteError(f"actions must be a finite [H, D] array, got shape {actions.shape}")
        result["actions"] = actions
        return result

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                pass
        self._ws = None


def remote_client(server: str, timeout: float) -> RemotePolicyClient:
    """The remote backend's client for ``server`` (host:port), not yet connected."""
    if not server:
        raise ValueError('parameter server: backend openpi needs server:=host:port')
    try:
        return RemotePolicyClient(server, timeout=timeout)
    except ValueError as e:
        raise ValueError(f'parameter server: {e}') from None


def make_remote(server: str, timeout: float, logger) -> RemotePolicyClient:
    """The remote backend's client; the first connection is tried now, and again at each inference."""
    client = remote_client(server, timeout)
    try:
        meta = client.connect()
        logger.info(f'remote policy server {client.uri}: {meta}')
    except RemoteUnavailableError as e:
        logger.warning(f'{e}; trying again at each inference')
    return client
