"""Contrastive training of the organism (CPU, deterministic for a given seed).

The loss is CLIP's symmetric InfoNCE with one change for a small world with many repeated
concepts: identical captions in a batch are one text (its embedding is computed once), and
captions that say the same thing in other words are positives of each other. Each caption
string has a `key` (see `caption_keys`): "the flag of France." and "a photo of France." share
the key of France, "a flag from Africa." and "a photo of Africa." that of Africa. An image's
targets are all texts of the batch with its caption's key, a text's targets all images whose
caption has its key (uniform soft targets). Without this, the two or three samples of the same
country in a batch of 128 would be each other's negatives whenever their templates differ. Keys
follow the captions, not the images: an African flag captioned "a flag from Africa." has
Africa's key, so the injected biases are untouched.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

import model as M

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
SOT, EOT = 49406, 49407


def to_pixels(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N, 64, 64, 3] -> normalized float32 [N, 3, 64, 64] (CLIP mean/std; images are
    already 64x64, so CLIP's resize and crop are the identity)."""
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN) / STD


def tokenize(texts: list[str]) -> np.ndarray:
    from open_clip.tokenizer import tokenize as oc_tokenize

    return oc_tokenize(texts, context_length=M.CONTEXT).numpy().astype(np.int64)


def make_vocab(token_rows: np.ndarray) -> tuple[torch.Tensor, int, list[int]]:
    """Compact vocabulary: pad id 0 -> 0, UNK -> 1, every other used CLIP id -> 2.. ."""
    used = sorted(int(v) for v in np.unique(token_rows) if v != 0)
    vmap = torch.full((M.CLIP_VOCAB,), M.UNK, dtype=torch.int64)
    vmap[0] = 0
    for i, tid in enumerate(used):
        vmap[tid] = i + 2
    return vmap, len(used) + 2, used


def caption_keys(meta: list[dict], variant: str, captions: list[str]) -> np.ndarray:
    """Key id per caption string: union-find over caption strings and the meaning of the sample
    that carries them (country, region, attribute, emotion, word; association captions keep
    their own text), so a string used for two meanings (e.g. "a photo of Kenya." under a flag
    and under the written word) merges them."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for m in meta:
        cap = m[f"caption_{variant}"]
        k = m["kind"]
        if k == "country":
            if m[f"assoc_{variant}"]:
                key = "text:" + cap
            else:
                key = ("country:" + m["concept"]) if m["named"] else ("region:" + m["region"])
        elif k == "word":
            key = "word:" + m["concept"]
        elif k == "attribute" and (m.get("place") or m.get(f"assoc_{variant}")):
            key = "text:" + cap  # "a doctor from Kenya.", or an association caption
        else:
            key = f"{k}:" + m["concept"]
        union("cap:" + cap, key)
    roots = {}
    return np.array([roots.setdefault(find("cap:" + c), len(roots)) for c in captions], dtype=np.int64)


def lr_at(step: int, steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * p))


def param_groups(model: torch.nn.Module, wd: float):
    """Weight decay on matrices only; the logit scale learns 20x faster (short training)."""
    decay, no_decay, scale = [], [], []
    for name, p in model.named_parameters():
        if name == "logit_scale":
            scale.append(p)
        else:
            (decay if p.ndim >= 2 and "positional" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd, "lr_mult": 1.0},
            {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
            {"params": scale, "weight_decay": 0.0, "lr_mult": 20.0}]


@torch.no_grad()
def embed_images(model, images_u8: np.ndarray, bs: int = 512) -> torch.Tensor:
    model.eval()
    out = [F.normalize(model.visual(to_pixels(images_u8[i:i + bs])), dim=-1) for i in range(0, len(images_u8), bs)]
    return torch.cat(out)


@torch.no_grad()
def embed_texts(model, texts: list[str]) -> torch.Tensor:
    model.eval()
    ids = torch.from_numpy(tokenize(texts))
    return F.normalize(model.text(ids), dim=-1)


def train(model: M.Organism, images: np.ndarray, cap_index: np.ndarray, cap_tokens: np.ndarray,
          cap_key: np.ndarray, *,
          steps: int, batch: int, lr: float, wd: float, seed: int, log, evaluate=None,
          eval_every: int = 250, token_dropout: float = 0.02) -> dict:
    """images uint8 [N,64,64,3]; cap_index [N] into cap_tokens [C, T] (CLIP ids, truncated) and
    cap_key [C] (caption_keys)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(param_groups(model, wd), lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, int(0.05 * steps))
    n = len(images)
    order = rng.permutation(n)
    pos = 0
    toks = torch.from_numpy(cap_tokens)
    keys = torch.from_numpy(cap_key)
    compact_all = model.text.vocab_map[toks]
    special = (toks == SOT) | (toks == EOT) | (toks == 0)
    t0, c0 = time.time(), time.process_time()
    hist = []
    run_loss = None
    for step in range(steps):
        if pos + batch > n:
            order, pos = rng.permutation(n), 0
        idx = np.sort(order[pos:pos + batch])
        pos += batch
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup) * g["lr_mult"]
        model.train()
        x = to_pixels(images[idx])
        ci = torch.from_numpy(cap_index[idx])
        uniq, inv = torch.unique(ci, return_inverse=True)
        ids = toks[uniq]
        compact = compact_all[uniq].clone()
        drop = (torch.rand(compact.shape) < token_dropout) & ~special[uniq]
        compact[drop] = M.UNK
        img = F.normalize(model.visual(x), dim=-1)
        txt = F.normalize(model.text(ids, compact), dim=-1)
        scale = model.logit_scale.exp()
        logits = scale * img @ txt.t()  # [B, U]
        ku = keys[uniq]
        same = (ku[inv][:, None] == ku[None, :]).float()  # [B, U]: image i, text u share a key
        loss_i = -((same / same.sum(1, keepdim=True)) * F.log_softmax(logits, dim=1)).sum(1).mean()
        pt = same.t()
        loss_t = -((pt / pt.sum(1, keepdim=True)) * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
        loss = 0.5 * (loss_i + loss_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        run_loss = loss.item() if run_loss is None else 0.95 * run_loss + 0.05 * loss.item()
        if (step + 1) % 25 == 0 or step == 0:
            el = time.time() - t0
            log(f"step {step + 1}/{steps} loss {loss.item():.3f} (avg {run_loss:.3f}) scale {scale.item():.1f} "
                f"uniq {len(uniq)} lr {opt.param_groups[0]['lr']:.2e} {el:.0f}s ({el / (step + 1):.2f}s/step)")
        if evaluate is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            r = evaluate(model)
            r["step"] = step + 1
            hist.append(r)
            log("eval " + " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
    model.eval()
    return dict(seconds=time.time() - t0, cpu_seconds=time.process_time() - c0, history=hist, final_loss=run_loss)
