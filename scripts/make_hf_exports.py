#!/usr/bin/env python3
"""Make random-weight Hugging Face CLIP exports in the layouts users download, offline.

Why: real users hold Hugging Face exports, not only open_clip ones: the transformers.js layout
(`onnx/vision_model.onnx` + `onnx/text_model.onnx`, the text graph taking `input_ids` and
`attention_mask`) and optimum's single `model.onnx` (both towers in one graph, inputs
`input_ids`, `pixel_values`, `attention_mask`). No model hub is reachable, so this script builds
`transformers.CLIPModel` from a config with random weights (seeded) and exports it the way those
files are made, next to the hub's own side files (config.json, preprocessor_config.json and the
tokenizer files), so clip-audit can be tested on the same graphs, node names and inputs.

What it writes into --out (a hub-layout folder):

* config.json, preprocessor_config.json    from `CLIPModel.save_pretrained` and
                                          `CLIPImageProcessorPil.save_pretrained`
* vocab.json, merges.txt, tokenizer.json,  OpenAI CLIP's BPE (from open_clip's
  tokenizer_config.json, ...               bpe_simple_vocab_16e6.txt.gz, the same merges the
                                          hub's files hold) through `CLIPTokenizer`
* onnx/vision_model.onnx                  `CLIPVisionModelWithProjection`: pixel_values ->
                                          image_embeds, last_hidden_state
* onnx/text_model.onnx                    `CLIPTextModelWithProjection`: input_ids,
                                          attention_mask -> text_embeds, last_hidden_state
* model.onnx                              `CLIPModel`: input_ids, pixel_values, attention_mask
                                          -> logits_per_image, logits_per_text, text_embeds,
                                          image_embeds (the last two L2-normalised, as optimum's)
* golden/*.png, golden/golden.json        inputs and the reference outputs: pixel values from
                                          transformers' own PIL-backed `CLIPImageProcessorPil`,
                                          ids and attention masks from its tokenizer (padded to
                                          max_length), embeddings and MLP activations from
                                          onnxruntime-python (CPU), each checked against torch

Configurations: `tiny` (2 layers, width 16, 32 px images, the full 49,408-token vocabulary so the
real tokenizer applies: a few MB, committed under fixtures/models/) and `vit-b-32` (the
published openai/clip-vit-base-patch32 config: made by `make hf-exports` into a git-ignored
folder for benchmarks).

Exports use the TorchScript exporter (dynamo=False) with eager attention, opset 17, dynamic batch
and sequence axes, as optimum's CLIP exports are; every graph is checked against torch at a
batch size other than the one traced.

Usage:  .venv-scripts/bin/python scripts/make_hf_exports.py --config tiny --out fixtures/models/hf-clip-tiny
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import open_clip  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import (  # noqa: E402
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionModelWithProjection,
)

ROOT = Path(__file__).resolve().parent.parent
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

CONFIGS = {
    "tiny": dict(
        text=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2),
        vision=dict(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                    num_attention_heads=2),
        projection_dim=16,
    ),
    # openai/clip-vit-base-patch32's published config.json.
    "vit-b-32": dict(
        text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8),
        vision=dict(image_size=224, patch_size=32, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12),
        projection_dim=512,
    ),
}

PROMPTS = ["a photo of a dog", "a photo of a cat", "", "Hello, World! 123",
           "a satellite photo of the coast of Nigeria, seen from far above at noon"]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table, as CLIP's tokenizer uses it."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_clip_bpe(out: Path) -> None:
    """vocab.json and merges.txt of OpenAI CLIP's BPE, built as its SimpleTokenizer builds them
    (the files on the hub hold the same 49,408 entries in the same order)."""
    bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({v: i for i, v in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")


def make_images(out: Path) -> list[Path]:
    """Four small images, two of them not square (their crop offsets are where HF's processor
    and torchvision round differently)."""
    rng = np.random.default_rng(0)
    specs = {"noise_48x48": (48, 48), "wide_67x48": (67, 48), "tall_40x61": (40, 61), "square_32x32": (32, 32)}
    paths = []
    for name, (w, h) in specs.items():
        x = np.linspace(0, 255, w)[None, :, None]
        y = np.linspace(0, 255, h)[:, None, None]
        base = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                               np.broadcast_to((x + y) / 2, (h, w, 1))], axis=2)
        img = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        p = out / "golden" / f"{name}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


def export(module: torch.nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
           dynamic: dict[str, dict[int, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=17, dynamo=False, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)))


def mlp_activations(path: Path) -> list[str]:
    """The output of each encoder layer's MLP activation (quick_gelu: x * sigmoid(1.702 x)), in
    layer order: the last node of `.../mlp/activation_fn/`."""
    g = onnx.load(str(path)).graph
    last: dict[str, str] = {}
    for node in g.node:
        if "/mlp/activation_fn/" in node.name:
            layer = node.name.split("/mlp/activation_fn/")[0]
            last[layer] = node.output[0]
    return list(last.values())


def write_manifests(out: Path, name: str, pre: dict, tokenizer_yaml: str, logit_scale: float, head: str,
                    split_outputs: tuple[str, str], image_tap: str, text_tap: str) -> None:
    """model.yaml for the transformers.js layout (one graph per tower; `split_outputs` are its
    image and text outputs) and model.optimum.yaml for optimum's single graph (outputs
    `image_embeds`, `text_embeds`): the same model, so the same golden values."""
    rule = "\n".join(f"  {k}: {v}" for k, v in pre.items())
    for file, image_file, text_file, (image_out, text_out), what in [
        ("model.yaml", "onnx/vision_model.onnx", "onnx/text_model.onnx", split_outputs, "transformers.js layout"),
        ("model.optimum.yaml", "model.onnx", "model.onnx", ("image_embeds", "text_embeds"),
         "optimum's single model.onnx"),
    ]:
        (out / file).write_text(f"""# clip-audit model bundle: random-weight Hugging Face {name}, {what}.
# Made by scripts/make_hf_exports.py. For tests only.
name: hf-{name}
image_encoder:
  file: {image_file}
  input: pixel_values
  output: {image_out}
text_encoder:
  file: {text_file}
  input: input_ids
  output: {text_out}
preprocess:
{rule}
tokenizer:
{tokenizer_yaml}
logit_scale: {logit_scale}
{head}
taps:
  - name: image.last_mlp
    encoder: image
    tensor: "{image_tap}"
    layout: ntd
    pooling: token_mean
  - name: text.last_mlp
    encoder: text
    tensor: "{text_tap}"
    layout: ntd
    pooling: token_mean
""".replace("\n\ntaps:", "\ntaps:"))


def session_options() -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


def run_with_taps(path: Path, feeds: dict, outputs: list[str], taps: list[str]) -> list[np.ndarray]:
    """Runs a graph with extra outputs (the taps), as clip-audit adds them."""
    m = onnx.load(str(path))
    for t in taps:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    s = ort.InferenceSession(m.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    return s.run(outputs + taps, feeds)


def check(a: np.ndarray, b: np.ndarray, what: str, tol: float = 1e-4) -> float:
    d = float(np.abs(a - b).max())
    print(f"  {what}: max |onnx - torch| = {d:.2e}")
    if d > tol:
        sys.exit(f"{what}: the export differs from torch by {d}")
    return d


def fresh_folder(out: Path) -> Path:
    """`out` emptied (an export is written whole), with its golden/ folder."""
    if out.exists():
        shutil.rmtree(out)
    (out / "golden").mkdir(parents=True)
    return out


def make_clip(args: argparse.Namespace) -> None:
    c = CONFIGS[args.config]
    out = fresh_folder(args.out)

    torch.manual_seed(0)
    common = dict(hidden_act="quick_gelu", projection_dim=c["projection_dim"])
    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=77, **c["text"], **common),
        vision_config=dict(**c["vision"], **common),
        projection_dim=c["projection_dim"],
    )
    cfg.text_config._attn_implementation = "eager"
    cfg.vision_config._attn_implementation = "eager"
    cfg._attn_implementation = "eager"
    model = CLIPModel(cfg).eval()
    model.save_pretrained(out, safe_serialization=True)
    (out / "model.safetensors").unlink()  # the weights travel in the ONNX files
    size = cfg.vision_config.image_size
    processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                   image_mean=OPENAI_MEAN, image_std=OPENAI_STD, do_convert_rgb=True)
    processor.save_pretrained(out)
    write_clip_bpe(out)
    tokenizer = CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    tokenizer.save_pretrained(out)

    text = CLIPTextModelWithProjection(cfg.text_config).eval()
    text.load_state_dict({k: v for k, v in model.state_dict().items()
                          if k.startswith(("text_model.", "text_projection."))})
    vision = CLIPVisionModelWithProjection(cfg.vision_config).eval()
    vision.load_state_dict({k: v for k, v in model.state_dict().items()
                            if k.startswith(("vision_model.", "visual_projection."))})

    enc = tokenizer(PROMPTS[:2], padding="max_length", max_length=77, return_tensors="pt")
    pixels = torch.randn(2, 3, size, size)
    print("exporting onnx/text_model.onnx, onnx/vision_model.onnx, model.onnx")
    seq = {0: "batch_size", 1: "sequence_length"}
    export(text, (enc["input_ids"], enc["attention_mask"]), out / "onnx" / "text_model.onnx",
           ["input_ids", "attention_mask"], ["text_embeds", "last_hidden_state"],
           {"input_ids": seq, "attention_mask": seq})
    export(vision, (pixels,), out / "onnx" / "vision_model.onnx", ["pixel_values"],
           ["image_embeds", "last_hidden_state"], {"pixel_values": {0: "batch_size"}})

    class Combined(CLIPModel):
        """CLIPModel with optimum's inputs and outputs (a subclass, so node names keep the
        module paths `/vision_model/...`, `/text_model/...` of the hub's exports)."""

        def forward(self, input_ids, pixel_values, attention_mask):
            o = super().forward(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
            return o.logits_per_image, o.logits_per_text, o.text_embeds, o.image_embeds

    combined = Combined(cfg).eval()
    combined.load_state_dict(model.state_dict())
    export(combined, (enc["input_ids"], pixels, enc["attention_mask"]), out / "model.onnx",
           ["input_ids", "pixel_values", "attention_mask"],
           ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
           {"input_ids": seq, "attention_mask": seq, "pixel_values": {0: "image_batch_size"}})

    # ---- golden: HF's own processor and tokenizer, onnxruntime's outputs, torch's cross-check
    images = make_images(out)
    pv = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="np")["pixel_values"]
    enc = tokenizer(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="np")
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)

    so = session_options()
    vis_taps = mlp_activations(out / "onnx" / "vision_model.onnx")
    txt_taps = mlp_activations(out / "onnx" / "text_model.onnx")

    v = run_with_taps(out / "onnx" / "vision_model.onnx", {"pixel_values": pv}, ["image_embeds"], vis_taps)
    t = run_with_taps(out / "onnx" / "text_model.onnx", {"input_ids": ids, "attention_mask": mask},
                      ["text_embeds"], txt_taps)
    combined = ort.InferenceSession(str(out / "model.onnx"), so, providers=["CPUExecutionProvider"])
    ci = combined.run(["text_embeds", "image_embeds"],
                      {"input_ids": ids, "attention_mask": mask, "pixel_values": pv})
    with torch.no_grad():
        tv = vision(pixel_values=torch.from_numpy(pv)).image_embeds.numpy()
        tt = text(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).text_embeds.numpy()
    check(v[0], tv, "vision image_embeds")
    check(t[0], tt, "text text_embeds")
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    check(ci[0], unit(tt), "model.onnx text_embeds (normalised)")
    check(ci[1], unit(tv), "model.onnx image_embeds (normalised)")

    golden = {
        "producer": f"scripts/make_hf_exports.py --config {args.config} (transformers, onnxruntime "
                    f"{ort.__version__}, CPU, graph optimisations off)",
        "logit_scale": float(model.logit_scale.detach().exp()),
        "taps": {"image": vis_taps, "text": txt_taps},
        "texts": [
            {"text": s, "input_ids": ids[i].tolist(), "attention_mask": mask[i].tolist(),
             "text_embeds": t[0][i].tolist(),
             # Token means over HF's padding (`<|endoftext|>`); a tokenizer that pads with 0
             # gives the same embedding (causal attention) but other activations after the text.
             "taps_hf_padding": {"text.last_mlp": t[len(txt_taps)][i].mean(axis=0).tolist()}}
            for i, s in enumerate(PROMPTS)
        ],
        "images": [
            {"file": f"golden/{p.name}", "pixel_values": pv[i].reshape(-1).tolist(),
             "image_embeds": v[0][i].tolist(),
             "taps": {"image.last_mlp": v[len(vis_taps)][i].mean(axis=0).tolist()}}
            for i, p in enumerate(images)
        ],
    }
    (out / "golden" / "golden.json").write_text(json.dumps(golden) + "\n")
    pre = {"size": size, "resize": "shortest_side", "interpolation": "bicubic", "crop": "center",
           "crop_rounding": "hf", "mean": OPENAI_MEAN, "std": OPENAI_STD}
    write_manifests(out, f"clip-{args.config}", pre, "  kind: clip_bpe\n  context_length: 77",
                    float(model.logit_scale.detach().exp()), "", ("image_embeds", "text_embeds"), vis_taps[-1],
                    txt_taps[-1])
    print(f"wrote {out}")


SIGLIP_CONFIGS = {
    "tiny": dict(
        text=dict(vocab_size=1000, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2),
        vision=dict(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                    num_attention_heads=2),
    ),
    # google/siglip-base-patch16-224's published config.json (vocabulary 32,000: with the
    # stand-in tokenizer's 1,000 pieces only the first rows are ever used).
    "base-patch16-224": dict(
        text=dict(vocab_size=32000, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12),
        vision=dict(image_size=224, patch_size=16, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12),
    ),
}


def make_siglip(args: argparse.Namespace) -> None:
    """SigLIP: `SiglipModel` with random weights (logit scale log 10 and bias -10, the paper's
    initialisation), the transformers.js pair (`pooler_output` of each tower; the text graph
    takes `input_ids` alone: SigLIP pools the last position without a mask) and optimum's
    `model.onnx`, with a SentencePiece tokenizer stand-in (scripts/spm_standin.py) as
    `spiece.model` (google's SigLIP folders ship no tokenizer.json, and transformers has no
    converter to make one)."""
    from spm_standin import train_standin
    from transformers import (SiglipConfig, SiglipImageProcessorPil, SiglipModel, SiglipTextModel,
                              SiglipTokenizer, SiglipVisionModel)

    c = SIGLIP_CONFIGS[args.config]
    out = fresh_folder(args.out)
    torch.manual_seed(0)
    cfg = SiglipConfig(
        text_config=dict(max_position_embeddings=64, pad_token_id=1, eos_token_id=1, bos_token_id=None, **c["text"]),
        vision_config=dict(**c["vision"]),
    )
    for sub in (cfg, cfg.text_config, cfg.vision_config):
        sub._attn_implementation = "eager"
    model = SiglipModel(cfg).eval()
    with torch.no_grad():
        model.logit_scale.fill_(float(np.log(10.0)))
        model.logit_bias.fill_(-10.0)
    model.save_pretrained(out, safe_serialization=True)
    (out / "model.safetensors").unlink()
    size = cfg.vision_config.image_size
    processor = SiglipImageProcessorPil(size={"height": size, "width": size}, resample=3, image_mean=[0.5] * 3,
                                        image_std=[0.5] * 3, do_convert_rgb=True)
    processor.save_pretrained(out)
    train_standin(out)
    tokenizer = SiglipTokenizer(vocab_file=str(out / "spiece.model"))
    tokenizer.save_pretrained(out)  # spiece.model + tokenizer_config.json, as google/siglip-* ship

    def strip(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in model.state_dict().items() if k.startswith(prefix)}

    class Tower(torch.nn.Module):
        """One tower under its hub module name (`text_model`, `vision_model`), so node names are
        the hub exports' `/text_model/encoder/layers.0/...`."""

        def __init__(self, name: str, inner: torch.nn.Module):
            super().__init__()
            self.name = name
            setattr(self, name, inner)

        def forward(self, x):
            o = getattr(self, self.name)(x)
            return o.last_hidden_state, o.pooler_output

    text_inner = SiglipTextModel(cfg.text_config).eval()
    text_inner.load_state_dict(strip("text_model."))
    vision_inner = SiglipVisionModel(cfg.vision_config).eval()
    vision_inner.load_state_dict(strip("vision_model."))
    text, vision = Tower("text_model", text_inner).eval(), Tower("vision_model", vision_inner).eval()

    ids = tokenizer(PROMPTS[:2], padding="max_length", max_length=64, truncation=True, return_tensors="pt")["input_ids"]
    pixels = torch.randn(2, 3, size, size)
    print("exporting onnx/text_model.onnx, onnx/vision_model.onnx, model.onnx")
    seq = {0: "batch_size", 1: "sequence_length"}
    export(text, (ids,), out / "onnx" / "text_model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
           {"input_ids": seq})
    export(vision, (pixels,), out / "onnx" / "vision_model.onnx", ["pixel_values"],
           ["last_hidden_state", "pooler_output"], {"pixel_values": {0: "batch_size"}})

    class Combined(SiglipModel):
        """SiglipModel with optimum's inputs and outputs, node names kept."""

        def forward(self, input_ids, pixel_values):
            o = super().forward(input_ids=input_ids, pixel_values=pixel_values)
            return o.logits_per_image, o.logits_per_text, o.text_embeds, o.image_embeds

    combined = Combined(cfg).eval()
    combined.load_state_dict(model.state_dict())
    export(combined, (ids, pixels), out / "model.onnx", ["input_ids", "pixel_values"],
           ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
           {"input_ids": seq, "pixel_values": {0: "image_batch_size"}})

    images = make_images(out)
    pv = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="np")["pixel_values"]
    ids = tokenizer(PROMPTS, padding="max_length", max_length=64, truncation=True, return_tensors="np")["input_ids"]
    ids = ids.astype(np.int64)
    vis_taps = mlp_activations(out / "onnx" / "vision_model.onnx")
    txt_taps = mlp_activations(out / "onnx" / "text_model.onnx")
    # The last encoder layer's MLP, not the attention-pooling head's (one token).
    image_tap = [t for t in vis_taps if "/encoder/layers." in t][-1]
    v = run_with_taps(out / "onnx" / "vision_model.onnx", {"pixel_values": pv}, ["pooler_output"], vis_taps)
    t = run_with_taps(out / "onnx" / "text_model.onnx", {"input_ids": ids}, ["pooler_output"], txt_taps)
    combined_s = ort.InferenceSession(str(out / "model.onnx"), session_options(), providers=["CPUExecutionProvider"])
    ci = combined_s.run(["text_embeds", "image_embeds"], {"input_ids": ids, "pixel_values": pv})
    with torch.no_grad():
        tv = vision(torch.from_numpy(pv))[1].numpy()
        tt = text(torch.from_numpy(ids))[1].numpy()
    check(v[0], tv, "vision pooler_output")
    check(t[0], tt, "text pooler_output")
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    check(ci[0], unit(tt), "model.onnx text_embeds (normalised)")
    check(ci[1], unit(tv), "model.onnx image_embeds (normalised)")
    scale, bias = float(model.logit_scale.detach().exp()), float(model.logit_bias.detach())
    golden = {
        "producer": f"scripts/make_hf_exports.py --family siglip --config {args.config} (transformers "
                    f"SiglipImageProcessorPil + SiglipTokenizer on the stand-in spiece.model, onnxruntime "
                    f"{ort.__version__}, CPU, graph optimisations off)",
        "logit_scale": scale,
        "logit_bias": bias,
        "taps": {"image": vis_taps, "text": txt_taps},
        "texts": [{"text": s, "input_ids": ids[i].tolist(), "text_embeds": t[0][i].tolist()}
                  for i, s in enumerate(PROMPTS)],
        "images": [
            {"file": f"golden/{p.name}", "pixel_values": pv[i].reshape(-1).tolist(), "image_embeds": v[0][i].tolist(),
             "taps": {"image.last_mlp": v[1 + vis_taps.index(image_tap)][i].mean(axis=0).tolist()}}
            for i, p in enumerate(images)
        ],
    }
    (out / "golden" / "golden.json").write_text(json.dumps(golden) + "\n")
    text_tap = [t for t in txt_taps if "/encoder/layers." in t][-1]
    head = f"head: sigmoid\nlogit_bias: {bias}"
    tokenizer_yaml = "  kind: sentencepiece\n  file: spiece.model\n  context_length: 64\n  pad_id: 1"
    write_manifests(out, f"siglip-{args.config}", {"size": size, "resize": "squash", "crop": "none",
                    "mean": [0.5] * 3, "std": [0.5] * 3}, tokenizer_yaml, scale, head,
                    ("pooler_output", "pooler_output"), image_tap, text_tap)
    print(f"wrote {out} (logit scale {scale:.4f}, bias {bias:.4f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["clip", "siglip"], default="clip")
    ap.add_argument("--config", default="tiny", help="clip: tiny | vit-b-32; siglip: tiny | base-patch16-224")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    known = CONFIGS if args.family == "clip" else SIGLIP_CONFIGS
    if args.config not in known:
        sys.exit(f"--config {args.config}: {args.family} configs are {', '.join(sorted(known))}")
    (make_clip if args.family == "clip" else make_siglip)(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
