"""The openpi half of benchmarks/openpi_parity.py: runs openpi's own transform code on the cases it is given.

Run by openpi_parity.py with a side venv's Python and PYTHONPATH=<openpi checkout>/src; never imports
pi0_ros. The transform modules used (transforms.py, policies/aloha_policy.py, policies/droid_policy.py,
shared/normalize.py) run unchanged. Three modules that they import only for what is left out here are
replaced by placeholders before the import, and nothing else:
    openpi.models.tokenizer      used only by TokenizePrompt (it downloads the PaliGemma tokenizer);
    openpi.models.model          droid_policy reads only its ModelType enum (the module builds models);
    openpi.shared.array_typing   type aliases and a typecheck decorator (the module imports torch).

    python benchmarks/openpi_parity_side.py cases.pkl results.pkl
"""

from __future__ import annotations

import enum
import pickle
import sys
import types


def install_placeholders() -> None:
    tok = types.ModuleType("openpi.models.tokenizer")
    tok.PaligemmaTokenizer = type("PaligemmaTokenizer", (), {})
    tok.FASTTokenizer = type("FASTTokenizer", (), {})
    model = types.ModuleType("openpi.models.model")

    class ModelType(enum.Enum):
        PI0 = "pi0"
        PI0_FAST = "pi0_fast"
        PI05 = "pi05"

    model.ModelType = ModelType
    typing_mod = types.ModuleType("openpi.shared.array_typing")

    class _Any:
        def __class_getitem__(cls, item):
            return cls

    for name in ("PyTree", "Array", "Float", "Int", "Bool", "UInt8", "Key", "KeyArrayLike", "Params"):
        setattr(typing_mod, name, _Any)
    typing_mod.typecheck = lambda f: f
    import openpi.models
    import openpi.shared  # both packages' __init__ are empty

    sys.modules.update({"openpi.models.tokenizer": tok, "openpi.models.model": model,
                        "openpi.shared.array_typing": typing_mod})
    openpi.models.tokenizer, openpi.models.model, openpi.shared.array_typing = tok, model, typing_mod


def run_case(case: dict) -> dict:
    import numpy as np
    from openpi import transforms as T
    from openpi.policies import aloha_policy, droid_policy
    from openpi.shared import normalize

    stats = {k: normalize.NormStats(**v) for k, v in case["stats"].items()}
    if case["layout"] == "aloha":
        data_in = [aloha_policy.AlohaInputs(adapt_to_pi=case["adapt_to_pi"])]
        data_out = [aloha_policy.AlohaOutputs(adapt_to_pi=case["adapt_to_pi"])]
    else:
        data_in = [droid_policy.DroidInputs(model_type=droid_policy._model.ModelType.PI0)]
        data_out = [droid_policy.DroidOutputs()]
    if case["delta_mask"] is not None:               # as LeRobotAlohaDataConfig pushes them
        data_in = data_in + [T.DeltaActions(case["delta_mask"])]
        data_out = [T.AbsoluteActions(case["delta_mask"])] + data_out
    inputs = T.compose([*data_in, T.Normalize(stats, use_quantiles=case["use_quantiles"]),
                        T.InjectDefaultPrompt(case["default_prompt"]), T.ResizeImages(224, 224),
                        T.PadStatesAndActions(case["model_action_dim"])])
    outputs = T.compose([T.Unnormalize(stats, use_quantiles=case["use_quantiles"]), *data_out])
    model_in = inputs(dict(case["observation"]))
    # openpi's Policy.infer hands the output transforms the transformed state and the network's actions
    result = outputs({"state": np.asarray(model_in["state"]), "actions": np.array(case["network_actions"])})
    return {"images": {k: np.asarray(v) for k, v in model_in["image"].items()},
            "image_mask": {k: bool(v) for k, v in model_in["image_mask"].items()},
            "state": np.asarray(model_in["state"]), "prompt": model_in.get("prompt"),
            "actions": np.asarray(result["actions"])}


def main() -> None:
    install_placeholders()
    with open(sys.argv[1], "rb") as f:
        cases = pickle.load(f)
    results = {name: run_case(case) for name, case in cases.items()}
    with open(sys.argv[2], "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    main()
