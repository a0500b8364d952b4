"""The policy node's remote backend against openpi's own server (not a test: it needs an openpi checkout).

openpi's ``src/openpi/serving/websocket_policy_server.py`` imports only openpi-client and websockets, so
it runs in this venv straight from a checkout. It is wrapped around a small policy: our ConventionPolicy
with random pi0_tiny weights and the pi0_aloha_towel conventions, behind openpi's BasePolicy interface
and taking openpi's ALOHA layout. The node's client (pi0_policy.serve.client with the ``aloha`` server
layout, exactly what ``backend:=openpi server_layout:=aloha`` runs) then: gets chunks in pi0_ros units for
the Trossen robot; sees a malformed observation answered by openpi's error frame (openpi closes the
connection after it) and reconnects; survives a server restart; and gives up on a silent server after
its timeout.

    .venv/bin/python benchmarks/openpi_server_check.py --openpi /tmp/openpi
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

import numpy as np


def start_openpi_server(openpi_src: Path, policy, port: int):
    sys.path.insert(0, str(openpi_src))
    from openpi.serving.websocket_policy_server import WebsocketPolicyServer

    server = WebsocketPolicyServer(policy, host="127.0.0.1", port=port, metadata={"reset_pose": [0, -1.5, 1.5]})
    loop = asyncio.new_event_loop()
    task_box = {}

    def main():
        asyncio.set_event_loop(loop)
        task_box["task"] = loop.create_task(server.run())
        try:
            loop.run_until_complete(task_box["task"])
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - openpi's handler re-raises after an error frame
            pass

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    time.sleep(1.0)

    def stop():
        loop.call_soon_threadsafe(task_box["task"].cancel)
        thread.join(5)

    return stop


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--openpi", required=True, help="openpi checkout")
    p.add_argument("--port", type=int, default=8765)
    args = p.parse_args()
    from openpi_client import base_policy

    from pi0_common.embodiment import load_embodiment
    from pi0_policy.serve.client import RemoteError, RemotePolicyClient, RemoteUnavailableError
    from pi0_policy.serve.layouts import node_actions, node_observation, to_response, to_sample
    from pi0_policy.serve.loading import load_serving_policy

    emb = load_embodiment("trossen_bimanual")
    ours = load_serving_policy("random:pi0_tiny", emb, "pi0_aloha_towel")

    class SmallPolicy(base_policy.BasePolicy):
        def infer(self, obs):
            layout, sample = to_sample(obs, ours)
            (chunk,), _ = ours.infer_data([sample])
            return {"actions": to_response(layout, chunk, sample, ours)}

    src = Path(args.openpi) / "src"
    stop = start_openpi_server(src, SmallPolicy(), args.port)
    client = RemotePolicyClient(f"127.0.0.1:{args.port}", timeout=30)
    grippers = tuple(emb.indices("gripper"))
    images = {s: np.zeros((224, 224, 3), np.uint8) for s in emb.camera_slots}

    def ask():
        reply = client.infer(node_observation("aloha", emb.home, images, "fold the towel", grippers))
        return node_actions("aloha", reply["actions"], emb.home, grippers, emb.valid_dims)

    results = []
    actions = ask()
    results.append(("chunk in pi0_ros units", actions.shape == (50, 14) and bool(np.all(np.isfinite(actions)))))
    print(f"metadata {client.metadata}; chunk {actions.shape}")
    try:
        client.infer({"state": np.zeros(3), "images": {"cam_high": np.zeros((3, 8, 8), np.uint8)}})
        results.append(("malformed -> error frame", False))
    except RemoteError as e:
        print(f"error frame: {e}")
        results.append(("malformed -> error frame", str(e).startswith("server error: ")))
    time.sleep(0.2)
    results.append(("next request reconnects (openpi closed after the error)", ask().shape == (50, 14)
                    and client.connects == 2))
    stop()
    try:
        ask()
        results.append(("server gone -> unavailable", False))
    except RemoteUnavailableError:
        results.append(("server gone -> unavailable", True))
    stop = start_openpi_server(src, SmallPolicy(), args.port)
    results.append(("server restarted -> reconnects", ask().shape == (50, 14) and client.connects >= 3))

    class Silent(base_policy.BasePolicy):
        def infer(self, obs):
            time.sleep(3.0)
            return {"actions": np.zeros((50, 14))}

    stop()
    stop = start_openpi_server(src, Silent(), args.port)
    client.timeout = 0.5
    t0 = time.perf_counter()
    try:
        ask()
        results.append(("slow server -> timeout", False))
    except RemoteUnavailableError as e:
        print(f"slow server: {e} after {time.perf_counter() - t0:.2f} s")
        results.append(("slow server -> timeout", time.perf_counter() - t0 < 3.0))
    stop()
    for name, ok in results:
        print(f"  {name:50s} {'ok' if ok else 'FAILED'}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
