"""Prompt tokenisation in openpi's π₀ format, and the shipped small SentencePiece model."""

import logging
import shutil

import numpy as np
import pytest

from pi0_policy.model.config import get_config
from pi0_policy.model.tokenizer import TINY_TOKENIZER, PromptTokenizer, load_tokenizer

BOS = 2


@pytest.fixture(scope="module")
def tok():
    return PromptTokenizer(TINY_TOKENIZER, max_len=16)


def test_bos_text_then_a_separate_newline_token(tok):
    tokens, mask = tok.tokenize("pick up the red block")
    n = int(mask.sum())
    assert tokens[0] == BOS and tok.newline_id is not None and tokens[n - 1] == tok.newline_id
    assert tok.decode(tokens[1 : n - 1]) == "pick up the red block"
    assert mask[:n].all() and not mask[n:].any() and (tokens[n:] == 0).all()


def test_prompt_cleaning_like_openpi(tok):
    clean, _ = tok.tokenize("pick up the red block")
    assert np.array_equal(tok.tokenize("  pick_up the\nred block \n")[0], clean)


def test_long_prompts_are_truncated_with_a_warning(tok, caplog):
    with caplog.at_level(logging.WARNING):
        tokens, mask = tok.tokenize("pick up the red block and then put it into the bowl on the table " * 3)
    assert mask.all() and len(tokens) == 16 and "truncated" in caplog.text


def test_unseen_text_still_encodes(tok):
    tokens, mask = tok.tokenize("Zürich 42")
    assert tok.decode(tokens[1 : int(mask.sum()) - 1]) == "Zürich 42"


def test_paligemma_configs_need_the_file_in_the_checkpoint_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer.model"):
        load_tokenizer(get_config("pi0"), tmp_path)
    shutil.copyfile(TINY_TOKENIZER, tmp_path / "tokenizer.model")
    assert load_tokenizer(get_config("pi0"), tmp_path).path == tmp_path / "tokenizer.model"


def test_shipped_model_is_small_and_rebuilds_identically(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", TINY_TOKENIZER.with_name("build_tiny_tokenizer.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(tmp_path / "rebuilt.model")
    assert (tmp_path / "rebuilt.model").read_bytes() == TINY_TOKENIZER.read_bytes()
    assert TINY_TOKENIZER.stat().st_size < 500_000
    assert build.VOCAB_SIZE == get_config("pi0_tiny").vocab_size
