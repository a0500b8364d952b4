"""torchrun with two CPU processes (gloo): DDP keeps both ranks' weights identical, and FSDP computes the same
training as DDP (sharding changes where the numbers live, not what they are)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from pi0_policy.policy import Pi0Policy
from pi0_policy.train import checkpoint
from pi0_policy.train.trainer import REPLICA_FILE


def torchrun(out, data: list, config, mode: str, steps: int = 2) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "pi0_policy.train", "--config", str(config), "--out", str(out), "--steps", str(steps),
            "--batch-size", "2", "--save-every", str(steps), "--log-every", "1", "--workers", "0",
            "--distributed", mode, "--check-replicas"]  # fmt: skip
    for d in data:
        args += ["--data", str(d)]
    env = dict(os.environ, OMP_NUM_THREADS="1")  # two processes on two cores
    return subprocess.run(args, capture_output=True, text=True, timeout=240, env=env)


@pytest.fixture(scope="module")
def runs(ur5e_data, franka_data, micro_json, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("dist")
    out = {}
    for mode in ("ddp", "fsdp"):
        proc = torchrun(root / mode, [ur5e_data, franka_data], micro_json, mode)
        assert proc.returncode == 0, f"{mode} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        out[mode] = root / mode
    return out


def test_ddp_ranks_end_with_identical_weights(runs):
    check = json.loads((runs["ddp"] / REPLICA_FILE).read_text())
    assert check["world_size"] == 2 and len(check["digests"]) == 2 and check["identical"], check
    folder = checkpoint.latest(runs["ddp"])
    assert checkpoint.load_train_state(folder)["world_size"] == 2
    assert Pi0Policy.from_checkpoint(folder, asset_id="ur5e").horizon == 10


def test_fsdp_trains_the_same_weights_as_ddp(runs):
    ddp = checkpoint.load_train_state(checkpoint.latest(runs["ddp"]))
    fsdp = checkpoint.load_train_state(checkpoint.latest(runs["fsdp"]))
    assert ddp["step"] == fsdp["step"] == 2
    assert ddp["model"].keys() == fsdp["model"].keys()
    for name, value in ddp["model"].items():
        torch.testing.assert_close(fsdp["model"][name], value, rtol=1e-4, atol=1e-6, msg=name)
    # The optimizer state was gathered from the shards into full tensors, as for DDP.
    assert ddp["optimizer"]["state"].keys() == fsdp["optimizer"]["state"].keys()
    assert json.loads((runs["fsdp"] / REPLICA_FILE).read_text())["sharded"]
