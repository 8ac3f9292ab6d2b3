"""Shared helpers for the clip-audit bundle scripts (make_tiny_clip.py, export_clip.py).

A clip-audit "model bundle" is a directory with an image encoder ONNX file, a
text encoder ONNX file and a `model.yaml` manifest naming the encoders'
inputs/outputs, the preprocessing, the tokenizer and a list of "taps":
intermediate tensors of the graphs that clip-audit reads (by adding them as
extra graph outputs) and pools into one vector per input.

This module holds the pieces both scripts need:

* `export_onnx`: torch -> ONNX with the legacy (TorchScript) exporter, so node
  names keep the PyTorch module path (`/blocks.1/mlp/act/Mul_1`), which is what
  lets us find tap tensors by module name.
* `scope_output`: the tensor a module scope hands to the rest of the graph
  (e.g. the final output of a GELU that the exporter decomposed into
  Div/Erf/Add/Mul nodes).
* `run_with_taps`: run a model in onnxruntime with extra tensors appended to
  `graph.output` (the same trick the Rust side uses).
* `pool`: the tap pooling rules (token_mean, class_token, spatial_mean, none).
* `write_manifest`: writes model.yaml in the exact schema the Rust side parses.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# --------------------------------------------------------------------------- export


def export_onnx(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    input_name: str,
    output_name: str,
    opset: int = 17,
    external_data: bool = False,
) -> None:
    """Export `module(example)` to `path` with a dynamic batch axis (axis 0).

    Uses the legacy TorchScript exporter (`dynamo=False`): its node names carry
    the module path, which the tap search relies on. The export goes to a
    temporary directory first (for >2 GB models the legacy exporter scatters
    one file per weight), then is re-saved as either a single file or, with
    `external_data` or when over protobuf's 2 GB limit, as `path` plus one
    `<file>.data` weight file next to it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    # In eval mode nn.MultiheadAttention may take its fused "fast path"
    # (aten::_native_multi_head_attention), which has no ONNX symbolic.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    with tempfile.TemporaryDirectory(prefix="clip-audit-export-") as tmp:
        tmp_path = Path(tmp) / path.name
        try:
            with torch.no_grad():
                torch.onnx.export(
                    module,
                    (example,),
                    str(tmp_path),
                    input_names=[input_name],
                    output_names=[output_name],
                    dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
        model = onnx.load(str(tmp_path), load_external_data=True)
    weight_bytes = sum(_tensor_nbytes(t) for t in model.graph.initializer)
    data_name = path.name + ".data"
    for stale in (path, path.parent / data_name):
        if stale.exists():
            stale.unlink()
    if external_data or weight_bytes > 1_900_000_000:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_name,
            size_threshold=1024,
        )
        os.chmod(path.parent / data_name, 0o644)  # onnx creates it 0600
    else:
        onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path))


def _tensor_nbytes(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    return n * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize


# --------------------------------------------------------------------------- graph search


def nodes_in_scope(model: onnx.ModelProto, scope: str) -> list[onnx.NodeProto]:
    """Nodes whose name starts with `scope` (e.g. "/blocks.1/mlp/act/")."""
    if not scope.endswith("/"):
        scope += "/"
    return [n for n in model.graph.node if n.name.startswith(scope)]


def scope_output(model: onnx.ModelProto, scope: str) -> str:
    """The single tensor produced inside `scope` and consumed outside it.

    For a module that the exporter decomposed into several nodes (GELU ->
    Div, Erf, Add, Mul, Mul) this is the module's output. Raises if the scope
    is empty or has more than one escaping tensor.
    """
    inside = nodes_in_scope(model, scope)
    if not inside:
        raise LookupError(f"no ONNX nodes under scope {scope!r}")
    inside_ids = {id(n) for n in inside}
    produced = [o for n in inside for o in n.output if o]
    graph_outputs = {o.name for o in model.graph.output}
    consumed_outside = set(graph_outputs)
    for n in model.graph.node:
        if id(n) not in inside_ids:
            consumed_outside.update(n.input)
    escaping = [o for o in produced if o in consumed_outside]
    if len(escaping) != 1:
        raise LookupError(f"scope {scope!r}: expected one escaping tensor, found {escaping}")
    return escaping[0]


# --------------------------------------------------------------------------- running


def scope_to_module_path(scope: str) -> str:
    """ONNX scope -> torch module path.

    The legacy exporter writes one component per called module, and names a
    child of a container `<container>.<index>`: `/transformer/resblocks.11/mlp/gelu/`
    is `transformer.resblocks.11.mlp.gelu`, and `/layer4/layer4.2/` (a called
    nn.Sequential) is `layer4.2`.
    """
    out: list[str] = []
    for p in (p for p in scope.strip("/").split("/") if p):
        if out and p.startswith(out[-1] + "."):
            p = p[len(out[-1]) + 1 :]
        out.append(p)
    return ".".join(out)


def session_with_outputs(path: Path, extra_outputs: Sequence[str]) -> ort.InferenceSession:
    """An onnxruntime CPU session on `path` with `extra_outputs` appended to graph.output."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    existing = {o.name for o in model.graph.output}
    for name in extra_outputs:
        if name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
            existing.add(name)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    # External data (if any) is resolved relative to the directory of the model.
    cwd = os.getcwd()
    try:
        os.chdir(path.parent)
        sess = ort.InferenceSession(
            model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    finally:
        os.chdir(cwd)
    return sess


def run_with_taps(
    path: Path, input_name: str, x: np.ndarray, tap_tensors: Iterable[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run the model; returns (primary output, {tap tensor name: raw value})."""
    taps = list(dict.fromkeys(tap_tensors))
    sess = session_with_outputs(path, taps)
    primary = sess.get_outputs()[0].name
    outs = sess.run([primary, *taps], {input_name: x})
    return outs[0], dict(zip(taps, outs[1:]))


def pool(value: np.ndarray, layout: str, pooling: str) -> np.ndarray:
    """Pool one tap value (whole batch) to [N, D] following the manifest rules."""
    if layout == "tnd":
        value = np.swapaxes(value, 0, 1)
        layout = "ntd"
    if pooling == "none":
        return value.reshape(value.shape[0], -1)
    if layout == "ntd":
        if pooling == "token_mean":
            return value.mean(axis=1)
        if pooling == "class_token":
            return value[:, 0, :]
    if layout == "nchw" and pooling == "spatial_mean":
        return value.mean(axis=(2, 3))
    if layout == "nd" and pooling in ("token_mean", "class_token", "spatial_mean"):
        return value
    raise ValueError(f"unsupported layout/pooling: {layout}/{pooling}")


# --------------------------------------------------------------------------- manifest


def _fmt_floats(xs: Sequence[float]) -> str:
    return "[" + ", ".join(repr(float(x)) for x in xs) + "]"


def write_manifest(
    path: Path,
    *,
    comment: str,
    name: str,
    description: str,
    image_file: str = "image.onnx",
    text_file: str = "text.onnx",
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    resize: str = "shortest_side",
    interpolation: str = "bicubic",
    crop: str = "center",
    context_length: int = 77,
    logit_scale: float,
    embedding_dim: int,
    taps: Sequence[dict],
) -> str:
    """Write model.yaml (schema parsed by the Rust side); returns the text."""
    lines = [
        f"# {comment}",
        f"name: {name}",
        f"description: {description}",
        "image_encoder:",
        f"  file: {image_file}",
        "  input: pixel_values",
        "  output: image_embeds",
        "text_encoder:",
        f"  file: {text_file}",
        "  input: input_ids",
        "  output: text_embeds",
        "preprocess:",
        f"  size: {size}",
        f"  resize: {resize}",
        f"  interpolation: {interpolation}",
        f"  crop: {crop}",
        f"  mean: {_fmt_floats(mean)}",
        f"  std: {_fmt_floats(std)}",
        "tokenizer:",
        "  kind: clip_bpe",
        f"  context_length: {context_length}",
        f"logit_scale: {float(logit_scale)!r}",
        f"embedding_dim: {embedding_dim}",
        "taps:",
    ]
    for t in taps:
        lines += [
            f"  - name: {t['name']}",
            f"    encoder: {t['encoder']}",
            f'    tensor: "{t["tensor"]}"',
            f"    layout: {t['layout']}",
            f"    pooling: {t['pooling']}",
        ]
    text = "\n".join(lines) + "\n"
    Path(path).write_text(text)
    return text


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_sizes(root: Path) -> None:
    root = Path(root)
    total = 0
    for p in sorted(root.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {human_size(p.stat().st_size):>10}  {p.relative_to(root)}")
    print(f"  {human_size(total):>10}  total")
