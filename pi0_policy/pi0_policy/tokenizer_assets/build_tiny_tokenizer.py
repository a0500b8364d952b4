"""Build the small SentencePiece model used by the CPU configs (pi0_tiny, pi0_small).

Run from the repository root to regenerate ``pi0_tiny_tokenizer.model`` (deterministic):

    .venv/bin/python pi0_policy/pi0_policy/tokenizer_assets/build_tiny_tokenizer.py

The special ids follow Gemma's tokenizer (pad 0, eos 1, bos 2, unk 3) and "\\n" is a dedicated piece, so the
openpi prompt format (BOS + text, then "\\n" encoded on its own) works unchanged. Byte fallback keeps any
text encodable; whitespace is kept as is (no normaliser, no dummy prefix), also like Gemma.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import sentencepiece as spm

VOCAB_SIZE = 768  # must equal config.TINY_VOCAB_SIZE
OUT = Path(__file__).with_name("pi0_tiny_tokenizer.model")

VERBS = ["pick up", "grab", "grasp", "lift", "move", "push", "pull", "place", "put", "reach", "touch",
         "open", "close", "fold", "stack", "pour", "wipe", "slide", "rotate", "turn", "insert", "drop",
         "hand over", "bring", "take", "press", "go to", "point at", "clean", "sort"]  # fmt: skip
COLOURS = ["", "red ", "blue ", "green ", "yellow ", "black ", "white ", "orange ", "purple ", "small ",
           "large "]  # fmt: skip
OBJECTS = ["block", "cube", "cup", "mug", "bowl", "plate", "bottle", "towel", "shirt", "drawer", "door",
           "lid", "box", "sponge", "spoon", "fork", "marker", "pen", "ball", "can", "banana", "apple",
           "tray", "basket", "cloth", "button", "handle", "switch", "bag", "peg"]  # fmt: skip
PLACES = ["", " on the table", " into the bowl", " onto the plate", " to the left", " to the right",
          " in the box", " next to the cup", " from the shelf", " into the drawer", " on top of the block",
          " back to the start", " in the basket", " off the tray", " towards the camera"]  # fmt: skip
EXTRA = ["do nothing", "stay still", "go home", "return to the home position", "stop", "wait",
         "move the left arm up", "move the right arm down", "open the gripper", "close the gripper",
         "drive forward", "turn left", "turn right", "back up slowly", "follow the line",
         "1 2 3 4 5 6 7 8 9 0"]  # fmt: skip


def corpus() -> list[str]:
    """Robot-task instructions: verb × colour/size × object × place, plus a few fixed phrases."""
    lines = [f"{v} the {c}{o}{p}" for v, c, o, p in itertools.product(VERBS, COLOURS, OBJECTS, PLACES)]
    lines += EXTRA + [line.capitalize() for line in lines[::7]] + [line + "." for line in lines[::11]]
    return lines


def build(out: Path = OUT) -> None:
    """Train the model and write it to ``out``."""
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=proto, model_type="bpe", vocab_size=VOCAB_SIZE,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, user_defined_symbols=["\n"], byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=1.0, num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
    )  # fmt: skip
    out.write_bytes(proto.getvalue())


if __name__ == "__main__":
    build()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
