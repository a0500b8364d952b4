"""Attention mask structure: blockwise causal over [prefix | state | actions], with padding."""

import torch

from pi0_policy.model.pi0 import ACTION_BLOCK, PREFIX_BLOCK, STATE_BLOCK, make_attention_mask


def _layout(n_prefix=4, horizon=3):
    kinds = ["prefix"] * n_prefix + ["state"] + ["action"] * horizon
    blocks = torch.tensor([{"prefix": PREFIX_BLOCK, "state": STATE_BLOCK, "action": ACTION_BLOCK}[k] for k in kinds])
    return kinds, blocks


# The rule table of π₀ (query kind -> key kinds it may see).
SEES = {"prefix": {"prefix"}, "state": {"prefix", "state"}, "action": {"prefix", "state", "action"}}


def test_block_rules_without_padding():
    kinds, blocks = _layout()
    pad = torch.ones(1, len(kinds), dtype=torch.bool)
    mask = make_attention_mask(pad, blocks)[0]
    for i, qk in enumerate(kinds):
        for j, kk in enumerate(kinds):
            assert bool(mask[i, j]) == (kk in SEES[qk]), (i, j, qk, kk)


def test_padding_is_invisible_and_blind():
    kinds, blocks = _layout()
    pad = torch.ones(2, len(kinds), dtype=torch.bool)
    pad[0, 1] = False  # e.g. a token of an absent camera
    pad[1, 3] = False  # e.g. prompt padding
    mask = make_attention_mask(pad, blocks)
    assert not mask[0, :, 1].any() and not mask[0, 1, :].any()
    assert not mask[1, :, 3].any() and not mask[1, 3, :].any()
    # Everything else follows the rule table.
    for b, hidden in ((0, 1), (1, 3)):
        for i, qk in enumerate(kinds):
            for j, kk in enumerate(kinds):
                if hidden not in (i, j):
                    assert bool(mask[b, i, j]) == (kk in SEES[qk])


def test_absent_camera_leaves_the_masks_of_present_tokens_unchanged(micro_model, micro_config):
    c = micro_config
    images = torch.zeros(1, c.num_cameras, 3, c.image_size, c.image_size)
    tokens = torch.ones(1, c.max_token_len, dtype=torch.long)
    token_masks = torch.ones(1, c.max_token_len, dtype=torch.bool)
    all_present = torch.ones(1, c.num_cameras, dtype=torch.bool)
    one_absent = all_present.clone()
    one_absent[0, 1] = False
    blocks = torch.zeros(c.prefix_len, dtype=torch.long)
    with torch.no_grad():
        _, pad_full = micro_model.embed_prefix(images, all_present, tokens, token_masks)
        _, pad_absent = micro_model.embed_prefix(images, one_absent, tokens, token_masks)
    t = c.tokens_per_image
    absent = torch.zeros(c.prefix_len, dtype=torch.bool)
    absent[t : 2 * t] = True
    assert torch.equal(~pad_absent[0], absent)
    full, part = make_attention_mask(pad_full, blocks)[0], make_attention_mask(pad_absent, blocks)[0]
    keep = ~absent
    assert torch.equal(full[keep][:, keep], part[keep][:, keep])
    assert not part[absent].any() and not part[:, absent].any()
