"""Real-time-chunking guidance: weights, schedule, and its pull towards the committed actions."""

import pytest
import torch

from pi0_policy.model import rtc


def test_linear_weights_follow_the_paper():
    d, h_e, horizon = 3, 8, 12
    w = rtc.prefix_weights(d, h_e, horizon, "linear")
    # c_i = 1 for i < d, (H_e − i) / (H_e − d + 1) for d <= i < H_e, 0 after (Black et al. 2025, eq. 5).
    expected = [1.0 if i < d else (h_e - i) / (h_e - d + 1) if i < h_e else 0.0 for i in range(horizon)]
    torch.testing.assert_close(w, torch.tensor(expected))


def test_other_schedules():
    assert rtc.prefix_weights(2, 5, 8, "zeros").tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert rtc.prefix_weights(2, 5, 8, "ones").tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    lin, exp = rtc.prefix_weights(2, 5, 8, "linear"), rtc.prefix_weights(2, 5, 8, "exp")
    assert torch.equal(exp[:2], lin[:2]) and (exp[2:5] < lin[2:5]).all() and (exp[2:5] > 0).all()
    # A delay past the horizon guides everything up to the horizon.
    assert rtc.prefix_weights(9, 5, 8, "linear").tolist() == [1, 1, 1, 1, 1, 0, 0, 0]


def test_guidance_weight_schedule():
    beta = 10.0
    assert rtc.guidance_weight(1.0, beta) == beta  # τ = 0: diverges, clipped
    assert rtc.guidance_weight(0.5, beta) == pytest.approx(2.0)
    tau = 0.1  # t = 0.9
    assert rtc.guidance_weight(0.9, beta) == pytest.approx(((1 - tau) ** 2 + tau**2) / (tau * (1 - tau)))
    assert rtc.guidance_weight(0.9, 5.0) == 5.0


def test_guided_velocity_sign_pulls_the_prediction_towards_the_target():
    x, v = torch.zeros(1, 4, 2), torch.zeros(1, 4, 2)
    target = torch.ones(1, 4, 2)
    step = rtc.guided(lambda x_t, t: v, target, torch.tensor([1.0, 1.0, 0.0, 0.0]), 10.0)
    g = step(x, torch.tensor([0.5]))
    # x̂₀ = x − t·v = 0 is below the target, so with dt < 0 the velocity must become negative there.
    assert (g[:, :2] < 0).all() and (g[:, 2:] == 0).all()


def test_pad_target():
    prev = torch.arange(6.0).reshape(3, 2)
    out = rtc.pad_target(prev, batch=2, horizon=5, action_dim=4)
    assert out.shape == (2, 5, 4) and torch.equal(out[1, :3, :2], prev) and out[:, 3:].abs().sum() == 0
    with pytest.raises(ValueError, match="dims"):
        rtc.pad_target(torch.zeros(3, 7), batch=1, horizon=5, action_dim=4)


def test_bad_guidance_requests_are_refused():
    with pytest.raises(ValueError, match="schedule"):
        rtc.RtcGuidance(torch.zeros(2, 2), 1, 2, schedule="cosine")
    with pytest.raises(ValueError, match=">= 0"):
        rtc.RtcGuidance(torch.zeros(2, 2), -1, 2)


def test_guided_sample_moves_its_first_steps_towards_the_committed_actions(micro_model, batch, noise):
    c = micro_model.config
    committed = torch.full((6, c.action_dim), 2.0)  # far from what the random model produces
    request = rtc.RtcGuidance(prev_actions=committed, inference_delay=3, execution_horizon=6)
    free = micro_model.sample_actions(**batch, noise=noise)
    guided = micro_model.sample_actions(**batch, noise=noise, guidance=request)
    d = request.inference_delay
    err_free = (free[:, :d] - committed[:d]).pow(2).mean()
    err_guided = (guided[:, :d] - committed[:d]).pow(2).mean()
    assert err_guided < 0.5 * err_free
    assert torch.equal(micro_model.sample_actions(**batch, noise=noise), free)  # no state left behind
