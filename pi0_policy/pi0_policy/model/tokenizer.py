"""Prompt tokenizer: PaliGemma's SentencePiece model with openpi's π₀ prompt format.

openpi ``PaligemmaTokenizer.tokenize`` (``src/openpi/models/tokenizer.py``): the prompt is stripped, '_' and
'\\n' become spaces, then tokens = encode(text, BOS) + encode("\\n"); the newline, encoded on its own, marks
the start of the answer. Right-padded with id 0 (mask False) up to ``max_len``; longer prompts are cut.

LeRobot's format (``fmt="lerobot"``, for LeRobot checkpoints): the prompt gets a trailing "\\n" unless it has
one and is encoded whole with BOS, nothing replaced (its processor appends the newline, then runs the HF
PaliGemma tokenizer on the text). A prompt with "_" therefore tokenises differently in the two formats.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import sentencepiece as spm

from .config import Pi0Config

log = logging.getLogger(__name__)

TINY_TOKENIZER = Path(__file__).resolve().parent.parent / "tokenizer_assets" / "pi0_tiny_tokenizer.model"
# Names under which a checkpoint folder may hold PaliGemma's SentencePiece model.
TOKENIZER_FILES = ("tokenizer.model", "paligemma_tokenizer.model")


class PromptTokenizer:
    """SentencePiece tokenizer producing fixed-length (tokens, mask) pairs for π₀."""

    def __init__(self, model_path: str | Path, max_len: int = 48):
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"SentencePiece model not found: {path}")
        self.path = path
        self.max_len = max_len
        self._sp = spm.SentencePieceProcessor(model_file=str(path))

    @property
    def vocab_size(self) -> int:
        """Number of ids, which must equal the model's embedding rows."""
        return self._sp.vocab_size()

    @property
    def newline_id(self) -> int | None:
        """The id of "\\n" when it is a single piece (108 for PaliGemma), else None."""
        ids = self._sp.encode("\n")
        return ids[0] if len(ids) == 1 else None

    def tokenize(self, prompt: str, fmt: str = "openpi") -> tuple[np.ndarray, np.ndarray]:
        """Tokenise one prompt.

        Args:
            prompt: free text; in the openpi format "_" and newlines are read as spaces.
            fmt: "openpi" or "lerobot" (see the module text).

        Returns:
            (tokens int64 [max_len], mask bool [max_len]).
        """
        if fmt == "lerobot":
            ids = self._sp.encode(prompt if prompt.endswith("\n") else prompt + "\n", add_bos=True)
        elif fmt == "openpi":
            text = prompt.strip().replace("_", " ").replace("\n", " ")
            ids = self._sp.encode(text, add_bos=True) + self._sp.encode("\n")
        else:
            raise ValueError(f"unknown prompt format {fmt!r}: openpi or lerobot")
        if len(ids) > self.max_len:
            log.warning("prompt is %d tokens, more than max_len %d: truncated", len(ids), self.max_len)
            ids = ids[: self.max_len]
        tokens = np.zeros(self.max_len, dtype=np.int64)
        mask = np.zeros(self.max_len, dtype=bool)
        tokens[: len(ids)] = ids
        mask[: len(ids)] = True
        return tokens, mask

    def decode(self, tokens: np.ndarray, mask: np.ndarray | None = None) -> str:
        """Text of the real tokens (for logs and tests)."""
        ids = [int(t) for t, m in zip(tokens, mask if mask is not None else [True] * len(tokens), strict=True) if m]
        return self._sp.decode(ids)


def load_tokenizer(config: Pi0Config, folder: str | Path | None = None) -> PromptTokenizer:
    """The tokenizer a config needs: the shipped tiny model, or PaliGemma's from the checkpoint folder.

    Raises:
        FileNotFoundError: a "paligemma" config and no tokenizer.model in ``folder``.
        ValueError: the tokenizer's vocabulary does not match config.vocab_size.
    """
    if config.tokenizer == "tiny":
        tok = PromptTokenizer(TINY_TOKENIZER, config.max_token_len)
    else:
        candidates = [Path(folder) / name for name in TOKENIZER_FILES] if folder is not None else []
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"config {config.name!r} needs PaliGemma's SentencePiece model: put it in the checkpoint folder "
                f"as one of {TOKENIZER_FILES} (it is gs://big_vision/paligemma_tokenizer.model){_where(folder)}"
            )
        tok = PromptTokenizer(found, config.max_token_len)
    # The embedding table may have more rows than the tokenizer has ids, never fewer.
    if tok.vocab_size > config.vocab_size:
        raise ValueError(f"tokenizer {tok.path} has {tok.vocab_size} ids but the model embeds {config.vocab_size}")
    return tok


def _where(folder: str | Path | None) -> str:
    return f"; looked in {folder}" if folder is not None else ""
