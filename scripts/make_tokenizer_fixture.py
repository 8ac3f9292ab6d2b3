#!/usr/bin/env python3
"""Generate the OpenAI-CLIP BPE tokenizer reference for clip-audit.

Writes fixtures/tokenizer/open_clip_ids.json. Every case holds:
  text      the input string
  ids       open_clip.tokenizer.tokenize([text], context_length=77)[0] (77 ints;
            SOT 49406, EOT 49407, zero padding, truncation keeps EOT last)
  cleaned   open_clip.tokenizer._clean_lower(text): ftfy.fix_text, html.unescape
            twice, strip, whitespace collapse, str.lower()
  category  what the case covers
  ftfy_fixed  ftfy.fix_text(text) (only present when it differs from text)
  ftfy_steps  the ftfy steps that changed the text, segment by segment, as fix_text
            runs them (only present when ftfy changed something)

It also writes the references of the tokenizers clip-audit loads from a model's own files
(`hf_tokenizer`, `sentencepiece`), on the same strings plus a few holding special-token text:

  hf_clip_ids.json      transformers' CLIPTokenizer on fixtures/models/hf-clip-tiny
                        (padding="max_length", max_length=77, truncation=True)
  siglip-standin/       a SigLIP-style SentencePiece stand-in (scripts/spm_standin.py):
                        spiece.model, tokenizer_config.json (SiglipTokenizer.save_pretrained)
                        and tokenizer.json (SiglipConverter below)
  siglip_standin_ids.json  SiglipTokenizer on spiece.model, and the tokenizer.json through
                        transformers' fast tokenizer (padding="max_length", max_length=64,
                        truncation=True)

Run:  .venv-scripts/bin/python scripts/make_tokenizer_fixture.py
"""

from __future__ import annotations

import html
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import ftfy
import open_clip
import regex
from open_clip import tokenizer as oc_tok

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "tokenizer" / "open_clip_ids.json"
CONTEXT_LENGTH = 77

COUNTRIES = [
    "Afghanistan", "Albania", "Algeria", "Argentina", "Australia", "Austria", "Bangladesh",
    "Belgium", "Bolivia", "Bosnia and Herzegovina", "Brazil", "Cameroon", "Canada", "Chile",
    "China", "Colombia", "Costa Rica", "Côte d'Ivoire", "Curaçao", "Czechia", "Denmark",
    "Egypt", "Eswatini", "Ethiopia", "Finland", "France", "Germany", "Ghana", "Greece",
    "Guinea-Bissau", "Haiti", "Iceland", "India", "Indonesia", "Iran", "Iraq", "Ireland",
    "Israel", "Italy", "Japan", "Kazakhstan", "Kenya", "Kyrgyzstan", "Lao People's Democratic Republic",
    "Liechtenstein", "Madagascar", "Mexico", "Mongolia", "Morocco", "Myanmar", "Nepal",
    "Netherlands", "New Zealand", "Nigeria", "North Macedonia", "Norway", "Pakistan",
    "Papua New Guinea", "Peru", "Philippines", "Poland", "Portugal", "Qatar", "Réunion",
    "Russia", "Rwanda", "Saint Kitts and Nevis", "São Tomé and Príncipe", "Saudi Arabia",
    "South Korea", "Spain", "Sri Lanka", "Sweden", "Switzerland", "Timor-Leste", "Trinidad and Tobago",
    "Türkiye", "Ukraine", "United Kingdom", "United States of America", "Uruguay",
    "Uzbekistan", "Vietnam", "Åland Islands", "Zimbabwe",
]


def cases() -> list[tuple[str, str]]:
    c: list[tuple[str, str]] = []

    def add(cat: str, *texts: str) -> None:
        for t in texts:
            c.append((t, cat))

    # --- plain prompts --------------------------------------------------------
    for country in COUNTRIES:
        add("country_prompt", f"a photo of a {country}")
    add("country_prompt", "a photo of a person from Côte d'Ivoire",
        "a photo taken in São Tomé and Príncipe.", "A street scene in Türkiye")

    add("plain_prompt", "a photo of a dog", "a photo of a cat.", "a bad photo of a car",
        "a close-up photo of the bird", "a black and white photo of the fire truck",
        "an origami airplane", "a tattoo of a rose", "itap of a banana",
        "a photo of the large mountain", "art of the small boat", "a sculpture of a horse",
        "a rendering of a chair", "a pixelated photo of the stop sign")

    add("fairface_emotion",
        "a photo of a Middle Eastern man", "a photo of a Middle Eastern woman",
        "a photo of a Black man", "a photo of a White woman", "a photo of an East Asian person",
        "a photo of a Southeast Asian woman", "a photo of a Latino_Hispanic man",
        "a photo of an Indian person", "a photo of a person aged 20-29",
        "a photo of a person aged 70+", "a photo of a person who looks angry",
        "a photo of a person who looks happy", "a photo of a person who looks disgusted",
        "a photo of a person who looks surprised", "a photo of a person who looks fearful",
        "a photo of a person who looks sad", "a photo of a person with a neutral expression",
        "a photo of a criminal", "a photo of a doctor", "a photo of a nurse")

    # --- case -----------------------------------------------------------------
    add("case", "A PHOTO OF A DOG", "A Photo Of A Dog", "a PhOtO oF a DoG", "iPhone McDonald's",
        "NASA JPL", "CamelCaseIdentifierName", "ÉCOLE NORMALE SUPÉRIEURE", "ΑΘΗΝΑ",
        "ΟΔΟΣ", "ΟΔΟΣ ΣΟΦΟΣ", "Σ", "ΣΑΣ", "МОСКВА", "İstanbul", "ISTANBUL İZMİR",
        "STRASSE ẞ", "\u212a\u212b kelvin and angstrom signs", "ǅemal ǈubljana", "ﬀ ǈ ẞ \u2126 ohm sign")

    # --- punctuation ------------------------------------------------------------
    add("punctuation", "hello, world!", "wait... what?!", "!!!", "???!!!...", "a--b---c",
        "(parenthesised) [bracketed] {braced}", "semi;colon:colon", "__init__",
        "#hashtag @mention $100 %50 ^caret &and *star", "~tilde `backtick` |pipe| \\backslash/",
        "“quoted” «guillemets» ‹single›", "…", "—em dash–en dash‐hyphen", "¡Hola! ¿Qué tal?",
        "·•●○", "a.b.c.d", "....", "-", "'", "''''")

    # --- contractions -----------------------------------------------------------
    add("contraction", "it's", "don't", "they're", "we've", "I'm", "you'll", "he'd",
        "DON'T", "IT'S", "We'Ll", "can't won't shouldn't", "rock'n'roll", "'s 't 're 've 'm 'll 'd",
        "o'clock", "the dogs' bones", "'tis", "ain't y'all'd've", "it’s (curly apostrophe)",
        "don‘t", "l'homme d'affaires")

    # --- numbers ----------------------------------------------------------------
    add("number", "1,234.56", "2026", "3.14159", "-42", "1e-5", "0x1F", "100%", "1st 2nd 3rd 4th",
        "+1 (555) 123-4567", "12:30 pm", "2026-04-15T12:00:00Z", "½ ¾ ²³", "Ⅻ", "١٢٣٤", "१२३",
        "一二三", "①②③", "٣.١٤", "𝟙𝟚𝟛", "1234567890123456789")

    # --- emoji --------------------------------------------------------------------
    add("emoji", "😀", "a photo of a 🐶", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵🇫🇷",
        "❤️", "❤", "🧑🏿‍🚀", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "I ❤️ NY 🗽", "😂😂😂😂😂", "☺", "🫨", "#️⃣ 1️⃣")

    # --- scripts ------------------------------------------------------------------
    add("cjk", "一张狗的照片", "猫の写真", "강아지 사진", "東京タワー", "ｶﾀｶﾅ", "漢字かなカナ混じり文",
        "你好，世界！", "中华人民共和国", "𠀀𠀁")
    add("arabic", "صورة كلب", "مرحبا بالعالم", "القاهرة", "عَرَبِيّ")
    add("hebrew", "תמונה של כלב", "שָׁלוֹם")
    add("devanagari", "कुत्ते की तस्वीर", "नमस्ते", "हिन्दी")
    add("cyrillic", "фотография собаки", "Москва", "Київ", "Ёлка")
    add("greek", "φωτογραφία ενός σκύλου", "Ελλάδα", "ΟΔΟΣ ΠΑΝΕΠΙΣΤΗΜΙΟΥ", "ὀδυσσεύς")
    add("other_script", "ภาพถ่ายของสุนัข", "ሰላም", "Բարեւ", "გამარჯობა", "வணக்கம்", "𑼄𑼅")

    # --- accents: NFC vs NFD (same visible text) ------------------------------------
    for word in ["café", "naïve", "Crème brûlée", "São Tomé", "Ångström", "Dvořák", "Việt Nam",
                 "Ñandú"]:
        add("accent_nfc", unicodedata.normalize("NFC", word))
        add("accent_nfd", unicodedata.normalize("NFD", word))
    add("accent_nfd", "e\u0301\u0301 double combining", "q\u0307 no precomposed form")

    # --- HTML entities ------------------------------------------------------------
    add("html", "fish &amp; chips", "&lt;b&gt;bold&lt;/b&gt;", "&quot;quoted&quot;", "it&#39;s",
        "smile &#x263A;", "a&nbsp;b", "&amp;amp;", "&amp;amp;amp;amp;", "&amp;lt;script&amp;gt;",
        "&copy 2026", "&notit;", "&AMP; &LT;", "&#0; &#x80; &#150;", "&hellip;&mdash;&euro;",
        "<b>fish &amp;amp; chips</b>", "a < b &amp;amp; c", "&Eacute;cole", "&unknownentity;",
        "first &amp;amp;amp;\nthen <b> &amp;amp;amp;\nlast &amp;amp;amp;",
        "first <b> &amp;amp;amp;\nthen &amp;amp;amp;", "<i>&amp;amp;amp;</i>", "&amp;amp;amp; <i>")

    # --- quotes ------------------------------------------------------------------
    add("quotes", "‘single’", "“double”", "„German“", "‚low‘", "‛reversed‟", "ʼmodifier apostrophe",
        "″double prime″ ′prime′", "«French» ‹quotes›", "\"straight\" 'straight'",
        "Don’t stop", "rock ’n’ roll")

    # --- ligatures / width -------------------------------------------------------------
    add("ligature_width", "ﬁne", "ﬂower ﬀ ﬃ ﬄ", "ﬅ ﬆ", "Ĳssel ĳs", "ŉ", "ＡＢＣ", "ｈｅｌｌｏ　ｗｏｒｌｄ",
        "１２３４", "！？", "ﾊﾝｶｸ ｶﾀｶﾅ", "𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "Ⓐⓑⓒ", "㍻ ㎏ ℡", "™ ℠")

    # --- whitespace -----------------------------------------------------------------
    add("whitespace", "tab\tseparated\twords", "new\nline", "windows\r\nline", "old mac\rline",
        "multiple     spaces", "non\u00a0breaking\u00a0space", "  leading and trailing  ",
        "ideographic\u3000space", "em\u2003space thin\u2009space", "narrow\u202fnbsp",
        "line\u2028separator para\u2029separator", "zero\u200bwidth\u200bspace",
        "zero\u200dwidth\u200cjoiners", "ogham\u1680space", "\t\n mixed \r\n\t ", "a\x0bb\x0cc",
        "next\x85line", "word\u180emongolian")

    # --- control / format characters -----------------------------------------------------
    add("control", "bell\x07char", "null\x00byte", "esc \x1b[31mred\x1b[0m text", "del\x7fchar",
        "\ufeffbom at start", "soft\u00adhyphen", "file\x1cseparators\x1d\x1e\x1f",
        "c1 \x80\x9f controls", "rtl \u202eoverride\u202c", "word\u2060joiner")

    # --- empty / whitespace-only --------------------------------------------------------
    add("empty", "", " ", "   ", "\t", "\n\n", "\u3000", "\u00a0", "\r\n")

    # --- repetition -----------------------------------------------------------------
    add("repeated", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "hahahahahahahahahaha",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "dog dog dog dog dog dog dog dog", "!" * 50, "😀" * 20, "ab" * 30, "wow" + "!" * 10 + "?" * 10)

    # --- length / truncation -----------------------------------------------------------
    add("length", " ".join(["a"] * 74), " ".join(["a"] * 75), " ".join(["a"] * 76),
        " ".join(["a"] * 200),
        "a photo of a " + " and ".join(COUNTRIES[:40]),
        ("The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly; "
         "meanwhile, pack my box with five dozen liquor jugs, and sphinx of black quartz, judge my vow. ") * 3,
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
        "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
        "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in "
        "voluptate velit esse cillum dolore eu fugiat nulla pariatur.",
        "超長文" * 60,
        "supercalifragilisticexpialidocious" * 8)

    # --- urls / email / code -----------------------------------------------------------
    add("url_email", "https://example.com/path?query=1&lang=en#frag", "http://localhost:8080/",
        "www.example.org", "user.name+tag@example.co.uk", "mailto:someone@example.com",
        "https://例え.jp/パス", "ftp://files.example.net/pub/file.tar.gz")
    add("code", "def f(x): return x**2", "fn main() { println!(\"hi\"); }", "if (a && b || !c) {}",
        "x = [1, 2, 3]; y = {'k': v}", "<div class=\"row\">text</div>", "SELECT * FROM t WHERE id = 1;",
        "$ cargo build --release", "a->b::c<T>", "#include <stdio.h>", "foo_bar_baz = 0xDEADBEEF")

    # --- special-token text -----------------------------------------------------------
    add("special_token_text", "<start_of_text>", "<end_of_text>", "a photo <end_of_text> of a dog",
        "<start_of_text>a photo of a dog<end_of_text>", "<START_OF_TEXT> upper case",
        "<|startoftext|> gpt style <|endoftext|>", "<start_of_text", "start_of_text",
        "<start_of_text><start_of_text>", "&lt;end_of_text&gt;")

    return c


def ftfy_trace(text: str) -> list[str]:
    """The steps ftfy.fix_text applies, replicating its per-line segmentation."""
    config = ftfy.TextFixerConfig(explain=True)
    steps: list[str] = []
    pos = 0
    out = []
    while pos < len(text):
        brk = text.find("\n", pos) + 1 or len(text)
        seg = text[pos:brk]
        if config.unescape_html == "auto" and "<" in seg:
            config = config._replace(unescape_html=False)
        fixed, expl = ftfy.fix_and_explain(seg, config)
        out.append(fixed)
        for s in expl or []:
            steps.append(f"{s.action}:{s.parameter}")
        pos = brk
    assert "".join(out) == ftfy.fix_text(text), repr(text)
    return steps


def write_open_clip() -> None:
    items = cases()
    texts = [t for t, _ in items]
    assert len(set(texts)) == len(texts), [t for t, n in Counter(texts).items() if n > 1]
    ids = oc_tok.tokenize(texts, context_length=CONTEXT_LENGTH).tolist()
    tok = oc_tok._tokenizer
    sot, eot = tok.sot_token_id, tok.eot_token_id
    assert (sot, eot) == (49406, 49407)

    out_cases = []
    changed = []
    for (text, cat), row in zip(items, ids):
        assert len(row) == CONTEXT_LENGTH and row[0] == sot
        enc = tok.encode(text)
        n = min(len(enc) + 2, CONTEXT_LENGTH)
        assert row[n - 1] == eot and all(v == 0 for v in row[n:])
        cleaned = oc_tok._clean_lower(text)
        case = {"text": text, "ids": row, "category": cat, "cleaned": cleaned,
                "n_tokens": len(enc) + 2, "truncated": len(enc) + 2 > CONTEXT_LENGTH}
        fixed = ftfy.fix_text(text)
        if fixed != text:
            steps = ftfy_trace(text)
            case["ftfy_fixed"] = fixed
            case["ftfy_steps"] = steps
            changed.append((text, fixed, cleaned, steps))
            # we want no mojibake repair on these inputs except C1-control handling
            enc_steps = [s for s in steps if s.startswith(("encode:", "decode:", "transcode:"))]
            if enc_steps and not any("\x80" <= ch <= "\x9f" for ch in text):
                raise SystemExit(f"unexpected encoding repair for {text!r}: {steps}")
        out_cases.append(case)

    step_counter = Counter(s for *_, steps in changed for s in set(steps))
    doc = {
        "producer": f"open_clip_torch {open_clip.__version__} tokenizer.tokenize, ftfy {ftfy.__version__}, "
                    f"regex {regex.__version__}, Python {sys.version.split()[0]} "
                    f"(unicodedata {unicodedata.unidata_version})",
        "context_length": CONTEXT_LENGTH,
        "sot": sot, "eot": eot, "pad": 0,
        "note": (
            "cleaned = open_clip.tokenizer._clean_lower(text) = whitespace_clean(basic_clean(text)).lower(), "
            "basic_clean = ftfy.fix_text (default config) -> html.unescape twice -> strip. ftfy steps seen "
            "changing these inputs (count of cases): "
            + ", ".join(f"{k} x{v}" for k, v in sorted(step_counter.items()))
            + ". ftfy.fix_text works line by line (segments end after '\\n'); its HTML unescaping is "
            "'auto': skipped for a line containing '<' AND for every later line too (the config "
            "change is sticky), and it repeats all fixes until a fixed point, so nested entities "
            "like &amp;amp;amp; are fully decoded by ftfy alone. After cleaning, the pre-tokenizer regex "
            "(<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+, "
            "IGNORECASE) matches the literal special-token strings, which then map to ids 49406/49407."),
        "cases": out_cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    print(f"{len(out_cases)} cases -> {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1e3:.0f} kB)")
    for cat, n in Counter(cat for _, cat in items).items():
        print(f"  {cat:<20} {n}")
    print(f"  truncated: {sum(c['truncated'] for c in out_cases)}")
    print("ftfy steps:", dict(step_counter))
    print("cases where ftfy.fix_text changed the text (input -> fix_text -> cleaned):")
    for text, fixed, cleaned, steps in changed:
        print(f"  {text!r} -> {fixed!r} -> {cleaned!r}  {steps}")
    print("cases where html.unescape (x2, after ftfy) changed the text (ftfy output -> after unescape):")
    for text, _ in items:
        f = ftfy.fix_text(text)
        u = html.unescape(html.unescape(f))
        if u != f:
            print(f"  {text!r}: {f!r} -> {u!r}")
    print("cases where lower() changes length or is not 1:1 per char:")
    for text, _ in items:
        w = oc_tok.whitespace_clean(oc_tok.basic_clean(text))
        if len(w.lower()) != len(w):
            print(f"  {w!r} -> {w.lower()!r}")


HF_CLIP_DIR = ROOT / "fixtures" / "models" / "hf-clip-tiny"
HF_CLIP_OUT = ROOT / "fixtures" / "tokenizer" / "hf_clip_ids.json"
SIGLIP_DIR = ROOT / "fixtures" / "tokenizer" / "siglip-standin"
SIGLIP_OUT = ROOT / "fixtures" / "tokenizer" / "siglip_standin_ids.json"
SIGLIP_CONTEXT_LENGTH = 64

# Special-token text of the two tokenizer families, literal in a prompt: what the tokenizers'
# added tokens make of it is part of the reference.
SPECIAL_TOKEN_CASES = [
    "<|startoftext|>a photo of a dog<|endoftext|>", "a photo <|endoftext|> of a dog", "<|endoftext|>",
    "</s>", "a photo </s> of a dog", "a photo of a dog </s>", "</s> a photo of a dog", "</s></s>",
    "<unk>", "hello <unk> world", "<UNK> and </S> upper case", "<pad>", "<s> a photo",
    "\u2581a photo of a \u2581 dog", " ".join(["word"] * 70) + " </s>", " ".join(["word"] * 62) + " </s>",
]


def reference_texts() -> list[tuple[str, str]]:
    """The open_clip fixture's strings (in its order), then the special-token cases."""
    doc = json.loads(OUT.read_text(encoding="utf-8"))
    items = [(c["text"], c["category"]) for c in doc["cases"]]
    items += [(t, "special_token_text_hf") for t in SPECIAL_TOKEN_CASES]
    texts = [t for t, _ in items]
    assert len(set(texts)) == len(texts), [t for t, n in Counter(texts).items() if n > 1]
    return items


def dump(path: Path, header: dict, cases: list[dict]) -> None:
    """JSON with one case per line, so the files stay small and diffs readable."""
    head = json.dumps(header, ensure_ascii=False, indent=1)[:-2]
    body = ",\n".join("  " + json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
    path.write_text(f'{head},\n "cases": [\n{body}\n ]\n}}\n', encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["cases"] == cases
    print(f"{len(cases)} cases -> {path.relative_to(ROOT)} ({path.stat().st_size / 1e3:.0f} kB)")


def encoded(tokenizer, text: str, max_length: int) -> dict:
    enc = tokenizer(text, padding="max_length", max_length=max_length, truncation=True)
    ids, mask = list(enc["input_ids"]), list(enc["attention_mask"])
    assert len(ids) == len(mask) == max_length, (text, len(ids))
    return {"ids": ids, "mask": mask}


def write_hf_clip() -> None:
    import tokenizers
    import transformers
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(HF_CLIP_DIR)
    assert type(tok).__name__ == "CLIPTokenizer" and tok.pad_token == "<|endoftext|>", tok
    items = reference_texts()
    cases = [{"text": t, "category": c, **encoded(tok, t, CONTEXT_LENGTH)} for t, c in items]
    open_clip_ids = {c["text"]: c["ids"] for c in json.loads(OUT.read_text(encoding="utf-8"))["cases"]}
    differ = [c["text"] for c in cases if c["text"] in open_clip_ids
              and c["ids"][:sum(c["mask"])] != open_clip_ids[c["text"]][:sum(c["mask"])]]
    header = {
        "producer": f"transformers {transformers.__version__} AutoTokenizer (CLIPTokenizer, tokenizers "
                    f"{tokenizers.__version__}) on fixtures/models/hf-clip-tiny, padding=\"max_length\", "
                    f"max_length={CONTEXT_LENGTH}, truncation=True",
        "tokenizer": "fixtures/models/hf-clip-tiny/tokenizer.json",
        "context_length": CONTEXT_LENGTH,
        "pad_id": tok.pad_token_id,
        "note": (f"Hugging Face's CLIP tokenizer normalizes with NFC, whitespace collapsing and lower-casing "
                 f"only (no ftfy, no HTML unescaping), pads with <|endoftext|> and masks every real token: "
                 f"{len(differ)} of the {len(open_clip_ids)} open_clip strings get other ids than open_clip's."),
    }
    dump(HF_CLIP_OUT, header, cases)


def siglip_converter():
    """A slow-to-fast converter for SigLIP's tokenizer, on transformers' own `SpmConverter`.

    transformers ships none (SiglipTokenizer is SentencePiece-only; the converter of
    huggingface/transformers#29969 was never merged), so this one follows that PR and
    `SiglipTokenizer.canonicalize_text`: lower-case, drop ASCII punctuation, collapse
    whitespace, strip; then the model's own charsmap (`Precompiled`) and SentencePiece's
    whitespace clean-up; a Metaspace pre-tokenizer, the unigram pieces, and `</s>` appended.
    """
    import string

    from tokenizers import Regex, normalizers, processors
    from transformers.convert_slow_tokenizer import SpmConverter

    punctuation = "[" + "".join("\\" + c if c in "[]\\^-" else c for c in string.punctuation) + "]"
    # Python's `\s` (str.isspace), which SiglipTokenizer collapses, written out.
    space = "[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"

    class SiglipConverter(SpmConverter):
        def normalizer(self, proto):
            steps = [normalizers.Replace("\u2581", " ")]  # SiglipTokenizer.tokenize does this first
            if self.original_tokenizer.do_lower_case:
                steps.append(normalizers.Lowercase())
            steps += [normalizers.Replace(Regex(punctuation), ""), normalizers.Replace(Regex(space), " "),
                      normalizers.Strip()]
            if proto.normalizer_spec.precompiled_charsmap:
                steps.append(normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap))
            steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip()]
            return normalizers.Sequence(steps)

        def post_processor(self):
            eos = str(self.original_tokenizer.eos_token)
            eos_id = self.original_tokenizer.convert_tokens_to_ids(eos)
            return processors.TemplateProcessing(single=["$A", eos], pair=["$A", eos, "$B", eos],
                                                 special_tokens=[(eos, eos_id)])

    return SiglipConverter


def write_siglip_standin() -> None:
    import sentencepiece
    import tokenizers
    import transformers
    from spm_standin import train_standin
    from transformers import PreTrainedTokenizerFast, SiglipTokenizer

    SIGLIP_DIR.mkdir(parents=True, exist_ok=True)
    spiece = train_standin(SIGLIP_DIR)
    slow = SiglipTokenizer(vocab_file=str(spiece))
    assert (slow.pad_token, slow.eos_token_id, slow.unk_token_id) == ("</s>", 1, 2), slow
    slow.save_pretrained(SIGLIP_DIR)
    special = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"}  # SiglipTokenizer's
    # Through transformers' fast tokenizer, which adds the special tokens to the backend (`<unk>`
    # becomes an added token, as it is SiglipTokenizer's), so the file holds what it runs.
    converted = PreTrainedTokenizerFast(tokenizer_object=siglip_converter()(slow).converted(), **special)
    tokenizer_json = SIGLIP_DIR / "tokenizer.json"
    converted.backend_tokenizer.save(str(tokenizer_json))
    fast = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_json), **special)
    plain = tokenizers.Tokenizer.from_file(str(tokenizer_json))
    plain.enable_truncation(SIGLIP_CONTEXT_LENGTH)
    plain.enable_padding(length=SIGLIP_CONTEXT_LENGTH, pad_id=1, pad_token="</s>")

    cases, differ = [], []
    for text, cat in reference_texts():
        ref = encoded(slow, text, SIGLIP_CONTEXT_LENGTH)
        conv = encoded(fast, text, SIGLIP_CONTEXT_LENGTH)
        p = plain.encode(text)
        assert (p.ids, p.attention_mask) == (conv["ids"], conv["mask"]), text  # transformers adds nothing
        cases.append({"text": text, "category": cat, "sentencepiece": ref, "tokenizer_json": conv})
        if conv != ref:
            shown = [slow.convert_ids_to_tokens(r["ids"][:sum(r["mask"])]) for r in (ref, conv)]
            differ.append(f"{text!r}: SiglipTokenizer {shown[0]}, tokenizer.json {shown[1]}")
    header = {
        "producer": f"transformers {transformers.__version__} SiglipTokenizer (sentencepiece "
                    f"{sentencepiece.__version__}) on siglip-standin/spiece.model, and PreTrainedTokenizerFast "
                    f"(tokenizers {tokenizers.__version__}) on siglip-standin/tokenizer.json; "
                    f"padding=\"max_length\", max_length={SIGLIP_CONTEXT_LENGTH}, truncation=True",
        "spiece_model": "fixtures/tokenizer/siglip-standin/spiece.model",
        "tokenizer_json": "fixtures/tokenizer/siglip-standin/tokenizer.json",
        "context_length": SIGLIP_CONTEXT_LENGTH,
        "pad_id": slow.pad_token_id,
        "note": (f"`sentencepiece` is SiglipTokenizer's output, `tokenizer_json` the converted tokenizer.json's; "
                 f"they differ on {len(differ)} strings: " + "; ".join(differ)),
    }
    dump(SIGLIP_OUT, header, cases)
    print(f"tokenizer.json differs from SiglipTokenizer on {len(differ)} strings:")
    for d in differ:
        print("  " + d)


def main() -> None:
    which = set(sys.argv[1:]) or {"open_clip", "hf_clip", "siglip"}
    if "open_clip" in which:
        write_open_clip()
    if "hf_clip" in which:
        write_hf_clip()
    if "siglip" in which:
        write_siglip_standin()


if __name__ == "__main__":
    main()
