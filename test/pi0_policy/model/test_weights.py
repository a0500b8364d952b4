"""Checkpoint folders: round trips in both key layouts, and strict refusal of bad files."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from pi0_policy.model import weights
from pi0_policy.model.config import get_config
from pi0_policy.model.weights import CheckpointError, load_checkpoint, read_config, save_checkpoint

from .conftest import MICRO


@pytest.fixture(scope="module")
def saved(tmp_path_factory, micro_model):
    root = tmp_path_factory.mktemp("ckpt")
    return {layout: save_checkpoint(micro_model, root / layout, layout=layout) for layout in weights.LAYOUTS}


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize("layout", weights.LAYOUTS)
def test_round_trip_gives_the_same_model_and_actions(saved, micro_model, batch, noise, layout):
    loaded = load_checkpoint(saved[layout])
    assert loaded.config == MICRO and not loaded.training
    _same_weights(loaded, micro_model)
    expected = micro_model.sample_actions(**batch, noise=noise)
    torch.testing.assert_close(loaded.sample_actions(**batch, noise=noise), expected)


def test_key_layouts_match_the_references(saved):
    openpi = load_file(saved["openpi"] / "model.safetensors")
    lerobot = load_file(saved["lerobot"] / "model.safetensors")
    assert not any(k.startswith("model.") for k in openpi)
    assert all(k.startswith("model.") for k in lerobot)
    assert {k[len("model.") :] for k in lerobot} - set(openpi) == {weights.EMBED_KEY}  # openpi keeps only lm_head
    assert weights.VLM_LM_HEAD in openpi and weights.EXPERT_LM_HEAD in openpi
    for name in ("paligemma_with_expert.paligemma.model.vision_tower.vision_model.embeddings.patch_embedding.weight",
                 "paligemma_with_expert.paligemma.model.multi_modal_projector.linear.weight",
                 "paligemma_with_expert.paligemma.model.language_model.layers.1.self_attn.q_proj.weight",
                 "paligemma_with_expert.gemma_expert.model.layers.0.mlp.gate_proj.weight",
                 "paligemma_with_expert.gemma_expert.model.norm.weight", "action_time_mlp_in.weight"):
        assert name in openpi, name
    assert json.loads((saved["lerobot"] / "config.json").read_text())["type"] == "pi0"
    assert json.loads((saved["openpi"] / "config.json").read_text())["action_horizon"] == MICRO.action_horizon


def _rewrite(src, dst, edit):
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    tensors = load_file(dst / "model.safetensors")
    edit(tensors)
    save_file(tensors, dst / "model.safetensors")
    return dst


Q = "paligemma_with_expert.paligemma.model.language_model.layers.0.self_attn.q_proj.weight"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.pop(Q), f"missing key '{Q}'"),
        (lambda t: t.update(extra_head=torch.zeros(2)), "unexpected key 'extra_head'"),
        (lambda t: t.update({Q: torch.zeros(3, 3)}), f"key '{Q}' has shape"),
        (lambda t: t.update({Q: t[Q].to(torch.int32)}), f"key '{Q}' has dtype I32"),
        (lambda t: t.update({"model.action_in_proj.weight": t.pop("action_in_proj.weight")}), "mixed key layouts"),
    ],
)
def test_bad_checkpoints_are_refused_naming_the_key(saved, tmp_path, edit, message):
    bad = _rewrite(saved["openpi"], tmp_path / "bad", edit)
    with pytest.raises(CheckpointError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_checkpoint(bad)


def test_refusal_copies_nothing(saved, tmp_path, micro_model):
    bad = _rewrite(saved["openpi"], tmp_path / "bad", lambda t: t.update(extra=torch.zeros(1)))
    before = {k: v.clone() for k, v in micro_model.state_dict().items()}
    with pytest.raises(CheckpointError):
        weights.load_weights(micro_model, bad)
    for k, v in micro_model.state_dict().items():
        assert torch.equal(v, before[k])


def test_lerobot_files_with_an_untied_lm_head_use_embed_tokens(saved, tmp_path, micro_model):
    """LeRobot 0.6.1 saves a separate, unused VLM lm_head; the embedding must come from embed_tokens."""
    head = "model." + weights.VLM_LM_HEAD
    folder = _rewrite(saved["lerobot"], tmp_path / "untied", lambda t: t.update({head: torch.randn_like(t[head])}))
    _same_weights(load_checkpoint(folder), micro_model)


def test_bfloat16_files_and_the_dtype_policy(saved, tmp_path, micro_model):
    folder = _rewrite(saved["openpi"], tmp_path / "bf16", lambda t: t.update({k: v.bfloat16() for k, v in t.items()}))
    fp32 = load_checkpoint(folder)
    assert all(p.dtype == torch.float32 for p in fp32.parameters())
    bf16 = load_checkpoint(saved["openpi"], dtype="bfloat16")
    kinds = {name: p.dtype for name, p in bf16.named_parameters()}
    assert kinds["llm.layers.0.input_layernorm.weight"] == torch.float32
    assert kinds["vision_tower.embeddings.patch_embedding.weight"] == torch.float32
    assert kinds["action_out_proj.weight"] == torch.float32
    assert kinds["llm.layers.0.mlp.gate_proj.weight"] == torch.bfloat16
    assert kinds["vision_tower.encoder.layers.0.self_attn.q_proj.weight"] == torch.bfloat16
    c = MICRO
    out = bf16.sample_actions(torch.zeros(1, 3, 3, c.image_size, c.image_size), torch.ones(1, 3, dtype=torch.bool),
                              torch.ones(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, 5))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_reference_configs_are_read(tmp_path):
    (tmp_path / "openpi").mkdir()
    (tmp_path / "openpi" / "config.json").write_text(json.dumps(
        {"action_dim": 32, "action_horizon": 10, "paligemma_variant": "gemma_2b",
         "action_expert_variant": "gemma_300m", "precision": "bfloat16"}))
    c = read_config(tmp_path / "openpi")
    assert (c.llm_width, c.expert_width, c.action_horizon, c.dtype) == (2048, 1024, 10, "bfloat16")
    (tmp_path / "lerobot").mkdir()
    (tmp_path / "lerobot" / "config.json").write_text(json.dumps(
        {"type": "pi0", "paligemma_variant": "gemma_2b", "action_expert_variant": "gemma_300m", "dtype": "float32",
         "chunk_size": 50, "max_state_dim": 32, "max_action_dim": 32, "image_resolution": [224, 224]}))
    assert read_config(tmp_path / "lerobot") == get_config("pi0").__class__(**{**get_config("pi0").to_dict(),
                                                                                  "dtype": "float32"})
    (tmp_path / "lerobot" / "config.json").write_text(json.dumps({"type": "pi05"}))
    with pytest.raises(CheckpointError, match="pi05"):
        read_config(tmp_path / "lerobot")
    (tmp_path / "lerobot" / "config.json").write_text(json.dumps({"type": "pi0", "paligemma_variant": "dummy"}))
    with pytest.raises(CheckpointError, match="dummy"):
        read_config(tmp_path / "lerobot")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        weights.read_tensor_index(tmp_path)
    with pytest.raises(CheckpointError, match="config.json"):
        read_config(tmp_path)
