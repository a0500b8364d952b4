"""python -m pi0_policy.serve --checkpoint C --embodiment E --port P: serve π₀ to openpi clients."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import torch

from pi0_common.embodiment import load_embodiment
from pi0_policy.loading import PolicyLoadError
from pi0_policy.serve.batcher import Batcher
from pi0_policy.serve.loading import load_serving_policy
from pi0_policy.serve.server import PolicyServer, metadata_for


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pi0_policy.serve", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, 'default' or 'random:<config>'")
    p.add_argument("--embodiment", required=True, help="embodiment name or YAML (units of its own layout)")
    p.add_argument("--conventions", default="", help="preset (pi0_aloha_towel, pi0_droid, ...), a "
                   "pi0_conventions.yaml, or 'auto' (the checkpoint's own); empty = pi0_ros's")
    p.add_argument("--asset-id", default=None, help="norm-stats asset without conventions")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, choices=(None, "float32", "bfloat16"))
    p.add_argument("--batch-window-ms", type=float, default=5.0,
                   help="requests arriving this soon after the first join its batch")
    p.add_argument("--active-s", type=float, default=2.0,
                   help="a client that asked within this many seconds may ask again: worth the window")
    p.add_argument("--batch-sizes", default="1,2,4,8", help="fixed batch sizes a batch is padded to")
    p.add_argument("--num-threads", type=int, default=0, help="torch CPU threads; 0 = torch default")
    p.add_argument("--seed", type=int, default=None, help="noise seed")
    p.add_argument("--no-warmup", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    try:
        emb = load_embodiment(args.embodiment)
        policy = load_serving_policy(args.checkpoint, emb, args.conventions, args.asset_id, args.device, args.dtype)
        sizes = tuple(int(s) for s in args.batch_sizes.split(",") if s.strip())
        batcher = Batcher(policy, sizes, args.batch_window_ms / 1e3, args.seed, args.active_s)
    except (PolicyLoadError, ValueError, FileNotFoundError) as e:
        print(f"pi0_policy.serve: {e}", file=sys.stderr)
        return 2
    if not args.no_warmup:
        policy.warmup()
    server = PolicyServer(policy, metadata_for(policy, args.checkpoint, emb.name), batcher, args.host, args.port)
    logging.getLogger("pi0_policy.serve").info("serving %s on ws://%s:%d (%s)", args.checkpoint, args.host,
                                                args.port, policy.describe())
    try:
        asyncio.run(server.run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
