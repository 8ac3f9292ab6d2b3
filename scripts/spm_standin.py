#!/usr/bin/env python3
"""A small SigLIP-style SentencePiece model, trained deterministically, for tests.

No SigLIP `spiece.model` can be downloaded where the fixtures are made, so this trains a
stand-in with the same shape: a unigram model whose special pieces sit where SigLIP's do
(SigLIP's vocabulary is T5's English SentencePiece model: `<pad>` = 0, `</s>` = 1,
`<unk>` = 2, no `<s>`), SentencePiece's default `nmt_nfkc` normalization with a dummy
prefix and whitespace clean-up, and no byte fallback. It is trained on English text made
from the repository's probe libraries (`probes/*.yaml`: every prompt template filled with
every member name and alias) and the tokenizer fixture's strings
(`fixtures/tokenizer/open_clip_ids.json`), so prompts tokenize into real sub-words while
the vocabulary stays small (1000 pieces).

The output is byte-for-byte the same on every run (one thread, fixed seed, no sampling of
the input). Used by `scripts/make_tokenizer_fixture.py` (fixtures/tokenizer/siglip-standin)
and meant for SigLIP-shaped model exports too:

    from spm_standin import train_standin
    spiece = train_standin(out_dir)        # writes out_dir/spiece.model, returns its path
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import sentencepiece as spm
import yaml

ROOT = Path(__file__).resolve().parent.parent
VOCAB_SIZE = 1000
SEED = 17
# SigLIP's (T5's) special pieces and their ids.
PAD_ID, EOS_ID, UNK_ID, BOS_ID = 0, 1, 2, -1


def corpus() -> list[str]:
    """The training sentences, in a fixed order: probe prompts, then the fixture strings."""
    lines: list[str] = []
    for path in sorted((ROOT / "probes").glob("*.yaml")):
        library = yaml.safe_load(path.read_text(encoding="utf-8"))
        for family in library["families"]:
            templates = family.get("templates") or library["templates"]
            for member in family["members"]:
                for name in [member["name"], *member.get("aliases", [])]:
                    lines.append(name)
                    lines.extend(t.replace("{name}", name) for t in templates)
    fixture = json.loads((ROOT / "fixtures" / "tokenizer" / "open_clip_ids.json").read_text(encoding="utf-8"))
    # One sentence per line: SentencePiece reads newline-separated sentences.
    for case in fixture["cases"]:
        lines.extend(s for s in case["text"].splitlines() if s.strip())
    return lines


def train_standin(out_dir: Path | str) -> Path:
    """Trains the stand-in and writes `out_dir/spiece.model`; returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.set_random_generator_seed(SEED)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        model_type="unigram",
        vocab_size=VOCAB_SIZE,
        pad_id=PAD_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        byte_fallback=False,
        character_coverage=0.9995,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    out = out_dir / "spiece.model"
    out.write_bytes(model.getvalue())
    return out


if __name__ == "__main__":
    import sys

    print(train_standin(sys.argv[1] if len(sys.argv) > 1 else "/tmp/spm-standin"))
