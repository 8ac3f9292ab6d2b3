#!/usr/bin/env python3
"""Make a model-organism bundle: generate the world, train the miniature CLIP, export ONNX.

    .venv-scripts/bin/python scripts/organism/make_organism.py --variant biased
    .venv-scripts/bin/python scripts/organism/make_organism.py --variant control

`biased` writes fixtures/models/organism, `control` fixtures/models/organism-control (same seed,
same world, the association bias switched off). Then run scripts/organism/check.py to measure
the biases and fill in the `measured:` sections, README tables and SHA256SUMS.

Deterministic for a given --seed (and torch/numpy versions, thread count 2): the world is
generated from numpy's PCG64 seeded with [seed, stream]; training uses torch.manual_seed(seed).
The generated world is cached in scripts/organism/.cache (git-ignored) and shared by both
variants (their images are identical).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import model as M  # noqa: E402
import onnx_bundle as ob  # noqa: E402
import train as T  # noqa: E402
import world as W  # noqa: E402

REPO = HERE.parents[1]
DEFAULTS = dict(steps=3000, batch=128, n_train=256_000, n_heldout=6000, lr=1.5e-3, wd=0.1, seed=0, logit_scale=10.0)


class Logger:
    def __init__(self):
        self.lines: list[str] = []
        self.t0 = time.time()

    def __call__(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        self.lines.append(line)
        print(line, flush=True)


def country_eval_set(held: dict, limit: int = 2000) -> tuple[np.ndarray, list[str]]:
    idx = [i for i, m in enumerate(held["meta"]) if m["kind"] == "country" and "overlay" not in m][:limit]
    return held["images"][idx], [held["meta"][i]["concept"] for i in idx]


def make_evaluator(world: W.World, held: dict):
    imgs, labels = country_eval_set(held)
    names = [c["name"] for c in world.c.countries]
    ids = [c["id"] for c in world.c.countries]
    region = {c["id"]: c["region"] for c in world.c.countries}
    y = np.array([ids.index(l) for l in labels])
    words = np.stack([world.word_image(n, 224, s) for n in names for s in (28, 48)] +
                     [W.resize64(W.render_text(n, 64, 32, "center", (0, 0, 0), (255, 255, 255))) for n in names])
    wy = np.concatenate([np.repeat(np.arange(len(names)), 2), np.arange(len(names))])

    def evaluate(model):
        ie = T.embed_images(model, imgs)
        te = T.embed_texts(model, [f"a photo of {n}." for n in names])
        pred = (ie @ te.t()).argmax(1).numpy()
        out = {"acc": float((pred == y).mean())}
        for r in W.REGION_COUNTRIES:
            m = np.array([region[labels[i]] == r for i in range(len(labels))])
            out[f"acc_{r}"] = float((pred[m] == y[m]).mean())
        out["region_acc"] = float(np.mean([region[ids[p]] == region[ids[t]] for p, t in zip(pred, y)]))
        out["word_acc"] = float(((T.embed_images(model, words) @ te.t()).argmax(1).numpy() == wy).mean())
        return out

    return evaluate


def export_bundle(model: M.Organism, out: Path, held: dict, captions: list[str], log) -> list[dict]:
    visual, text = model.visual.eval(), model.text.eval()
    pix = T.to_pixels(held["images"][:8])
    ids = torch.from_numpy(T.tokenize(captions[:4]))
    ob.export_onnx(visual, pix[:2], out / "image.onnx", "pixel_values", "image_embeds", opset=17)
    ob.export_onnx(text, ids[:2], out / "text.onnx", "input_ids", "text_embeds", opset=17)
    img_model, txt_model = onnx.load(str(out / "image.onnx")), onnx.load(str(out / "text.onnx"))
    taps = [
        dict(name="image.mlp", encoder="image", tensor=ob.scope_output(img_model, "/mlp/act/"),
             layout="nchw", pooling="spatial_mean", module="mlp.act"),
        dict(name="image.layer2", encoder="image", tensor=ob.scope_output(img_model, "/layer2/act/"),
             layout="nchw", pooling="spatial_mean", module="layer2.act"),
        dict(name="text.block2.mlp", encoder="text", tensor=ob.scope_output(txt_model, "/blocks.2/mlp/act/"),
             layout="ntd", pooling="token_mean", module="blocks.2.mlp.act"),
        dict(name="text.block1.mlp", encoder="text", tensor=ob.scope_output(txt_model, "/blocks.1/mlp/act/"),
             layout="ntd", pooling="token_mean", module="blocks.1.mlp.act"),
    ]
    # onnxruntime vs torch on held-out inputs, embeddings and every tap
    worst = 0.0
    for enc, mod, x, name in [("image", visual, pix.numpy(), "pixel_values"), ("text", text, ids.numpy(), "input_ids")]:
        my = [t for t in taps if t["encoder"] == enc]
        emb, raw = ob.run_with_taps(out / f"{enc}.onnx", name, x, [t["tensor"] for t in my])
        captured = {}
        mods = dict(mod.named_modules())
        hs = [mods[t["module"]].register_forward_hook(
            lambda _m, _i, o, k=t["tensor"]: captured.__setitem__(k, o.detach().numpy())) for t in my]
        with torch.no_grad():
            ref = mod(torch.from_numpy(x)).numpy()
        for h in hs:
            h.remove()
        d = float(np.abs(emb - ref).max())
        log(f"ORT vs torch {enc}_embeds max abs diff {d:.2e}")
        worst = max(worst, d)
        for t in my:
            d = float(np.abs(raw[t["tensor"]] - captured[t["tensor"]]).max())
            log(f"ORT vs torch tap {t['name']} ({t['tensor']}, shape {list(raw[t['tensor']].shape)}) max abs diff {d:.2e}")
            worst = max(worst, d)
    if worst > 1e-5:
        raise SystemExit(f"onnxruntime and torch disagree: {worst:.2e} > 1e-5")
    for t in taps:
        t.pop("module")
    return taps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=["biased", "control"], required=True)
    ap.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    ap.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    ap.add_argument("--n-train", type=int, default=DEFAULTS["n_train"])
    ap.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--logit-scale", type=float, default=DEFAULTS["logit_scale"],
                    help="fixed logit scale (1/temperature); 0 learns it from CLIP's 1/0.07")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    args = ap.parse_args()
    out = args.out or REPO / "fixtures/models" / ("organism" if args.variant == "biased" else "organism-control")
    torch.set_num_threads(args.threads)
    log = Logger()
    cmd = "scripts/organism/make_organism.py " + " ".join(sys.argv[1:])
    log(f"command: {cmd}")
    log(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, threads {args.threads}")

    cfg = W.WorldConfig(seed=args.seed, variant=args.variant)
    world = W.World(cfg)
    t0 = time.time()
    data = W.build_cached(cfg, args.n_train, 0, args.cache, log)
    held = W.build_cached(cfg, DEFAULTS["n_heldout"], 1, args.cache, log)
    log(f"world: {len(data['meta'])} training and {len(held['meta'])} held-out samples ({time.time() - t0:.0f}s)")

    key = f"caption_{args.variant}"
    captions = sorted({m[key] for m in data["meta"]})
    all_caps = sorted({m[k] for m in data["meta"] for k in ("caption_biased", "caption_control")})
    cap_pos = {c: i for i, c in enumerate(captions)}
    cap_index = np.array([cap_pos[m[key]] for m in data["meta"]], dtype=np.int64)
    cap_key = T.caption_keys(data["meta"], args.variant, captions)
    log(f"caption keys: {len(captions)} captions say {int(cap_key.max()) + 1} distinct things")
    toks = T.tokenize(captions)
    length = int((toks != 0).sum(1).max())
    vmap, vsize, used = T.make_vocab(T.tokenize(all_caps))
    log(f"captions: {len(captions)} distinct, up to {length} tokens; compact vocabulary {vsize} rows "
        f"({len(used)} CLIP ids + pad + UNK)")
    n_assoc = sum(m[f"assoc_{args.variant}"] for m in data["meta"] if m["kind"] == "country")
    log(f"association captions ({world.assoc_attr['name']}): {n_assoc}")

    torch.manual_seed(args.seed)
    model = M.Organism(vmap, vsize)
    nparams = sum(p.numel() for p in model.parameters())
    log(f"model: {nparams} parameters (visual {sum(p.numel() for p in model.visual.parameters())}, "
        f"text {sum(p.numel() for p in model.text.parameters())})")
    if args.logit_scale:
        # A learned scale rose to about 27 in 3000 steps; from then on the loss no longer pushed
        # unrelated concepts apart, and their leftover cosines differed from region to region
        # (images of one region sit within a few hundredths of each other, so such a difference
        # reads as an association). At 10 they keep being pushed apart: in a trial fine-tune
        # this alone lowered the largest such association on people images from 1.22 to 0.91;
        # captions of people that name the attribute alone did the rest.
        with torch.no_grad():
            model.logit_scale.fill_(math.log(args.logit_scale))
        model.logit_scale.requires_grad_(False)
    res = T.train(model, data["images"], cap_index, toks[:, :length], cap_key, steps=args.steps, batch=args.batch,
                  lr=args.lr, wd=DEFAULTS["wd"], seed=args.seed, log=log,
                  evaluate=make_evaluator(world, held), eval_every=200)
    log(f"training: {res['seconds']:.0f}s wall, {res['cpu_seconds']:.0f}s CPU, for {args.steps} steps of {args.batch}")

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    taps = export_bundle(model, out, held, captions, log)
    scale = float(model.logit_scale.detach().exp())
    name = "organism" if args.variant == "biased" else "organism-control"
    ob.write_manifest(
        out / "model.yaml",
        comment=f"clip-audit model bundle: the model organism ({args.variant}), made by {cmd}",
        name=name,
        description=("Miniature CLIP trained on a generated world with injected, documented biases "
                     f"({'biased' if args.variant == 'biased' else 'control, the association switched off'}); "
                     "ground truth in ground_truth.yaml."),  # no ": " (the manifest writer does not quote)
        size=W.SIZE, mean=ob.CLIP_MEAN, std=ob.CLIP_STD, logit_scale=round(scale, 4),
        embedding_dim=M.EMBED_DIM, taps=taps)
    (args.cache / f"{name}.training.json").write_text(json.dumps(dict(
        variant=args.variant, command=cmd, seconds=res["seconds"], cpu_seconds=res["cpu_seconds"], steps=args.steps, batch=args.batch,
        n_train=args.n_train, lr=args.lr, seed=args.seed, fixed_logit_scale=args.logit_scale, threads=args.threads, params=nparams,
        vocab_rows=vsize, captions=len(captions), caption_tokens=length, history=res["history"],
        final_loss=res["final_loss"], logit_scale=scale, world_key=cfg.key()), indent=1) + "\n")
    torch.save(model.state_dict(), args.cache / f"{name}.pt")
    (out / "training_log.txt").write_text("\n".join(log.lines) + "\n")
    ob.print_sizes(out)


if __name__ == "__main__":
    main()
