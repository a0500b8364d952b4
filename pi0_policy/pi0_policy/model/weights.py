"""Checkpoint folders: strict loading and saving in openpi's and LeRobot's state-dict layouts.

Both references name parameters after their module tree (openpi ``models_pytorch/pi0_pytorch.py``,
LeRobot ``policies/pi0/modeling_pi0.py``); the names coincide, and LeRobot's trained checkpoints add a
``model.`` prefix. A folder holds ``model.safetensors`` (or a sharded index), ``config.json`` in the
producer's format, optionally ``pi0_ros_config.json`` (our full Pi0Config), ``assets/<id>/norm_stats.json``
and ``tokenizer.model``.

Loading is all-or-nothing: every parameter of the model must come from the file with the right shape and
a floating dtype, and the file may hold nothing else except the two heads π₀ never uses:

* ``paligemma.lm_head.weight``: tied to the token embedding in openpi (whose files keep only this name,
  so it is read as the embedding when ``embed_tokens`` is absent); untied and unused in LeRobot.
* ``gemma_expert.lm_head.weight``: created by transformers' GemmaForCausalLM, never used by π₀.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..normalize import NormStats, save_norm_stats
from .config import Pi0Config, get_config
from .pi0 import Pi0Model

OPENPI, LEROBOT = "openpi", "lerobot"
LAYOUTS = (OPENPI, LEROBOT)
LEROBOT_PREFIX = "model."
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
OUR_CONFIG_FILE = "pi0_ros_config.json"

# Our parameter-name prefixes and the references' (explicit table; the rest of each name is identical).
RENAMES = (
    ("vision_tower.", "paligemma_with_expert.paligemma.model.vision_tower.vision_model."),
    ("projector.", "paligemma_with_expert.paligemma.model.multi_modal_projector.linear."),
    ("llm.", "paligemma_with_expert.paligemma.model.language_model."),
    ("expert.", "paligemma_with_expert.gemma_expert.model."),
)
EMBED_KEY = "paligemma_with_expert.paligemma.model.language_model.embed_tokens.weight"
VLM_LM_HEAD = "paligemma_with_expert.paligemma.lm_head.weight"
EXPERT_LM_HEAD = "paligemma_with_expert.gemma_expert.lm_head.weight"
FLOAT_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}

# openpi ``gemma.py`` variants, as LLM and as action expert.
LLM_VARIANTS = {"gemma_2b": {"llm_width": 2048, "llm_depth": 18, "llm_mlp_dim": 16_384}}
EXPERT_VARIANTS = {"gemma_300m": {"expert_width": 1024, "expert_depth": 18, "expert_mlp_dim": 4096}}


class CheckpointError(ValueError):
    """A checkpoint that does not match the model; the message names the offending key or file."""


def to_reference_name(name: str) -> str:
    """Our parameter name -> the openpi/LeRobot name (without LeRobot's ``model.`` prefix)."""
    for ours, theirs in RENAMES:
        if name.startswith(ours):
            return theirs + name[len(ours) :]
    return name  # the top-level projections share their names


def from_reference_name(name: str) -> str:
    """openpi/LeRobot name -> our parameter name (unknown names come back unchanged)."""
    for ours, theirs in RENAMES:
        if name.startswith(theirs):
            return ours + name[len(theirs) :]
    return name


# --------------------------------------------------------------------------------------------------
# Reading


def read_tensor_index(folder: Path) -> dict[str, tuple[Path, str, tuple[int, ...]]]:
    """Map every tensor name in the folder's safetensors file(s) to (file, dtype code, shape)."""
    if (folder / WEIGHTS_FILE).is_file():
        files = [folder / WEIGHTS_FILE]
    elif (folder / INDEX_FILE).is_file():
        weight_map = json.loads((folder / INDEX_FILE).read_text()).get("weight_map", {})
        files = sorted({folder / f for f in weight_map.values()})
    else:
        raise CheckpointError(f"{folder}: no {WEIGHTS_FILE} or {INDEX_FILE}")
    index = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                sl = f.get_slice(key)
                index[key] = (path, sl.get_dtype(), tuple(sl.get_shape()))
    return index


def detect_layout(keys: list[str]) -> str:
    """"lerobot" when every key carries LeRobot's ``model.`` prefix, "openpi" when none does."""
    prefixed = [k.startswith(LEROBOT_PREFIX) for k in keys]
    if all(prefixed):
        return LEROBOT
    if not any(prefixed):
        return OPENPI
    odd = next(k for k, p in zip(keys, prefixed, strict=True) if not p)
    raise CheckpointError(f"mixed key layouts: some keys start with {LEROBOT_PREFIX!r}, {odd!r} does not")


def _map_keys(file_keys: list[str]) -> dict[str, str]:
    """Our parameter name -> file key, with the lm_head rules of the module docstring."""
    layout = detect_layout(file_keys)
    strip = len(LEROBOT_PREFIX) if layout == LEROBOT else 0
    bare = {k[strip:]: k for k in file_keys}
    if EMBED_KEY not in bare and VLM_LM_HEAD in bare:
        bare[EMBED_KEY] = bare[VLM_LM_HEAD]  # openpi keeps the tied embedding under the lm_head name
    bare.pop(VLM_LM_HEAD, None)
    bare.pop(EXPERT_LM_HEAD, None)
    return {from_reference_name(k): v for k, v in bare.items()}


def _validate(model: Pi0Model, mapping: dict[str, str], index: dict, folder: Path) -> None:
    expected = dict(model.named_parameters())
    missing = [k for k in expected if k not in mapping]
    unexpected = [mapping[k] for k in mapping if k not in expected]
    if missing:
        prefix = LEROBOT_PREFIX if detect_layout(list(index)) == LEROBOT else ""
        names = [prefix + to_reference_name(k) for k in missing]
        raise CheckpointError(f"{folder}: missing key {names[0]!r}" + _more(names))
    if unexpected:
        raise CheckpointError(f"{folder}: unexpected key {unexpected[0]!r}" + _more(unexpected))
    for name, param in expected.items():
        key = mapping[name]
        _, dtype, shape = index[key]
        if shape != tuple(param.shape):
            raise CheckpointError(f"{folder}: key {key!r} has shape {list(shape)}, the model needs {list(param.shape)}")
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError(f"{folder}: key {key!r} has dtype {dtype}; expected one of {sorted(FLOAT_DTYPES)}")


def _more(names: list[str]) -> str:
    return f" (and {len(names) - 1} more: {names[1:4]}{' ...' if len(names) > 4 else ''})" if len(names) > 1 else ""


def load_weights(model: Pi0Model, folder: str | Path) -> str:
    """Copy a folder's weights into ``model`` (all or nothing), casting to the model's dtype policy.

    Returns:
        The layout found, "openpi" or "lerobot".

    Raises:
        CheckpointError: missing or unexpected key, wrong shape, non-float dtype (nothing is copied then).
    """
    folder = Path(folder)
    index = read_tensor_index(folder)
    mapping = _map_keys(list(index))
    _validate(model, mapping, index, folder)
    params = dict(model.named_parameters())
    by_file: dict[Path, list[str]] = {}
    for name in params:
        by_file.setdefault(index[mapping[name]][0], []).append(name)
    with torch.no_grad():
        for path, names in by_file.items():
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in names:  # one tensor at a time: peak memory stays near the model's size
                    params[name].copy_(f.get_tensor(mapping[name]).to(params[name].dtype))
    return detect_layout(list(index))


def read_config(folder: str | Path) -> Pi0Config:
    """The Pi0Config of a checkpoint folder.

    ``pi0_ros_config.json`` wins; otherwise ``config.json`` is read in LeRobot's format (``"type": "pi0"``)
    or in openpi's converter format (``action_dim``, ``action_horizon``, variants, ``precision``).
    """
    folder = Path(folder)
    if (folder / OUR_CONFIG_FILE).is_file():
        return Pi0Config.from_dict(json.loads((folder / OUR_CONFIG_FILE).read_text()))
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder}: no {OUR_CONFIG_FILE} or config.json; pass config= explicitly")
    data = json.loads(path.read_text())
    kind = data.get("type")
    if kind is not None and kind != "pi0":
        raise CheckpointError(f"{path}: policy type {kind!r} is not supported (only π₀, type 'pi0')")
    if kind == "pi0":
        resolution = data.get("image_resolution", [224, 224])
        fields = dict(
            action_dim=data.get("max_action_dim", 32), state_dim=data.get("max_state_dim", 32),
            action_horizon=data.get("chunk_size", 50), max_token_len=data.get("tokenizer_max_length", 48),
            image_size=resolution[0], num_inference_steps=data.get("num_inference_steps", 10),
            dtype=data.get("dtype", "float32"), time_min_period=data.get("min_period", 4e-3),
            time_max_period=data.get("max_period", 4.0),
        )  # fmt: skip
    elif "action_horizon" in data or "paligemma_variant" in data:
        fields = dict(action_dim=data.get("action_dim", 32), state_dim=data.get("action_dim", 32),
                      action_horizon=data.get("action_horizon", 50), dtype=data.get("precision", "bfloat16"))
    else:
        raise CheckpointError(f"{path}: neither a LeRobot π₀ config nor an openpi converter config")
    llm, expert = data.get("paligemma_variant", "gemma_2b"), data.get("action_expert_variant", "gemma_300m")
    if llm not in LLM_VARIANTS or expert not in EXPERT_VARIANTS:
        raise CheckpointError(f"{path}: variants {llm!r}/{expert!r} unsupported; pass config= for other sizes")
    try:
        return dataclasses.replace(get_config("pi0"), **fields, **LLM_VARIANTS[llm], **EXPERT_VARIANTS[expert])
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None


def load_checkpoint(folder: str | Path, config: Pi0Config | None = None, device: str | torch.device = "cpu",
                    dtype: str | None = None) -> Pi0Model:
    """Build the model a checkpoint folder describes and load its weights strictly.

    Args:
        folder: checkpoint folder (openpi PyTorch-converted, LeRobot, or ours).
        config: overrides the folder's config (needed for sizes the reference formats cannot name).
        device: where the model lives.
        dtype: "float32" or "bfloat16" to override the config's dtype.

    Returns:
        The model in eval mode.
    """
    config = config or read_config(folder)
    if dtype is not None:
        config = dataclasses.replace(config, dtype=dtype)
    with torch.device("meta"):  # no random init and no float32 copy of a bf16 model
        model = Pi0Model(config)
    model.to_empty(device=device)
    model.vision_tower.reset_buffers()
    load_weights(model, folder)
    return model.eval()


# --------------------------------------------------------------------------------------------------
# Writing


def export_state_dict(model: Pi0Model, layout: str = OPENPI) -> dict[str, torch.Tensor]:
    """The model's weights under the reference names, including the heads π₀ never uses.

    The VLM ``lm_head`` holds the embedding (tied, as in openpi) and the expert ``lm_head`` is zeros, so the
    references' own strict loaders find every key they expect.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} not in {LAYOUTS}")
    out = {to_reference_name(k): v.detach().contiguous() for k, v in model.named_parameters()}
    embed = out[EMBED_KEY]
    if layout == OPENPI:
        out[VLM_LM_HEAD] = out.pop(EMBED_KEY)  # openpi files keep the tied pair under this name only
    else:
        out[VLM_LM_HEAD] = embed.clone()
    out[EXPERT_LM_HEAD] = torch.zeros(embed.shape[0], model.config.expert_width, dtype=embed.dtype)
    prefix = LEROBOT_PREFIX if layout == LEROBOT else ""
    return {prefix + k: v.cpu() for k, v in sorted(out.items())}


def save_checkpoint(model: Pi0Model, folder: str | Path, layout: str = OPENPI,
                    norm_stats: dict[str, NormStats] | None = None, asset_id: str = "default",
                    tokenizer_file: str | Path | None = None) -> Path:
    """Write a checkpoint folder that :func:`load_checkpoint` (and, at standard sizes, the reference) reads.

    Args:
        model: the model to save.
        folder: created if needed.
        layout: "openpi" (bare keys, openpi converter config.json) or "lerobot" (``model.`` keys, LeRobot
            config.json).
        norm_stats: written to ``assets/<asset_id>/norm_stats.json``.
        tokenizer_file: SentencePiece model copied to ``tokenizer.model``.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = model.config
    save_file(export_state_dict(model, layout), str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / OUR_CONFIG_FILE).write_text(json.dumps(c.to_dict(), indent=2))
    reference = _lerobot_config(c) if layout == LEROBOT else _openpi_config(c)
    (folder / "config.json").write_text(json.dumps(reference, indent=2))
    if norm_stats is not None:
        save_norm_stats(folder / "assets" / asset_id, norm_stats)
    if tokenizer_file is not None:
        shutil.copyfile(tokenizer_file, folder / "tokenizer.model")
    return folder


def _variants(c: Pi0Config) -> tuple[str, str]:
    """Reference variant names when the sizes are the standard ones, else a marker naming our config."""
    llm = next((k for k, v in LLM_VARIANTS.items() if all(getattr(c, f) == x for f, x in v.items())), None)
    expert = next((k for k, v in EXPERT_VARIANTS.items() if all(getattr(c, f) == x for f, x in v.items())), None)
    return llm or f"pi0_ros:{c.name}", expert or f"pi0_ros:{c.name}"


def _openpi_config(c: Pi0Config) -> dict:
    llm, expert = _variants(c)
    return {"action_dim": c.action_dim, "action_horizon": c.action_horizon, "paligemma_variant": llm,
            "action_expert_variant": expert, "precision": c.dtype}


def _lerobot_config(c: Pi0Config) -> dict:
    llm, expert = _variants(c)
    cameras = ("base_0_rgb", "left_wrist_0_rgb", "right_wrist_0_rgb")[: c.num_cameras]
    image = {"type": "VISUAL", "shape": [3, c.image_size, c.image_size]}
    return {
        "type": "pi0",
        "input_features": {**{f"observation.images.{k}": image for k in cameras},
                           "observation.state": {"type": "STATE", "shape": [c.state_dim]}},
        "output_features": {"action": {"type": "ACTION", "shape": [c.action_dim]}},
        "paligemma_variant": llm, "action_expert_variant": expert, "dtype": c.dtype,
        "chunk_size": c.action_horizon, "n_action_steps": c.action_horizon,
        "max_state_dim": c.state_dim, "max_action_dim": c.action_dim, "num_inference_steps": c.num_inference_steps,
        "time_sampling_beta_alpha": c.time_beta_alpha, "time_sampling_beta_beta": c.time_beta_beta,
        "time_sampling_scale": c.time_scale, "time_sampling_offset": c.time_offset,
        "min_period": c.time_min_period, "max_period": c.time_max_period,
        "image_resolution": [c.image_size, c.image_size], "tokenizer_max_length": c.max_token_len,
    }  # fmt: skip
