"""pi0_policy.serve against the real openpi-client 0.1.2 (WebsocketClientPolicy), on localhost, with
random pi0_tiny weights behind openpi's ALOHA and DROID conventions."""

import os
import threading
import time
import urllib.request

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_policy.convention_policy import Sample
from pi0_policy.serve import wire
from pi0_policy.serve.batcher import Batcher, padded_size
from pi0_policy.serve.loading import load_serving_policy
from pi0_policy.serve.server import PolicyServer, ServerThread, metadata_for

if os.environ.get("CI"):
    from openpi_client import msgpack_numpy, websocket_client_policy  # CI must have the real package
else:
    websocket_client_policy = pytest.importorskip(
        "openpi_client.websocket_client_policy",
        reason="openpi-client 0.1.2 not installed (pip install --no-deps -r tools/requirements-nodeps.txt)")
    from openpi_client import msgpack_numpy


def start(checkpoint, embodiment, conventions, window_s=0.005, **batcher_args):
    emb = load_embodiment(embodiment)
    policy = load_serving_policy(checkpoint, emb, conventions)
    batcher = Batcher(policy, (1, 2, 4, 8), window_s, seed=0, **batcher_args)
    server = PolicyServer(policy, metadata_for(policy, checkpoint, emb.name), batcher, host="127.0.0.1", port=0)
    thread = ServerThread(server)
    return server, thread, thread.start()


@pytest.fixture(scope="module")
def aloha():
    server, thread, port = start("random:pi0_tiny", "trossen_bimanual", "pi0_aloha_towel", window_s=0.05)
    yield server, port
    thread.stop()


def aloha_example(rng):
    """openpi's ALOHA example layout (aloha_policy.make_aloha_example)."""
    return {"state": np.ones((14,)), "prompt": "fold the towel",
            "images": {name: rng.integers(256, size=(3, 224, 224), dtype=np.uint8)
                       for name in ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist")}}


def test_wire_format_matches_openpi_client():
    obj = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float64(2.5), "c": "text", "d": [1, 2]}
    for packed in (wire.pack(obj), msgpack_numpy.packb(obj)):
        for unpacked in (wire.unpack(packed), msgpack_numpy.unpackb(packed)):
            np.testing.assert_array_equal(unpacked["a"], obj["a"])
            assert unpacked["b"] == 2.5 and unpacked["c"] == "text" and unpacked["d"] == [1, 2]
    assert wire.pack(obj) == msgpack_numpy.packb(obj)
    with pytest.raises(ValueError, match="cannot send dtype object"):
        wire.pack(np.array([None]))


def test_metadata_and_openpi_aloha_layout(aloha):
    _, port = aloha
    client = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
    meta = client.get_server_metadata()
    assert meta["conventions"] == "pi0_aloha_towel" and meta["action_horizon"] == 50
    assert meta["layouts"] == ["aloha", "embodiment"]
    reply = client.infer(aloha_example(np.random.default_rng(0)))
    assert reply["actions"].shape == (50, 14) and reply["actions"].dtype == np.float32
    assert np.all(np.isfinite(reply["actions"]))
    assert reply["server_timing"]["infer_ms"] > 0 and reply["policy_timing"]["infer_ms"] > 0
    reply = client.infer(aloha_example(np.random.default_rng(1)))
    assert "prev_total_ms" in reply["server_timing"]


def test_embodiment_layout_gets_robot_units(aloha):
    _, port = aloha
    emb = load_embodiment("trossen_bimanual")
    client = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
    obs = {"state": emb.home.astype(np.float32), "prompt": "fold the towel",
           "images": {s: np.zeros((48, 64, 3), np.uint8) for s in emb.camera_slots}}
    actions = client.infer(obs)["actions"]
    assert actions.shape == (50, 14)


def test_a_malformed_observation_gets_an_error_and_the_server_goes_on(aloha):
    server, port = aloha
    client = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
    bad = aloha_example(np.random.default_rng(0))
    bad["state"] = np.ones(13)
    with pytest.raises(RuntimeError, match=r"malformed observation: state must have shape \(14,\)"):
        client.infer(bad)
    with pytest.raises(RuntimeError, match="expected \"state\" and \"images\""):
        client.infer({"joints": np.zeros(3)})
    with pytest.raises(RuntimeError, match="a droid observation, but this server's checkpoint"):
        client.infer({"observation/joint_position": np.zeros(7)})
    assert client.infer(aloha_example(np.random.default_rng(2)))["actions"].shape == (50, 14)
    other = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
    assert other.infer(aloha_example(np.random.default_rng(3)))["actions"].shape == (50, 14)
    assert server.errors >= 3


def test_served_actions_are_the_policys_bit_for_bit():
    """Whatever the server does to save time (views instead of copies, ...), a reply is what the policy
    computes in process for the same observation and noise, bit for bit: at 224² (resized to the
    model's size) and at the model's own size (no resize), uint8 and float images."""
    server, thread, port = start("random:pi0_tiny", "trossen_bimanual", "pi0_aloha_towel")
    try:
        policy, client = server.policy, websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
        rng, noise_rng = np.random.default_rng(5), np.random.default_rng(0)     # the batcher's seed
        size = policy.config.image_size
        for shape, as_float in (((3, 224, 224), False), ((3, size, size), False), ((3, size, size), True)):
            images = {c: rng.integers(256, size=shape, dtype=np.uint8)
                      for c in ("cam_high", "cam_left_wrist", "cam_right_wrist")}
            if as_float:
                images = {c: (im / 255).astype(np.float32) for c, im in images.items()}
            obs = {"state": rng.normal(size=14), "prompt": "fold the towel", "images": images}
            reply = client.infer(obs)
            noise = noise_rng.standard_normal((1, policy.horizon, policy.action_dim)).astype(np.float32)
            hwc = {s: np.ascontiguousarray(np.moveaxis(images[policy.conv.cameras[s]], 0, -1))
                   for s in policy.camera_slots}
            if as_float:
                hwc = {s: (255 * im).astype(np.uint8) for s, im in hwc.items()}     # openpi's reading of floats
            (chunk,), _ = policy.infer_data([Sample(obs["state"], hwc, obs["prompt"])], noise)
            assert reply["actions"].tobytes() == chunk.astype(np.float32).tobytes(), (shape, as_float)
    finally:
        thread.stop()


def test_healthz(aloha):
    _, port = aloha
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200 and response.read() == b"OK\n"


def test_concurrent_clients_are_batched_and_padded(aloha):
    server, port = aloha
    clients = [websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port) for _ in range(3)]
    barrier, results = threading.Barrier(3), [None] * 3

    def ask(i):
        barrier.wait()
        results[i] = clients[i].infer(aloha_example(np.random.default_rng(10 + i)))

    before = len(server.batcher.batches)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r["actions"].shape == (50, 14) for r in results)
    batches = server.batcher.batches[before:]
    assert sum(n for n, _ in batches) == 3
    assert any(n > 1 for n, _ in batches), batches           # a 50 ms window gathers them
    assert all(size in (1, 2, 4, 8) and size >= n for n, size in batches)
    assert max(r["server_timing"]["batch_size"] for r in results) > 1


def test_a_connected_but_idle_client_makes_nobody_wait_for_the_window():
    active_s = 3.0
    server, thread, port = start("random:pi0_tiny", "trossen_bimanual", "pi0_aloha_towel", window_s=0.05,
                                 active_s=active_s)
    try:
        idle, busy = (websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port) for _ in range(2))
        rng = np.random.default_rng(3)
        idle.infer(aloha_example(rng))
        waited = server.batcher.windows_waited
        busy.infer(aloha_example(rng))      # the other client asked a moment ago: it may ask again, so wait
        assert server.batcher.windows_waited == waited + 1
        time.sleep(active_s + 0.5)          # the other client stays connected and silent (a paused robot)
        waited = server.batcher.windows_waited
        for _ in range(2):
            busy.infer(aloha_example(rng))
        assert server.batcher.windows_waited == waited
        assert (server.batcher.clients, server.batcher.active_clients()) == (2, 1)
    finally:
        thread.stop()


def test_padded_sizes():
    assert [padded_size(n, (1, 2, 4, 8)) for n in (1, 2, 3, 5, 8)] == [1, 2, 4, 8, 8]
    with pytest.raises(ValueError, match="exceed the largest batch size 8"):
        padded_size(9, (1, 2, 4, 8))


def test_droid_layout():
    _, thread, port = start("random:pi0_tiny", "franka", "pi0_droid")
    try:
        client = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", port)
        rng = np.random.default_rng(0)
        obs = {"observation/exterior_image_1_left": rng.integers(256, size=(224, 224, 3), dtype=np.uint8),
               "observation/wrist_image_left": rng.integers(256, size=(224, 224, 3), dtype=np.uint8),
               "observation/joint_position": rng.random(7), "observation/gripper_position": rng.random(1),
               "prompt": "put the marker in the cup"}
        reply = client.infer(obs)
        assert reply["actions"].shape == (10, 8)
        with pytest.raises(RuntimeError, match="DROID observation lacks"):
            client.infer({k: v for k, v in obs.items() if k != "observation/wrist_image_left"})
    finally:
        thread.stop()
