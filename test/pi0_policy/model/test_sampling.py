"""Sampling: the KV cache (prefix and state) is exact, the Euler integrator, masked inputs."""

import pytest
import torch

from pi0_policy.model.flow_matching import euler_integrate, euler_times
from pi0_policy.model.pi0 import additive_mask


def test_cached_sampling_equals_recomputing_everything(micro_model, batch, noise):
    cached = micro_model.sample_actions(**batch, noise=noise)
    uncached = micro_model.sample_actions(**batch, noise=noise, use_cache=False)
    assert cached.shape == (2, micro_model.config.action_horizon, micro_model.config.action_dim)
    torch.testing.assert_close(cached, uncached, rtol=0, atol=1e-5)


def test_state_token_in_the_cache_equals_running_it_every_step(micro_model, batch, noise):
    """Folding the state into the prefix cache (beyond openpi) changes nothing: compare with openpi's way."""
    with_state = micro_model.sample_actions(**batch, noise=noise, cache_state=True)
    prefix_only = micro_model.sample_actions(**batch, noise=noise, cache_state=False)
    torch.testing.assert_close(with_state, prefix_only, rtol=0, atol=1e-5)
    # And per step: the velocities agree at an arbitrary point and time.
    prefix, pad = micro_model.embed_prefix(batch["images"], batch["image_masks"], batch["tokens"], batch["token_masks"])
    x, t = torch.randn_like(noise), torch.tensor([0.37, 0.81])
    v_state = micro_model.denoise_step(micro_model.prefill(prefix, pad, batch["state"]), x, t)
    v_openpi = micro_model.denoise_step(micro_model.prefill(prefix, pad, batch["state"], cache_state=False), x, t)
    v_full = micro_model.velocity_uncached(prefix, pad, batch["state"], x, t)
    torch.testing.assert_close(v_state, v_full, rtol=0, atol=1e-5)
    torch.testing.assert_close(v_openpi, v_full, rtol=0, atol=1e-5)


def test_euler_visits_the_code_convention_times():
    seen = []

    def velocity(x, t):
        seen.append(round(float(t[0]), 6))
        return torch.zeros_like(x)

    euler_integrate(velocity, torch.zeros(1, 2, 3), 10)
    assert seen == [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    assert euler_times(4) == [1.0, 0.75, 0.5, 0.25]


def test_euler_with_a_constant_velocity_moves_by_minus_the_velocity():
    noise, v = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    out = euler_integrate(lambda x, t: v, noise, 7)
    torch.testing.assert_close(out, noise - v)


def test_euler_on_the_exact_flow_field_lands_on_the_data():
    """For x_t = t·ε + (1−t)·A the velocity ε − A equals (x_t − A)/t; integrating it must give A."""
    data, noise = torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    out = euler_integrate(lambda x, t: (x - data) / t[:, None, None], noise, 10)
    torch.testing.assert_close(out, data, rtol=0, atol=1e-5)


def test_pixels_of_an_absent_camera_are_ignored(micro_model, batch, noise):
    reference = micro_model.sample_actions(**batch, noise=noise)
    changed = {**batch, "images": batch["images"].clone()}
    changed["images"][0, 1] = torch.rand_like(changed["images"][0, 1])  # camera 1 is absent in sample 0
    torch.testing.assert_close(micro_model.sample_actions(**changed, noise=noise), reference, rtol=0, atol=1e-6)
    changed["images"][1, 1] += 0.5  # ...but present in sample 1
    assert not torch.allclose(micro_model.sample_actions(**changed, noise=noise)[1], reference[1], atol=1e-4)


def test_dropping_an_absent_camera_and_prompt_padding_is_exact(micro_model, batch, noise):
    """A camera absent from the whole batch is skipped (no SigLIP pass); the result must not change."""
    one = {k: v[:1] for k, v in batch.items()}  # sample 0: camera 1 absent, short prompt
    with torch.no_grad():
        prefix, pad = micro_model.embed_prefix(one["images"], one["image_masks"], one["tokens"], one["token_masks"])
        full = micro_model.denoise_step(micro_model.prefill(prefix, pad, one["state"]), noise[:1], torch.ones(1))
    compact = micro_model.sample_actions(**one, noise=noise[:1], num_steps=1)
    torch.testing.assert_close(noise[:1] - compact, full, rtol=0, atol=1e-5)
    kept = micro_model.compact_prefix(one["images"], one["image_masks"], one["tokens"], one["token_masks"])
    assert kept[0].shape[1] == micro_model.config.num_cameras - 1
    assert kept[2].shape[1] == int(one["token_masks"].sum())


def test_noise_makes_sampling_deterministic(micro_model, batch, noise):
    a = micro_model.sample_actions(**batch, noise=noise)
    torch.testing.assert_close(micro_model.sample_actions(**batch, noise=noise), a, rtol=0, atol=0)
    assert not torch.allclose(micro_model.sample_actions(**batch, noise=noise + 1.0), a)


def test_short_state_is_zero_padded(micro_model, batch, noise):
    padded = torch.cat([batch["state"][:, :3], torch.zeros(2, micro_model.config.state_dim - 3)], dim=1)
    short = micro_model.sample_actions(**{**batch, "state": batch["state"][:, :3]}, noise=noise)
    torch.testing.assert_close(short, micro_model.sample_actions(**{**batch, "state": padded}, noise=noise))


def test_batch_of_one_without_padding_matches_too(micro_model, batch, noise):
    """At batch 1 every key is visible after compaction, so the unmasked attention kernel runs."""
    one = {k: v[1:] for k, v in batch.items()}
    one["image_masks"] = torch.ones_like(one["image_masks"])
    cached = micro_model.sample_actions(**one, noise=noise[1:])
    torch.testing.assert_close(cached, micro_model.sample_actions(**one, noise=noise[1:], use_cache=False),
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(cached, micro_model.sample_actions(**one, noise=noise[1:], cache_state=False),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_shares_kv_heads_like_repeating_them(micro_model, kv_heads, masked):
    """_attend lets SDPA share each K/V head across its query heads: same as repeating K/V per query head."""
    g = torch.Generator().manual_seed(kv_heads)
    b, h, q_len, k_len, hd = 2, 4, 5, 7, 16
    q = torch.randn(b, h, q_len, hd, generator=g)
    k, v = torch.randn(2, b, kv_heads, k_len, hd, generator=g)
    visible = torch.rand(b, q_len, k_len, generator=g) < 0.7
    visible[..., 0] = True  # every query sees at least one key
    mask = additive_mask(visible, torch.float32) if masked else None  # [B, 1, Q, K]
    k_rep, v_rep = (t.repeat_interleave(h // kv_heads, dim=1) for t in (k, v))  # [B, H, K, hd]
    logits = q @ k_rep.transpose(-1, -2) * hd**-0.5 + (mask if masked else 0.0)
    expected = (logits.softmax(-1) @ v_rep).transpose(1, 2).reshape(b, q_len, h * hd)
    torch.testing.assert_close(micro_model._attend(q, k, v, mask), expected, rtol=0, atol=1e-5)
