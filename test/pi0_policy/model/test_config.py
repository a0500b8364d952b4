"""Named configs and config validation."""

import dataclasses

import pytest

from pi0_policy.model.config import Pi0Config, config_names, get_config
from pi0_policy.model.tokenizer import load_tokenizer


def test_full_pi0_has_the_paper_sizes():
    c = get_config("pi0")
    assert (c.vision_width, c.vision_depth, c.vision_mlp_dim, c.vision_heads) == (1152, 27, 4304, 16)
    assert (c.llm_width, c.llm_depth, c.llm_mlp_dim) == (2048, 18, 16384)
    assert (c.expert_width, c.expert_depth, c.expert_mlp_dim) == (1024, 18, 4096)
    assert (c.num_heads, c.num_kv_heads, c.head_dim) == (8, 1, 256)
    assert c.tokens_per_image == 256 and c.prefix_len == 3 * 256 + 48
    assert (c.action_dim, c.action_horizon, c.max_token_len, c.vocab_size) == (32, 50, 48, 257_152)


@pytest.mark.parametrize("name", ["pi0_tiny", "pi0_small"])
def test_small_configs_use_the_unified_action_space_and_the_shipped_tokenizer(name):
    c = get_config(name)
    assert c.action_dim == c.state_dim == 18
    assert c.tokenizer == "tiny" and c.dtype == "float32"
    assert load_tokenizer(c).vocab_size == c.vocab_size


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="pi0_tiny"):
        get_config("pi0_tiyn")
    assert {"pi0", "pi0_small", "pi0_tiny"} <= set(config_names())


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(image_size=100, patch_size=14), "not a multiple of patch_size"),
        (dict(expert_depth=3), "expert_depth"),
        (dict(num_heads=6, num_kv_heads=4), "num_kv_heads"),
        (dict(dtype="float16"), "dtype"),
        (dict(tokenizer="gpt2"), "tokenizer"),
        (dict(num_inference_steps=0), "num_inference_steps"),
    ],
)
def test_invalid_configs_are_refused_with_the_reason(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(get_config("pi0_tiny"), **change)


def test_config_dict_round_trip_and_unknown_fields():
    c = get_config("pi0_small")
    assert Pi0Config.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown Pi0Config field"):
        Pi0Config.from_dict({**c.to_dict(), "widht": 3})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_config("pi0").llm_width = 3


def test_full_pi0_parameter_count_matches_the_reference():
    import torch

    from pi0_policy.model.pi0 import Pi0Model

    with torch.device("meta"):  # shapes only, no memory
        model = Pi0Model(get_config("pi0"))
    # Count from the shapes of openpi/LeRobot's state dict (pi0_model_reference.md §1.7): everything the
    # forward pass uses, i.e. without the never-used expert lm_head.
    assert model.num_parameters() == 3_238_048_528
