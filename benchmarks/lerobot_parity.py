"""Parity with LeRobot's own π₀ (lerobot==0.6.1) at small random sizes: same weights, inputs and noise.

Not a test (it needs LeRobot, which the project does not depend on). Run it with a Python that has
lerobot[pi]==0.6.1 installed (see benchmarks/README.md):

    /work/venvs/lerobot/bin/python benchmarks/lerobot_parity.py

What it does:
1. Builds LeRobot's ``PI0Policy`` in float32 at small sizes. LeRobot only knows the gemma_2b/gemma_300m
   size tables and hard-codes SigLIP So400m, a 2048-wide projector and a 257152-token vocabulary, so the
   script swaps in small values for exactly those numbers (``get_gemma_config`` and the PaliGemma and
   expert Gemma configs handed to their constructors); none of LeRobot's computation is touched.
2. Perturbs every parameter (norm scales included) so nothing sits at its initial value, and saves the
   policy with LeRobot's ``save_pretrained``: a real LeRobot-layout checkpoint (``model.``-prefixed keys,
   untied VLM lm_head, dead expert lm_head).
3. Loads that folder into our ``Pi0Model`` through ``load_checkpoint`` (the LeRobot-layout loader).
4. Feeds both identical images (one camera masked for one sample), padded prompts, state, noise and
   flow time, and compares: the velocity of one denoising step, the element-wise training loss, and the
   10-step sample (ours with the prefix+state cache, and without any cache).
5. The other way round: a fresh LeRobot policy loads our LeRobot-layout export with its strict
   ``load_state_dict`` and must then sample what ours samples.
Exit status 1 if any max-abs-diff exceeds --tol (1e-4).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pi0_policy"))  # our package, without installing it into LeRobot's venv

from lerobot.configs import FeatureType, PolicyFeature  # noqa: E402
from lerobot.policies.pi0 import modeling_pi0  # noqa: E402
from lerobot.policies.pi0.configuration_pi0 import PI0Config  # noqa: E402

from pi0_policy.model.config import Pi0Config  # noqa: E402
from pi0_policy.model.weights import LEROBOT, export_state_dict, load_checkpoint  # noqa: E402

# Small sizes. LeRobot's joint attention reshapes with a hard-coded 8 heads, so both Gemmas keep 8.
OURS = Pi0Config(
    name="lerobot_parity", image_size=32, patch_size=8, vision_width=48, vision_depth=2, vision_mlp_dim=96,
    vision_heads=3, vocab_size=320, llm_width=64, llm_depth=3, llm_mlp_dim=160, expert_width=32, expert_depth=3,
    expert_mlp_dim=96, num_heads=8, num_kv_heads=1, head_dim=16, action_dim=12, state_dim=10,
    action_horizon=50, max_token_len=48, num_cameras=3, dtype="float32", tokenizer="tiny",
)  # fmt: skip
CAMERAS = ("base_0_rgb", "left_wrist_0_rgb", "right_wrist_0_rgb")


def patch_lerobot_sizes(c: Pi0Config) -> None:
    """Replace LeRobot's size tables (Gemma variants, SigLIP/projector/vocab numbers) with ``c``'s."""
    sizes = {
        "gemma_2b": modeling_pi0.GemmaConfig(c.llm_width, c.llm_depth, c.llm_mlp_dim, c.num_heads, c.num_kv_heads,
                                             c.head_dim),
        "gemma_300m": modeling_pi0.GemmaConfig(c.expert_width, c.expert_depth, c.expert_mlp_dim, c.num_heads,
                                               c.num_kv_heads, c.head_dim),
    }  # fmt: skip
    modeling_pi0.get_gemma_config = sizes.__getitem__
    build_paligemma = modeling_pi0.PaliGemmaForConditionalGenerationWithPiGemma

    def small_paligemma(config):
        vision = config.vision_config
        vision.hidden_size, vision.intermediate_size = c.vision_width, c.vision_mlp_dim
        vision.num_hidden_layers, vision.num_attention_heads = c.vision_depth, c.vision_heads
        vision.patch_size, vision.image_size = c.patch_size, c.image_size
        vision.projection_dim = c.llm_width  # LeRobot hard-codes 2048
        config.text_config.vocab_size = config._vocab_size = c.vocab_size  # LeRobot hard-codes 257152
        return build_paligemma(config)

    modeling_pi0.PaliGemmaForConditionalGenerationWithPiGemma = small_paligemma
    build_expert = modeling_pi0.PiGemmaForCausalLM

    def small_vocab_expert(config):
        config.vocab_size = c.vocab_size  # only sizes the expert's unused lm_head (LeRobot: 257152)
        return build_expert(config=config)

    modeling_pi0.PiGemmaForCausalLM = small_vocab_expert


def build_lerobot_policy(c: Pi0Config, seed: int) -> modeling_pi0.PI0Policy:
    """LeRobot's PI0Policy at ``c``'s sizes with every parameter randomly perturbed."""
    patch_lerobot_sizes(c)
    image = PolicyFeature(FeatureType.VISUAL, (3, c.image_size, c.image_size))
    config = PI0Config(
        device="cpu", dtype="float32", image_resolution=(c.image_size, c.image_size), chunk_size=c.action_horizon,
        n_action_steps=c.action_horizon, max_state_dim=c.state_dim, max_action_dim=c.action_dim,
        tokenizer_max_length=c.max_token_len,
        input_features={**{f"observation.images.{k}": image for k in CAMERAS},
                        "observation.state": PolicyFeature(FeatureType.STATE, (c.state_dim,))},
        output_features={"action": PolicyFeature(FeatureType.ACTION, (c.action_dim,))},
    )  # fmt: skip
    torch.manual_seed(seed)
    policy = modeling_pi0.PI0Policy(config).eval()
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))  # norm scales, biases and all: nothing at its init value
    return policy


def make_inputs(c: Pi0Config, batch: int, seed: int) -> dict:
    """Identical inputs for both models: images in [-1, 1], one absent camera, padded prompts."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, c.num_cameras, 3, c.image_size, c.image_size, generator=g) * 2 - 1
    image_masks = torch.ones(batch, c.num_cameras, dtype=torch.bool)
    image_masks[0, -1] = False  # sample 0 has no right wrist camera
    tokens = torch.randint(0, c.vocab_size, (batch, c.max_token_len), generator=g)
    lengths = torch.randint(5, c.max_token_len, (batch,), generator=g)
    token_masks = torch.arange(c.max_token_len)[None] < lengths[:, None]
    tokens = tokens * token_masks  # pad id 0, like the tokenizer
    return dict(
        images=images, image_masks=image_masks, tokens=tokens, token_masks=token_masks,
        state=torch.randn(batch, c.state_dim, generator=g),
        actions=torch.randn(batch, c.action_horizon, c.action_dim, generator=g),
        noise=torch.randn(batch, c.action_horizon, c.action_dim, generator=g),
        time=torch.rand(batch, generator=g) * 0.98 + 0.01,
    )  # fmt: skip


def compare(theirs: modeling_pi0.PI0Pytorch, ours, x: dict) -> dict[str, float]:
    """Max abs differences of one-step velocity, element-wise loss and 10-step samples."""
    cams = x["images"].shape[1]
    images = [x["images"][:, i] for i in range(cams)]  # LeRobot takes per-camera lists
    masks = [x["image_masks"][:, i] for i in range(cams)]
    args = (x["tokens"], x["token_masks"], x["state"])
    ours_args = (x["images"], x["image_masks"], *args)
    # One Euler step from t = 1 with dt = -1 gives x = noise - v, so v = noise - x (one exact subtraction).
    v_theirs = x["noise"] - theirs.sample_actions(images, masks, *args, noise=x["noise"], num_steps=1)
    v_ours = x["noise"] - ours.sample_actions(*ours_args, noise=x["noise"], num_steps=1)
    loss_theirs = theirs.forward(images, masks, *args, x["actions"], x["noise"], x["time"])
    loss_ours = ours.compute_loss(*ours_args, x["actions"], noise=x["noise"], time=x["time"])
    sample_theirs = theirs.sample_actions(images, masks, *args, noise=x["noise"], num_steps=10)
    sample_cached = ours.sample_actions(*ours_args, noise=x["noise"], num_steps=10)
    sample_uncached = ours.sample_actions(*ours_args, noise=x["noise"], num_steps=10, use_cache=False)
    return {
        "velocity, one denoising step": (v_ours - v_theirs).abs().max().item(),
        "training loss (element-wise)": (loss_ours - loss_theirs).abs().max().item(),
        "10-step sample, prefix+state cache": (sample_cached - sample_theirs).abs().max().item(),
        "10-step sample, no cache": (sample_uncached - sample_theirs).abs().max().item(),
        "scale: max |10-step sample|": sample_theirs.abs().max().item(),
        "scale: max loss element": loss_theirs.max().item(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-4)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    policy = build_lerobot_policy(OURS, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        policy.save_pretrained(folder)  # LeRobot's own writer: model.safetensors + config.json
        ours = load_checkpoint(folder, config=OURS)  # our LeRobot-layout loader, strict
    inputs = make_inputs(OURS, args.batch, args.seed)
    diffs = compare(policy.model, ours, inputs)
    # Reverse direction: LeRobot reads what we write (strict: every key, no extras).
    fresh = build_lerobot_policy(OURS, args.seed + 1)
    fresh.load_state_dict({k: v.clone() for k, v in export_state_dict(ours, LEROBOT).items()}, strict=True)
    diffs["LeRobot loading our export, 10-step sample"] = compare(fresh.model, ours, inputs)[
        "10-step sample, prefix+state cache"]
    print(f"LeRobot π₀ vs pi0_ros Pi0Model, float32, batch {args.batch}, sizes {OURS.name}:")
    for name, value in diffs.items():
        print(f"  {name:46s} {value:.3e}")
    worst = max(v for k, v in diffs.items() if not k.startswith("scale"))
    print(f"max abs diff {worst:.3e} (tolerance {args.tol:g}): {'PASS' if worst <= args.tol else 'FAIL'}")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
