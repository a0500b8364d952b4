"""Parity with LeRobot's processor steps (lerobot==0.6.1) for the conventions read from LeRobot configs.

LeRobot's pi0 pipeline, in its order: relative actions (the state cached before normalising), normalise
the state; the network; unnormalise the actions, absolute actions from the cached state. This runs
LeRobot's own ``NormalizerProcessorStep`` / ``UnnormalizerProcessorStep`` and ``RelativeActionsProcessorStep``
/ ``AbsoluteActionsProcessorStep`` on a raw state and a network output, for every normalisation mode
(MEAN_STD, MIN_MAX, QUANTILES, QUANTILE10, IDENTITY) with and without ``use_relative_actions``
(``relative_exclude_joints=["gripper"]`` against named action features), and compares the normalised
state and the robot-unit actions with pi0_policy's (conventions built by ``conventions_from_lerobot_config``).

The LeRobot half runs in a Python that has lerobot 0.6.1 (and torch); ours in this venv:

    .venv/bin/python benchmarks/lerobot_processor_parity.py --lerobot-python /path/to/lerobot-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MODES = ("MEAN_STD", "MIN_MAX", "QUANTILES", "QUANTILE10", "IDENTITY")
NAMES = [f"left_j{i}" for i in range(6)] + ["left_gripper"] + [f"right_j{i}" for i in range(6)] + ["right_gripper"]

LEROBOT_SIDE = r'''
import pickle, sys
import torch
from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.processor import NormalizerProcessorStep, UnnormalizerProcessorStep, TransitionKey
from lerobot.processor.converters import create_transition
from lerobot.processor.relative_action_processor import AbsoluteActionsProcessorStep, RelativeActionsProcessorStep

cases = pickle.load(open(sys.argv[1], "rb"))
out = {}
for name, c in cases.items():
    d = len(c["state"])
    features = {"observation.state": PolicyFeature(FeatureType.STATE, (d,)),
                "action": PolicyFeature(FeatureType.ACTION, (d,))}
    mode = NormalizationMode(c["mode"])
    norm_map = {FeatureType.STATE: mode, FeatureType.ACTION: mode}
    stats = {"observation.state": {k: torch.tensor(v) for k, v in c["stats"]["state"].items()},
             "action": {k: torch.tensor(v) for k, v in c["stats"]["actions"].items()}}
    rel = RelativeActionsProcessorStep(enabled=c["relative"], exclude_joints=["gripper"], action_names=c["names"])
    norm = NormalizerProcessorStep(features=features, norm_map=norm_map, stats=stats)
    unnorm = UnnormalizerProcessorStep(features=features, norm_map=norm_map, stats=stats)
    absolute = AbsoluteActionsProcessorStep(enabled=c["relative"], relative_step=rel)
    state = torch.tensor(c["state"], dtype=torch.float32)[None]
    t = norm(rel(create_transition(observation={"observation.state": state})))
    model_state = t[TransitionKey.OBSERVATION]["observation.state"][0].numpy()
    actions = torch.tensor(c["network"], dtype=torch.float32)[None]
    a = absolute(unnorm(create_transition(action=actions)))[TransitionKey.ACTION][0].numpy()
    out[name] = {"state": model_state, "actions": a}
pickle.dump(out, open(sys.argv[2], "wb"))
'''


def make_cases(rng) -> dict:
    d = len(NAMES)
    lo = rng.uniform(-1, 0, d)
    stats = {"mean": rng.normal(0, 0.5, d), "std": rng.uniform(0.1, 1.0, d), "min": lo - 1, "max": lo + 2,
             "q01": lo - 0.5, "q99": lo + 1.5, "q10": lo, "q90": lo + 1.0}
    act = {k: v * 0.5 for k, v in stats.items()}
    cases = {}
    for mode in MODES:
        for relative in (False, True):
            cases[f"{mode}{' relative' if relative else ''}"] = dict(
                mode=mode, relative=relative, names=NAMES, stats={"state": stats, "actions": act},
                state=rng.uniform(-1, 1, d), network=rng.normal(0, 1, (50, d)))
    return cases


def ours(case: dict) -> dict:
    from pi0_policy.lerobot_conventions import conventions_from_lerobot_config
    from pi0_policy.norm_modes import FeatureNorm

    d = len(case["state"])
    cfg = {"type": "pi0", "chunk_size": 50, "n_action_steps": 50,
           "normalization_mapping": {"STATE": case["mode"], "ACTION": case["mode"]},
           "input_features": {"observation.images.base": {"type": "VISUAL", "shape": [3, 224, 224]},
                              "observation.state": {"type": "STATE", "shape": [d]}},
           "output_features": {"action": {"type": "ACTION", "shape": [d]}},
           "use_relative_actions": case["relative"], "relative_exclude_joints": ["gripper"],
           "action_feature_names": case["names"]}
    conv = conventions_from_lerobot_config(json.loads(json.dumps(cfg)), 50.0)
    from pi0_policy import convention_math as cm
    state_norm = FeatureNorm(conv.norm_state, conv.normalization_flavour, case["stats"]["state"])
    act_norm = FeatureNorm(conv.norm_actions, conv.normalization_flavour, case["stats"]["actions"])
    actions = act_norm.unnormalize(case["network"])
    if conv.actions == "delta":
        actions = cm.delta_to_absolute(actions, case["state"], conv.delta_mask)
    return {"state": state_norm.normalize(case["state"]), "actions": actions}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lerobot-python", required=True)
    p.add_argument("--tol", type=float, default=1e-5)
    args = p.parse_args()
    cases = make_cases(np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, side = Path(tmp) / "c.pkl", Path(tmp) / "r.pkl", Path(tmp) / "side.py"
        src.write_bytes(pickle.dumps(cases))
        side.write_text(LEROBOT_SIDE)
        subprocess.run([args.lerobot_python, str(side), str(src), str(dst)], check=True)
        theirs = pickle.loads(dst.read_bytes())
    ok = True
    print(f"LeRobot processor steps vs pi0_ros conventions (float32 in LeRobot), tolerance {args.tol:g}:")
    for name, case in cases.items():
        mine = ours(case)
        ds = float(np.max(np.abs(mine["state"] - theirs[name]["state"])))
        da = float(np.max(np.abs(mine["actions"] - theirs[name]["actions"])))
        scale = float(np.max(np.abs(theirs[name]["actions"])))
        ok &= ds <= args.tol * max(1.0, float(np.max(np.abs(mine["state"])))) and da <= args.tol * max(1.0, scale)
        print(f"  {name:22s} state {ds:.3e}  actions {da:.3e}  (scale {scale:.2f})")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
