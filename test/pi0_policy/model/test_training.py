"""Training side: loss definition, time sampling, time embedding, and that the model can fit a batch."""

import math

import torch

from pi0_policy.model.flow_matching import noisy_actions, sample_time, time_embedding

from .conftest import MICRO, make_batch, perturbed_model


def test_loss_is_elementwise_and_matches_the_cached_inference_velocity(micro_model, batch, noise):
    """The training forward (one joint pass) and the inference path (cache + expert) give the same v."""
    c = micro_model.config
    actions = torch.randn(2, c.action_horizon, c.action_dim)
    t = torch.tensor([0.3, 0.9])
    loss = micro_model.compute_loss(**batch, actions=actions, noise=noise, time=t)
    assert loss.shape == (2, c.action_horizon, c.action_dim) and (loss >= 0).all()
    x_t, u_t = noisy_actions(actions, noise, t)
    torch.testing.assert_close(x_t, t[:, None, None] * noise + (1 - t[:, None, None]) * actions)
    torch.testing.assert_close(u_t, noise - actions)
    with torch.no_grad():
        prefix, pad = micro_model.embed_prefix(batch["images"], batch["image_masks"], batch["tokens"],
                                               batch["token_masks"])
        v = micro_model.denoise_step(micro_model.prefill(prefix, pad, batch["state"]), x_t, t)
    torch.testing.assert_close(loss, (v - u_t) ** 2, rtol=1e-4, atol=1e-5)


def test_short_actions_are_padded_and_padded_dims_learn_the_noise(micro_model, batch, noise):
    c = micro_model.config
    actions = torch.randn(2, c.action_horizon, 3)
    t = torch.tensor([0.5, 0.5])
    padded = torch.cat([actions, torch.zeros(2, c.action_horizon, c.action_dim - 3)], dim=-1)
    torch.testing.assert_close(micro_model.compute_loss(**batch, actions=actions, noise=noise, time=t),
                               micro_model.compute_loss(**batch, actions=padded, noise=noise, time=t))


def test_training_time_distribution():
    torch.manual_seed(0)
    t = sample_time(20_000)
    assert t.dtype == torch.float32 and t.min() >= 0.001 and t.max() <= 1.0
    # Beta(1.5, 1) has mean 0.6 and P(X <= 0.5) = 0.5 ** 1.5.
    assert abs(t.mean().item() - (0.001 + 0.999 * 0.6)) < 0.01
    assert abs((t <= 0.001 + 0.999 * 0.5).float().mean().item() - 0.5**1.5) < 0.015


def test_time_embedding_is_sin_then_cos_over_log_spaced_periods():
    t = torch.tensor([0.0, 0.25, 1.0])
    emb = time_embedding(t, 8, 4e-3, 4.0)
    periods = [4e-3 * (1000.0 ** (i / 3)) for i in range(4)]
    for b, tb in enumerate(t.tolist()):
        expected = [math.sin(2 * math.pi * tb / p) for p in periods] + [math.cos(2 * math.pi * tb / p) for p in periods]
        torch.testing.assert_close(emb[b], torch.tensor(expected), rtol=0, atol=1e-5)


def test_loss_decreases_when_overfitting_a_tiny_batch():
    model = perturbed_model(MICRO, seed=3).train()
    batch = make_batch(MICRO, seed=4)
    g = torch.Generator().manual_seed(5)
    actions = torch.randn(2, MICRO.action_horizon, MICRO.action_dim, generator=g)
    fixed_noise = torch.randn(actions.shape, generator=g)
    fixed_time = torch.tensor([0.4, 0.8])

    def probe():
        with torch.no_grad():
            return model.compute_loss(**batch, actions=actions, noise=fixed_noise, time=fixed_time).mean().item()

    before = probe()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(6)
    for _ in range(120):
        optimiser.zero_grad()
        model.compute_loss(**batch, actions=actions).mean().backward()  # random noise and time
        optimiser.step()
    assert probe() < 0.5 * before
