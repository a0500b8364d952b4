"""The tokenizer placement command and the LeRobot prompt format.

PaliGemma's real SentencePiece model cannot be downloaded here: these tests use the shipped tiny
tokenizer as a stand-in. It has Gemma's special ids (pad 0, eos 1, bos 2, unk 3) and a single-piece
"\\n", like the real one, but 768 pieces instead of 257152.
"""

import io

import pytest
import sentencepiece as spm

from pi0_policy.model.tokenizer import TINY_TOKENIZER, PromptTokenizer
from pi0_policy.tokenizer_setup import TokenizerSetupError, install, main, sha256


def test_install_checks_and_copies(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    digest = sha256(TINY_TOKENIZER)
    target, got, vocab = install(TINY_TOKENIZER, ckpt, expected_sha256=digest.upper())
    assert target == ckpt / "tokenizer.model" and got == digest and vocab == 768
    assert (ckpt / "tokenizer.model.sha256").read_text().startswith(digest)
    with pytest.raises(TokenizerSetupError, match="is not the expected"):
        install(TINY_TOKENIZER, ckpt, expected_sha256="0" * 64)
    assert main([str(TINY_TOKENIZER), str(ckpt)]) == 0


def test_refuses_other_files(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model")
    with pytest.raises(TokenizerSetupError, match="not a SentencePiece model"):
        install(junk, ckpt)
    other = tmp_path / "other.model"
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b c d e f g h"] * 20), model_writer=proto,
                                   vocab_size=12, minloglevel=2)    # sentencepiece's own ids: unk 0, bos 1, eos 2
    other.write_bytes(proto.getvalue())
    with pytest.raises(TokenizerSetupError, match="special ids"):
        install(other, ckpt)
    (ckpt / "tokenizer.model").write_bytes(b"something else")
    with pytest.raises(TokenizerSetupError, match="exists with other contents"):
        install(TINY_TOKENIZER, ckpt)
    install(TINY_TOKENIZER, ckpt, force=True)


def test_openpi_and_lerobot_prompt_formats_differ_on_underscores():
    tok = PromptTokenizer(TINY_TOKENIZER)
    newline = tok.newline_id
    ids, mask = tok.tokenize("pick_up the cup")
    lerobot, lmask = tok.tokenize("pick_up the cup", fmt="lerobot")
    openpi_ids, lerobot_ids = ids[mask].tolist(), lerobot[lmask].tolist()
    assert openpi_ids[0] == lerobot_ids[0] == 2 and openpi_ids[-1] == lerobot_ids[-1] == newline
    assert openpi_ids == tok.tokenize("pick up the cup")[0][mask].tolist()      # "_" read as a space
    assert openpi_ids != lerobot_ids                                            # LeRobot keeps the "_"
    assert tok.tokenize("go home", fmt="lerobot")[0][:4].tolist() == tok.tokenize("go home")[0][:4].tolist()
    with pytest.raises(ValueError, match="unknown prompt format"):
        tok.tokenize("x", fmt="hf")
