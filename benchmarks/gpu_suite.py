"""Everything issue 15 asks of a GPU machine, measured in one run: a JSON file and a printed table.

GPU time comes in minutes with a cold start each time, so one command measures all of this (``--stages`` picks some):

    eager      sample_actions stage by stage (images, prefix, 10 steps) at batch 1, peak memory
    compiled   the same after compile_stages (torch.compile; CUDA graphs for the Euler step on CUDA), and the
               first (compiling) call's time in this process
    batch      sample_actions at --batches (1 2 4 8) in every mode measured above: ms per chunk, chunks/s,
               peak memory
    startup    (run first) two fresh processes, one after the other, each building the model, compiling it
               and sampling its first chunk: the first with an empty inductor/Triton cache (--cache-dir is
               deleted first), the second with what the first left there
    accuracy   bf16 on --device against fp32 on the CPU (or --accuracy-reference device) on the same weights,
               and compiled against eager in fp32 on --device (TF32 off for both)
    lerobot    LeRobot's PI0Pytorch (eager; compiled with --lerobot-compiled) on the same device, dtype and
               input sizes, when ``lerobot`` is importable and --config is the full "pi0" (LeRobot hard-codes
               those sizes); ratios to ours

Random weights (latency does not depend on them). On an H100/H200:

    python benchmarks/gpu_suite.py --device cuda --config pi0 --dtype bfloat16 --cameras 3 --prompt-len 20

and on the CPU, to check the script itself: ``python benchmarks/gpu_suite.py --device cpu --config pi0_tiny``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_latency import ROOT, Timer, build_model, make_inputs, named_config, run_stages  # noqa: E402

STAGES = ("eager", "compiled", "batch", "startup", "accuracy", "lerobot")
DEFAULT_CACHE = ROOT / "out" / "gpu_suite" / "inductor_cache"


def peak_mb(device: str) -> float:
    """GPU max-allocated since the last reset, or the process peak RSS on the CPU."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak(device: str) -> None:
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def time_chunks(model, args: argparse.Namespace, batch: int, breakdown: bool) -> dict:
    """Median (and min) ms of sample_actions at ``batch``, with the stage breakdown when asked."""
    timer = Timer(args.device)
    x = make_inputs(model, batch, args.cameras, args.prompt_len or model.config.max_token_len, args.device)
    noise = torch.randn(batch, model.config.action_horizon, model.config.action_dim, device=args.device)

    def sample():
        return model.sample_actions(**x, noise=noise, num_steps=args.steps)

    _, first_ms = timer(sample)  # allocates, and compiles or records on a new shape
    for _ in range(args.warmup):
        if breakdown:
            run_stages(model, x, noise, args.steps, timer)
        sample()
    reset_peak(args.device)
    stages, totals = [], []
    for _ in range(args.repeats):
        if breakdown:
            stages.append(run_stages(model, x, noise, args.steps, timer))
        totals.append(timer(sample)[1])
    out = {"batch": batch, "first_call_ms": first_ms, "sample_ms": statistics.median(totals),
           "sample_min_ms": min(totals), "peak_mb": peak_mb(args.device)}
    out["chunks_per_s"] = 1e3 * batch / out["sample_ms"]
    for key in ("images", "prefix", "steps") if breakdown else ():
        out[f"{key}_ms"] = statistics.median(s[key] for s in stages)
    if breakdown:
        out["per_step_ms"] = out["steps_ms"] / args.steps
    return out


def latency_stages(args: argparse.Namespace, results: dict) -> None:
    """eager, compiled and batch on one model (compiled in place after the eager numbers)."""
    torch.manual_seed(0)
    reset_peak(args.device)
    model = build_model(args.config, args.device, args.dtype)
    modes = ["eager"] + (["compiled"] if "compiled" in args.stages else [])
    for mode in modes:
        if mode == "compiled":
            model.compile_stages(mode=args.compile_mode, cuda_graphs=is_cuda(args.device))
        if mode in args.stages:
            results[mode] = run_guarded(lambda: time_chunks(model, args, 1, breakdown=True))
        if "batch" in args.stages:
            results.setdefault("batch", {})[mode] = [
                run_guarded(lambda b=b: time_chunks(model, args, b, breakdown=False)) for b in args.batches]


def is_cuda(device: str) -> bool:
    return torch.device(device).type == "cuda"


def run_guarded(fn):
    """Run one measurement; a failure is recorded, not raised, so one broken stage keeps the others' numbers."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 (device time is scarce: a failing stage must not lose the rest)
        traceback.print_exc()
        return {"error": f"{type(e).__name__}: {e}"}


# --------------------------------------------------------------------------------------------------
# Start-up: a fresh process with a cold, then a warm, compile cache


def startup_child(args: argparse.Namespace) -> None:
    """Build, compile and run the first chunk; print the timings as one JSON line (run by startup_stage)."""
    started = time.perf_counter()
    model = build_model(args.config, args.device, args.dtype)
    built = time.perf_counter()
    model.compile_stages(mode=args.compile_mode, cuda_graphs=is_cuda(args.device))
    x = make_inputs(model, 1, args.cameras, args.prompt_len or model.config.max_token_len, args.device)
    timer = Timer(args.device)
    _, first_ms = timer(lambda: model.sample_actions(**x, num_steps=args.steps))
    _, second_ms = timer(lambda: model.sample_actions(**x, num_steps=args.steps))
    print(json.dumps({"build_s": built - started, "first_chunk_s": first_ms / 1e3, "second_chunk_ms": second_ms}))


def cache_env(cache_dir: Path) -> tuple[str, str]:
    """TORCHINDUCTOR_CACHE_DIR and TRITON_CACHE_DIR inside ``cache_dir``."""
    return str(cache_dir / "inductor"), str(cache_dir / "triton")


def startup_stage(args: argparse.Namespace) -> dict:
    """Cold then warm start of a new process; wall time from its launch to its first chunk."""
    shutil.rmtree(args.cache_dir, ignore_errors=True)
    inductor, triton = cache_env(args.cache_dir)
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=inductor, TRITON_CACHE_DIR=triton)
    cmd = [sys.executable, __file__, "--startup-child", "--device", args.device, "--config", args.config,
           "--cameras", str(args.cameras), "--steps", str(args.steps), "--compile-mode", args.compile_mode]
    cmd += ["--dtype", args.dtype] if args.dtype else []
    cmd += ["--prompt-len", str(args.prompt_len)] if args.prompt_len else []
    out = {"cache_dir": str(args.cache_dir)}
    for run in ("cold", "warm"):
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.startup_timeout)
        except subprocess.TimeoutExpired:
            out[run] = {"error": f"no first chunk within {args.startup_timeout} s"}
            continue
        wall = time.perf_counter() - start
        lines = proc.stdout.strip().splitlines()
        if proc.returncode or not lines:
            out[run] = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
            continue
        out[run] = {"process_to_first_chunk_s": wall, **json.loads(lines[-1])}
    return out


# --------------------------------------------------------------------------------------------------
# Accuracy: bf16 against fp32 on the same weights, compiled against eager


def diff(a: torch.Tensor, b: torch.Tensor) -> dict:
    d = (a.float().cpu() - b.float().cpu()).abs()
    return {"max_abs": d.max().item(), "mean_abs": d.mean().item(), "scale_max_abs": b.abs().max().item()}


def accuracy_stage(args: argparse.Namespace) -> dict:
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # a float32 reference in float32, not TF32
    try:
        torch.manual_seed(0)
        ref_device = "cpu" if args.accuracy_reference == "cpu" else args.device
        reference = build_model(args.config, ref_device, "float32")
        weights = reference.state_dict()
        x = make_inputs(reference, 1, args.cameras, args.prompt_len or reference.config.max_token_len, "cpu")
        noise = torch.randn(1, reference.config.action_horizon, reference.config.action_dim)

        def on(model, device):
            return model.sample_actions(**{k: v.to(device) for k, v in x.items()}, noise=noise.to(device),
                                        num_steps=args.steps)

        expected = on(reference, ref_device)
        out = {"reference": f"float32 on {ref_device}"}
        del reference
        for dtype in ("bfloat16",) if args.dtype != "float32" else ():
            low = build_model(args.config, args.device, dtype)
            low.load_state_dict(weights)  # the same weights, cast per the dtype policy
            out[f"{dtype} eager vs reference"] = diff(on(low, args.device), expected)
            del low
        fp32 = build_model(args.config, args.device, "float32")
        fp32.load_state_dict(weights)
        eager = on(fp32, args.device)
        out["float32 eager vs reference"] = diff(eager, expected)
        if "compiled" in args.stages:
            fp32.compile_stages(mode=args.compile_mode, cuda_graphs=is_cuda(args.device))
            for _ in range(3):  # compile, record, replay
                compiled = on(fp32, args.device)
            out["float32 compiled vs eager"] = diff(compiled, eager)
        return out
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32


# --------------------------------------------------------------------------------------------------
# LeRobot side by side


def lerobot_stage(args: argparse.Namespace) -> dict:
    """LeRobot's PI0Pytorch at the full π₀ sizes on the same inputs: eager, then compiled if asked."""
    try:
        from lerobot.configs import FeatureType, PolicyFeature
        from lerobot.policies.pi0.configuration_pi0 import PI0Config
        from lerobot.policies.pi0.modeling_pi0 import PI0Policy
    except ImportError as e:
        return {"skipped": f"lerobot not importable ({e})"}
    if args.config != "pi0":
        return {"skipped": "LeRobot hard-codes the full π₀ sizes: use --config pi0"}
    c = named_config(args.config)
    dtype = args.dtype or c.dtype
    image = PolicyFeature(FeatureType.VISUAL, (3, c.image_size, c.image_size))
    cams = [f"observation.images.cam{i}" for i in range(args.cameras)]
    config = PI0Config(
        device=args.device, dtype=dtype, chunk_size=c.action_horizon, n_action_steps=c.action_horizon,
        max_state_dim=c.state_dim, max_action_dim=c.action_dim, tokenizer_max_length=c.max_token_len,
        num_inference_steps=args.steps,
        input_features={**{k: image for k in cams},
                        "observation.state": PolicyFeature(FeatureType.STATE, (c.state_dim,))},
        output_features={"action": PolicyFeature(FeatureType.ACTION, (c.action_dim,))},
    )  # fmt: skip
    reset_peak(args.device)
    torch.manual_seed(0)
    model = PI0Policy(config).to(args.device).eval().model
    dev, b = args.device, 1
    length = args.prompt_len or c.max_token_len
    images = [torch.rand(b, 3, c.image_size, c.image_size, device=dev) * 2 - 1 for _ in cams]
    masks = [torch.ones(b, dtype=torch.bool, device=dev) for _ in cams]
    tokens = torch.randint(0, c.vocab_size, (b, c.max_token_len), device=dev)
    token_masks = (torch.arange(c.max_token_len, device=dev) < length)[None].expand(b, -1).contiguous()
    state = torch.randn(b, c.state_dim, device=dev)
    noise = torch.randn(b, c.action_horizon, c.action_dim, device=dev)
    timer = Timer(dev)
    out = {"lerobot_dtype": dtype}
    modes = ["eager"] + (["compiled"] if args.lerobot_compiled else [])
    for mode in modes:
        sample = torch.compile(model.sample_actions, mode=args.compile_mode) if mode == "compiled" else \
            model.sample_actions

        def chunk(sample=sample):
            return sample(images, masks, tokens, token_masks, state, noise=noise, num_steps=args.steps)

        _, first_ms = timer(chunk)
        for _ in range(args.warmup):
            chunk()
        times = [timer(chunk)[1] for _ in range(args.repeats)]
        out[mode] = {"first_call_ms": first_ms, "sample_ms": statistics.median(times), "peak_mb": peak_mb(dev)}
    return out


# --------------------------------------------------------------------------------------------------
# Report


def table(r: dict) -> str:
    """The issue's table: stages per mode, batch throughput, start-up, accuracy, LeRobot ratios."""
    lines = [f"{r['env']['config']} on {r['env']['device_name']} ({r['env']['dtype']}), torch {r['env']['torch']}"]
    head = f"{'mode':10s}{'images':>9s}{'prefix':>9s}{'steps':>9s}{'/step':>8s}{'chunk':>9s}{'min':>9s}{'peak MB':>9s}"
    lines += ["", head]
    for mode in ("eager", "compiled"):
        m = r.get(mode)
        if m and "error" not in m:
            lines.append(f"{mode:10s}{m['images_ms']:9.2f}{m['prefix_ms']:9.2f}{m['steps_ms']:9.2f}"
                         f"{m['per_step_ms']:8.2f}{m['sample_ms']:9.2f}{m['sample_min_ms']:9.2f}{m['peak_mb']:9.0f}")
        elif m:
            lines.append(f"{mode:10s} {m['error']}")
    if r.get("compiled", {}).get("first_call_ms"):
        lines.append(f"compiled: first call {r['compiled']['first_call_ms'] / 1e3:.1f} s in this process (compiling)")
    for mode, rows in r.get("batch", {}).items():
        lines += ["", f"batch, {mode}: {'batch':>6s}{'ms/chunk':>10s}{'chunks/s':>10s}{'peak MB':>9s}"]
        for row in rows:
            if "error" in row:
                lines.append(f"{'':15s}{row['error']}")
            else:
                lines.append(f"{'':15s}{row['batch']:6d}{row['sample_ms']:10.2f}{row['chunks_per_s']:10.1f}"
                             f"{row['peak_mb']:9.0f}")
    if "error" in r.get("startup", {}):
        lines.append(f"start-up: {r['startup']['error']}")
    for run, s in r.get("startup", {}).items():
        if isinstance(s, dict):
            text = s.get("error") or (f"{s['process_to_first_chunk_s']:.1f} s from launch to the first chunk "
                                      f"(build {s['build_s']:.1f} s, compile + first chunk {s['first_chunk_s']:.1f} s)")
            lines.append(f"start-up, {run} cache: {text}")
    for name, d in r.get("accuracy", {}).items():
        if isinstance(d, dict):
            lines.append(f"accuracy, {name}: max {d['max_abs']:.2e}, mean {d['mean_abs']:.2e} "
                         f"(|reference| up to {d['scale_max_abs']:.2f})")
        else:
            lines.append(f"accuracy, {name}: {d}")
    lr = r.get("lerobot", {})
    for mode in ("eager", "compiled"):
        if mode in lr and mode in r and "sample_ms" in r[mode]:
            ratio = lr[mode]["sample_ms"] / r[mode]["sample_ms"]
            m = lr[mode]
            lines.append(f"LeRobot {mode}: {m['sample_ms']:.2f} ms per chunk, peak {m['peak_mb']:.0f} MB, "
                         f"first call {m['first_call_ms'] / 1e3:.1f} s; ours is {ratio:.2f}x faster")
    if "skipped" in lr or "error" in lr:
        lines.append(f"LeRobot: {lr.get('skipped') or lr.get('error')}")
    return "\n".join(lines)


def environment(args: argparse.Namespace) -> dict:
    import transformers

    name = torch.cuda.get_device_name() if is_cuda(args.device) else platform.processor() or "cpu"
    return {"config": args.config, "device": args.device, "device_name": name,
            "dtype": args.dtype or named_config(args.config).dtype, "torch": torch.__version__,
            "transformers": transformers.__version__, "cameras": args.cameras, "prompt_len": args.prompt_len,
            "steps": args.steps, "repeats": args.repeats, "compile_mode": args.compile_mode,
            "cpu_threads": torch.get_num_threads(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="pi0", help='a registered config or "default" (the embedded policy)')
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--prompt-len", type=int, default=20, help="real prompt tokens (padded to max_token_len)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="calls after the first (compiling) one")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    p.add_argument("--compile-mode", default="default")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                   help="inductor + Triton caches of every compile here; the start-up stage empties it first")
    p.add_argument("--startup-timeout", type=float, default=600.0, help="seconds per start-up process")
    p.add_argument("--accuracy-reference", choices=("cpu", "device"), default="cpu")
    p.add_argument("--lerobot-compiled", action="store_true", help="also torch.compile LeRobot (minutes)")
    p.add_argument("--out", type=Path, help="JSON path (default out/gpu_suite/<config>_<device>_<dtype>.json)")
    p.add_argument("--startup-child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_grad_enabled(False)
    if args.startup_child:
        startup_child(args)
        return
    if is_cuda(args.device):
        torch.backends.cuda.matmul.allow_tf32 = True  # as model_latency.py: fp32 timings use TF32
    results = {"env": environment(args)}
    started = time.perf_counter()
    if "startup" in args.stages:
        results["startup"] = run_guarded(lambda: startup_stage(args))
    # This process compiles with the cache the start-up runs filled (read at compile time), so the compiled
    # stage does not pay the cold compile a second time.
    os.environ["TORCHINDUCTOR_CACHE_DIR"], os.environ["TRITON_CACHE_DIR"] = cache_env(args.cache_dir)
    if {"eager", "compiled", "batch"} & set(args.stages):
        latency_stages(args, results)
    if "accuracy" in args.stages:
        results["accuracy"] = run_guarded(lambda: accuracy_stage(args))
    if "lerobot" in args.stages:
        results["lerobot"] = run_guarded(lambda: lerobot_stage(args))
    results["env"]["suite_s"] = time.perf_counter() - started
    path = args.out or ROOT / "out" / "gpu_suite" / f"{args.config}_{torch.device(args.device).type}_{args.dtype}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str))
    print(table(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
