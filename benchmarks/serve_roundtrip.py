"""openpi-protocol serving: serialisation cost, localhost round-trip overhead beyond inference, and
throughput with 1, 2, 4 and 8 concurrent clients.

    python benchmarks/serve_roundtrip.py                          # CPU, random pi0_tiny, 3 cameras at 224²
    python benchmarks/serve_roundtrip.py --device cuda --checkpoint random:pi0_small --seconds 20
    python benchmarks/serve_roundtrip.py --stub-network --round-trips 500     # the overhead alone

The server runs in this process on its own event loop and thread (pi0_policy.serve.server.ServerThread);
clients are openpi-client's WebsocketClientPolicy when installed (else pi0_policy's own client), one
thread each. Overhead = client round trip - the server's network time (infer_ms), so it holds the wire
(serialise, send, receive, parse), image preparation (resize to the model size) and queueing. On a CPU the
model's threads share the cores with client and server, which can inflate that overhead; ``--stub-network``
replaces the network call by zeros (the rest of the server is unchanged) to measure the overhead alone,
and then skips the throughput runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import threading
import time

import numpy as np
import torch

from pi0_common.embodiment import load_embodiment
from pi0_policy.convention_policy import ConventionPolicy
from pi0_policy.loading import random_convention_stats
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.policy import Pi0Policy
from pi0_policy.serve import wire
from pi0_policy.serve.batcher import Batcher
from pi0_policy.serve.loading import load_serving_policy
from pi0_policy.serve.server import PolicyServer, ServerThread, metadata_for


def aloha_obs(rng) -> dict:
    return {"state": rng.normal(size=14).astype(np.float32), "prompt": "fold the towel",
            "images": {c: rng.integers(256, size=(3, 224, 224), dtype=np.uint8)
                       for c in ("cam_high", "cam_left_wrist", "cam_right_wrist")}}


def make_client(port: int):
    try:
        from openpi_client.websocket_client_policy import WebsocketClientPolicy
        return WebsocketClientPolicy("127.0.0.1", port), "openpi-client"
    except ImportError:
        from pi0_policy.serve.client import RemotePolicyClient
        client = RemotePolicyClient(f"127.0.0.1:{port}", timeout=60)
        return client, "pi0_policy client"


def hang_up(client) -> None:
    """Close a client's connection once its run is over (the batcher would count one left idle as a
    possible asker for its first ``active_s`` seconds)."""
    if hasattr(client, "close"):
        client.close()
    else:
        client._ws.close()      # openpi-client 0.1.2 has no close()


def serialisation(rng, repeats: int) -> None:
    obs = aloha_obs(rng)
    t0 = time.perf_counter()
    for _ in range(repeats):
        data = wire.pack(obs)
    t1 = time.perf_counter()
    for _ in range(repeats):
        wire.unpack(data)
    t2 = time.perf_counter()
    print(f"serialisation, 3 cameras 224² + state: {len(data) / 1e3:.0f} kB, pack {1e3 * (t1 - t0) / repeats:.3f} ms, "
          f"unpack {1e3 * (t2 - t1) / repeats:.3f} ms")


def stub_network(policy: ConventionPolicy) -> None:
    """The network call answers zeros at once: every millisecond of a round trip is then overhead."""
    def run(batch, noise=None, guidance=None):
        zeros = np.zeros((policy.horizon, policy.action_dim), np.float32)
        return [policy.actions_from_model(zeros, p.adapted_state) for p in batch]

    policy.run = run


def round_trips(port: int, rng, count: int) -> None:
    client, kind = make_client(port)
    obs = aloha_obs(rng)
    client.infer(obs)                                        # warm
    total, infer, handle = [], [], []
    for _ in range(count):
        t0 = time.perf_counter()
        reply = client.infer(obs)
        total.append(1e3 * (time.perf_counter() - t0))
        infer.append(reply["server_timing"]["infer_ms"])
        handle.append(reply["server_timing"]["handle_ms"])
    hang_up(client)
    over = [t - i for t, i in zip(total, infer, strict=True)]
    print(f"one client ({kind}), {count} round trips: total median {statistics.median(total):.2f} ms, "
          f"inference {statistics.median(infer):.2f} ms, overhead median {statistics.median(over):.2f} ms "
          f"(p90 {np.percentile(over, 90):.2f}); server-side prepare+queue "
          f"{statistics.median([h - i for h, i in zip(handle, infer, strict=True)]):.2f} ms")


def throughput(port: int, server: PolicyServer, clients: int, seconds: float) -> None:
    rng = np.random.default_rng(clients)
    conns = [make_client(port)[0] for _ in range(clients)]
    obs = [aloha_obs(rng) for _ in range(clients)]
    for c, o in zip(conns, obs, strict=True):
        c.infer(o)
    counts, latencies = [0] * clients, []
    stop = time.perf_counter() + seconds
    before = len(server.batcher.batches)

    def loop(i):
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            conns[i].infer(obs[i])
            latencies.append(1e3 * (time.perf_counter() - t0))
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for c in conns:
        hang_up(c)
    batches = server.batcher.batches[before:]
    mean_batch = np.mean([n for n, _ in batches]) if batches else 0.0
    print(f"{clients} client(s): {sum(counts) / elapsed:7.1f} chunks/s, latency median "
          f"{statistics.median(latencies):7.1f} ms, mean batch {mean_batch:.2f}, padded sizes "
          f"{sorted({s for _, s in batches})}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="random:pi0_tiny")
    p.add_argument("--conventions", default="pi0_aloha")
    p.add_argument("--embodiment", default="trossen_bimanual")
    p.add_argument("--device", default="cpu")
    p.add_argument("--window-ms", type=float, default=5.0)
    p.add_argument("--round-trips", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0, help="per throughput measurement")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = default")
    p.add_argument("--stub-network", action="store_true",
                   help="zeros instead of the network call: the overhead without the model (no throughput runs)")
    p.add_argument("--image-size", type=int, default=224,
                   help="the random model's image size (224 = π₀'s: camera images need no resize)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    serialisation(rng, 200)
    emb = load_embodiment(args.embodiment)
    policy = load_serving_policy(args.checkpoint, emb, args.conventions, device=args.device)
    if args.checkpoint.startswith("random:") and args.image_size != policy.config.image_size:
        config = dataclasses.replace(policy.config, image_size=args.image_size)
        plain = Pi0Policy(Pi0Model(config).to(args.device), policy.policy.tokenizer, None)
        policy = ConventionPolicy(plain, policy.conv, random_convention_stats(policy.conv, emb))
    policy.warmup()
    if args.stub_network:
        stub_network(policy)
    server = PolicyServer(policy, metadata_for(policy, args.checkpoint, emb.name),
                          Batcher(policy, (1, 2, 4, 8), args.window_ms / 1e3, seed=0), host="127.0.0.1", port=0)
    thread = ServerThread(server)
    port = thread.start()
    stub = "; network STUBBED (zeros, no model)" if args.stub_network else ""
    print(f"{policy.describe()} on {args.device}, batch window {args.window_ms:g} ms{stub}")
    try:
        round_trips(port, rng, args.round_trips)
        for clients in () if args.stub_network else (1, 2, 4, 8):
            throughput(port, server, clients, args.seconds)
    finally:
        thread.stop()


if __name__ == "__main__":
    main()
