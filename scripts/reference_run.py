#!/usr/bin/env python3
"""Python reference for `clip-audit bench run`: the same job done the usual Python way.

Why: the runner's benchmark compares clip-audit end to end against what a researcher would
otherwise write: onnxruntime-python + PIL + numpy doing the same work on the same images
and model: CLIP preprocessing (PIL bicubic resize of the shortest side, centre crop,
normalize), batched inference with the bundle's taps added as graph outputs, pooling, and
parquet writing (pyarrow) of ids, embeddings and pooled activations.

It is timed by `clip-audit bench run`, which passes the same image folder, batch size and
thread count. Usage:
    .venv-scripts/bin/python scripts/reference_run.py --model BUNDLE --images DIR --out OUT.parquet [--batch 16] [--threads 0]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image


def preprocess(path: Path, size: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = min(w, h), max(w, h)
    if short != size:
        new_long = int(size * long / short)
        img = img.resize((size, new_long) if w <= h else (new_long, size), Image.BICUBIC)
    w, h = img.size
    left, top = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    x = (x - mean) / std
    return x.transpose(2, 0, 1)


def pool(t: np.ndarray, layout: str, pooling: str) -> np.ndarray:
    if pooling == "spatial_mean":
        return t.mean(axis=(2, 3))
    axis = 1 if layout == "ntd" else 0
    if pooling == "token_mean":
        return t.mean(axis=axis)
    if pooling == "class_token":
        return t[:, 0] if layout == "ntd" else t[0]
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    manifest = yaml.safe_load((args.model / "model.yaml").read_text())
    pre = manifest["preprocess"]
    size, mean, std = pre["size"], np.array(pre["mean"], np.float32), np.array(pre["std"], np.float32)
    enc = manifest["image_encoder"]
    taps = [t for t in manifest.get("taps", []) if t["encoder"] == "image"]
    model = onnx.load(str(args.model / enc["file"]))
    have = {o.name for o in model.graph.output}
    for t in taps:
        if t["tensor"] not in have:
            model.graph.output.append(onnx.ValueInfoProto(name=t["tensor"]))
            have.add(t["tensor"])
    so = ort.SessionOptions()
    if args.threads:
        so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outputs = [enc["output"]] + sorted({t["tensor"] for t in taps})

    files = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    ids, embs = [], []
    tap_rows = {t["name"]: [] for t in taps}
    for i in range(0, len(files), args.batch):
        chunk = files[i : i + args.batch]
        batch = np.stack([preprocess(p, size, mean, std) for p in chunk])
        res = dict(zip(outputs, sess.run(outputs, {enc["input"]: batch})))
        embs.extend(res[enc["output"]])
        for t in taps:
            tap_rows[t["name"]].extend(pool(res[t["tensor"]], t.get("layout", "ntd"), t["pooling"]))
        ids.extend(hashlib.sha256(p.read_bytes()).hexdigest()[:32] for p in chunk)
    cols = {"id": ids, "embedding": [e.tolist() for e in embs]}
    cols.update({f"tap:{k}": [r.tolist() for r in v] for k, v in tap_rows.items()})
    pq.write_table(pa.table(cols), args.out)
    print(f"{len(files)} images in {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
