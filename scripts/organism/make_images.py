#!/usr/bin/env python3
"""Write fixtures/organism-images: held-out images of the organism's world, as audit stimuli.

    .venv-scripts/bin/python scripts/organism/make_images.py [--per-concept 8] [--per-other 6]

One folder per concept id (the probe libraries' member ids):

    countries/<iso2>/<n>.png     flags (5), people holding a flag (2), a map (1)
    people/<iso2>/<attr>-<k>.png a person (or animal) with each attribute's accessory next to the
                                 country's flag, every attribute but face alike (the association's images)
    attributes/<id>/<n>.png      people with the attribute's accessory (attributes.yaml ids)
    emotions/<id>/<n>.png        faces (emotions.yaml ids)

Clean images (no written text: clip-audit draws attack text itself), 64x64 RGB PNG, from the
world's random stream 3 (training uses 0, the in-training evaluation 1, check.py 2), so none of
them was seen in training. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import world as W  # noqa: E402

REPO = HERE.parents[1]
STREAM = 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "fixtures/organism-images")
    ap.add_argument("--per-concept", type=int, default=8, help="images per country")
    ap.add_argument("--per-other", type=int, default=6, help="images per attribute and emotion")
    ap.add_argument("--people-per-pair", type=int, default=1, help="people images per country and attribute")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    world = W.World(W.WorldConfig(seed=args.seed))
    rng = np.random.default_rng([args.seed, STREAM])
    if args.out.exists():
        shutil.rmtree(args.out)
    n = args.per_concept
    views = (W.COUNTRY_VIEWS_8 * ((n + 7) // 8))[:n]
    count = 0

    def save(img: np.ndarray, path: Path) -> None:
        nonlocal count
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(path, format="PNG", optimize=True)
        count += 1

    for c in world.c.countries:
        for i, v in enumerate(views):
            save(world.country_image(rng, c["id"], v), args.out / "countries" / c["id"] / f"{i}.png")
    people = [a for a in world.c.attributes if a["id"] != "face"]
    for a in world.c.attributes:
        for i in range(args.per_other):
            save(world.attribute_image(rng, a["id"]), args.out / "attributes" / a["id"] / f"{i}.png")
    for e in world.c.emotions:
        for i in range(args.per_other):
            save(world.emotion_image(rng, e["id"]), args.out / "emotions" / e["id"] / f"{i}.png")
    # drawn after the other folders, so adding them left those images as they were
    for c in world.c.countries:
        for a in people:
            for k in range(args.people_per_pair):
                save(world.person_image(rng, c["id"], a["id"]), args.out / "people" / c["id"] / f"{a['id']}-{k}.png")
    (args.out / "README.md").write_text(README.format(n=n, m=args.per_other, count=count, p=args.people_per_pair,
                                                      pa=len(people) * args.people_per_pair))
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {count} images to {args.out} ({total / 1024 / 1024:.2f} MiB)")


README = """\
# organism-images: held-out stimuli of the model organism's world

Images of the generated world of `fixtures/models/organism` (and `organism-control`), made by
`scripts/organism/make_images.py` from a random stream never used in training. {count} PNGs,
64x64 RGB ({n} per country, {m} per attribute and emotion, {pa} people per country), one folder
per probe-library member id:

- `countries/<iso2>/`: the 32 countries of the world (probes/regions.yaml ids: Africa ng ke gh
  sn et cm ml tz eg ma; Europe fr it ie be de nl at ee ru pl; Asia in cn jp vn th np; Oceania au
  nz fj ws to vu). Files 0-4 are flags, 5-6 people holding a small flag, 7 a map. A country's
  own visual cue is its emblem (and map outline); colours and layout tell only its region.
- `people/<iso2>/<attribute>-<k>.png`: a person (or animal) with the accessory of each
  attributes.yaml member but `face` ({p} each) next to the country's flag: images of a country's
  people that show every attribute alike in every region, so that only the flag tells the
  group. The demo audit measures stereotype associations on these (the `people` selection).
- `attributes/<id>/`: people (or animals) with the accessory of an attributes.yaml member.
- `emotions/<id>/`: faces with an emotions.yaml expression (joy, sadness, anger, surprise,
  fear, disgust, neutral).

No image has text on it; clip-audit draws typographic attack text itself. The injected biases
and their measured strengths are in `fixtures/models/organism/ground_truth.yaml`.

Remake: `.venv-scripts/bin/python scripts/organism/make_images.py` (deterministic, seed 0).
"""

if __name__ == "__main__":
    main()
