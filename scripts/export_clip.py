#!/usr/bin/env python3
"""Export an open_clip model to a clip-audit model bundle (image.onnx, text.onnx, model.yaml).

Why: clip-audit runs CLIP-family models through ONNX Runtime and reads
intermediate activations ("taps") by adding graph tensors as extra outputs.
This script produces such a bundle from any open_clip architecture whose text
tower is open_clip's own transformer (ViT-*, RN*), with either random weights
(for tests and benchmarks) or a local checkpoint file. It never downloads
anything: HF_HUB_OFFLINE=1 is set and `pretrained=None` is passed to open_clip.

What it writes into --out:

* image.onnx  `pixel_values` f32 [N,3,S,S] -> `image_embeds` f32 [N,D] (not normalized)
* text.onnx   `input_ids` i64 [N,77]      -> `text_embeds`  f32 [N,D] (not normalized)
  (with --external-data, or for models over 2 GB, the weights go to
  image.onnx.data / text.onnx.data next to them)
* model.yaml  manifest: preprocessing from the model's preprocess config,
  logit_scale = exp(model.logit_scale), embedding_dim, and tap presets found
  in the exported graph by module name:
    - ViT: the MLP activation (GELU; decomposed into Div/Erf/Add/Mul by the
      exporter, we take its final output) of the last residual block, as
      `image.last_mlp` (token_mean) and `image.last_mlp.cls` (class_token);
      the layout (ntd or tnd) is measured by running the graph.
    - ResNet: the output of the last bottleneck of layer4 (after its final
      ReLU, the layer the Distill "Multimodal Neurons" article studies), as
      `image.layer4` (nchw, spatial_mean).

Both encoders are exported with the legacy TorchScript exporter
(dynamo=False), eval mode, dynamic batch axis, so node names keep the module
path (`/transformer/resblocks.11/mlp/gelu/Mul_1`). Each export is verified
with onnxruntime-python (CPU) against torch (max abs diff printed), including
the tap tensors, at a batch size different from the one used for tracing.

Examples:
  .venv-scripts/bin/python scripts/export_clip.py --arch ViT-B-32 --random-weights --out fixtures/exports/vit-b-32
  .venv-scripts/bin/python scripts/export_clip.py --arch RN50 --random-weights --out fixtures/exports/rn50
  .venv-scripts/bin/python scripts/export_clip.py --arch RN50 --random-weights --external-data --out fixtures/exports/rn50-extdata
  .venv-scripts/bin/python scripts/export_clip.py --arch ViT-B-32 --pretrained /path/to/open_clip_pytorch_model.bin --out /tmp/vit-b-32
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_bundle as ob  # noqa: E402

SAMPLE_TEXTS = ["a photo of a dog", "a diagram", ""]

# Scope patterns (matched against ONNX node names) for the tap presets.
VIT_MLP_ACT = re.compile(r"^(.*?/(?:resblocks|blocks)\.(\d+)/mlp/(?:gelu|act)/)")
RESNET_LAYER4 = re.compile(r"^(.*?/layer4/layer4\.(\d+)/)")


@contextmanager
def forward_as(module: torch.nn.Module, fn):
    """Temporarily make `module(x)` call `fn(x)`, so an export keeps `module`'s scope names."""
    module.forward = fn
    try:
        yield module
    finally:
        del module.forward


def load_model(arch: str, pretrained: Path | None, seed: int):
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.create_model(arch, pretrained=None, pretrained_text=False)
    if pretrained is not None:
        if not pretrained.is_file():
            sys.exit(f"--pretrained {pretrained}: no such file (this script never downloads)")
        open_clip.load_checkpoint(model, str(pretrained))
    model.eval()
    return model


def preprocess_fields(model, args) -> dict:
    import open_clip

    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size", model.visual.image_size)
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            sys.exit(f"non-square input size {size} is not supported by the manifest")
        size = size[0]
    mean = args.mean or cfg.get("mean") or open_clip.OPENAI_DATASET_MEAN
    std = args.std or cfg.get("std") or open_clip.OPENAI_DATASET_STD
    interp = cfg.get("interpolation", "bicubic")
    mode = cfg.get("resize_mode", "shortest")
    if interp not in ("bicubic", "bilinear"):
        sys.exit(f"interpolation {interp!r} has no preprocessing rule in clip-audit (bicubic, bilinear)")
    rules = {"shortest": ("shortest_side", "center"), "squash": ("squash", "none")}
    if mode not in rules:
        sys.exit(f"resize_mode {mode!r} has no preprocessing rule in clip-audit (shortest, squash)")
    resize, crop = rules[mode]
    return dict(size=int(size), mean=tuple(mean), std=tuple(std), resize=resize, interpolation=interp, crop=crop)


def find_taps(image_path: Path, pixel_values: np.ndarray) -> list[dict]:
    """Tap presets from the exported image graph (layout measured by running it)."""
    model = onnx.load(str(image_path), load_external_data=False)
    names = [n.name for n in model.graph.node]

    vit = {}
    for name in names:
        m = VIT_MLP_ACT.match(name)
        if m:
            vit[int(m.group(2))] = m.group(1)
    if vit:
        scope = vit[max(vit)]
        tensor = ob.scope_output(model, scope)
        _, raw = ob.run_with_taps(image_path, "pixel_values", pixel_values, [tensor])
        shape = raw[tensor].shape
        n = pixel_values.shape[0]
        if len(shape) != 3 or n not in shape[:2] or shape[0] == shape[1]:
            sys.exit(f"cannot tell the layout of {tensor} with shape {shape}")
        layout = "ntd" if shape[0] == n else "tnd"
        print(f"ViT tap: scope {scope} -> {tensor!r} shape {list(shape)} layout {layout}")
        return [
            dict(name="image.last_mlp", encoder="image", tensor=tensor, layout=layout, pooling="token_mean"),
            dict(name="image.last_mlp.cls", encoder="image", tensor=tensor, layout=layout, pooling="class_token"),
        ]

    rn = {}
    for name in names:
        m = RESNET_LAYER4.match(name)
        if m:
            rn[int(m.group(2))] = m.group(1)
    if rn:
        scope = rn[max(rn)]
        tensor = ob.scope_output(model, scope)
        _, raw = ob.run_with_taps(image_path, "pixel_values", pixel_values, [tensor])
        shape = raw[tensor].shape
        if len(shape) != 4 or shape[0] != pixel_values.shape[0]:
            sys.exit(f"unexpected shape {shape} for ResNet tap {tensor}")
        print(f"ResNet tap: scope {scope} -> {tensor!r} shape {list(shape)} layout nchw")
        return [dict(name="image.layer4", encoder="image", tensor=tensor, layout="nchw", pooling="spatial_mean")]

    warnings.warn("no tap preset matched this graph; model.yaml gets an empty tap list")
    return []


def torch_module_output(root: torch.nn.Module, path: str, fn, x):
    """Run fn(x) capturing the output of submodule `path` of `root`."""
    captured = {}
    handle = dict(root.named_modules())[path].register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("v", out.detach().numpy())
    )
    try:
        with torch.no_grad():
            y = fn(x).numpy()
    finally:
        handle.remove()
    return y, captured["v"]


def resolve_module(root: torch.nn.Module, scope: str) -> str:
    path = ob.scope_to_module_path(scope)
    if path not in dict(root.named_modules()):
        raise LookupError(f"no torch module {path!r} for ONNX scope {scope!r}")
    return path


def _tap_scope(model: onnx.ModelProto, tensor: str) -> str:
    """The preset scope ('/…/mlp/gelu/' or '/…/layer4/layer4.N/') whose output is `tensor`."""
    producer = next(n.name for n in model.graph.node if tensor in n.output)
    for rx in (VIT_MLP_ACT, RESNET_LAYER4):
        m = rx.match(producer)
        if m:
            return m.group(1)
    raise LookupError(f"tap tensor {tensor} is not produced inside a preset scope")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, help="open_clip architecture name, e.g. ViT-B-32, RN50")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--random-weights", action="store_true", help="random initialisation (seeded)")
    src.add_argument("--pretrained", type=Path, help="local checkpoint file (.bin/.pt/.safetensors); never downloaded")
    ap.add_argument("--out", type=Path, required=True, help="bundle directory (replaced)")
    ap.add_argument("--seed", type=int, default=0, help="torch seed for --random-weights (default 0)")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    ap.add_argument("--external-data", action="store_true",
                    help="store weights in <file>.onnx.data (forced anyway above 2 GB)")
    ap.add_argument("--name", help="bundle name in model.yaml (default: arch, lower-case)")
    ap.add_argument("--mean", type=float, nargs=3, help="override preprocess mean")
    ap.add_argument("--std", type=float, nargs=3, help="override preprocess std")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; onnxruntime checks use 1)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    from open_clip.tokenizer import tokenize

    model = load_model(args.arch, args.pretrained, args.seed)
    pre = preprocess_fields(model, args)
    size = pre["size"]
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # ---- export (trace at batch 2; verify at batch 3 so the dynamic axis is exercised)
    torch.manual_seed(args.seed + 1)
    trace_px = torch.randn(2, 3, size, size)
    verify_px = torch.randn(3, 3, size, size)
    trace_ids = tokenize(SAMPLE_TEXTS[:2])
    verify_ids = tokenize(SAMPLE_TEXTS)

    ob.export_onnx(model.visual, trace_px, out / "image.onnx", "pixel_values", "image_embeds",
                   opset=args.opset, external_data=args.external_data)
    with forward_as(model, model.encode_text):
        ob.export_onnx(model, trace_ids, out / "text.onnx", "input_ids", "text_embeds",
                       opset=args.opset, external_data=args.external_data)

    # ---- taps
    taps = find_taps(out / "image.onnx", verify_px.numpy())

    # ---- verify against torch
    tap_tensors = list(dict.fromkeys(t["tensor"] for t in taps))
    img_ort, img_raw = ob.run_with_taps(out / "image.onnx", "pixel_values", verify_px.numpy(), tap_tensors)
    txt_ort, _ = ob.run_with_taps(out / "text.onnx", "input_ids", verify_ids.numpy(), [])
    with torch.no_grad():
        img_torch = model.encode_image(verify_px).numpy()
        txt_torch = model.encode_text(verify_ids).numpy()
    diffs = {
        "image_embeds": float(np.abs(img_ort - img_torch).max()),
        "text_embeds": float(np.abs(txt_ort - txt_torch).max()),
    }
    scales = {"image_embeds": float(np.abs(img_torch).max()), "text_embeds": float(np.abs(txt_torch).max())}
    onnx_image = onnx.load(str(out / "image.onnx"), load_external_data=False)
    for tensor in tap_tensors:
        mod = resolve_module(model.visual, _tap_scope(onnx_image, tensor))
        _, ref = torch_module_output(model.visual, mod, model.visual, verify_px)
        got = img_raw[tensor]
        if got.shape != ref.shape:
            sys.exit(f"tap {tensor}: ORT shape {got.shape} != torch module {mod} shape {ref.shape}")
        key = f"tap {tensor} (torch module {mod})"
        diffs[key] = float(np.abs(got - ref).max())
        scales[key] = float(np.abs(ref).max())
    print("ORT vs torch max abs diff (batch 3):")
    for k, v in diffs.items():
        print(f"  {k}: {v:.3e}   (max |torch value| {scales[k]:.3e})")
    bad = {k: v for k, v in diffs.items() if v > 1e-4 * max(1.0, scales[k])}
    if bad:
        sys.exit(f"ORT and torch disagree (tolerance 1e-4, relative above magnitude 1): {bad}")
    for t in taps:
        pooled = ob.pool(img_raw[t["tensor"]], t["layout"], t["pooling"])
        print(f"tap {t['name']}: raw {list(img_raw[t['tensor']].shape)} ({t['layout']}) -> {t['pooling']} {list(pooled.shape)}")

    embedding_dim = int(img_ort.shape[1])
    if txt_ort.shape[1] != embedding_dim:
        sys.exit(f"image/text embedding dims differ: {img_ort.shape[1]} vs {txt_ort.shape[1]}")
    logit_scale = float(model.logit_scale.exp().item())
    weights = f"local checkpoint {args.pretrained.name}" if args.pretrained else f"random weights (seed {args.seed})"
    ob.write_manifest(
        out / "model.yaml",
        comment=f"clip-audit model bundle: open_clip {args.arch}, {weights} (made by scripts/export_clip.py)",
        name=args.name or args.arch.lower(),
        description=f"open_clip {args.arch} exported to ONNX, {weights}.",
        size=size,
        mean=pre["mean"],
        std=pre["std"],
        resize=pre["resize"],
        interpolation=pre["interpolation"],
        crop=pre["crop"],
        context_length=int(verify_ids.shape[1]),
        logit_scale=logit_scale,
        embedding_dim=embedding_dim,
        taps=taps,
    )
    print(f"logit_scale {logit_scale:.6g}, embedding_dim {embedding_dim}, size {size}")
    print(f"wrote {out}:")
    ob.print_sizes(out)


if __name__ == "__main__":
    main()
