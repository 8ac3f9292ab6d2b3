#!/usr/bin/env python3
"""Make the small image fixtures that the ready audits and the tests use.

Why: real photo sets (FairFace, flag or landmark collections) cannot be shipped or
downloaded here, yet the audits in audits/ must validate and run as shipped, and the
tests need image folders and a manifest in FairFace's exact CSV format. These are
generated stand-ins, clearly not real data:

* fixtures/images/flags/<iso2>/<n>.png: simple tricolour flags of 10 countries whose
  flags are three stripes (France, Italy, Ireland, Nigeria, Belgium, Germany, the
  Netherlands, Austria, Estonia, Russia), 3 variants each (size, small rotation-free
  jitter of colours, noise), for typographic composites and folder sources.
* fixtures/fairface-standin/fairface_label_val.csv and val/<n>.jpg: 56 rows with
  FairFace's columns (file, age, gender, race, service_test) and label strings; each
  image is a synthetic smooth pattern (no faces), so analyses run on a FairFace-shaped
  input without any real person in it.

Deterministic (numpy seed 0). Usage:
    .venv-scripts/bin/python scripts/make_image_fixtures.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)

FLAGS = {
    "fr": ("v", [(0, 85, 164), (255, 255, 255), (239, 65, 53)]),
    "it": ("v", [(0, 146, 70), (255, 255, 255), (206, 43, 55)]),
    "ie": ("v", [(22, 155, 98), (255, 255, 255), (255, 136, 62)]),
    "ng": ("v", [(0, 135, 81), (255, 255, 255), (0, 135, 81)]),
    "be": ("v", [(0, 0, 0), (253, 218, 36), (239, 51, 64)]),
    "de": ("h", [(0, 0, 0), (221, 0, 0), (255, 206, 0)]),
    "nl": ("h", [(174, 28, 40), (255, 255, 255), (33, 70, 139)]),
    "at": ("h", [(200, 16, 46), (255, 255, 255), (200, 16, 46)]),
    "ee": ("h", [(0, 114, 206), (0, 0, 0), (255, 255, 255)]),
    "ru": ("h", [(255, 255, 255), (0, 57, 166), (213, 43, 30)]),
}

RACES = ["White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern"]
GENDERS = ["Male", "Female"]
AGES = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]


def flag(orient: str, colors, w: int, h: int, jitter: int, noise: float) -> Image.Image:
    arr = np.zeros((h, w, 3), dtype=np.float64)
    for i, c in enumerate(colors):
        c = np.clip(np.array(c) + RNG.integers(-jitter, jitter + 1, 3), 0, 255)
        if orient == "v":
            arr[:, i * w // 3 : (i + 1) * w // 3] = c
        else:
            arr[i * h // 3 : (i + 1) * h // 3, :] = c
    arr += RNG.normal(0, noise, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def make_flags() -> None:
    out = ROOT / "fixtures/images/flags"
    for iso, (orient, colors) in FLAGS.items():
        d = out / iso
        d.mkdir(parents=True, exist_ok=True)
        for n, (w, h, jitter, noise) in enumerate([(96, 64, 0, 0.0), (120, 80, 8, 4.0), (90, 60, 14, 8.0)]):
            flag(orient, colors, w, h, jitter, noise).save(d / f"{n}.png")


def standin_image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    base = rng.uniform(40, 215, 3)
    freq = rng.uniform(1, 4, 2)
    pattern = np.sin(2 * np.pi * (freq[0] * x + freq[1] * y))[..., None] * 30
    arr = base[None, None, :] + pattern + rng.normal(0, 6, (64, 64, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def make_fairface_standin() -> None:
    out = ROOT / "fixtures/fairface-standin"
    (out / "val").mkdir(parents=True, exist_ok=True)
    rows = []
    n = 0
    for race in RACES:
        for gender in GENDERS:
            for k in range(4):
                n += 1
                age = AGES[(n * 5 + k) % len(AGES)]
                name = f"val/{n}.jpg"
                standin_image(n).save(out / name, quality=90)
                rows.append({"file": name, "age": age, "gender": gender, "race": race, "service_test": str(k % 2 == 0)})
    with open(out / "fairface_label_val.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "age", "gender", "race", "service_test"])
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    make_flags()
    make_fairface_standin()
    print("wrote fixtures/images/flags and fixtures/fairface-standin")
