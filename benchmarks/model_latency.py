"""π₀ chunk latency, broken down like the paper's table (arXiv 2410.24164, Table I).

Stages timed separately, the way ``Pi0Model.sample_actions`` runs them: image encoding (SigLIP + projector),
prefix forward (language embedding, the LLM over the prefix and the state token into the KV cache), and the
Euler denoising steps (action expert only). Then the whole ``sample_actions`` call with the cache, and
without it (the full prefix + suffix recomputed at every step), with their ratio; peak memory; a PNG bar chart.

Random weights (latency does not depend on their values). Examples:

    .venv/bin/python benchmarks/model_latency.py --config pi0_tiny
    .venv/bin/python benchmarks/model_latency.py --config pi0 --dtype bfloat16 --repeats 1 --warmup 0 --no-uncached
    .venv/bin/python benchmarks/model_latency.py --config default --dtype float32 bfloat16 --profile
    python benchmarks/model_latency.py --config pi0 --device cuda --dtype bfloat16 --compile --cuda-graphs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pi0_policy"))  # run from a checkout without installing the package

from pi0_policy.model.config import Pi0Config, config_names, get_config  # noqa: E402
from pi0_policy.model.flow_matching import euler_times  # noqa: E402
from pi0_policy.model.pi0 import Pi0Model  # noqa: E402

# The embedded default policy's sizes (its pi0_ros_config.json); weights stay random here.
DEFAULT_POLICY_CONFIG = ROOT / "pi0_policy" / "pi0_policy" / "checkpoints" / "default" / "pi0_ros_config.json"


def named_config(name: str) -> Pi0Config:
    """A registered config, or "default": the embedded default policy's."""
    if name == "default":
        return Pi0Config.from_dict(json.loads(DEFAULT_POLICY_CONFIG.read_text()))
    return get_config(name)


def build_model(name: str, device: str, dtype: str | None) -> Pi0Model:
    """A randomly initialised model built directly on ``device`` (no float32 CPU copy of big models)."""
    config = named_config(name)
    if dtype is not None:
        config = dataclasses.replace(config, dtype=dtype)
    with torch.device("meta"):
        model = Pi0Model(config)
    model.to_empty(device=device)
    model.vision_tower.reset_buffers()
    with torch.no_grad():
        model.apply(model._init_weights)
    return model.eval()


def make_inputs(model: Pi0Model, batch: int, cameras: int, prompt_len: int, device: str) -> dict:
    """Random images for ``cameras`` present cameras and a prompt of ``prompt_len`` real tokens."""
    c = model.config
    tokens = torch.randint(0, c.vocab_size, (batch, c.max_token_len), device=device)
    token_masks = (torch.arange(c.max_token_len, device=device) < prompt_len)[None].expand(batch, -1)
    return dict(
        images=torch.rand(batch, cameras, 3, c.image_size, c.image_size, device=device) * 2 - 1,
        image_masks=torch.ones(batch, cameras, dtype=torch.bool, device=device),
        tokens=tokens, token_masks=token_masks.contiguous(),
        state=torch.randn(batch, c.state_dim, device=device),
    )  # fmt: skip


class Timer:
    """Wall-clock timing that waits for the GPU before reading the clock."""

    def __init__(self, device: str):
        self.cuda = torch.device(device).type == "cuda"

    def __call__(self, fn: Callable[[], object]) -> tuple[object, float]:
        """Run fn once; return (its result, milliseconds)."""
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if self.cuda:
            torch.cuda.synchronize()
        return out, 1e3 * (time.perf_counter() - start)


def run_stages(model: Pi0Model, x: dict, noise: torch.Tensor, steps: int, timer: Timer) -> dict[str, float]:
    """One chunk, stage by stage (same calls as sample_actions, which also drops absent inputs first)."""
    image_tokens, t_images = timer(lambda: model.encode_images(x["images"]))

    def prefix_forward():
        prefix, pad = model.embed_prefix(x["images"], x["image_masks"], x["tokens"], x["token_masks"],
                                         image_tokens=image_tokens)
        return model.prefill(prefix, pad, x["state"], padded=not bool(pad.all()))

    cache, t_prefix = timer(prefix_forward)

    def denoise():
        sample, dt = noise, -1.0 / steps
        for t in euler_times(steps):
            if getattr(model, "_cuda_graphs", False):
                torch.compiler.cudagraph_mark_step_begin()
            t_batch = torch.full((noise.shape[0],), t, device=noise.device)
            sample = sample + dt * model.denoise_step(cache, sample, t_batch)
        return sample

    _, t_steps = timer(denoise)
    return {"images": t_images, "prefix": t_prefix, "steps": t_steps}


def measure(args: argparse.Namespace, dtype: str | None) -> dict:
    """All timings for one dtype, as medians over the repeats."""
    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cuda = torch.device(args.device).type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.cuda.reset_peak_memory_stats()
    model = build_model(args.config, args.device, dtype)
    c = model.config
    if args.compile or args.cuda_graphs:
        model.compile_stages(mode=args.compile_mode, cuda_graphs=args.cuda_graphs)
    x = make_inputs(model, args.batch, args.cameras, args.prompt_len or c.max_token_len, args.device)
    noise = torch.randn(args.batch, c.action_horizon, c.action_dim, device=args.device)
    timer = Timer(args.device)

    def sample(use_cache: bool):
        return model.sample_actions(**x, noise=noise, num_steps=args.steps, use_cache=use_cache)

    for _ in range(args.warmup):  # first calls allocate, tune and (with --compile) compile
        run_stages(model, x, noise, args.steps, timer)
        sample(True)
    if not args.no_uncached:
        sample(False)
    n_uncached = 0 if args.no_uncached else args.uncached_repeats or args.repeats
    stages, cached, uncached = [], [], []
    for i in range(args.repeats):  # interleaved, so that load from other jobs hits every variant alike
        stages.append(run_stages(model, x, noise, args.steps, timer))
        cached.append(timer(lambda: sample(True))[1])
        if i < n_uncached:
            uncached.append(timer(lambda: sample(False))[1])
    out = {k: statistics.median(s[k] for s in stages) for k in ("images", "prefix", "steps")}
    out.update(sample=statistics.median(cached), uncached=statistics.median(uncached) if uncached else None,
               params=model.num_parameters(), config=c)
    # Minima too: on a shared machine they show the undisturbed cost.
    out["min"] = {k: min(s[k] for s in stages) for k in ("images", "prefix", "steps")}
    out["min"].update(sample=min(cached), uncached=min(uncached) if uncached else None)
    if cuda:
        out["peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    else:  # process peak RSS: weights, activations, and the Python/torch runtime itself (all dtypes so far)
        out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.profile:
        out["profile"] = profile(lambda: sample(True), args.profile_rows)
    return out


def profile(fn: Callable[[], object], rows: int) -> str:
    """torch.profiler table of one call, by total self time: where the milliseconds go, op by op."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as run_profiler

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with run_profiler(activities=activities) as prof:
        fn()
    events = prof.key_averages()
    self_total = sum(e.self_cpu_time_total for e in events)  # µs
    calls = sum(e.count for e in events)  # nested ops (aten::linear -> aten::addmm) count at each level
    head = f"profile of one sample_actions: {calls} profiled op calls, {self_total / 1e3:.1f} ms CPU self time"
    return head + "\n" + events.table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40)


def compare(results: dict[str, dict]) -> str:
    """Medians of every dtype side by side, with the ratio to the first dtype."""
    names = list(results)
    base = results[names[0]]
    keys = (("image encoding", "images"), ("prefix forward", "prefix"), ("denoising (all steps)", "steps"),
            ("sample_actions, KV cache", "sample"))
    head = f"{'stage (median ms)':30s}" + "".join(f"{n:>12s}" for n in names)
    head += "".join(f"{n + '/' + names[0]:>22s}" for n in names[1:])
    lines = [head]
    for label, key in keys:
        row = f"{label:30s}" + "".join(f"{results[n][key]:12.2f}" for n in names)
        row += "".join(f"{results[n][key] / base[key]:21.2f}x" for n in names[1:])
        lines.append(row)
    return "\n".join(lines)


def report(r: dict, args: argparse.Namespace) -> str:
    """The table, as text."""
    c = r["config"]
    mode = "CUDA graphs" if args.cuda_graphs else f"torch.compile {args.compile_mode}" if args.compile else "eager"
    m = r["min"]
    rows = [
        (f"image encoding ({args.cameras} camera{'s' * (args.cameras != 1)})", r["images"], m["images"]),
        ("prefix forward (LLM + state token -> KV cache)", r["prefix"], m["prefix"]),
        (f"denoising, {args.steps} steps (expert only)", r["steps"], m["steps"]),
        ("  per step", r["steps"] / args.steps, m["steps"] / args.steps),
        ("total (sum of stages)", r["images"] + r["prefix"] + r["steps"], m["images"] + m["prefix"] + m["steps"]),
        ("sample_actions, KV cache", r["sample"], m["sample"]),
    ]
    if r["uncached"] is not None:
        rows.append(("sample_actions, prefix recomputed every step", r["uncached"], m["uncached"]))
    lines = [
        f"{c.name} on {args.device} ({c.dtype}, {mode}), batch {args.batch}, {args.cameras} cameras, "
        f"prompt {args.prompt_len or c.max_token_len} tokens, {r['params'] / 1e6:.1f} M params, "
        f"{args.repeats} repeats",
        f"{'stage':50s} {'median ms':>10s} {'min ms':>10s}",
        *[f"{name:50s} {med:10.2f} {low:10.2f}" for name, med, low in rows],
    ]
    if r["uncached"] is not None:
        lines.append(f"{'KV cache speed-up (uncached / cached)':50s} {r['uncached'] / r['sample']:9.2f}x "
                     f"{m['uncached'] / m['sample']:9.2f}x")
    peak = "GPU max allocated" if torch.device(args.device).type == "cuda" else "process peak RSS"
    lines.append(f"{'peak memory (' + peak + ')':50s} {r['peak_mb']:8.0f} MB")
    return "\n".join(lines)


def plot(r: dict, args: argparse.Namespace, path: Path) -> None:
    """Stacked bars: cached breakdown, and the uncached total beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    left = 0.0
    for label, key, colour in (("image encoding", "images", "#4c72b0"), ("prefix forward", "prefix", "#dd8452"),
                               (f"{args.steps} denoising steps", "steps", "#55a868")):
        ax.barh("KV cache", r[key], left=left, color=colour, label=f"{label} ({r[key]:.1f} ms)")
        left += r[key]
    if r["uncached"] is not None:
        ax.barh("no cache", r["uncached"], color="#8c8c8c",
                label=f"recompute every step ({r['uncached']:.1f} ms, {r['uncached'] / r['sample']:.1f}x)")
    c = r["config"]
    ax.set_xlabel("milliseconds per chunk")
    ax.set_title(f"{c.name}, {args.device}, {c.dtype}, batch {args.batch}, {args.cameras} cameras")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="pi0_tiny", choices=[*config_names(), "default"],
                   help='"default": the embedded default policy\'s sizes')
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", nargs="+", choices=("float32", "bfloat16"),
                   help="default: the config's; several are measured one after the other and compared")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--cameras", type=int, default=3, help="present cameras (absent ones are skipped anyway)")
    p.add_argument("--prompt-len", type=int, help="real prompt tokens (default: config.max_token_len)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--uncached-repeats", type=int, help="default: --repeats")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--compile", action="store_true", help="torch.compile the stages")
    p.add_argument("--compile-mode", default="default")
    p.add_argument("--cuda-graphs", action="store_true", help="capture each Euler step in a CUDA graph")
    p.add_argument("--no-uncached", action="store_true", help="skip the slow no-cache baseline")
    p.add_argument("--profile", action="store_true", help="torch.profiler table of one cached chunk")
    p.add_argument("--profile-rows", type=int, default=15)
    p.add_argument("--png", type=Path, help="bar chart path (default: out/model_latency_<config>_<device>.png)")
    args = p.parse_args()
    if args.cuda_graphs and torch.device(args.device).type != "cuda":
        p.error("--cuda-graphs needs --device cuda")
    results = {}
    for dtype in args.dtype or [None]:
        result = results[dtype or "config dtype"] = measure(args, dtype)
        print(report(result, args))
        if "profile" in result:
            print(result["profile"])
        suffix = f"_{dtype}" if args.dtype and len(args.dtype) > 1 else ""
        png = args.png or ROOT / "out" / f"model_latency_{args.config}_{torch.device(args.device).type}{suffix}.png"
        plot(result, args, png)
        print(f"chart: {png}\n")
    if len(results) > 1:
        print(compare(results))


if __name__ == "__main__":
    main()
