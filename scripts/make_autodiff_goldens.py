#!/usr/bin/env python3
"""Golden gradients of ONNX image graphs, computed by torch autograd (fixtures/autodiff).

Why: clip-audit's feature visualization differentiates an image tower: it emits, in Rust, a
reverse-mode gradient graph of the ONNX graph up to a tap tensor and runs it in ONNX Runtime.
These files are the independent reference that implementation is tested against: for an input
x and a seed s (dL/dtarget), the gradient dL/dx of L = sum(s * target(x)), computed by torch
autograd on a torch model with the same weights, in float64, with nothing of the Rust emitter
(or of any ONNX gradient builder) involved.

How the torch model is obtained (the "route", recorded in each file's `about`):

* tiny-clip   rebuilt by scripts/make_tiny_clip.py's own classes (TinyVisual, torch seed 0: the
              same deterministic construction that made image.onnx).
* organism    scripts/organism/model.py's VisualTower with the weights read back from
              image.onnx (no checkpoint is committed; the exporter folded the BatchNorms that
              follow a conv into that conv, so those convs get the folded weight and bias and
              the folded BatchNorms become identities; the MLP's BatchNorm is kept).
* open_clip:ARCH[:SEED]  open_clip's model, made exactly as scripts/export_clip.py's
              load_model(ARCH, None, SEED) makes it (for `make exports`' random-weight bundles).
* onnx2torch  the ONNX graph cut at the target (onnx.utils.Extractor) and converted with
              onnx2torch: the same weights, torch's own op implementations and autograd.

A tap tensor maps to the torch module whose ONNX scope produces it (the legacy exporter keeps
module paths in node names), captured with a forward hook; a graph output maps to the model's
output. Every file is checked before it is written:

* the float64 torch target agrees with onnxruntime's (float32, CPU) on the same x within 1e-4
  of the target's largest magnitude (the diff is recorded);
* unless --no-cross-check, onnx2torch is run as a second route and its float64 target and
  gradient must agree with the first within 1e-6 of their largest magnitudes (the ONNX holds
  f32-rounded weights and constants, the source models exact ones);
* recorded in `about`, not enforced: the same route's gradient in float32 vs float64 (what an
  f32 implementation can be expected to reach), and the inputs of the Relu nodes upstream of
  the target: how many are exactly 0 (torch's ReLU passes gradient where its input is > 0
  only), the smallest nonzero one, and how many sit on the other side of 0 in onnxruntime's f32
  forward pass than in float64 (there an f32 gradient graph would differ from the golden: a
  warning is printed; try another --seed).

Each file (one per model and target):
  about, model (the .onnx, relative to the repository root), input, target,
  input_shape, x (row-major f32 values: seeded standard normal rounded to 3 decimals, so the
  JSON holds short exact f32 values), target_shape, target_sum (torch, float64),
  seed (dL/dtarget, same kind of values as x), grad (dL/dx, float64, 9 significant digits),
  max_abs_diff_target_vs_onnxruntime.
x and seed come from numpy's PCG64 seeded with --seed (x first, then the seed); every target
of one model uses the same x.

Usage:
  # the committed set: tiny-clip (its two image taps and image_embeds) and the organism
  # (its image taps and image_embeds), N=2, into fixtures/autodiff/
  .venv-scripts/bin/python scripts/make_autodiff_goldens.py
  # one model and target (e.g. `make exports`' bundles, N=1)
  .venv-scripts/bin/python scripts/make_autodiff_goldens.py --model fixtures/exports/vit-b-32/image.onnx \\
      --torch-model open_clip:ViT-B-32:0 --target /transformer/resblocks.11/mlp/gelu/Mul_1_output_0 \\
      --batch 1 --out fixtures/exports/vit-b-32/golden/autodiff.json
  .venv-scripts/bin/python scripts/make_autodiff_goldens.py --model some/image.onnx --target TENSOR \\
      --batch 2 --out /tmp/golden.json            # route onnx2torch
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import yaml  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))
import onnx_bundle as ob  # noqa: E402

OUT = REPO / "fixtures/autodiff"
# The committed set: (bundle, --torch-model). Targets: the bundle's image tap tensors
# (model.yaml, encoder: image, each tensor once) and the image encoder's output.
COMMITTED = [("fixtures/models/tiny-clip", "tiny-clip"), ("fixtures/models/organism", "organism")]
COMMITTED_BATCH = 2

TARGET_RTOL = 1e-4  # torch f64 target vs onnxruntime f32, relative to max |target|
# Two f64 routes, relative to max |value|. Not tighter: the ONNX holds f32-rounded weights and
# constants (BatchNorms folded into convs, 1/sqrt(2) of GELU), a source model the exact ones.
CROSS_RTOL = 1e-6

# A torch model: a module taking pixel_values, and for each target a way to get its value
# out of a forward pass (a forward hook on the module that produces it, or the output).
TorchModel = tuple[nn.Module, Callable[[nn.Module, str], str | None]]


# --------------------------------------------------------------------------- ONNX helpers


def producer_scope(model: onnx.ModelProto, tensor: str) -> str | None:
    """The module scope ('/blocks.1/mlp/act/') whose output is `tensor`, or None for a graph output."""
    if tensor in {o.name for o in model.graph.output}:
        return None
    node = next((n for n in model.graph.node if tensor in n.output), None)
    if node is None:
        sys.exit(f"no node of the graph produces {tensor!r}")
    scope = node.name.rsplit("/", 1)[0] + "/"
    if ob.scope_output(model, scope) != tensor:
        sys.exit(f"{tensor!r} is not the output of its module scope {scope!r}; use --torch-model onnx2torch")
    return scope


def module_locator(onnx_model: onnx.ModelProto) -> Callable[[nn.Module, str], str | None]:
    def locate(root: nn.Module, tensor: str) -> str | None:
        scope = producer_scope(onnx_model, tensor)
        if scope is None:
            return None
        path = ob.scope_to_module_path(scope)
        if path not in dict(root.named_modules()):
            sys.exit(f"no torch module {path!r} for ONNX scope {scope!r} (target {tensor!r})")
        return path

    return locate


def onnxruntime_value(path: Path, input_name: str, x: np.ndarray, tensor: str) -> np.ndarray:
    _, raw = ob.run_with_taps(path, input_name, x, [tensor])
    return raw[tensor]


def relu_check(path: Path, onnx_model: onnx.ModelProto, input_name: str, x: np.ndarray,
               target: str) -> dict | None:
    """The inputs of the Relu nodes upstream of `target` at x, onnxruntime (f32) vs float64.

    A ReLU's derivative jumps at 0. Exact zeros are structural (a residual branch whose last
    BatchNorm has weight 0, as open_clip initialises ResNets, adds nothing to a ReLU output of
    0) and take torch's convention: the gradient passes where the input is > 0 only. An input
    within rounding of 0 could be on one side in onnxruntime's f32 forward pass (the one an
    ONNX gradient graph runs on) and on the other in the f64 reference: `flips` counts those
    (float64 by onnx2torch on the graph cut at the Relu inputs). None without Relu nodes."""
    from onnx.utils import Extractor

    upstream = Extractor(onnx.shape_inference.infer_shapes(onnx_model)).extract_model([input_name], [target])
    inputs = list(dict.fromkeys(n.input[0] for n in upstream.graph.node if n.op_type == "Relu"))
    if not inputs:
        return None
    _, raw = ob.run_with_taps(path, input_name, x, inputs)
    nonzero = [np.abs(v[v != 0]).min() for v in raw.values() if (v != 0).any()]
    res = dict(count=sum(v.size for v in raw.values()), zeros=sum(int((v == 0).sum()) for v in raw.values()),
               margin=float(min(nonzero)) if nonzero else float("inf"), flips=None)
    try:
        module = to_dtype(torch_onnx2torch(onnx_model, inputs)[0], torch.float64)
    except Exception as e:  # noqa: BLE001 - the check is optional
        print(f"  onnx2torch cannot convert the graph for the Relu check: {type(e).__name__}: {e}")
        return res
    with torch.no_grad():
        out = module(torch.from_numpy(x).double())
    ref = dict(zip(inputs, out if isinstance(out, (tuple, list)) else [out]))
    res["flips"] = sum(int(((raw[k] > 0) != (ref[k].numpy() > 0)).sum()) for k in inputs)
    return res


# --------------------------------------------------------------------------- routes


def torch_tiny_clip(onnx_model: onnx.ModelProto) -> TorchModel:
    import make_tiny_clip as tc

    torch.manual_seed(0)  # make_tiny_clip.py: seed 0, TinyVisual() is the first thing built
    return tc.TinyVisual().eval(), module_locator(onnx_model)


def torch_organism(onnx_model: onnx.ModelProto) -> TorchModel:
    """scripts/organism/model.py's VisualTower with the weights of image.onnx."""
    sys.path.insert(0, str(SCRIPTS / "organism"))
    import model as M

    vt = M.VisualTower().eval()
    inits = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in onnx_model.graph.initializer}
    mods = dict(vt.named_modules())
    state = vt.state_dict()
    filled: set[str] = set()
    kept_bn: set[str] = set()
    for node in onnx_model.graph.node:
        path = ob.scope_to_module_path(node.name.rsplit("/", 1)[0] + "/")
        if node.op_type == "Conv":
            conv = mods[path]
            w, b = inits[node.input[1]], inits[node.input[2]] if len(node.input) > 2 else None
            if conv.bias is None and b is not None:  # a BatchNorm was folded into this conv
                new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                conv.padding, bias=True)
                parent, _, leaf = path.rpartition(".")
                setattr(mods[parent] if parent else vt, leaf, new)
                conv = new
            with torch.no_grad():
                conv.weight.copy_(w)
                if b is not None:
                    conv.bias.copy_(b)
            filled |= {f"{path}.weight", f"{path}.bias"}
        elif node.op_type == "MatMul":
            lin = mods[path]
            assert isinstance(lin, nn.Linear) and lin.bias is None, path
            with torch.no_grad():
                lin.weight.copy_(inits[node.input[1]].T)
            filled.add(f"{path}.weight")
        elif node.op_type in ("BatchNormalization", "LayerNormalization"):
            kept_bn.add(path)
    for name in state:
        if name in inits:
            with torch.no_grad():
                state[name].copy_(inits[name])  # state_dict tensors share the modules' storage
            filled.add(name)
    # The BatchNorms that have no node of their own were folded: they become identities.
    for path, mod in list(vt.named_modules()):
        if isinstance(mod, nn.BatchNorm2d) and path not in kept_bn:
            parent, _, leaf = path.rpartition(".")
            setattr(dict(vt.named_modules())[parent] if parent else vt, leaf, nn.Identity())
            filled |= {k for k in state if k.startswith(path + ".")}
    missing = [k for k in state if k not in filled and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"organism: weights not found in image.onnx for {missing}")
    return vt.eval(), module_locator(onnx_model)


def torch_open_clip(onnx_model: onnx.ModelProto, arch: str, seed: int) -> TorchModel:
    import export_clip

    warnings.filterwarnings("ignore", category=UserWarning)
    logging.getLogger().setLevel(logging.ERROR)  # open_clip: "No pretrained weights loaded" (intended)
    model = export_clip.load_model(arch, None, seed)  # the model export_clip.py exported
    return model.visual.eval(), module_locator(onnx_model)


def fold_identity_initializers(model: onnx.ModelProto) -> None:
    """Replace `Identity(initializer)` nodes by a copy of the initializer, in place.

    The legacy exporter shares equal constants through Identity nodes (RN50's conv biases);
    onnx2torch's Conv wants its weight and bias as initializers (else KeyError on the name)."""
    inits = {t.name: t for t in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            t = onnx.TensorProto()
            t.CopyFrom(inits[node.input[0]])
            t.name = node.output[0]
            model.graph.initializer.append(t)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)


def torch_onnx2torch(onnx_model: onnx.ModelProto, target: str | list[str]) -> TorchModel:
    import onnx2torch
    from onnx.utils import Extractor

    warnings.filterwarnings("ignore", category=UserWarning, module="onnx2torch")
    # Extractor takes the output's type from value_info: infer shapes first (a copy: the
    # caller's model stays as loaded), and name the target bare if inference left it out.
    inferred = onnx.shape_inference.infer_shapes(onnx_model)
    fold_identity_initializers(inferred)
    outputs = [target] if isinstance(target, str) else target
    known = {v.name for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for name in outputs:
        if name not in known:
            inferred.graph.value_info.append(onnx.ValueInfoProto(name=name))
    sub = Extractor(inferred).extract_model([inferred.graph.input[0].name], outputs)
    return onnx2torch.convert(sub).eval(), lambda _root, _t: None


def make_torch_model(spec: str, onnx_model: onnx.ModelProto, target: str) -> TorchModel:
    if spec == "tiny-clip":
        return torch_tiny_clip(onnx_model)
    if spec == "organism":
        return torch_organism(onnx_model)
    if spec.startswith("open_clip:"):
        parts = spec.split(":")
        return torch_open_clip(onnx_model, parts[1], int(parts[2]) if len(parts) > 2 else 0)
    if spec == "onnx2torch":
        return torch_onnx2torch(onnx_model, target)
    sys.exit(f"--torch-model {spec!r}: expected tiny-clip, organism, open_clip:ARCH[:SEED] or onnx2torch")


def describe(spec: str) -> str:
    if spec == "tiny-clip":
        return "scripts/make_tiny_clip.py's TinyVisual rebuilt with torch seed 0 (the model that was exported)"
    if spec == "organism":
        return ("scripts/organism/model.py's VisualTower with the weights read back from the ONNX "
                "(BatchNorms folded into the preceding convs by the exporter kept folded)")
    if spec.startswith("open_clip:"):
        parts = spec.split(":")
        seed = parts[2] if len(parts) > 2 else "0"
        return (f"open_clip {parts[1]} visual tower, random weights made as scripts/export_clip.py's "
                f"load_model({parts[1]!r}, None, {seed}) (the model that was exported)")
    return f"the ONNX cut at the target (onnx.utils.Extractor) converted with onnx2torch {_version('onnx2torch')}"


def _version(pkg: str) -> str:
    from importlib.metadata import version

    return version(pkg)


# --------------------------------------------------------------------------- autograd


def to_dtype(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    module = module.to(dtype)
    for sub in module.modules():
        # onnx2torch's Cast keeps the graph's float32 (open_clip's LayerNorm casts back to its
        # input type): cast floats to the dtype of this run instead.
        if getattr(sub, "torch_dtype", None) in (torch.float32, torch.float64):
            sub.torch_dtype = dtype
    return module


def target_and_grad(tm: TorchModel, onnx_model: onnx.ModelProto, target: str, x: np.ndarray,
                    seed: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(target(x), d sum(seed * target) / dx) in `dtype`, by torch autograd."""
    module, locate = tm
    module = to_dtype(module, dtype)
    path = locate(module, target)
    captured: dict[str, torch.Tensor] = {}
    handle = None
    if path is not None:
        handle = dict(module.named_modules())[path].register_forward_hook(
            lambda _m, _i, out: captured.__setitem__("v", out))
    xt = torch.from_numpy(x).to(dtype).requires_grad_(True)
    try:
        with torch.enable_grad():
            out = module(xt)
    finally:
        if handle is not None:
            handle.remove()
    value = captured["v"] if path is not None else out
    if isinstance(value, (tuple, list)):
        sys.exit(f"target {target!r}: the module returns a {type(value).__name__}, not one tensor")
    if tuple(value.shape) != seed.shape:
        sys.exit(f"target {target!r}: torch shape {tuple(value.shape)} != expected {seed.shape}")
    loss = (value * torch.from_numpy(seed).to(dtype)).sum()
    (grad,) = torch.autograd.grad(loss, xt)
    return value.detach().double().numpy(), grad.detach().double().numpy()


def rel_diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max abs diff, scale = max |b|)."""
    return float(np.abs(a - b).max()), float(np.abs(b).max())


# --------------------------------------------------------------------------- one golden


def short_f32(a: np.ndarray) -> list[float]:
    """f32 values as the shortest decimals that parse back to the same f32."""
    return [float(str(v)) for v in np.asarray(a, dtype=np.float32).ravel()]


def sig9(a: np.ndarray) -> list[float]:
    return [float(f"{v:.9g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def seeded_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal, rounded to 3 decimals, as f32 (short and exact in JSON)."""
    return np.round(rng.standard_normal(shape), 3).astype(np.float32)


def rel_to_repo(path: Path) -> str:
    path = path.resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def write_json(path: Path, doc: dict) -> None:
    """One key per line (the long arrays on one line each), compact arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in doc.items())
    path.write_text("{\n" + body + "\n}\n")


def make_golden(model_path: Path, spec: str, target: str, batch: int, seed: int, out: Path,
                cross_check: bool) -> dict:
    onnx_model = onnx.load(str(model_path))
    input_name = onnx_model.graph.input[0].name
    dims = [d.dim_value for d in onnx_model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3 or not dims[2] or dims[2] != dims[3]:
        sys.exit(f"{model_path}: input {input_name} has shape {dims}, expected [N,3,S,S]")
    size = dims[2]
    rng = np.random.default_rng(seed)
    x = seeded_normal(rng, (batch, 3, size, size))
    ort_value = onnxruntime_value(model_path, input_name, x, target)
    s = seeded_normal(rng, ort_value.shape)

    print(f"{rel_to_repo(model_path)} target {target} {list(ort_value.shape)}: route {spec}")
    value, grad = target_and_grad(make_torch_model(spec, onnx_model, target), onnx_model, target, x, s,
                                  torch.float64)
    d_ort, scale = rel_diff(ort_value.astype(np.float64), value)
    print(f"  target vs onnxruntime: max abs diff {d_ort:.3e} (max |target| {scale:.3e})")
    if not d_ort <= TARGET_RTOL * scale:
        sys.exit(f"torch and onnxruntime disagree on {target}: {d_ort:.3e} > {TARGET_RTOL:g} x {scale:.3e}")

    notes = []
    if cross_check and spec != "onnx2torch":
        try:
            v2, g2 = target_and_grad(make_torch_model("onnx2torch", onnx_model, target), onnx_model, target,
                                     x, s, torch.float64)
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001 - report which op failed, keep the first route
            print(f"  onnx2torch cross-check failed: {type(e).__name__}: {e}")
            notes.append(f"The onnx2torch cross-check could not run ({type(e).__name__}: {e}).")
        else:
            dv, sv = rel_diff(v2, value)
            dg, sg = rel_diff(g2, grad)
            print(f"  onnx2torch cross-check (f64): target {dv:.3e}, grad {dg:.3e} (max |grad| {sg:.3e})")
            if not (dv <= CROSS_RTOL * sv and dg <= CROSS_RTOL * sg):
                sys.exit(f"onnx2torch and {spec} disagree: target {dv:.3e}, grad {dg:.3e}")
            notes.append(f"Cross-checked with onnx2torch {_version('onnx2torch')} on the ONNX cut at the "
                         f"target (float64): max abs diff {dv:.2e} on the target, {dg:.2e} on grad.")
    _, g32 = target_and_grad(make_torch_model(spec, onnx_model, target), onnx_model, target, x, s, torch.float32)
    d32, sg = rel_diff(g32, grad)
    print(f"  grad float32 vs float64 (same route): max abs diff {d32:.3e} (max |grad| {sg:.3e})")
    notes.append(f"The same route in float32 gives grad within {d32:.2e} (max |grad| {sg:.2e}).")
    relu = relu_check(model_path, onnx_model, input_name, x, target)
    if relu is not None:
        flips = "(not checked)" if relu["flips"] is None else relu["flips"]
        print(f"  Relu inputs upstream of the target: {relu['count']}, {relu['zeros']} exactly 0 in onnxruntime, "
              f"smallest nonzero |input| {relu['margin']:.3e}, {flips} on the other side of 0 in float64")
        notes.append(f"The {relu['count']} inputs of the Relu nodes upstream of the target at x: {relu['zeros']} are "
                     f"exactly 0 in onnxruntime's forward pass (torch's ReLU passes gradient where its input is > 0 "
                     f"only), the smallest nonzero |input| is {relu['margin']:.2e}, and {flips} are on the "
                     f"other side of 0 in float64 (onnx2torch) than in onnxruntime (f32).")
        if relu["flips"]:
            print(f"  WARNING: {relu['flips']} ReLU inputs change side between onnxruntime f32 and float64: an f32 "
                  "gradient graph run on onnxruntime's forward pass differs from this golden there (try another --seed)")

    about = (
        f"Reference gradient for clip-audit's ONNX autodiff, made by scripts/make_autodiff_goldens.py "
        f"(torch {torch.__version__}, onnxruntime {ort.__version__}). Torch model: {describe(spec)}. "
        f"x and seed: numpy default_rng({seed}) standard normal (x first), rounded to 3 decimals, as f32. "
        f"grad = dL/dx with L = sum(seed * target(x)), by torch autograd in float64 (9 significant digits); "
        f"target_sum in float64. max_abs_diff_target_vs_onnxruntime: torch float64 vs onnxruntime "
        f"float32 (CPU) on the same x. " + " ".join(notes)
    )
    doc = {
        "about": about,
        "model": rel_to_repo(model_path),
        "input": input_name,
        "target": target,
        "input_shape": list(x.shape),
        "x": short_f32(x),
        "target_shape": list(value.shape),
        "target_sum": float(value.sum()),
        "seed": short_f32(s),
        "grad": sig9(grad),
        "max_abs_diff_target_vs_onnxruntime": d_ort,
    }
    write_json(out, doc)
    print(f"  wrote {rel_to_repo(out)} ({out.stat().st_size / 1024:.0f} KB)")
    return doc


# --------------------------------------------------------------------------- main


def slug(tensor: str) -> str:
    name = tensor.strip("/")
    name = name[: -len("_output_0")] if name.endswith("_output_0") else name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def image_targets(bundle: Path) -> tuple[Path, list[str]]:
    manifest = yaml.safe_load((bundle / "model.yaml").read_text())
    enc = manifest["image_encoder"]
    taps = [t["tensor"] for t in manifest.get("taps", []) if t["encoder"] == "image"]
    return bundle / enc["file"], list(dict.fromkeys(taps + [enc["output"]]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="image .onnx (default: the committed set)")
    ap.add_argument("--target", help="tensor of the graph to differentiate (a tap tensor or the output)")
    ap.add_argument("--torch-model", default="onnx2torch",
                    help="tiny-clip, organism, open_clip:ARCH[:SEED] or onnx2torch (default)")
    ap.add_argument("--batch", type=int, default=1, help="N of x (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="numpy seed of x and dL/dtarget (default 0)")
    ap.add_argument("--out", type=Path, help="JSON file to write")
    ap.add_argument("--no-cross-check", action="store_true", help="skip the onnx2torch cross-check")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1; the float32 figure in `about` depends on it, nothing else)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.model is None:
        if args.target or args.out:
            ap.error("--target and --out go with --model")
        for bundle, spec in COMMITTED:
            model_path, targets = image_targets(REPO / bundle)
            for target in targets:
                make_golden(model_path, spec, target, COMMITTED_BATCH, args.seed,
                            OUT / Path(bundle).name / f"{slug(target)}.json", not args.no_cross_check)
        return
    if not (args.target and args.out):
        ap.error("--model needs --target and --out")
    if not args.model.is_file():
        sys.exit(f"--model {args.model}: no such file")
    make_golden(args.model, args.torch_model, args.target, args.batch, args.seed, args.out, not args.no_cross_check)


if __name__ == "__main__":
    main()
