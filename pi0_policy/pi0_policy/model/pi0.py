"""π₀: a PaliGemma backbone and a Gemma action expert joined by attention, trained by flow matching.

Black et al., "π₀: A Vision-Language-Action Flow Model for General Robot Control" (arXiv 2410.24164).
This is a reading of openpi's ``src/openpi/models/pi0.py`` (JAX) and ``models_pytorch/pi0_pytorch.py`` and of
LeRobot's ``policies/pi0/modeling_pi0.py``, written so that their checkpoints load (weights.py) and give
their actions. Flow-matching time runs from t = 1 (noise) to t = 0 (data), as in their code; see
flow_matching.py.

Layout of one sample (3 cameras, full size):

    prefix, LLM weights (block 0):    [image 256][image 256][image 256][language 48]
    suffix, expert weights:           [state 1] (block 1) [actions 50] (block 2)

A token sees every real token of its own block and of earlier blocks. Both stacks run layer by layer
with one softmax over the union of their tokens (joint attention), each with its own weights.

Inference runs the prefix once and keeps its keys/values (after RoPE). Beyond openpi, the state token is
run once as well and appended to that cache (it never sees the actions and does not depend on t), so each
of the 10 Euler steps only runs the 50 action tokens through the expert.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn
from transformers import GemmaConfig, SiglipVisionConfig
from transformers.models.gemma.modeling_gemma import GemmaMLP, GemmaRMSNorm, apply_rotary_pos_emb
from transformers.models.siglip.modeling_siglip import SiglipEncoder, SiglipVisionEmbeddings

from . import rtc
from .config import Pi0Config
from .flow_matching import euler_integrate, noisy_actions, sample_time, time_embedding

# Finite fill for masked logits (openpi/big_vision); -inf would turn fully padded rows into NaN.
MASK_VALUE = -2.3819763e38
PREFIX_BLOCK, STATE_BLOCK, ACTION_BLOCK = 0, 1, 2
# Precision-sensitive parameters kept in float32 when the model runs in bfloat16: RMSNorm scales, the
# SigLIP patch/position embeddings (JAX runs them in float32) and the small action/state projections.
FLOAT32_PARAMS = (
    "input_layernorm", "post_attention_layernorm", "llm.norm", "expert.norm",
    "embeddings.patch_embedding", "embeddings.position_embedding",
    "state_proj", "action_in_proj", "action_out_proj", "action_time_mlp_in", "action_time_mlp_out",
)  # fmt: skip


def make_attention_mask(pad_mask: Tensor, block_ids: Tensor) -> Tensor:
    """Blockwise-causal mask: token i sees token j iff block[j] <= block[i] and both are real.

    This is big_vision's ``make_attn_mask`` with the cumulative ``mask_ar`` written out as block ids.

    Args:
        pad_mask: bool [B, N], False for padding (absent cameras, short prompts).
        block_ids: int [B, N] or [N], non-decreasing.

    Returns:
        bool [B, N, N] (query, key).
    """
    if block_ids.ndim == 1:
        block_ids = block_ids[None].expand(pad_mask.shape[0], -1)
    causal = block_ids[:, None, :] <= block_ids[:, :, None]  # [B, N, N]
    return causal & pad_mask[:, None, :] & pad_mask[:, :, None]


def additive_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """bool [B, Q, K] -> additive float mask [B, 1, Q, K] (0 where allowed, MASK_VALUE elsewhere)."""
    return torch.where(mask[:, None], 0.0, MASK_VALUE).to(dtype)


def rope_cos_sin(positions: Tensor, head_dim: int, theta: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """RoPE tables for HF's split-halves ``rotate_half`` layout, computed in float32 then cast.

    Args:
        positions: int [B, T].

    Returns:
        (cos, sin), each [B, T, head_dim] in ``dtype`` (HF/openpi-PT cast before the multiply).
    """
    # Same expression as transformers' default RoPE; computed per call so .to(dtype) cannot round it.
    exponent = torch.arange(0, head_dim, 2, dtype=torch.int64, device=positions.device).float() / head_dim
    inv_freq = 1.0 / (theta**exponent)  # [hd/2]
    freqs = positions.float()[:, :, None] * inv_freq[None, None, :]  # [B, T, hd/2]
    emb = torch.cat([freqs, freqs], dim=-1)  # [B, T, hd]
    return emb.cos().to(dtype), emb.sin().to(dtype)


class VisionTower(nn.Module):
    """SigLIP image encoder from transformers' building blocks; no pooling head, every patch is a token.

    Parameter names match transformers' ``SiglipVisionTransformer`` (embeddings, encoder, post_layernorm).
    """

    def __init__(self, c: Pi0Config):
        super().__init__()
        hf = SiglipVisionConfig(
            hidden_size=c.vision_width, intermediate_size=c.vision_mlp_dim, num_hidden_layers=c.vision_depth,
            num_attention_heads=c.vision_heads, image_size=c.image_size, patch_size=c.patch_size,
            num_channels=3, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, vision_use_head=False,
        )  # fmt: skip
        hf._attn_implementation = "sdpa"
        self.embeddings = SiglipVisionEmbeddings(hf)
        self.encoder = SiglipEncoder(hf)
        self.post_layernorm = nn.LayerNorm(c.vision_width, eps=1e-6)

    def reset_buffers(self) -> None:
        """Refill the (non-persistent) patch position ids, e.g. after ``to_empty``."""
        ids = self.embeddings.position_ids
        ids.copy_(torch.arange(ids.shape[-1], device=ids.device).expand_as(ids))

    def forward(self, pixels: Tensor) -> Tensor:
        """[N, 3, H, W] in [-1, 1] -> [N, (H/p)*(W/p), vision_width]."""
        # The patch conv and position add run in the embedding's dtype (float32 in bf16 models, as JAX).
        x = self.embeddings(pixels)  # [N, T, Dv]
        x = x.to(self.post_layernorm.weight.dtype)
        x = self.encoder(inputs_embeds=x).last_hidden_state  # [N, T, Dv]
        return self.post_layernorm(x)


class Attention(nn.Module):
    """Projections of one Gemma attention layer; the attention itself is joint (Pi0Model._transformer)."""

    def __init__(self, width: int, c: Pi0Config):
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = c.num_heads, c.num_kv_heads, c.head_dim
        self.q_proj = nn.Linear(width, c.num_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(width, c.num_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(width, c.num_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_heads * c.head_dim, width, bias=False)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """[B, T, D] -> q [B, H, T, hd], k and v [B, KV, T, hd]."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        return q, k, v


class GemmaLayer(nn.Module):
    """Pre-norm Gemma decoder layer: x + Attn(RMSNorm(x)), then x + GeGLU(RMSNorm(x))."""

    def __init__(self, width: int, mlp_dim: int, c: Pi0Config):
        super().__init__()
        mlp_config = GemmaConfig(hidden_size=width, intermediate_size=mlp_dim, hidden_act="gelu_pytorch_tanh",
                                 num_attention_heads=c.num_heads, num_key_value_heads=c.num_kv_heads,
                                 head_dim=c.head_dim, vocab_size=1)  # fmt: skip
        self.input_layernorm = GemmaRMSNorm(width, eps=c.rms_norm_eps)
        self.self_attn = Attention(width, c)
        self.post_attention_layernorm = GemmaRMSNorm(width, eps=c.rms_norm_eps)
        self.mlp = GemmaMLP(mlp_config)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of the normalised input (before RoPE)."""
        return self.self_attn.qkv(self.input_layernorm(x))

    def finish(self, x: Tensor, attn: Tensor) -> Tensor:
        """Residual update from the attention output [B, T, H*hd], then the MLP block."""
        x = x + self.self_attn.o_proj(attn.to(x.dtype))
        return x + self.mlp(self.post_attention_layernorm(x))


class GemmaStack(nn.Module):
    """The layers and final norm of one Gemma; only the LLM has a token embedding."""

    def __init__(self, width: int, depth: int, mlp_dim: int, c: Pi0Config, vocab_size: int | None):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, width) if vocab_size else None
        self.layers = nn.ModuleList(GemmaLayer(width, mlp_dim, c) for _ in range(depth))
        self.norm = GemmaRMSNorm(width, eps=c.rms_norm_eps)


@dataclass
class PrefixCache:
    """Keys/values (after RoPE) of every layer for the tokens that do not change across Euler steps.

    Attributes:
        keys, values: per layer [B, KV, C, hd].
        pad: bool [B, C], False for padding tokens.
        state_token: the embedded state [B, 1, expert_width] when it is *not* folded into the cache
            (openpi's behaviour, kept for the equivalence test); None when it is.
        step_mask, step_rope: additive mask [B, 1, S, C+S] (None when every key is visible) and RoPE tables
            of the S suffix tokens that every Euler step runs; they do not change across steps, so they are
            built once.
    """

    keys: list[Tensor]
    values: list[Tensor]
    pad: Tensor
    state_token: Tensor | None = None
    step_mask: Tensor | None = None
    step_rope: tuple[Tensor, Tensor] | None = None


class Pi0Model(nn.Module):
    """The π₀ network: images + prompt + state -> a chunk of actions."""

    def __init__(self, config: Pi0Config):
        super().__init__()
        c = self.config = config
        self.vision_tower = VisionTower(c)
        self.projector = nn.Linear(c.vision_width, c.llm_width)  # HF multi_modal_projector.linear
        self.llm = GemmaStack(c.llm_width, c.llm_depth, c.llm_mlp_dim, c, vocab_size=c.vocab_size)
        self.expert = GemmaStack(c.expert_width, c.expert_depth, c.expert_mlp_dim, c, vocab_size=None)
        self.state_proj = nn.Linear(c.state_dim, c.expert_width)
        self.action_in_proj = nn.Linear(c.action_dim, c.expert_width)
        self.action_time_mlp_in = nn.Linear(2 * c.expert_width, c.expert_width)
        self.action_time_mlp_out = nn.Linear(c.expert_width, c.expert_width)
        self.action_out_proj = nn.Linear(c.expert_width, c.action_dim)
        self.apply(self._init_weights)
        self.apply_dtype_policy()

    # ----------------------------------------------------------------------------------------------
    # Initialisation and dtypes

    def _init_weights(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            # Gemma multiplies token embeddings by sqrt(width): this gives them unit scale.
            nn.init.normal_(m.weight, std=m.embedding_dim**-0.5)
        elif isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=(m.weight[0].numel()) ** -0.5)  # LeCun normal, like SigLIP
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, GemmaRMSNorm):
            nn.init.zeros_(m.weight)  # Gemma stores scale - 1

    @staticmethod
    def keeps_float32(name: str) -> bool:
        """Whether a parameter stays float32 in a bfloat16 model (see FLOAT32_PARAMS)."""
        return any(part in name for part in FLOAT32_PARAMS)

    def apply_dtype_policy(self) -> None:
        """Cast parameters to config.dtype, keeping the precision-sensitive ones in float32."""
        dtype = self.compute_dtype
        for name, p in self.named_parameters():
            p.data = p.data.to(torch.float32 if self.keeps_float32(name) else dtype)

    @property
    def compute_dtype(self) -> torch.dtype:
        """Activation dtype of the transformer stacks."""
        return torch.bfloat16 if self.config.dtype == "bfloat16" else torch.float32

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.projector.weight.device

    # ----------------------------------------------------------------------------------------------
    # Embeddings

    def encode_images(self, images: Tensor) -> Tensor:
        """[B, n, 3, H, W] in [-1, 1] -> image tokens [B, n*T, llm_width] (no sqrt(width) scaling)."""
        b, n = images.shape[:2]
        x = self.vision_tower(images.flatten(0, 1))  # [B*n, T, Dv]
        x = self.projector(x.to(self.projector.weight.dtype))  # [B*n, T, D]
        return x.unflatten(0, (b, n)).flatten(1, 2)  # [B, n*T, D]

    def embed_prefix(self, images: Tensor, image_masks: Tensor, tokens: Tensor, token_masks: Tensor,
                     image_tokens: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Image and language tokens with their padding mask.

        Args:
            images, image_masks, tokens, token_masks: as in :meth:`sample_actions`.
            image_tokens: :meth:`encode_images` of ``images`` when already computed (benchmarks time it apart).

        Returns:
            (tokens [B, P, llm_width] in compute dtype, pad bool [B, P]), images first, then language.
        """
        b, n = images.shape[:2]
        table = self.llm.embed_tokens.weight
        # Gemma scales the lookup by sqrt(width), with the constant rounded to the table dtype (as JAX/HF).
        text = self.llm.embed_tokens(tokens) * torch.tensor(self.config.llm_width**0.5, dtype=table.dtype)
        if n == 0:
            return text.to(self.compute_dtype), token_masks
        image = self.encode_images(images) if image_tokens is None else image_tokens  # [B, n*T, D]
        image_pad = image_masks[:, :, None].expand(b, n, self.config.tokens_per_image).reshape(b, -1)
        emb = torch.cat([image.to(self.compute_dtype), text.to(self.compute_dtype)], dim=1)  # [B, P, D]
        return emb, torch.cat([image_pad, token_masks], dim=1)

    def embed_state(self, state: Tensor) -> Tensor:
        """[B, state_dim] -> the state token [B, 1, expert_width] in compute dtype."""
        return self.state_proj(state.to(self.state_proj.weight.dtype))[:, None].to(self.compute_dtype)

    def embed_actions(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Noisy actions and time -> action tokens [B, H, expert_width] in compute dtype.

        MLP(concat(action_in_proj(x_t), time_embedding(t))) with a swish in between, action first.
        """
        w = self.action_in_proj.weight
        a = self.action_in_proj(x_t.to(w.dtype))  # [B, H, We]
        c = self.config
        te = time_embedding(t, c.expert_width, c.time_min_period, c.time_max_period).to(w.dtype)  # [B, We]
        h = torch.cat([a, te[:, None, :].expand_as(a)], dim=-1)  # [B, H, 2*We]
        h = self.action_time_mlp_out(F.silu(self.action_time_mlp_in(h)))  # [B, H, We]
        return h.to(self.compute_dtype)

    def project_actions(self, expert_out: Tensor) -> Tensor:
        """Expert hidden states of the action tokens [B, H, We] -> velocity [B, H, action_dim], float32."""
        return self.action_out_proj(expert_out.to(self.action_out_proj.weight.dtype)).float()

    # ----------------------------------------------------------------------------------------------
    # The joint transformer

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """q [B, H, Q, hd], k/v [B, KV, K, hd], additive mask [B, 1, Q, K] or None -> [B, Q, H*hd]."""
        b, h, q_len, hd = q.shape
        gqa = k.shape[1] != h  # each K/V head serves h // KV query heads
        if gqa and mask is not None and q.device.type != "cpu":
            # CUDA's flash kernel, the one that shares K/V heads itself (enable_gqa), takes no mask, and the
            # memory-efficient one refuses unequal head counts: repeat K/V instead (a zero-stride view when
            # KV = 1, as in π₀) so that a fused kernel still runs rather than the math fallback.
            rep = h // k.shape[1]
            k = k[:, :, None].expand(-1, -1, rep, -1, -1).reshape(b, h, -1, hd)
            v = v[:, :, None].expand(-1, -1, rep, -1, -1).reshape(b, h, -1, hd)
            gqa = False
        # enable_gqa: the kernel shares each K/V head (same result, bit for bit; CPU flash also with a mask).
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=hd**-0.5,
                                             enable_gqa=gqa)  # [B, H, Q, hd]
        return out.transpose(1, 2).reshape(b, q_len, h * hd)

    def rope(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """RoPE (cos, sin) [B, T, head_dim] in compute dtype for int positions [B, T]."""
        return rope_cos_sin(positions, self.config.head_dim, self.config.rope_theta, self.compute_dtype)

    def _transformer(self, streams: list[Tensor | None], rope: tuple[Tensor, Tensor], mask: Tensor | None,
                     past: PrefixCache | None = None, keep_kv: bool = False,
                     ) -> tuple[Tensor | None, list[Tensor], list[Tensor]]:
        """Run the LLM and the expert side by side, attending jointly in every layer.

        Args:
            streams: [prefix tokens [B, P, D] or None, suffix tokens [B, S, We] or None].
            rope: :meth:`rope` of the positions of the tokens given (not of the cache), [B, P+S, hd].
            mask: additive mask [B, 1, P+S, len(past)+P+S], or None when all keys are visible.
            past: cached keys/values to prepend (read only).
            keep_kv: return this call's keys/values (after RoPE) for caching.

        Returns:
            (final-normed suffix output [B, S, We] or None, keys, values). The prefix output is never used
            by π₀, so it is not computed: in the last layer only the keys/values of the prefix are needed.
        """
        stacks = (self.llm, self.expert)
        xs = list(streams)
        present = [i for i, x in enumerate(xs) if x is not None]
        lengths = [xs[i].shape[1] for i in present]
        cos, sin = rope  # [B, T, hd]
        new_keys, new_values = [], []
        depth = len(self.llm.layers)
        for layer in range(depth):
            qkv = [stacks[i].layers[layer].qkv(xs[i]) for i in present]
            if len(qkv) == 1:
                q, k, v = qkv[0]
            else:
                q = torch.cat([t[0] for t in qkv], dim=2)  # [B, H, T, hd]
                k = torch.cat([t[1] for t in qkv], dim=2)  # [B, KV, T, hd]
                v = torch.cat([t[2] for t in qkv], dim=2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            if keep_kv:
                new_keys.append(k)
                new_values.append(v)
            if past is not None:
                k = torch.cat([past.keys[layer], k], dim=2)  # [B, KV, S+T, hd]
                v = torch.cat([past.values[layer], v], dim=2)
            rows = present
            if layer == depth - 1 and present[0] == 0:
                # Last layer: the prefix's own output is unused, so only the suffix queries are needed.
                rows = present[1:]
                if not rows:
                    break
                q = q[:, :, lengths[0]:]
                mask = mask[:, :, lengths[0]:] if mask is not None else None
            out = self._attend(q, k, v, mask)  # [B, rows' tokens, H*hd]
            for i, chunk in zip(rows, out.split([xs[i].shape[1] for i in rows], dim=1), strict=True):
                xs[i] = stacks[i].layers[layer].finish(xs[i], chunk)
        suffix = self.expert.norm(xs[1]) if xs[1] is not None else None
        return suffix, new_keys, new_values

    # ----------------------------------------------------------------------------------------------
    # Velocity: uncached (training, reference) and cached (inference)

    def velocity_uncached(self, prefix: Tensor, prefix_pad: Tensor, state: Tensor, x_t: Tensor,
                          t: Tensor) -> Tensor:
        """v(x_t, t) from one joint pass over prefix + [state, actions] (the training forward)."""
        suffix = torch.cat([self.embed_state(state), self.embed_actions(x_t, t)], dim=1)  # [B, 1+H, We]
        b, p, s = prefix.shape[0], prefix.shape[1], suffix.shape[1]
        pad = torch.cat([prefix_pad, prefix_pad.new_ones(b, s)], dim=1)  # [B, P+S]
        blocks = self._block_ids(p, prefix.device)
        mask = additive_mask(make_attention_mask(pad, blocks), self.compute_dtype)  # [B, 1, P+S, P+S]
        positions = torch.cumsum(pad, dim=1) - 1  # padding does not use up positions
        out, _, _ = self._transformer([prefix, suffix], self.rope(positions), mask)
        return self.project_actions(out[:, -self.config.action_horizon:])

    def _block_ids(self, prefix_len: int, device: torch.device) -> Tensor:
        ids = [PREFIX_BLOCK] * prefix_len + [STATE_BLOCK] + [ACTION_BLOCK] * self.config.action_horizon
        return torch.tensor(ids, device=device)

    def prefill(self, prefix: Tensor, prefix_pad: Tensor, state: Tensor, cache_state: bool = True,
                padded: bool | None = None) -> PrefixCache:
        """Run the prefix (and, by default, the state token) once and keep their keys/values.

        Args:
            prefix, prefix_pad: from :meth:`embed_prefix`.
            state: [B, state_dim].
            cache_state: fold the state token into the cache (exact: it only sees the prefix and itself).
            padded: whether prefix_pad has padding. Without it (typical at batch 1 once absent inputs are
                dropped) every key is visible and attention runs unmasked, a faster kernel. Worked out here
                when None; callers that compile this method pass it so the graph has no data-dependent branch.
        """
        b, p = prefix_pad.shape
        if padded is None:
            padded = not bool(prefix_pad.all())
        mask = None  # [B, 1, P, P]
        if padded:
            mask = additive_mask(make_attention_mask(prefix_pad, prefix_pad.new_zeros(p, dtype=torch.long)),
                                 self.compute_dtype)
        positions = torch.cumsum(prefix_pad, dim=1) - 1
        _, keys, values = self._transformer([prefix, None], self.rope(positions), mask, keep_kv=True)
        cache = PrefixCache(keys, values, prefix_pad)
        state_token = self.embed_state(state)  # [B, 1, We]
        if not cache_state:
            cache.state_token = state_token
            return self._prepare_steps(cache, [STATE_BLOCK] + [ACTION_BLOCK] * self.config.action_horizon, padded)
        # The state sees the real prefix tokens and itself; its position follows the last real token.
        mask = None  # [B, 1, 1, P+1]
        if padded:
            mask = additive_mask(torch.cat([prefix_pad, prefix_pad.new_ones(b, 1)], dim=1)[:, None, :],
                                 self.compute_dtype)
        rope = self.rope(prefix_pad.sum(dim=1, keepdim=True))  # position [B, 1]
        _, state_keys, state_values = self._transformer([None, state_token], rope, mask, cache, keep_kv=True)
        cache = PrefixCache(
            keys=[torch.cat(kv, dim=2) for kv in zip(keys, state_keys, strict=True)],
            values=[torch.cat(kv, dim=2) for kv in zip(values, state_values, strict=True)],
            pad=torch.cat([prefix_pad, prefix_pad.new_ones(b, 1)], dim=1),
        )
        return self._prepare_steps(cache, [ACTION_BLOCK] * self.config.action_horizon, padded)

    def _prepare_steps(self, cache: PrefixCache, blocks: list[int], padded: bool) -> PrefixCache:
        """Attach the step mask (None when every key is visible) and RoPE tables of the suffix tokens."""
        b, s = cache.pad.shape[0], len(blocks)
        if padded or len(set(blocks)) > 1:  # otherwise every key is visible to every query: no mask
            # Queries see every real cached token, then the blockwise rule inside the suffix.
            block_ids = cache.pad.new_tensor(blocks, dtype=torch.long)
            suffix_mask = make_attention_mask(cache.pad.new_ones(b, s), block_ids)  # [B, S, S]
            cached = cache.pad[:, None, :].expand(b, s, -1)  # [B, S, C]
            cache.step_mask = additive_mask(torch.cat([cached, suffix_mask], dim=2), self.compute_dtype)
        positions = cache.pad.sum(dim=1, keepdim=True) + torch.arange(s, device=cache.pad.device)[None]
        cache.step_rope = self.rope(positions)  # [B, S, hd]
        return cache

    def denoise_step(self, cache: PrefixCache, x_t: Tensor, t: Tensor) -> Tensor:
        """One velocity evaluation against the cache: only the expert runs, on the action tokens.

        Args:
            cache: from :meth:`prefill`.
            x_t: noisy actions [B, H, action_dim].
            t: flow times [B].

        Returns:
            v [B, H, action_dim], float32.
        """
        suffix = self.embed_actions(x_t, t)  # [B, H, We]
        if cache.state_token is not None:
            suffix = torch.cat([cache.state_token, suffix], dim=1)  # [B, 1+H, We]
        out, _, _ = self._transformer([None, suffix], cache.step_rope, cache.step_mask, past=cache)
        return self.project_actions(out[:, -self.config.action_horizon:])

    # ----------------------------------------------------------------------------------------------
    # Public entry points

    def compile_stages(self, mode: str = "default", cuda_graphs: bool = False) -> None:
        """torch.compile the stages :meth:`sample_actions` runs: image encoder, prefill and one Euler step.

        Args:
            mode: torch.compile mode for all three ("default", "max-autotune-no-cudagraphs", ...).
            cuda_graphs: capture the Euler step, which runs 10 times per chunk with fixed shapes, in a CUDA graph
                (mode "reduce-overhead"). Its output is consumed before the next step replays, as cudagraph
                trees require.
        """
        self.encode_images = torch.compile(self.encode_images, mode=mode)
        self.prefill = torch.compile(self.prefill, mode=mode)
        self.denoise_step = torch.compile(self.denoise_step, mode="reduce-overhead" if cuda_graphs else mode)
        self._cuda_graphs = cuda_graphs

    def _check_inputs(self, images: Tensor, image_masks: Tensor, tokens: Tensor, token_masks: Tensor,
                      state: Tensor) -> None:
        c = self.config
        b, size = state.shape[0], c.image_size
        assert images.ndim == 5 and images.shape[0] == b and images.shape[2:] == (3, size, size), (
            f"images must be [B, n_cams, 3, {size}, {size}], got {tuple(images.shape)}"
        )
        assert image_masks.shape == images.shape[:2], f"image_masks must be {tuple(images.shape[:2])}"
        assert tokens.ndim == 2 and tokens.shape[0] == b, f"tokens must be [B, L], got {tuple(tokens.shape)}"
        assert token_masks.shape == tokens.shape, "token_masks must have the shape of tokens"
        assert state.ndim == 2 and state.shape[1] <= c.state_dim, f"state must be [B, <= {c.state_dim}]"

    @staticmethod
    def compact_prefix(images: Tensor, image_masks: Tensor, tokens: Tensor,
                       token_masks: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Drop cameras absent from the whole batch and trailing all-padding token columns.

        Exact: masked tokens get zero attention weight and positions come from a cumsum over real tokens,
        so the remaining tokens compute the same values; it only saves SigLIP passes and prefix length.
        """
        keep = image_masks.any(dim=0)  # [n]
        if not bool(keep.all()):
            images, image_masks = images[:, keep], image_masks[:, keep]
        real_columns = token_masks.any(dim=0).nonzero()
        length = int(real_columns.max()) + 1 if len(real_columns) else 0
        return images, image_masks, tokens[:, :length], token_masks[:, :length]

    def _pad_vector(self, x: Tensor, dim: int) -> Tensor:
        return F.pad(x, (0, dim - x.shape[-1])) if x.shape[-1] < dim else x

    @torch.no_grad()
    def sample_actions(self, images: Tensor, image_masks: Tensor, tokens: Tensor, token_masks: Tensor,
                       state: Tensor, noise: Tensor | None = None, num_steps: int | None = None,
                       use_cache: bool = True, guidance: rtc.RtcGuidance | None = None,
                       cache_state: bool = True) -> Tensor:
        """Sample a chunk of actions by integrating the learned flow from noise (t = 1) to data (t = 0).

        Args:
            images: float [B, n_cams, 3, H, W] in [-1, 1].
            image_masks: bool [B, n_cams]; False = absent camera (its pixels are ignored).
            tokens: long [B, L] prompt tokens; token_masks: bool [B, L].
            state: float [B, <= state_dim], normalised; zero-padded here.
            noise: [B, H, action_dim] float32 sample at t = 1; drawn from N(0, I) when None.
            num_steps: Euler steps (config.num_inference_steps when None).
            use_cache: reuse the prefix (+ state) keys/values across steps; False recomputes the whole
                sequence at every step (reference path for tests and benchmarks).
            guidance: real-time-chunking inpainting; prev_actions in model (normalised) space.
            cache_state: with use_cache, also fold the state token into the cache.

        Returns:
            float32 [B, H, action_dim] in normalised model space.
        """
        c = self.config
        self._check_inputs(images, image_masks, tokens, token_masks, state)
        b, dev = state.shape[0], self.device
        state = self._pad_vector(state.to(dev), c.state_dim)
        chunk_shape = (b, c.action_horizon, c.action_dim)
        noise = torch.randn(chunk_shape, device=dev) if noise is None else noise
        assert noise.shape == chunk_shape, f"noise must be {chunk_shape}, got {tuple(noise.shape)}"
        images, image_masks, tokens, token_masks = self.compact_prefix(
            images.to(dev), image_masks.to(dev), tokens.to(dev), token_masks.to(dev)
        )
        prefix, prefix_pad = self.embed_prefix(images, image_masks, tokens, token_masks)
        if use_cache:
            padded = not bool(prefix_pad.all())
            cache = self.prefill(prefix, prefix_pad, state, cache_state=cache_state, padded=padded)
            cuda_graphs = getattr(self, "_cuda_graphs", False)

            def velocity(x, t):
                if cuda_graphs:  # the previous step's output is consumed: its graph memory may be reused
                    torch.compiler.cudagraph_mark_step_begin()
                return self.denoise_step(cache, x, t)
        else:

            def velocity(x, t):
                return self.velocity_uncached(prefix, prefix_pad, state, x, t)

        if guidance is not None:
            velocity = self._guided(velocity, guidance, b)
        return euler_integrate(velocity, noise.to(dev, torch.float32), num_steps or c.num_inference_steps)

    def _guided(self, velocity, guidance: rtc.RtcGuidance, batch: int):
        c = self.config
        prev = torch.as_tensor(guidance.prev_actions, dtype=torch.float32, device=self.device)
        target = rtc.pad_target(prev, batch, c.action_horizon, c.action_dim)  # [B, H, A]
        # Like LeRobot: guidance cannot extend past the actions we were given.
        horizon = min(guidance.execution_horizon, prev.shape[-2])
        weights = rtc.prefix_weights(guidance.inference_delay, horizon, c.action_horizon, guidance.schedule)
        return rtc.guided(velocity, target, weights, guidance.max_guidance_weight)

    def compute_loss(self, images: Tensor, image_masks: Tensor, tokens: Tensor, token_masks: Tensor,
                     state: Tensor, actions: Tensor, noise: Tensor | None = None,
                     time: Tensor | None = None) -> Tensor:
        """Flow-matching loss, element-wise: (v(x_t, t) − (ε − A))², [B, H, action_dim].

        Args:
            actions: normalised chunk [B, H, <= action_dim]; zero-padded here (padded dims are trained
                to predict ε, as in openpi).
            noise: ε [B, H, action_dim]; N(0, I) when None.
            time: t [B]; 0.001 + 0.999·Beta(1.5, 1) when None.
        """
        c = self.config
        self._check_inputs(images, image_masks, tokens, token_masks, state)
        state = self._pad_vector(state, c.state_dim)
        actions = self._pad_vector(actions.float(), c.action_dim)
        noise = torch.randn_like(actions) if noise is None else noise
        if time is None:
            time = sample_time(state.shape[0], c.time_beta_alpha, c.time_beta_beta, c.time_scale,
                               c.time_offset, actions.device)
        x_t, u_t = noisy_actions(actions, noise, time)
        prefix_inputs = self.compact_prefix(images, image_masks, tokens, token_masks)
        prefix, prefix_pad = self.embed_prefix(*prefix_inputs)
        v_t = self.velocity_uncached(prefix, prefix_pad, state, x_t, time)
        return F.mse_loss(v_t, u_t, reduction="none")

    def num_parameters(self) -> int:
        """Total parameter count."""
        return sum(p.numel() for p in self.parameters())
