"""π₀ model configuration: one frozen dataclass and a registry of named sizes.

Field names follow openpi where one exists (``action_horizon``, ``max_token_len``, ``action_dim``);
the Gemma variant tables are openpi's ``gemma.py`` ``get_config`` (``gemma_2b``, ``gemma_300m``) and
the SigLIP numbers are big_vision's ``So400m/14`` as used by openpi's ``pi0.py``.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

DTYPES = ("float32", "bfloat16")
TOKENIZERS = ("paligemma", "tiny")


@dataclass(frozen=True)
class Pi0Config:
    """Every size the network needs; the defaults are the full π₀ (PaliGemma 3B + 300M expert)."""

    name: str = "pi0"

    # Vision tower (SigLIP). One image gives (image_size // patch_size)**2 tokens.
    image_size: int = 224
    patch_size: int = 14
    vision_width: int = 1152
    vision_depth: int = 27
    vision_mlp_dim: int = 4304  # openpi overrides HF's 4096 default with So400m's 4304
    vision_heads: int = 16

    # Language model (Gemma 2B). The projector maps vision_width -> llm_width.
    vocab_size: int = 257_152
    llm_width: int = 2048
    llm_depth: int = 18
    llm_mlp_dim: int = 16_384

    # Action expert (Gemma 300M). Talks to the LLM only through joint attention in every layer,
    # so its depth and attention geometry must equal the LLM's.
    expert_width: int = 1024
    expert_depth: int = 18
    expert_mlp_dim: int = 4096

    # Attention geometry shared by both Gemma stacks (multi-query: one K/V head).
    num_heads: int = 8
    num_kv_heads: int = 1
    head_dim: int = 256
    rope_theta: float = 10_000.0
    rms_norm_eps: float = 1e-6

    # Inputs and outputs. State and actions are zero-padded to these dims (openpi checkpoints: 32).
    action_dim: int = 32
    state_dim: int | None = None  # None: same as action_dim (resolved here; replace() both to change them)
    action_horizon: int = 50
    max_token_len: int = 48
    num_cameras: int = 3

    # Flow matching (openpi convention: t=1 noise, t=0 data; see pi0.py).
    num_inference_steps: int = 10
    time_min_period: float = 4e-3
    time_max_period: float = 4.0
    time_beta_alpha: float = 1.5
    time_beta_beta: float = 1.0
    time_scale: float = 0.999
    time_offset: float = 0.001

    # Numerics: "bfloat16" keeps norms, SigLIP patch/position embeddings and the action/state
    # projections in float32 (openpi-PT policy); "float32" is everything in float32.
    dtype: str = "bfloat16"
    # Where the SentencePiece model comes from: "paligemma" (tokenizer.model in the checkpoint
    # folder) or "tiny" (the small model shipped in pi0_policy/tokenizer_assets).
    tokenizer: str = "paligemma"

    def __post_init__(self):
        if self.state_dim is None:
            object.__setattr__(self, "state_dim", self.action_dim)
        problems = [p for p in (check(self) for check in _CHECKS) if p]
        if problems:
            raise ValueError(f"invalid Pi0Config {self.name!r}: " + "; ".join(problems))

    @property
    def tokens_per_image(self) -> int:
        """Number of SigLIP tokens one camera contributes to the prefix."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def prefix_len(self) -> int:
        """Prefix length with every camera present: images then language."""
        return self.num_cameras * self.tokens_per_image + self.max_token_len

    def to_dict(self) -> dict:
        """Plain dict for config.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Pi0Config:
        """Inverse of :meth:`to_dict`; unknown keys are an error so typos do not pass silently."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Pi0Config field(s): {unknown}")
        return cls(**data)


def _check_image(c: Pi0Config) -> str | None:
    if c.image_size % c.patch_size:
        return f"image_size {c.image_size} is not a multiple of patch_size {c.patch_size}"
    if c.vision_width % c.vision_heads:
        return f"vision_width {c.vision_width} is not divisible by vision_heads {c.vision_heads}"
    return None


def _check_experts(c: Pi0Config) -> str | None:
    if c.llm_depth != c.expert_depth:
        return f"llm_depth {c.llm_depth} != expert_depth {c.expert_depth} (joint attention in every layer)"
    if c.num_heads % c.num_kv_heads:
        return f"num_heads {c.num_heads} is not a multiple of num_kv_heads {c.num_kv_heads}"
    if c.expert_width % 2:
        return f"expert_width {c.expert_width} must be even (sin/cos time embedding)"
    return None


def _check_io(c: Pi0Config) -> str | None:
    if min(c.action_dim, c.state_dim, c.action_horizon, c.max_token_len, c.num_cameras) < 1:
        return "action_dim, state_dim, action_horizon, max_token_len and num_cameras must be >= 1"
    if c.num_inference_steps < 1:
        return f"num_inference_steps must be >= 1, got {c.num_inference_steps}"
    return None


def _check_enums(c: Pi0Config) -> str | None:
    if c.dtype not in DTYPES:
        return f"dtype {c.dtype!r} not in {DTYPES}"
    if c.tokenizer not in TOKENIZERS:
        return f"tokenizer {c.tokenizer!r} not in {TOKENIZERS}"
    return None


_CHECKS = (_check_image, _check_experts, _check_io, _check_enums)

# Vocabulary of the small SentencePiece model in tokenizer_assets (build_tiny_tokenizer.py).
TINY_VOCAB_SIZE = 768

_CONFIGS = {
    "pi0": Pi0Config(),
    # For CPU training of the demo policy: cameras resized to 96 px, ~10 M parameters.
    "pi0_small": Pi0Config(
        name="pi0_small",
        image_size=96, patch_size=12, vision_width=192, vision_depth=4, vision_mlp_dim=768, vision_heads=4,
        vocab_size=TINY_VOCAB_SIZE, llm_width=256, llm_depth=6, llm_mlp_dim=1024,
        expert_width=128, expert_depth=6, expert_mlp_dim=512,
        num_heads=4, num_kv_heads=1, head_dim=64,
        action_dim=18, dtype="float32", tokenizer="tiny",
    ),  # fmt: skip
    # For tests and CPU latency checks: same code path, a chunk in tens of milliseconds. The LLM is wide
    # relative to the expert (as in π₀) so that the prefix, not per-op overhead, dominates its cost.
    "pi0_tiny": Pi0Config(
        name="pi0_tiny",
        image_size=64, patch_size=8, vision_width=64, vision_depth=2, vision_mlp_dim=256, vision_heads=2,
        vocab_size=TINY_VOCAB_SIZE, llm_width=256, llm_depth=4, llm_mlp_dim=2048,
        expert_width=64, expert_depth=4, expert_mlp_dim=256,
        num_heads=4, num_kv_heads=1, head_dim=32,
        action_dim=18, dtype="float32", tokenizer="tiny",
    ),  # fmt: skip
}


def config_names() -> list[str]:
    """Names accepted by :func:`get_config`."""
    return sorted(_CONFIGS)


def get_config(name: str) -> Pi0Config:
    """Return the named config; an unknown name raises ValueError suggesting the closest one."""
    if name in _CONFIGS:
        return _CONFIGS[name]
    close = difflib.get_close_matches(name, _CONFIGS, n=1, cutoff=0.0)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown π₀ config {name!r}; known: {config_names()}.{hint}")
