"""Place PaliGemma's SentencePiece model next to a converted checkpoint, checked.

    python -m pi0_policy.tokenizer_setup ~/Downloads/paligemma_tokenizer.model /path/to/checkpoint \\
        --sha256 <the checksum your source publishes>

The model is openpi's ``gs://big_vision/paligemma_tokenizer.model`` (``gsutil cp`` it, or take
``tokenizer.model`` from a Hugging Face PaliGemma repository you have access to); it cannot be
downloaded from here, so the file comes from your disk. Checks, in order: it loads as a SentencePiece
model; Gemma's special ids (pad 0, eos 1, bos 2, unk 3) and a single-piece "\\n", which the π₀ prompt
formats rely on; with ``--sha256``, its SHA-256. It is copied to ``<checkpoint>/tokenizer.model`` with
``tokenizer.model.sha256`` beside it; an existing different file is kept unless ``--force``. A vocabulary
other than PaliGemma's 257152 pieces is reported (a full-size π₀ refuses it when loading).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import sentencepiece as spm

PALIGEMMA_VOCAB = 257152
SPECIAL_IDS = {"pad": 0, "eos": 1, "bos": 2, "unk": 3}


class TokenizerSetupError(ValueError):
    """The file is not a usable PaliGemma-style tokenizer, or does not match its checksum."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model(path: Path) -> int:
    """Check a SentencePiece model for what π₀'s prompt formats need; returns its vocabulary size."""
    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as e:
        raise TokenizerSetupError(f"{path} is not a SentencePiece model: {e}") from None
    found = {"pad": sp.pad_id(), "eos": sp.eos_id(), "bos": sp.bos_id(), "unk": sp.unk_id()}
    wrong = {k: v for k, v in found.items() if v != SPECIAL_IDS[k]}
    if wrong:
        raise TokenizerSetupError(f"{path}: special ids {wrong} differ from Gemma's {SPECIAL_IDS}")
    if len(sp.encode("\n")) != 1:
        raise TokenizerSetupError(f'{path}: "\\n" is not a single piece (the prompt formats end with it)')
    return sp.vocab_size()


def install(source: str | Path, checkpoint: str | Path, expected_sha256: str | None = None,
            force: bool = False) -> tuple[Path, str, int]:
    """Check ``source`` and copy it into the checkpoint folder; returns (path, sha256, vocabulary size)."""
    source, folder = Path(source).expanduser(), Path(checkpoint).expanduser()
    if not source.is_file():
        raise TokenizerSetupError(f"tokenizer file not found: {source}")
    if not folder.is_dir():
        raise TokenizerSetupError(f"checkpoint folder not found: {folder}")
    vocab = check_model(source)
    digest = sha256(source)
    if expected_sha256 and digest != expected_sha256.strip().lower():
        raise TokenizerSetupError(f"{source}: SHA-256 {digest} is not the expected {expected_sha256}")
    target = folder / "tokenizer.model"
    if target.is_file() and sha256(target) != digest and not force:
        raise TokenizerSetupError(f"{target} exists with other contents; --force replaces it")
    shutil.copyfile(source, target)
    (folder / "tokenizer.model.sha256").write_text(f"{digest}  tokenizer.model\n")
    return target, digest, vocab


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pi0_policy.tokenizer_setup", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="the SentencePiece model file on this machine")
    p.add_argument("checkpoint", help="the checkpoint folder")
    p.add_argument("--sha256", default=None, help="expected SHA-256 of the file (from where you got it)")
    p.add_argument("--force", action="store_true", help="replace a different tokenizer.model")
    args = p.parse_args(argv)
    try:
        target, digest, vocab = install(args.source, args.checkpoint, args.sha256, args.force)
    except TokenizerSetupError as e:
        print(f"tokenizer_setup: {e}", file=sys.stderr)
        return 2
    note = "" if vocab == PALIGEMMA_VOCAB else f" (not PaliGemma's {PALIGEMMA_VOCAB}: only for a small config)"
    print(f"{target}: {vocab} pieces{note}, sha256 {digest}" + ("" if args.sha256 else " (not checked: no --sha256)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
