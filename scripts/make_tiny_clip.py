#!/usr/bin/env python3
"""Build fixtures/models/tiny-clip: a tiny random-weight, CLIP-shaped model bundle.

Why: clip-audit's Rust tests need a real ONNX model pair that loads in
milliseconds, fits in the repository (a few hundred KB) and has golden outputs
computed independently by onnxruntime-python, so the Rust side can check its
preprocessing, tokenization, inference, tap extraction and pooling end to end.

What it writes (all deterministic: torch.manual_seed(0), numpy seed 0):

* image.onnx  `pixel_values` f32 [N,3,32,32] -> `image_embeds` f32 [N,32]
  ViT: 8x8 patches (16 + class token = 17 tokens), width 64, 2 pre-LN blocks
  (4-head attention, MLP 64->256->64 with nn.GELU), ln_post on the class
  token, projection 64->32. Not normalized.
* text.onnx   `input_ids` i64 [N,77] -> `text_embeds` f32 [N,32]
  CLIP BPE ids embedded through a hashed table (ids % 4096, nn.Embedding(4096,
  64)) to keep the file small, + positional embedding, 2 causal blocks,
  ln_final, feature at argmax(ids) (the EOT position, as CLIP), projection
  64->32. Not normalized.
* model.yaml  the clip-audit manifest, with taps on the GELU outputs of image
  blocks 0/1 and text block 1 (tensor names found in the exported graphs).
* golden/     4 PNG images and golden.json: input_ids (open_clip tokenizer),
  pixel_values (the torchvision CLIP preprocessing), embeddings and pooled taps
  computed by onnxruntime-python (CPU), checked against torch.
* README.md

Both graphs are exported with the legacy exporter (dynamo=False) so node names
keep the module path (`/blocks.1/mlp/act/...`), like exports of open_clip.

Usage:  .venv-scripts/bin/python scripts/make_tiny_clip.py [--out fixtures/models/tiny-clip]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_bundle as ob  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

IMAGE_SIZE = 32
PATCH = 8
WIDTH = 64
HEADS = 4
MLP_WIDTH = 256
LAYERS = 2
EMBED_DIM = 32
CONTEXT = 77
HASH_VOCAB = 4096
LOGIT_SCALE = 100.0
OPSET = 17

TEXTS = [
    "a photo of a dog",
    "a photo of a cat",
    "",
    "Hello, World! 123",
    # > 77 BPE tokens: the tokenizer truncates and keeps EOT as the last id.
    "a very long caption that goes on and on " * 12 + "until the end",
]


# --------------------------------------------------------------------------- model


class Attention(nn.Module):
    """Plain multi-head self-attention (explicit matmuls: exports cleanly)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, t, d = x.shape
        dh = self.head_dim
        qkv = self.in_proj(x).reshape(n, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if mask is not None:
            scores = scores + mask
        out = torch.matmul(scores.softmax(dim=-1), v)
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    """Pre-LN residual block: x + attn(ln_1(x)); x + mlp(ln_2(x))."""

    def __init__(self, width: int, heads: int, mlp_width: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, mlp_width)),
                    ("act", nn.GELU()),
                    ("c_proj", nn.Linear(mlp_width, width)),
                ]
            )
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class TinyVisual(nn.Module):
    def __init__(self):
        super().__init__()
        grid = IMAGE_SIZE // PATCH
        scale = WIDTH**-0.5
        self.conv1 = nn.Conv2d(3, WIDTH, kernel_size=PATCH, stride=PATCH, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(WIDTH))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, WIDTH))
        self.ln_pre = nn.LayerNorm(WIDTH)
        self.blocks = nn.ModuleList([Block(WIDTH, HEADS, MLP_WIDTH) for _ in range(LAYERS)])
        self.ln_post = nn.LayerNorm(WIDTH)
        self.proj = nn.Parameter(scale * torch.randn(WIDTH, EMBED_DIM))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.conv1(pixel_values)  # [N, D, 4, 4]
        x = x.flatten(2).transpose(1, 2)  # [N, 16, D]
        cls = self.class_embedding.reshape(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_post(x[:, 0, :]) @ self.proj


class TinyText(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(HASH_VOCAB, WIDTH)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(CONTEXT, WIDTH))
        self.blocks = nn.ModuleList([Block(WIDTH, HEADS, MLP_WIDTH) for _ in range(LAYERS)])
        self.ln_final = nn.LayerNorm(WIDTH)
        self.text_projection = nn.Parameter(WIDTH**-0.5 * torch.randn(WIDTH, EMBED_DIM))
        mask = torch.full((CONTEXT, CONTEXT), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(torch.remainder(input_ids, HASH_VOCAB))
        x = x + self.positional_embedding
        for blk in self.blocks:
            x = blk(x, self.attn_mask)
        x = self.ln_final(x)
        eot = input_ids.argmax(dim=-1)  # EOT (49407) is the largest id
        x = x[torch.arange(x.shape[0]), eot]
        return x @ self.text_projection


# --------------------------------------------------------------------------- golden inputs


def make_images(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Four small deterministic RGB8 images of awkward sizes (W x H in the name)."""
    imgs: dict[str, np.ndarray] = {}
    # 40x30 gradient (landscape: resize goes to 42x32, then crop).
    h, w = 30, 40
    yy, xx = np.mgrid[0:h, 0:w]
    grad = np.stack(
        [xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (w + h - 2)], axis=-1
    )
    imgs["gradient_40x30"] = np.round(grad).astype(np.uint8)
    # 32x32 checkerboard, 4px squares, red/blue-ish (no resize needed).
    yy, xx = np.mgrid[0:32, 0:32]
    on = ((yy // 4 + xx // 4) % 2).astype(bool)
    checker = np.where(on[..., None], [230, 40, 30], [20, 60, 210]).astype(np.uint8)
    imgs["checker_32x32"] = checker
    # 50x64 uniform noise (portrait).
    imgs["noise_50x64"] = rng.integers(0, 256, size=(64, 50, 3), dtype=np.uint8)
    # 33x45 solid with a shape: grey background, yellow disk, dark bar.
    h, w = 45, 33
    img = np.full((h, w, 3), (128, 140, 150), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    disk = (yy - 20) ** 2 + (xx - 15) ** 2 <= 10**2
    img[disk] = (250, 210, 30)
    img[34:39, 4:29] = (25, 25, 35)
    imgs["shape_33x45"] = img
    return imgs


def clip_preprocess(path: Path) -> np.ndarray:
    """Reference CLIP preprocessing -> float32 [3, S, S] (CHW)."""
    from torchvision import transforms as T

    img = Image.open(path)
    img = ImageOps.exif_transpose(img).convert("RGB")
    tf = T.Compose(
        [
            T.Resize(IMAGE_SIZE, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(IMAGE_SIZE),
            T.ToTensor(),
            T.Normalize(ob.CLIP_MEAN, ob.CLIP_STD),
        ]
    )
    return tf(img).numpy().astype(np.float32)


def tokenize(texts: list[str]) -> np.ndarray:
    from open_clip.tokenizer import tokenize as oc_tokenize

    return oc_tokenize(texts, context_length=CONTEXT).numpy().astype(np.int64)


# --------------------------------------------------------------------------- main


def floats(a: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def torch_with_hooks(module: nn.Module, x: torch.Tensor, names: dict[str, str]):
    """Run module, capturing outputs of submodules {label: module path}."""
    captured: dict[str, np.ndarray] = {}
    handles = []
    mods = dict(module.named_modules())
    for label, path in names.items():
        handles.append(
            mods[path].register_forward_hook(
                lambda _m, _i, out, label=label: captured.__setitem__(label, out.detach().numpy())
            )
        )
    with torch.no_grad():
        y = module(x).numpy()
    for h in handles:
        h.remove()
    return y, captured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "fixtures/models/tiny-clip", help="bundle directory (replaced)")
    args = ap.parse_args()
    out: Path = args.out

    torch.set_num_threads(1)
    torch.manual_seed(0)
    visual = TinyVisual().eval()
    text = TinyText().eval()

    if out.exists():
        shutil.rmtree(out)
    (out / "golden").mkdir(parents=True)

    # ---- export
    ob.export_onnx(visual, torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE), out / "image.onnx",
                   "pixel_values", "image_embeds", opset=OPSET)
    ob.export_onnx(text, torch.from_numpy(tokenize(TEXTS[:2])), out / "text.onnx",
                   "input_ids", "text_embeds", opset=OPSET)

    # ---- find tap tensors by module scope
    img_model = onnx.load(str(out / "image.onnx"))
    txt_model = onnx.load(str(out / "text.onnx"))
    t_img1 = ob.scope_output(img_model, "/blocks.1/mlp/act/")
    t_img0 = ob.scope_output(img_model, "/blocks.0/mlp/act/")
    t_txt1 = ob.scope_output(txt_model, "/blocks.1/mlp/act/")
    print(f"tap tensors: image block1 {t_img1!r}, image block0 {t_img0!r}, text block1 {t_txt1!r}")
    taps = [
        dict(name="image.block1.mlp", encoder="image", tensor=t_img1, layout="ntd", pooling="token_mean"),
        dict(name="image.block1.cls", encoder="image", tensor=t_img1, layout="ntd", pooling="class_token"),
        dict(name="image.block0.mlp", encoder="image", tensor=t_img0, layout="ntd", pooling="token_mean"),
        dict(name="text.block1.mlp", encoder="text", tensor=t_txt1, layout="ntd", pooling="token_mean"),
    ]
    # module paths for the torch cross-check
    torch_paths = {t_img1: "blocks.1.mlp.act", t_img0: "blocks.0.mlp.act", t_txt1: "blocks.1.mlp.act"}

    ob.write_manifest(
        out / "model.yaml",
        comment="clip-audit model bundle: tiny random-weight CLIP-shaped model for tests (made by scripts/make_tiny_clip.py)",
        name="tiny-clip",
        description="Random weights, CLIP-shaped (ViT 32px image tower, hashed-vocabulary text tower). For tests only.",
        size=IMAGE_SIZE,
        mean=ob.CLIP_MEAN,
        std=ob.CLIP_STD,
        logit_scale=LOGIT_SCALE,
        embedding_dim=EMBED_DIM,
        taps=taps,
    )

    # ---- golden inputs
    rng = np.random.default_rng(0)
    files = []
    for stem, arr in make_images(rng).items():
        p = out / "golden" / f"{stem}.png"
        Image.fromarray(arr, mode="RGB").save(p, format="PNG")
        files.append(p)
    pixels = np.stack([clip_preprocess(p) for p in files])  # [4, 3, 32, 32]
    ids = tokenize(TEXTS)  # [5, 77]
    assert all(row[int(np.argmax(row))] == 49407 for row in ids)

    # ---- onnxruntime (the golden values) + torch cross-check
    img_taps = [t for t in taps if t["encoder"] == "image"]
    txt_taps = [t for t in taps if t["encoder"] == "text"]
    img_emb, img_raw = ob.run_with_taps(out / "image.onnx", "pixel_values", pixels, [t["tensor"] for t in img_taps])
    txt_emb, txt_raw = ob.run_with_taps(out / "text.onnx", "input_ids", ids, [t["tensor"] for t in txt_taps])
    assert img_raw[t_img1].shape == (len(files), 17, MLP_WIDTH), img_raw[t_img1].shape
    assert img_raw[t_img0].shape == (len(files), 17, MLP_WIDTH), img_raw[t_img0].shape
    assert txt_raw[t_txt1].shape == (len(TEXTS), CONTEXT, MLP_WIDTH), txt_raw[t_txt1].shape

    t_img_emb, t_img_raw = torch_with_hooks(visual, torch.from_numpy(pixels), {t_img1: torch_paths[t_img1], t_img0: torch_paths[t_img0]})
    t_txt_emb, t_txt_raw = torch_with_hooks(text, torch.from_numpy(ids), {t_txt1: torch_paths[t_txt1]})
    diffs = {
        "image_embeds": np.abs(img_emb - t_img_emb).max(),
        "text_embeds": np.abs(txt_emb - t_txt_emb).max(),
        **{f"image tap {k}": np.abs(img_raw[k] - t_img_raw[k]).max() for k in img_raw},
        **{f"text tap {k}": np.abs(txt_raw[k] - t_txt_raw[k]).max() for k in txt_raw},
    }
    print("ORT vs torch max abs diff:")
    for k, v in diffs.items():
        print(f"  {k}: {v:.3e}")
    worst = max(diffs.values())
    if worst > 1e-5:
        sys.exit(f"ORT and torch disagree: {worst:.3e} > 1e-5")

    pooled_img = {t["name"]: ob.pool(img_raw[t["tensor"]], t["layout"], t["pooling"]) for t in img_taps}
    pooled_txt = {t["name"]: ob.pool(txt_raw[t["tensor"]], t["layout"], t["pooling"]) for t in txt_taps}

    golden = {
        "producer": f"onnxruntime-python {ort.__version__}, scripts/make_tiny_clip.py",
        "texts": [
            {
                "text": s,
                "input_ids": [int(v) for v in ids[i]],
                "text_embeds": floats(txt_emb[i]),
                "taps": {name: floats(v[i]) for name, v in pooled_txt.items()},
            }
            for i, s in enumerate(TEXTS)
        ],
        "images": [
            {
                "file": f"golden/{p.name}",
                "pixel_values": floats(pixels[i]),
                "image_embeds": floats(img_emb[i]),
                "taps": {name: floats(v[i]) for name, v in pooled_img.items()},
            }
            for i, p in enumerate(files)
        ],
    }
    (out / "golden" / "golden.json").write_text(json.dumps(golden) + "\n")
    (out / "README.md").write_text(README)

    print(f"wrote {out}:")
    ob.print_sizes(out)


README = """\
# tiny-clip: test fixture model bundle

A tiny **random-weight** model with the shape of CLIP, for clip-audit's tests.
Its outputs mean nothing; it exists so that tests can load a real ONNX model
pair in milliseconds and compare every stage against golden values.

- `image.onnx`: `pixel_values` f32 `[N,3,32,32]` -> `image_embeds` f32 `[N,32]`
  (not normalized). ViT with 8x8 patches (16 patches + class token = 17
  tokens), width 64, 2 pre-LN blocks (4 heads, MLP 64->256->64, GELU),
  `ln_post` on the class token, projection 64->32.
- `text.onnx`: `input_ids` i64 `[N,77]` (CLIP BPE ids, SOT 49406, EOT 49407,
  zero padding) -> `text_embeds` f32 `[N,32]` (not normalized). Token ids are
  hashed into a 4096-row embedding (`ids % 4096`) to keep the file small;
  positional embedding, 2 causal blocks, `ln_final`, the feature at
  `argmax(ids)` (the EOT position, as in CLIP), projection 64->32.
- `model.yaml`: the clip-audit manifest. Taps: the GELU output of image block 1
  (`[N,17,256]`, pooled as `token_mean` and as `class_token`), of image block 0,
  and of text block 1 (`[N,77,256]`, `token_mean`).
- `golden/`: four small PNGs and `golden.json` with, per text, the
  `input_ids` (open_clip tokenizer), `text_embeds` and pooled taps, and per
  image, the `pixel_values` (CHW, flattened) from the reference CLIP
  preprocessing (PIL exif_transpose + RGB, torchvision bicubic resize of the
  shortest side to 32, center crop 32, normalize with the CLIP mean/std),
  `image_embeds` and pooled taps. All outputs were computed with
  onnxruntime-python (CPU) and checked against torch (max abs diff < 1e-5).

Exported with `torch.onnx.export(..., dynamo=False)`, opset 17, so node names
keep the module path (e.g. `/blocks.1/mlp/act/Mul_1`).

Remake (deterministic: torch seed 0, numpy seed 0):

    .venv-scripts/bin/python scripts/make_tiny_clip.py

Note that ONNX files may differ byte-for-byte across torch/onnx versions; if
you remake it, re-run the Rust tests against the new golden values.
"""


if __name__ == "__main__":
    main()
