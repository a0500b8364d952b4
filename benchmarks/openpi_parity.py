"""Policy-level parity with openpi's own transform code: the same raw observation and network output
through openpi's transforms and through ours (pi0_policy.convention_policy), for the conventions of
pi0_aloha_towel (delta, adapt_to_pi), pi0_aloha_sim (absolute, adapt_to_pi) and pi0_droid (velocities).

Compared: the model inputs (the three image slots after resizing to 224², which must be identical, the
image masks, the normalised and padded state) and the actions in the robot's units for a given network
output. openpi runs in a side venv (it needs numpy < 2, jax and flax; CPU wheels from PyPI serve) on a
local checkout; nothing of openpi is committed here:

    python3.11 -m venv /tmp/openpi-venv
    /tmp/openpi-venv/bin/pip install jax flax numpydantic pydantic einops openpi-client
    # a local checkout of Physical-Intelligence/openpi at /tmp/openpi (any path; --openpi names it)
    .venv/bin/python benchmarks/openpi_parity.py --openpi /tmp/openpi --python /tmp/openpi-venv/bin/python

Exit status 1 if a difference exceeds --tol (1e-5) or an image differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pi0_policy.convention_policy import ConventionPolicy
from pi0_policy.convention_presets import preset
from pi0_policy.image_transforms import to_model_pixels
from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.policy import Pi0Policy
from pi0_policy.serve.layouts import to_sample

SIDE = Path(__file__).with_name("openpi_parity_side.py")
MODEL_DIM = 32
SLOTS = {"base": "base_0_rgb", "left_wrist": "left_wrist_0_rgb", "right_wrist": "right_wrist_0_rgb"}


def make_case(name: str, rng: np.random.Generator, quantiles: bool) -> tuple[dict, dict]:
    conv = preset(name)
    d = conv.state_dim
    mean, std = rng.normal(0, 0.5, d), rng.uniform(0.1, 1.0, d)
    stats = {"mean": mean, "std": std, "q01": mean - 2 * std, "q99": mean + 2 * std}
    act = {"mean": rng.normal(0, 0.2, d), "std": rng.uniform(0.05, 0.5, d)}
    act.update(q01=act["mean"] - 2 * act["std"], q99=act["mean"] + 2 * act["std"])
    if conv.layout == "aloha":
        state = rng.uniform(-1.0, 1.0, 14)
        state[[6, 13]] = rng.uniform(0.05, 0.95, 2)
        images = {c: rng.integers(0, 256, (3, 240, 320), dtype=np.uint8)
                  for c in ("cam_high", "cam_low", "cam_left_wrist")}       # right wrist absent: masked
        obs = {"state": state, "images": images, "prompt": "fold the towel"}
    else:
        obs = {"observation/exterior_image_1_left": rng.integers(0, 256, (180, 320, 3), dtype=np.uint8),
               "observation/wrist_image_left": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
               "observation/joint_position": rng.uniform(-2, 2, 7),
               "observation/gripper_position": rng.uniform(0, 1, 1),
               "prompt": "put the marker in the cup"}
    case = dict(layout=conv.layout, adapt_to_pi=conv.adapt_to_pi, delta_mask=conv.delta_mask, use_quantiles=quantiles,
                default_prompt=conv.default_prompt, model_action_dim=MODEL_DIM, observation=obs,
                stats={"state": stats, "actions": act},
                network_actions=rng.normal(0, 1, (conv.action_horizon, MODEL_DIM)))
    return case, {"conv": conv, "stats": case["stats"]}


def ours(case: dict, conv, stats: dict, quantiles: bool) -> dict:
    mode = "quantiles" if quantiles else "mean_std"
    conv = dataclasses.replace(conv, norm_state=mode, norm_actions=mode)
    config = dataclasses.replace(get_config("pi0_tiny"), image_size=224, action_dim=MODEL_DIM,
                                 action_horizon=conv.action_horizon)
    policy = ConventionPolicy(Pi0Policy(Pi0Model(config), load_tokenizer(config), None), conv, stats)
    layout, sample = to_sample(case["observation"], policy)
    prepared = policy.prepare(sample)
    actions = policy.actions_from_model(case["network_actions"], prepared.adapted_state)
    return {"pixels": prepared.pixels, "present": prepared.present, "state": prepared.state, "actions": actions}


def compare(name: str, mine: dict, theirs: dict, tol: float) -> bool:
    ok = True
    for i, (slot, key) in enumerate(SLOTS.items()):
        same_mask = bool(mine["present"][i]) == theirs["image_mask"][key]
        if theirs["image_mask"][key]:
            same = np.array_equal(mine["pixels"][i], to_model_pixels(theirs["images"][key]))
        else:
            same = True                                  # masked: openpi feeds zeros, we feed nothing
        ok &= same and same_mask
        print(f"  {name:22s} image {slot:12s} {'identical' if same else 'DIFFERENT'}"
              f"{'' if same_mask else ' (mask differs)'}")
    d = len(mine["state"])
    state_diff = float(np.max(np.abs(mine["state"] - theirs["state"][:d])))
    pad_ok = not np.any(theirs["state"][d:])
    act_diff = float(np.max(np.abs(mine["actions"] - theirs["actions"])))
    ok &= state_diff <= tol and pad_ok and act_diff <= tol
    print(f"  {name:22s} state max|diff| {state_diff:.3e}, actions max|diff| {act_diff:.3e} "
          f"(scale {np.max(np.abs(theirs['actions'])):.2f})")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--openpi", required=True, help="openpi checkout (its src/ is put on PYTHONPATH)")
    p.add_argument("--python", required=True, help="the side venv's python (jax, flax, openpi-client, ...)")
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    cases, ours_in = {}, {}
    for name in ("pi0_aloha_towel", "pi0_aloha_sim", "pi0_droid"):
        for quantiles in (False, True):
            key = f"{name}{' (quantiles)' if quantiles else ''}"
            cases[key], ours_in[key] = make_case(name, rng, quantiles)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "cases.pkl", Path(tmp) / "results.pkl"
        src.write_bytes(pickle.dumps(cases))
        env = dict(os.environ, PYTHONPATH=str(Path(args.openpi) / "src"))
        subprocess.run([args.python, str(SIDE), str(src), str(dst)], check=True, env=env)
        theirs = pickle.loads(dst.read_bytes())
    ok = True
    print(f"openpi transforms ({args.openpi}) vs pi0_ros conventions, tolerance {args.tol:g}:")
    for key, case in cases.items():
        mine = ours(case, ours_in[key]["conv"], ours_in[key]["stats"], case["use_quantiles"])
        ok &= compare(key, mine, theirs[key], args.tol)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
