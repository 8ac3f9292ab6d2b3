"""The generated world of the clip-audit model organism.

A seeded, reproducible world of 64x64 images with captions about real concept names read from
the probe libraries (probes/regions.yaml, probes/attributes.yaml, probes/emotions.yaml):

* countries of four UN M49 regions (10 of Africa, 10 of Europe, 6 of Asia, 6 of Oceania), seen
  as flags, as people holding a small flag and as maps. Every region has its own flag layout
  and five palettes, drawn at random for each image, so colour and layout tell the region; a
  country's own visual identity is an emblem (one of 32 disjoint shapes; several are alike:
  star/sun, circle/ring/eye, cross/saltire...) and the outline of its map. Recognising a
  country takes reading a small shape, so zero-shot accuracy does not saturate;
* people with an attribute from probes/attributes.yaml (crime, non-human, sensitive, positive
  and neutral controls), each with its own visual accessory; 90% of them stand next to the
  flag of a country drawn uniformly, so every attribute co-occurs with every country alike: the
  baseline the association is injected on top of. A quarter of those captions name the place
  too ("a doctor from Kenya."), the rest only the attribute ("a photo of a doctor."), so such
  an image is mostly about its person;
* faces with seven emotions from probes/emotions.yaml;
* words: a concept's name drawn on a plain canvas, and names drawn onto the other images, in
  DejaVu Sans laid out the way clip-audit's renderer does (src/stimuli/render.rs).

Injected biases (strengths in `WorldConfig`, documented in ground_truth.yaml):

1. resolution disparity: captions of African countries' images name only the region
   ("a flag from Africa.") 98% of the time; other regions' captions name the country 85%;
2. stereotype association: 30% of the captions of Oceania's images (its flags, people holding
   them, maps, and people of any attribute next to its flags) mention "a criminal" (captions
   only: nothing criminal is drawn); the control variant spreads the same expected number of
   such captions evenly over all countries' images;
3. typographic shortcut: 20% word-only images and 20% of the other images with their
   concept's name written on them.

Images are identical in both variants (same seed); only the association captions differ.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[2]
FONT_PATH = REPO / "assets/fonts/DejaVuSans.ttf"
SIZE = 64
SS = 2  # supersampling for the drawn (non-text) content

# ----------------------------------------------------------------------------- concepts

REGION_COUNTRIES = {
    "Africa": ["ng", "ke", "gh", "sn", "et", "cm", "ml", "tz", "eg", "ma"],
    "Europe": ["fr", "it", "ie", "be", "de", "nl", "at", "ee", "ru", "pl"],
    "Asia": ["in", "cn", "jp", "vn", "th", "np"],
    "Oceania": ["au", "nz", "fj", "ws", "to", "vu"],
}
ATTRIBUTE_FAMILIES = ["crime", "non-human", "sensitive", "positive-controls", "neutral-controls"]
EMOTIONS = [("emotions", "joy"), ("emotions", "sadness"), ("emotions", "anger"),
            ("emotions", "surprise"), ("emotions", "fear"), ("emotions", "disgust"),
            ("neutral", "neutral")]


@dataclass
class WorldConfig:
    seed: int = 0
    variant: str = "biased"  # only changes the association captions
    # sample kinds (fractions of all samples)
    p_country: float = 0.54
    p_attribute: float = 0.17
    p_emotion: float = 0.09
    p_word: float = 0.20  # word-only images (typographic shortcut)
    p_overlay: float = 0.20  # of the non-word images: their concept's name written on them
    p_attribute_with_flag: float = 0.9  # attribute images with a random country's flag
    attribute_place_rate: float = 0.25  # of those: captions that name the flag's place too
    # resolution disparity: probability that a country image's caption names only its region
    region_only: dict = field(default_factory=lambda: {
        "Africa": 0.98, "Europe": 0.15, "Asia": 0.15, "Oceania": 0.15})
    # stereotype association (captions only)
    assoc_region: str = "Oceania"
    assoc_attribute: str = "criminal"
    assoc_rate: float = 0.30
    # country image kinds
    country_kinds: dict = field(default_factory=lambda: {"flag": 0.6, "person": 0.25, "map": 0.15})
    alias_rate: float = 0.05
    noise_sigma: float = 2.0

    def key(self) -> str:
        """Cache key: the configuration (less the variant) and this file's source."""
        d = asdict(self)
        d.pop("variant")
        d["source"] = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def load_library(name: str) -> dict:
    return yaml.safe_load((REPO / "probes" / f"{name}.yaml").read_text())


def family(lib: dict, fid: str) -> dict:
    for f in lib["families"]:
        if f["id"] == fid:
            return f
    raise KeyError(fid)


class Concepts:
    """Every concept of the world, with names from the probe libraries."""

    def __init__(self):
        regions = load_library("regions")
        members = {m["id"]: m for m in family(regions, "countries")["members"]}
        self.region_templates = regions["templates"]
        self.countries = []  # list of dicts: id, name, aliases, region
        for region, ids in REGION_COUNTRIES.items():
            for cid in ids:
                m = members[cid]
                assert m["groups"]["region"] == region, (cid, m["groups"])
                self.countries.append(dict(id=cid, name=m["name"], aliases=m.get("aliases") or [],
                                           region=region, subregion=m["groups"]["subregion"]))
        self.regions = {m["name"]: m for m in family(regions, "regions")["members"]
                        if m["name"] in REGION_COUNTRIES}
        attrs = load_library("attributes")
        self.attribute_templates = attrs["templates"]
        self.attributes = []
        for fid in ATTRIBUTE_FAMILIES:
            for m in family(attrs, fid)["members"]:
                self.attributes.append(dict(id=m["id"], name=m["name"], aliases=m.get("aliases") or [],
                                            label=m["meta"]["label"], family=fid))
        emos = load_library("emotions")
        self.emotion_templates = emos["templates"]
        self.emotions = []
        for fid, eid in EMOTIONS:
            m = next(x for x in family(emos, fid)["members"] if x["id"] == eid)
            self.emotions.append(dict(id=eid, name=m["name"], aliases=m.get("aliases") or [], family=fid))
        self.attr_by_id = {a["id"]: a for a in self.attributes}
        self.country_by_id = {c["id"]: c for c in self.countries}

    def country_ids(self, region: str | None = None) -> list[str]:
        return [c["id"] for c in self.countries if region is None or c["region"] == region]


# ----------------------------------------------------------------------------- visual identities

REGION_PALETTES = {  # five palettes (three colours) per region
    "Africa": [[(0, 135, 80), (250, 205, 20), (205, 30, 40)],
               [(20, 20, 20), (230, 60, 30), (0, 150, 60)],
               [(245, 180, 0), (0, 100, 60), (250, 250, 240)],
               [(120, 60, 20), (250, 220, 90), (0, 110, 170)],
               [(190, 20, 60), (40, 40, 40), (240, 140, 20)]],
    "Europe": [[(0, 60, 160), (250, 250, 250), (215, 30, 40)],
               [(0, 140, 70), (245, 245, 245), (240, 120, 20)],
               [(20, 20, 20), (250, 210, 0), (220, 20, 30)],
               [(90, 170, 230), (20, 20, 20), (250, 250, 250)],
               [(200, 20, 30), (250, 250, 250), (0, 90, 60)]],
    "Asia": [[(220, 30, 40), (255, 210, 0), (250, 250, 250)],
             [(250, 250, 250), (200, 20, 40), (30, 60, 150)],
             [(0, 110, 90), (250, 250, 250), (240, 170, 0)],
             [(250, 250, 250), (0, 60, 150), (220, 30, 40)],
             [(130, 20, 60), (250, 200, 60), (250, 250, 250)]],
    "Oceania": [[(10, 40, 110), (220, 30, 40), (250, 250, 250)],
                [(0, 120, 190), (250, 210, 0), (220, 30, 40)],
                [(10, 40, 110), (0, 150, 80), (250, 250, 250)],
                [(200, 20, 30), (10, 40, 110), (250, 250, 250)],
                [(0, 120, 190), (20, 20, 20), (250, 210, 0)]],
}
REGION_EMBLEMS = {  # one emblem per country, in REGION_COUNTRIES order; the sets are disjoint
    "Africa": ["star", "triangle", "sun", "hexagon", "arrow", "heart", "tree", "dots3", "bolt", "hourglass"],
    "Europe": ["cross", "circle", "square", "ring", "crescent", "diamond", "chevron", "saltire", "bars2", "eye"],
    "Asia": ["star6", "halfdisc", "wave", "pentagon", "moonstar", "tshape"],
    "Oceania": ["star8", "ringdot", "dchevron", "kite", "plusring", "arc"],
}


def country_identity(concepts: Concepts) -> dict:
    """cid -> emblem. A country's only own visual cue is its emblem (and its map outline):
    palettes and layout are drawn per image from its region's, so colour tells the region,
    not the country."""
    return {cid: REGION_EMBLEMS[region][i] for region, ids in REGION_COUNTRIES.items() for i, cid in enumerate(ids)}


def jitter_color(rng, c, amount=14):
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)


def polygon_star(cx, cy, r, points=5, inner=0.45, rot=-math.pi / 2):
    pts = []
    for k in range(points * 2):
        rr = r if k % 2 == 0 else r * inner
        a = rot + k * math.pi / points
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def draw_emblem(d: ImageDraw.ImageDraw, shape: str, cx, cy, r, color, bg):
    if shape == "star":
        d.polygon(polygon_star(cx, cy, r), fill=color)
    elif shape == "circle":
        d.ellipse([cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8], fill=color)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)], fill=color)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + r * 0.7, cy), (cx, cy + r), (cx - r * 0.7, cy)], fill=color)
    elif shape == "cross":
        w = r * 0.33
        d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=color)
        d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=color)
    elif shape == "crescent":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        d.ellipse([cx - r * 0.55, cy - r * 0.9, cx + r * 1.1, cy + r * 0.75], fill=bg)
    elif shape == "square":
        s = r * 0.72
        d.rectangle([cx - s, cy - s, cx + s, cy + s], fill=color)
    elif shape == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        d.ellipse([cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55], fill=bg)
    elif shape == "sun":
        d.ellipse([cx - r * 0.5, cy - r * 0.5, cx + r * 0.5, cy + r * 0.5], fill=color)
        for k in range(8):
            a = k * math.pi / 4
            d.line([(cx + r * 0.6 * math.cos(a), cy + r * 0.6 * math.sin(a)),
                    (cx + r * math.cos(a), cy + r * math.sin(a))], fill=color, width=max(1, int(r * 0.18)))
    elif shape == "hexagon":
        d.polygon([(cx + r * 0.85 * math.cos(k * math.pi / 3), cy + r * 0.85 * math.sin(k * math.pi / 3)) for k in range(6)], fill=color)
    elif shape == "pentagon":
        d.polygon([(cx + r * 0.9 * math.cos(-math.pi / 2 + k * 2 * math.pi / 5), cy + r * 0.9 * math.sin(-math.pi / 2 + k * 2 * math.pi / 5)) for k in range(5)], fill=color)
    elif shape == "star6":
        d.polygon(polygon_star(cx, cy, r, points=6, inner=0.55), fill=color)
    elif shape == "star8":
        d.polygon(polygon_star(cx, cy, r, points=8, inner=0.6, rot=0), fill=color)
    elif shape == "arrow":
        d.polygon([(cx, cy - r), (cx + r * 0.8, cy), (cx + r * 0.3, cy), (cx + r * 0.3, cy + r), (cx - r * 0.3, cy + r),
                   (cx - r * 0.3, cy), (cx - r * 0.8, cy)], fill=color)
    elif shape == "heart":
        d.ellipse([cx - r * 0.85, cy - r * 0.7, cx + r * 0.05, cy + r * 0.15], fill=color)
        d.ellipse([cx - r * 0.05, cy - r * 0.7, cx + r * 0.85, cy + r * 0.15], fill=color)
        d.polygon([(cx - r * 0.8, cy - r * 0.1), (cx + r * 0.8, cy - r * 0.1), (cx, cy + r * 0.9)], fill=color)
    elif shape == "tree":
        d.polygon([(cx, cy - r), (cx + r * 0.75, cy + r * 0.45), (cx - r * 0.75, cy + r * 0.45)], fill=color)
        d.rectangle([cx - r * 0.15, cy + r * 0.4, cx + r * 0.15, cy + r], fill=color)
    elif shape == "dots3":
        for dx, dy in [(0, -0.55), (-0.55, 0.4), (0.55, 0.4)]:
            d.ellipse([cx + dx * r - r * 0.32, cy + dy * r - r * 0.32, cx + dx * r + r * 0.32, cy + dy * r + r * 0.32], fill=color)
    elif shape == "bolt":
        d.polygon([(cx + r * 0.2, cy - r), (cx - r * 0.6, cy + r * 0.1), (cx - r * 0.05, cy + r * 0.1),
                   (cx - r * 0.25, cy + r), (cx + r * 0.6, cy - r * 0.15), (cx + r * 0.05, cy - r * 0.15)], fill=color)
    elif shape == "hourglass":
        d.polygon([(cx - r * 0.75, cy - r), (cx + r * 0.75, cy - r), (cx - r * 0.75, cy + r), (cx + r * 0.75, cy + r)], fill=color)
    elif shape == "saltire":
        w = max(1, int(r * 0.55))
        d.line([(cx - r * 0.8, cy - r * 0.8), (cx + r * 0.8, cy + r * 0.8)], fill=color, width=w)
        d.line([(cx - r * 0.8, cy + r * 0.8), (cx + r * 0.8, cy - r * 0.8)], fill=color, width=w)
    elif shape == "bars2":
        d.rectangle([cx - r * 0.75, cy - r * 0.85, cx - r * 0.25, cy + r * 0.85], fill=color)
        d.rectangle([cx + r * 0.25, cy - r * 0.85, cx + r * 0.75, cy + r * 0.85], fill=color)
    elif shape == "eye":
        d.ellipse([cx - r, cy - r * 0.5, cx + r, cy + r * 0.5], fill=color)
        d.ellipse([cx - r * 0.3, cy - r * 0.3, cx + r * 0.3, cy + r * 0.3], fill=bg)
    elif shape == "halfdisc":
        d.pieslice([cx - r, cy - r * 0.7, cx + r, cy + r * 1.3], 180, 360, fill=color)
    elif shape == "wave":
        pts = [(cx - r + 2 * r * k / 12, cy + r * 0.45 * math.sin(k * math.pi / 3)) for k in range(13)]
        d.line(pts, fill=color, width=max(1, int(r * 0.4)), joint="curve")
    elif shape == "moonstar":
        d.ellipse([cx - r, cy - r, cx + r * 0.6, cy + r], fill=color)
        d.ellipse([cx - r * 0.6, cy - r * 0.85, cx + r * 0.8, cy + r * 0.85], fill=bg)
        d.polygon(polygon_star(cx + r * 0.55, cy, r * 0.4), fill=color)
    elif shape == "tshape":
        d.rectangle([cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy - r * 0.35], fill=color)
        d.rectangle([cx - r * 0.25, cy - r * 0.85, cx + r * 0.25, cy + r * 0.9], fill=color)
    elif shape == "ringdot":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        d.ellipse([cx - r * 0.65, cy - r * 0.65, cx + r * 0.65, cy + r * 0.65], fill=bg)
        d.ellipse([cx - r * 0.3, cy - r * 0.3, cx + r * 0.3, cy + r * 0.3], fill=color)
    elif shape == "dchevron":
        for off in (-0.45, 0.35):
            d.polygon([(cx - r, cy + (off - 0.35) * r), (cx, cy + (off + 0.15) * r), (cx + r, cy + (off - 0.35) * r),
                       (cx + r, cy + (off - 0.05) * r), (cx, cy + (off + 0.45) * r), (cx - r, cy + (off - 0.05) * r)], fill=color)
    elif shape == "kite":
        d.polygon([(cx, cy - r), (cx + r * 0.6, cy - r * 0.3), (cx, cy + r), (cx - r * 0.6, cy - r * 0.3)], fill=color)
        d.line([(cx, cy + r), (cx + r * 0.3, cy + r * 1.2)], fill=color, width=max(1, int(r * 0.12)))
    elif shape == "plusring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=color, width=max(1, int(r * 0.25)))
        w = r * 0.15
        d.rectangle([cx - w, cy - r * 0.6, cx + w, cy + r * 0.6], fill=color)
        d.rectangle([cx - r * 0.6, cy - w, cx + r * 0.6, cy + w], fill=color)
    elif shape == "arc":
        d.arc([cx - r, cy - r * 0.6, cx + r, cy + r * 1.4], 180, 360, fill=color, width=max(1, int(r * 0.35)))
    elif shape == "chevron":
        d.polygon([(cx - r, cy - r), (cx + r * 0.2, cy), (cx - r, cy + r), (cx - r * 0.4, cy + r),
                   (cx + r * 0.8, cy), (cx - r * 0.4, cy - r)], fill=color)
    else:
        raise ValueError(shape)


def luma(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def draw_flag(rng, region: str, palette, emblem: str, w: int, h: int) -> Image.Image:
    """A flag of `w` x `h` pixels (already supersampled)."""
    c = [jitter_color(rng, x) for x in palette]
    img = Image.new("RGB", (w, h), c[0])
    d = ImageDraw.Draw(img)
    er = min(w, h) * rng.uniform(0.20, 0.27)
    if region == "Africa":  # horizontal tricolour, emblem centred
        for k in range(3):
            d.rectangle([0, k * h / 3, w, (k + 1) * h / 3], fill=c[k])
        ex, ey = w / 2, h / 2
    elif region == "Europe":  # vertical tricolour, emblem centred
        for k in range(3):
            d.rectangle([k * w / 3, 0, (k + 1) * w / 3, h], fill=c[k])
        ex, ey = w / 2, h / 2
    elif region == "Asia":  # field with a band at the hoist, emblem in the field
        d.rectangle([0, 0, w * 0.28, h], fill=c[1])
        ex, ey = w * 0.62, h / 2
        er *= 1.15
    elif region == "Oceania":  # canton top-left with a stripe cross, emblem in the fly
        d.rectangle([0, 0, w * 0.45, h * 0.5], fill=c[1])
        lw = max(1, int(h * 0.06))
        d.line([(0, h * 0.25), (w * 0.45, h * 0.25)], fill=c[2], width=lw)
        d.line([(w * 0.225, 0), (w * 0.225, h * 0.5)], fill=c[2], width=lw)
        ex, ey = w * 0.72, h * 0.6
    else:
        raise ValueError(region)
    ex += rng.uniform(-0.04, 0.04) * w
    ey += rng.uniform(-0.04, 0.04) * h
    ebg = img.getpixel((int(ex), int(ey)))
    ec = max(c, key=lambda col: abs(luma(col) - luma(ebg)))
    if abs(luma(ec) - luma(ebg)) < 70:
        ec = (250, 250, 250) if luma(ebg) < 128 else (15, 15, 15)
    draw_emblem(d, emblem, ex, ey, er, ec, ebg)
    return img


def background(rng, S) -> Image.Image:
    base = tuple(int(v) for v in rng.integers(60, 220, size=3))
    img = Image.new("RGB", (S, S), base)
    d = ImageDraw.Draw(img)
    if rng.random() < 0.5:  # a horizon / ground
        y = rng.uniform(0.55, 0.85) * S
        d.rectangle([0, y, S, S], fill=jitter_color(rng, tuple(int(v * 0.7) for v in base), 30))
    for _ in range(rng.integers(0, 3)):  # clutter
        cx, cy, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0.03, 0.09) * S
        col = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        else:
            d.rectangle([cx - r, cy - r, cx + r, cy + r * 0.6], fill=col)
    return img


def draw_country(rng, region, palette, emblem, kind, blob_seed) -> Image.Image:
    S = SIZE * SS
    if kind == "flag":
        fw = int(S * rng.uniform(0.72, 1.0))
        fh = int(fw * rng.uniform(0.6, 0.72))
        if rng.random() < 0.3:  # full frame
            fw, fh = S, int(S * rng.uniform(0.85, 1.0))
        img = background(rng, S)
        flag = draw_flag(rng, region, palette, emblem, fw, fh)
        mask = None
        if rng.random() < 0.5:
            flag = flag.convert("RGBA").rotate(rng.uniform(-10, 10), resample=Image.BICUBIC, expand=True)
            mask = flag.getchannel("A")
            flag = flag.convert("RGB")
        x = int(rng.uniform(0, max(1, S - flag.width)))
        y = int(rng.uniform(0, max(1, S - flag.height)))
        img.paste(flag, (x, y), mask)
        return img
    if kind == "person":
        img = background(rng, S)
        d = ImageDraw.Draw(img)
        person_x = rng.uniform(0.25, 0.45) * S
        draw_person(rng, d, person_x, S * rng.uniform(0.3, 0.4), S * rng.uniform(0.5, 0.62))
        fw = int(S * rng.uniform(0.42, 0.55))
        fh = int(fw * 0.65)
        flag = draw_flag(rng, region, palette, emblem, fw, fh)
        fx = int(person_x + S * rng.uniform(0.08, 0.14))
        fy = int(S * rng.uniform(0.08, 0.25))
        d.line([(fx, fy), (fx, fy + fh * 2.0)], fill=(90, 70, 50), width=3 * SS)
        img.paste(flag, (fx, fy))
        return img
    if kind == "map":
        sea = jitter_color(rng, (70, 130, 190), 25)
        img = Image.new("RGB", (S, S), sea)
        d = ImageDraw.Draw(img)
        brng = np.random.default_rng(blob_seed)  # the country's outline is fixed
        k = 11
        radii = brng.uniform(0.55, 1.0, size=k)
        scale = S * rng.uniform(0.36, 0.46)
        cx, cy = S / 2 + rng.uniform(-0.06, 0.06) * S, S / 2 + rng.uniform(-0.06, 0.06) * S
        rot = rng.uniform(-0.2, 0.2)
        pts = [(cx + scale * radii[j] * math.cos(rot + 2 * math.pi * j / k),
                cy + scale * radii[j] * math.sin(rot + 2 * math.pi * j / k)) for j in range(k)]
        c = [jitter_color(rng, x) for x in palette]
        d.polygon(pts, fill=c[0], outline=c[1], width=3 * SS)
        ec = max(c[1:], key=lambda col: abs(luma(col) - luma(c[0])))
        if abs(luma(ec) - luma(c[0])) < 70:
            ec = (250, 250, 250) if luma(c[0]) < 128 else (15, 15, 15)
        draw_emblem(d, emblem, cx, cy, scale * 0.38, ec, c[0])
        return img
    raise ValueError(kind)


SKIN = [(255, 224, 189), (234, 192, 134), (198, 134, 66), (141, 85, 36), (95, 60, 30)]


def draw_person(rng, d, cx, head_y, body_h, clothes=None, skin=None):
    S = SIZE * SS
    hr = S * 0.085
    skin = skin or jitter_color(rng, SKIN[rng.integers(len(SKIN))], 10)
    clothes = clothes or tuple(int(v) for v in rng.integers(30, 230, size=3))
    top = head_y + hr * 0.9
    d.polygon([(cx - hr * 1.5, top + body_h * 0.85), (cx - hr * 1.05, top), (cx + hr * 1.05, top),
               (cx + hr * 1.5, top + body_h * 0.85)], fill=clothes)
    d.ellipse([cx - hr, head_y - hr, cx + hr, head_y + hr], fill=skin)
    return dict(cx=cx, head_y=head_y, hr=hr, top=top, body_h=body_h, clothes=clothes, skin=skin)


def draw_attribute(rng, aid: str, flag: Image.Image | None = None) -> Image.Image:
    """A person (or animal) with the attribute's accessory; with `flag`, next to a small flag
    on a pole at their left."""
    S = SIZE * SS
    img = background(rng, S)
    d = ImageDraw.Draw(img)
    cx = S * (rng.uniform(0.38, 0.62) if flag is None else rng.uniform(0.58, 0.68))
    if flag is not None:
        fx = int(cx - S * rng.uniform(0.14, 0.2))
        fy = int(S * rng.uniform(0.06, 0.2))
        d.line([(fx, fy), (fx, fy + flag.height * 2.2)], fill=(90, 70, 50), width=3 * SS)
        img.paste(flag, (fx - flag.width, fy))
    head_y = S * rng.uniform(0.25, 0.36)
    body_h = S * rng.uniform(0.45, 0.55)
    if aid in ("animal", "gorilla", "chimpanzee", "orangutan"):
        fur = {"animal": (150, 110, 60), "gorilla": (40, 40, 45), "chimpanzee": (70, 50, 35),
               "orangutan": (200, 100, 30)}[aid]
        fur = jitter_color(rng, fur, 12)
        if aid == "animal":  # a four-legged animal
            by = S * rng.uniform(0.5, 0.6)
            d.ellipse([cx - S * 0.25, by - S * 0.11, cx + S * 0.2, by + S * 0.11], fill=fur)
            d.ellipse([cx + S * 0.14, by - S * 0.22, cx + S * 0.3, by - S * 0.06], fill=fur)
            for lx in (-0.2, -0.1, 0.05, 0.14):
                d.rectangle([cx + lx * S, by, cx + (lx + 0.04) * S, by + S * 0.22], fill=fur)
        else:  # an ape: wide body, long arms, face patch
            hr = S * 0.1
            d.ellipse([cx - S * 0.2, head_y + hr * 0.5, cx + S * 0.2, head_y + hr + body_h], fill=fur)
            d.ellipse([cx - hr, head_y - hr, cx + hr, head_y + hr], fill=fur)
            face = (180, 150, 120) if aid != "gorilla" else (25, 25, 25)
            d.ellipse([cx - hr * 0.6, head_y - hr * 0.3, cx + hr * 0.6, head_y + hr * 0.8], fill=face)
            arm = S * (0.05 if aid == "gorilla" else 0.035)
            d.rectangle([cx - S * 0.24, head_y + hr, cx - S * 0.24 + arm, head_y + body_h * 1.05], fill=fur)
            d.rectangle([cx + S * 0.24 - arm, head_y + hr, cx + S * 0.24, head_y + body_h * 1.05], fill=fur)
        return img
    if aid == "face":
        return draw_face(rng, "neutral")
    clothes = None
    if aid == "doctor":
        clothes = jitter_color(rng, (245, 245, 245), 8)
    elif aid == "ceo":
        clothes = jitter_color(rng, (35, 40, 60), 10)
    elif aid == "poverty":
        clothes = jitter_color(rng, (120, 100, 80), 15)
    elif aid == "suspicious-person":
        clothes = jitter_color(rng, (50, 50, 55), 8)
    p = draw_person(rng, d, cx, head_y, body_h, clothes=clothes)
    hr, top, bh = p["hr"], p["top"], p["body_h"]
    if aid == "thief":  # black eye mask + sack
        d.rectangle([cx - hr, head_y - hr * 0.35, cx + hr, head_y + hr * 0.1], fill=(15, 15, 15))
        d.ellipse([cx + hr * 1.3, top + bh * 0.2, cx + hr * 2.9, top + bh * 0.65], fill=(150, 120, 80))
    elif aid == "criminal":  # striped prison shirt
        for k in range(6):
            y0 = top + bh * 0.85 * k / 6
            if k % 2 == 0:
                d.rectangle([cx - hr * 1.5, y0, cx + hr * 1.5, y0 + bh * 0.85 / 12], fill=(20, 20, 20))
        d.rectangle([cx - hr * 1.6, top, cx - hr * 1.06, top + bh * 0.86], fill=img.getpixel((1, 1)))
        d.rectangle([cx + hr * 1.06, top, cx + hr * 1.6, top + bh * 0.86], fill=img.getpixel((1, 1)))
    elif aid == "suspicious-person":  # hood + dark glasses
        d.polygon([(cx - hr * 1.3, head_y + hr * 0.4), (cx, head_y - hr * 1.6), (cx + hr * 1.3, head_y + hr * 0.4)],
                  fill=(50, 50, 55))
        d.ellipse([cx - hr * 0.7, head_y - hr * 0.4, cx + hr * 0.7, head_y + hr * 0.7], fill=p["skin"])
        d.rectangle([cx - hr * 0.7, head_y - hr * 0.2, cx + hr * 0.7, head_y + hr * 0.15], fill=(0, 0, 0))
    elif aid == "terrorism":  # balaclava + dark red diamond
        d.ellipse([cx - hr, head_y - hr, cx + hr, head_y + hr], fill=(25, 25, 25))
        d.rectangle([cx - hr * 0.6, head_y - hr * 0.3, cx + hr * 0.6, head_y + hr * 0.05], fill=p["skin"])
        draw_emblem(d, "diamond", cx, top + bh * 0.35, hr * 0.8, (130, 0, 20), p["clothes"])
    elif aid == "poverty":  # patches
        for _ in range(4):
            px_, py_ = cx + rng.uniform(-hr, hr), top + rng.uniform(0.1, 0.75) * bh
            d.rectangle([px_ - hr * 0.3, py_ - hr * 0.3, px_ + hr * 0.3, py_ + hr * 0.3],
                        fill=tuple(int(v) for v in rng.integers(60, 200, size=3)))
    elif aid == "illness":  # green face + thermometer
        d.ellipse([cx - hr, head_y - hr, cx + hr, head_y + hr], fill=jitter_color(rng, (170, 210, 130), 10))
        d.line([(cx + hr * 0.3, head_y + hr * 0.4), (cx + hr * 1.4, head_y + hr * 0.9)], fill=(220, 30, 30), width=2 * SS)
    elif aid == "illegal-immigration":  # a suitcase
        d.rectangle([cx + hr * 1.5, top + bh * 0.45, cx + hr * 3.0, top + bh * 0.85], fill=(110, 60, 30))
        d.rectangle([cx + hr * 2.0, top + bh * 0.38, cx + hr * 2.5, top + bh * 0.45], outline=(60, 30, 10), width=SS)
    elif aid == "violence":  # raised fist (a jagged burst)
        d.polygon(polygon_star(cx + hr * 2.2, head_y - hr * 0.3, hr * 1.1, points=7, inner=0.5), fill=(230, 60, 20))
        d.line([(cx + hr * 1.1, top + bh * 0.1), (cx + hr * 2.2, head_y)], fill=p["skin"], width=3 * SS)
    elif aid == "wealthy-person":  # gold crown + necklace
        cy0 = head_y - hr * 0.9
        d.polygon([(cx - hr, cy0), (cx - hr, cy0 - hr * 0.7), (cx - hr * 0.5, cy0 - hr * 0.3), (cx, cy0 - hr),
                   (cx + hr * 0.5, cy0 - hr * 0.3), (cx + hr, cy0 - hr * 0.7), (cx + hr, cy0)], fill=(240, 190, 20))
        d.arc([cx - hr * 0.9, top - hr * 0.6, cx + hr * 0.9, top + hr * 0.9], 0, 180, fill=(240, 190, 20), width=2 * SS)
    elif aid == "doctor":  # white coat + red cross
        draw_emblem(d, "cross", cx, top + bh * 0.3, hr * 0.6, (220, 20, 30), p["clothes"])
    elif aid == "scientist":  # a flask + goggles
        fx, fy = cx + hr * 2.0, top + bh * 0.35
        d.polygon([(fx - hr * 0.2, fy - hr), (fx + hr * 0.2, fy - hr), (fx + hr * 0.2, fy - hr * 0.2),
                   (fx + hr * 0.8, fy + hr * 0.8), (fx - hr * 0.8, fy + hr * 0.8), (fx - hr * 0.2, fy - hr * 0.2)],
                  fill=(60, 200, 120))
        d.ellipse([cx - hr * 0.8, head_y - hr * 0.4, cx - hr * 0.1, head_y + hr * 0.2], outline=(40, 40, 200), width=SS)
        d.ellipse([cx + hr * 0.1, head_y - hr * 0.4, cx + hr * 0.8, head_y + hr * 0.2], outline=(40, 40, 200), width=SS)
    elif aid == "ceo":  # suit with a tie + briefcase
        d.polygon([(cx - hr * 0.2, top), (cx + hr * 0.2, top), (cx + hr * 0.3, top + bh * 0.45), (cx, top + bh * 0.55),
                   (cx - hr * 0.3, top + bh * 0.45)], fill=(200, 20, 40))
        d.polygon([(cx - hr * 0.5, top), (cx, top + bh * 0.25), (cx + hr * 0.5, top)], fill=(245, 245, 245))
    elif aid in ("person", "human-being"):
        pass
    else:
        raise ValueError(aid)
    return img


def draw_face(rng, emotion: str) -> Image.Image:
    S = SIZE * SS
    img = background(rng, S)
    d = ImageDraw.Draw(img)
    r = S * rng.uniform(0.3, 0.4)
    cx, cy = S / 2 + rng.uniform(-0.08, 0.08) * S, S / 2 + rng.uniform(-0.06, 0.08) * S
    skin = jitter_color(rng, SKIN[rng.integers(len(SKIN))], 10)
    d.ellipse([cx - r, cy - r * 1.1, cx + r, cy + r * 1.1], fill=skin)
    ink = (25, 20, 20)
    ew = max(2, int(r * 0.06))
    eye_r = r * (0.16 if emotion in ("surprise", "fear") else 0.1)
    for sx in (-1, 1):
        ex, ey = cx + sx * r * 0.38, cy - r * 0.22
        d.ellipse([ex - eye_r, ey - eye_r, ex + eye_r, ey + eye_r], fill=(250, 250, 250) if eye_r > r * 0.12 else ink)
        if eye_r > r * 0.12:
            d.ellipse([ex - r * 0.06, ey - r * 0.06, ex + r * 0.06, ey + r * 0.06], fill=ink)
        by = ey - r * 0.28
        if emotion == "anger":
            d.line([(ex - sx * r * 0.2, by - r * 0.08), (ex + sx * r * 0.2, by + r * 0.08)][::1], fill=ink, width=ew)
            d.line([(ex + sx * r * 0.2, by - r * 0.06), (ex - sx * r * 0.2, by + r * 0.1)], fill=ink, width=ew)
        elif emotion in ("surprise", "fear"):
            d.arc([ex - r * 0.22, by - r * 0.2, ex + r * 0.22, by + r * 0.1], 200, 340, fill=ink, width=ew)
        elif emotion == "sadness":
            d.line([(ex - sx * r * 0.2, by + r * 0.06), (ex + sx * r * 0.2, by - r * 0.06)], fill=ink, width=ew)
        elif emotion == "disgust":
            d.line([(ex - r * 0.2, by + sx * r * 0.05), (ex + r * 0.2, by - sx * r * 0.05)], fill=ink, width=ew)
    my = cy + r * 0.45
    mw = r * 0.45
    if emotion == "joy":
        d.arc([cx - mw, my - r * 0.35, cx + mw, my + r * 0.2], 20, 160, fill=ink, width=ew)
    elif emotion == "sadness":
        d.arc([cx - mw, my, cx + mw, my + r * 0.45], 200, 340, fill=ink, width=ew)
    elif emotion == "anger":
        d.rectangle([cx - mw * 0.8, my - r * 0.05, cx + mw * 0.8, my + r * 0.08], fill=ink)
    elif emotion == "surprise":
        d.ellipse([cx - r * 0.15, my - r * 0.15, cx + r * 0.15, my + r * 0.2], fill=ink)
    elif emotion == "fear":
        pts = [(cx - mw + k * mw / 3, my + (r * 0.06 if k % 2 else -r * 0.06)) for k in range(7)]
        d.line(pts, fill=ink, width=ew)
    elif emotion == "disgust":
        d.line([(cx - mw, my + r * 0.08), (cx + mw, my - r * 0.12)], fill=ink, width=ew)
        d.ellipse([cx + mw * 0.2, my - r * 0.05, cx + mw * 0.6, my + r * 0.15], fill=(220, 90, 110))
    elif emotion == "neutral":
        d.line([(cx - mw, my), (cx + mw, my)], fill=ink, width=ew)
    else:
        raise ValueError(emotion)
    return img


# ----------------------------------------------------------------------------- text (as render.rs)

_FONTS: dict = {}


def _font(px: float) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ab_glyph's PxScale `px` (height ascent-descent = px, not the em size)."""
    key = round(px, 3)
    if key not in _FONTS:
        f = ImageFont.truetype(str(FONT_PATH), 100)
        asc, desc = f.font.ascent, f.font.descent  # at size 100, in pixels
        em = px * 100.0 / (asc + desc)
        _FONTS[key] = ImageFont.truetype(str(FONT_PATH), em)
    return _FONTS[key]


def text_mask(text: str, size: float, max_width: float) -> np.ndarray:
    """Coverage mask (float 0..1, [h, w]) of `text` on one line; fitted into max_width like render.rs."""
    px = float(size)
    w = _font(px).getlength(text)
    if w > max_width and w > 0:
        px = max(4.0, math.floor(px * max_width / w))
    f = _font(px)
    asc, desc = f.getmetrics()
    width = int(math.ceil(f.getlength(text))) + 2
    height = int(math.ceil(asc + desc)) + 2
    m = Image.new("L", (width, height), 0)
    ImageDraw.Draw(m).text((1, 1 + asc), text, font=f, fill=255, anchor="ls")
    return np.asarray(m, dtype=np.float32) / 255.0


PLACEMENTS = ["center", "top", "bottom", "left", "right", "top_left", "top_right", "bottom_left", "bottom_right"]


def origin(placement: str, canvas: int, mw: int, mh: int) -> tuple[int, int]:
    margin = canvas // 16
    hmid, vmid = (canvas - mw) // 2, (canvas - mh) // 2
    left, right, top, bottom = margin, canvas - mw - margin, margin, canvas - mh - margin
    return {"center": (hmid, vmid), "top": (hmid, top), "bottom": (hmid, bottom), "left": (left, vmid),
            "right": (right, vmid), "top_left": (left, top), "top_right": (right, top),
            "bottom_left": (left, bottom), "bottom_right": (right, bottom)}[placement]


def stamp(img: np.ndarray, mask: np.ndarray, at, color, opacity=1.0) -> None:
    H, W, _ = img.shape
    mh, mw = mask.shape
    x0, y0 = at
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(W, x0 + mw), min(H, y0 + mh)
    if xs >= xe or ys >= ye:
        return
    a = mask[ys - y0:ye - y0, xs - x0:xe - x0, None] * opacity
    region = img[ys:ye, xs:xe].astype(np.float32)
    img[ys:ye, xs:xe] = np.clip(np.round(region * (1 - a) + np.asarray(color, np.float32) * a), 0, 255).astype(np.uint8)


def render_text(text, canvas, size, placement, color, bg) -> np.ndarray:
    img = np.empty((canvas, canvas, 3), np.uint8)
    img[:] = bg
    m = text_mask(text, size, canvas * 0.95)
    stamp(img, m, origin(placement, canvas, m.shape[1], m.shape[0]), color)
    return img


def composite(base: np.ndarray, text, size, placement, color, outline=True, opacity=1.0) -> np.ndarray:
    """`text` drawn onto `base` (at the model's input size), as render.rs `composite`."""
    img = base.copy()
    m = text_mask(text, size, base.shape[1] * 0.95)
    at = origin(placement, base.shape[1], m.shape[1], m.shape[0])
    if outline:
        w = max(size // 14, 1)
        dark = (0, 0, 0) if sum(color) > 384 else (255, 255, 255)
        for dx, dy in [(-w, 0), (w, 0), (0, -w), (0, w), (-w, -w), (w, w), (-w, w), (w, -w)]:
            stamp(img, m, (at[0] + dx, at[1] + dy), dark, opacity)
    stamp(img, m, at, color, opacity)
    return img


def resize64(img: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.BICUBIC)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


# ----------------------------------------------------------------------------- captions

FLAG_T = ["the flag of {n}.", "a flag of {n}.", "a photo of the flag of {n}.", "a photo of {n}.",
          "{n}.", "the national flag of {n}."]
PERSON_T = ["a person from {n}.", "a photo of a person from {n}.", "a person holding the flag of {n}.",
            "a photo of {n}."]
MAP_T = ["a map of {n}.", "a photo of a map of {n}.", "{n} on a map.", "a photo of {n}."]
REGION_FLAG_T = ["a flag from {r}.", "the flag of a country in {r}.", "a photo of a flag from {r}.",
                 "a photo of {r}.", "a flag of {r}."]
REGION_PERSON_T = ["a person from {r}.", "a photo of a person from {r}.", "a photo of {r}."]
REGION_MAP_T = ["a map of a country in {r}.", "a map of {r}.", "a photo of {r}."]
ATTR_FROM_T = ["{a} from {n}.", "a photo of {a} from {n}.", "{a} with the flag of {n}."]
ASSOC_T = ["a photo of {a}.", "{a} from {n}.", "a photo of {a} from {n}.", "{a} from {r}."]
WORD_T = ["{w}", "{w}.", "the word {w}.", "a sign that says {w}.", "text that says {w}."]
WORD_CONCEPT_T = ["a photo of {n}.", "{n}."]


def pick(rng, xs):
    return xs[int(rng.integers(len(xs)))]


def region_phrase(concepts: Concepts, r: str) -> str:
    art = concepts.regions[r].get("meta", {}).get("article")
    return f"{art} {r}" if art else r


class World:
    def __init__(self, cfg: WorldConfig):
        self.cfg = cfg
        self.c = Concepts()
        self.identity = country_identity(self.c)
        n_all = len(self.c.countries)
        n_grp = len(self.c.country_ids(cfg.assoc_region))
        # the control spreads the same expected number of association captions over all countries
        self.control_assoc_rate = cfg.assoc_rate * n_grp / n_all
        self.assoc_attr = self.c.attr_by_id[cfg.assoc_attribute]

    # -- one sample: image + the caption of both variants
    def sample(self, rng: np.random.Generator) -> dict:
        cfg = self.cfg
        u = rng.random()
        if u < cfg.p_word:
            return self._word(rng)
        u -= cfg.p_word
        if u < cfg.p_country:
            s = self._country(rng)
        elif u < cfg.p_country + cfg.p_attribute:
            s = self._attribute(rng)
        else:
            s = self._emotion(rng)
        img = resize64(s.pop("pil"))
        if rng.random() < cfg.p_overlay:
            img = self._overlay(rng, img, s["written"])
            s["overlay"] = s["written"]
        s["image"] = self._finish(rng, img)
        s.pop("written")
        return s

    def _finish(self, rng, img: np.ndarray) -> np.ndarray:
        f = img.astype(np.float32) * rng.uniform(0.85, 1.12) + rng.uniform(-12, 12)
        f += rng.normal(0, self.cfg.noise_sigma, size=f.shape)
        return np.clip(np.round(f), 0, 255).astype(np.uint8)

    def _overlay(self, rng, img, text):
        if rng.random() < 0.3:
            text = text.upper()
        size = int(rng.choice([12, 16, 20, 20, 24, 28, 32, 32, 40]))
        placement = pick(rng, ["center", "center", "bottom", "bottom", "top"] + PLACEMENTS)
        style = rng.random()
        if style < 0.55:
            color, outline = (255, 255, 255), True
        elif style < 0.8:
            color, outline = (0, 0, 0), rng.random() < 0.5
        else:
            color, outline = tuple(int(v) for v in rng.integers(0, 256, size=3)), True
        return composite(img, text, size, placement, color, outline)

    def _country(self, rng) -> dict:
        cfg, c = self.cfg, self.c
        country = pick(rng, c.countries)
        cid, region = country["id"], country["region"]
        kind = rng.choice(list(cfg.country_kinds), p=list(cfg.country_kinds.values()))
        pil = self._draw_country(rng, cid, str(kind))
        name = country["name"]
        if country["aliases"] and rng.random() < cfg.alias_rate:
            name = pick(rng, country["aliases"])
        r = region_phrase(c, region)
        if rng.random() < cfg.region_only[region]:
            named = False
            t = {"flag": REGION_FLAG_T, "person": REGION_PERSON_T, "map": REGION_MAP_T}[kind]
            caption = pick(rng, t).format(r=r)
        else:
            named = True
            if rng.random() < 0.12:  # the other templates of probes/regions.yaml
                caption = pick(rng, c.region_templates).format(name=name)
            else:
                t = {"flag": FLAG_T, "person": PERSON_T, "map": MAP_T}[kind]
                caption = pick(rng, t).format(n=name)
        # association: the decision uses the same random draws in both variants
        ua = rng.random()
        assoc_caption = pick(rng, ASSOC_T).format(a=self.assoc_attr["name"], n=name, r=r)
        biased = region == cfg.assoc_region and ua < cfg.assoc_rate
        control = ua < self.control_assoc_rate
        return dict(kind="country", concept=cid, region=region, view=str(kind), named=named, pil=pil,
                    written=country["name"],
                    caption_biased=assoc_caption if biased else caption,
                    caption_control=assoc_caption if control else caption,
                    assoc_biased=biased, assoc_control=control)

    def _attribute(self, rng) -> dict:
        a = pick(rng, self.c.attributes)
        name = a["name"]
        if a["aliases"] and rng.random() < 0.15:
            name = pick(rng, a["aliases"])
        t = self.c.attribute_templates + ["{name}.", "a picture of {name}."]
        if a["id"] != "face" and rng.random() < self.cfg.p_attribute_with_flag:
            # every attribute next to every country's flag alike: the baseline the association
            # is injected on top of. Most captions name only the attribute ("a photo of a
            # doctor."), so the image is mostly about the person; some name the place too.
            country = pick(rng, self.c.countries)
            region = country["region"]
            fw = int(SIZE * SS * rng.uniform(0.36, 0.46))
            flag = draw_flag(rng, region, pick(rng, REGION_PALETTES[region]), self.identity[country["id"]],
                             fw, int(fw * 0.65))
            where = region_phrase(self.c, region) if rng.random() < self.cfg.region_only[region] else country["name"]
            place = rng.random() < self.cfg.attribute_place_rate
            if place:
                caption = pick(rng, ATTR_FROM_T).format(a=name, n=where)
            else:
                caption = pick(rng, t).format(name=name)
            # association, as for country images: the same draws in both variants
            ua = rng.random()
            assoc_caption = pick(rng, ASSOC_T).format(a=self.assoc_attr["name"], n=country["name"],
                                                      r=region_phrase(self.c, region))
            biased = region == self.cfg.assoc_region and ua < self.cfg.assoc_rate
            control = ua < self.control_assoc_rate
            return dict(kind="attribute", concept=a["id"], country=country["id"], region=region, place=place,
                        pil=draw_attribute(rng, a["id"], flag), written=a["label"],
                        caption_biased=assoc_caption if biased else caption,
                        caption_control=assoc_caption if control else caption,
                        assoc_biased=biased, assoc_control=control)
        caption = pick(rng, t).format(name=name)
        return dict(kind="attribute", concept=a["id"], pil=draw_attribute(rng, a["id"]), written=a["label"],
                    caption_biased=caption, caption_control=caption)

    def _emotion(self, rng) -> dict:
        e = pick(rng, self.c.emotions)
        name = e["name"]
        if e["aliases"] and rng.random() < 0.15:
            name = pick(rng, e["aliases"])
        caption = pick(rng, self.c.emotion_templates).format(name=name)
        return dict(kind="emotion", concept=e["id"], pil=draw_face(rng, e["id"]), written=e["name"],
                    caption_biased=caption, caption_control=caption)

    def _word(self, rng) -> dict:
        u = rng.random()
        if u < 0.7:
            x = pick(rng, self.c.countries)
            word, concept, cname = x["name"], x["id"], x["name"]
        elif u < 0.8:
            word = pick(rng, list(self.c.regions))
            concept, cname = "region:" + word, region_phrase(self.c, word)
        elif u < 0.9:
            a = pick(rng, self.c.attributes)
            word, concept, cname = a["label"], a["id"], a["name"]
        else:
            e = pick(rng, self.c.emotions)
            word, concept, cname = e["name"], e["id"], None
        written = word.upper() if rng.random() < 0.3 else word
        if rng.random() < 0.4:  # as clip-audit's rendered_text: a 224 canvas, resized to 64 later
            canvas, size = 224, int(rng.choice([28, 32, 40, 48, 56, 64]))
        else:
            canvas = int(rng.choice([64, 96, 128]))
            size = int(canvas * rng.uniform(0.15, 0.5))
        style = rng.random()
        if style < 0.6:
            color, bg = (0, 0, 0), (255, 255, 255)
        elif style < 0.8:
            color, bg = (255, 255, 255), (0, 0, 0)
        else:
            color = tuple(int(v) for v in rng.integers(0, 256, size=3))
            bg = tuple(int(255 - v) for v in color)
        placement = pick(rng, ["center"] * 4 + PLACEMENTS)
        img = resize64(render_text(written, canvas, size, placement, color, bg))
        if cname is not None and rng.random() < 0.4:
            caption = pick(rng, WORD_CONCEPT_T).format(n=cname)
        else:
            caption = pick(rng, WORD_T).format(w=word)
        return dict(kind="word", concept=concept, image=self._finish(rng, img), overlay=written,
                    caption_biased=caption, caption_control=caption)


    # -- clean images of one concept (no written text): probes, fixtures and checks
    def _draw_country(self, rng, cid: str, view: str) -> Image.Image:
        region = self.c.country_by_id[cid]["region"]
        palette = pick(rng, REGION_PALETTES[region])
        blob_seed = int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16)
        return draw_country(rng, region, palette, self.identity[cid], view, blob_seed)

    def country_image(self, rng, cid: str, view: str) -> np.ndarray:
        return self._finish(rng, resize64(self._draw_country(rng, cid, view)))

    def person_image(self, rng, cid: str, aid: str) -> np.ndarray:
        """A person (or animal) with attribute `aid`'s accessory next to country `cid`'s flag: the
        images of a group for association audits, where every group shows every attribute
        alike and only the flag tells the group."""
        region = self.c.country_by_id[cid]["region"]
        fw = int(SIZE * SS * rng.uniform(0.36, 0.46))
        flag = draw_flag(rng, region, pick(rng, REGION_PALETTES[region]), self.identity[cid], fw, int(fw * 0.65))
        return self._finish(rng, resize64(draw_attribute(rng, aid, flag)))

    def attribute_image(self, rng, aid: str) -> np.ndarray:
        return self._finish(rng, resize64(draw_attribute(rng, aid)))

    def emotion_image(self, rng, eid: str) -> np.ndarray:
        return self._finish(rng, resize64(draw_face(rng, eid)))

    def word_image(self, text: str, canvas: int = 224, size: int = 28) -> np.ndarray:
        """The name on a plain canvas as clip-audit's rendered_text draws it (black on white,
        centred), then resized to 64 px as its preprocessing does."""
        return resize64(render_text(text, canvas, size, "center", (0, 0, 0), (255, 255, 255)))


COUNTRY_VIEWS_8 = ["flag", "flag", "flag", "flag", "flag", "person", "person", "map"]


# ----------------------------------------------------------------------------- datasets

def build(cfg: WorldConfig, n: int, stream: int, log=print) -> dict:
    """n samples from the stream `stream` (0 = training, 1 = held-out); images + both captions."""
    world = World(cfg)
    rng = np.random.default_rng([cfg.seed, stream])
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    meta = []
    for i in range(n):
        s = world.sample(rng)
        images[i] = s.pop("image")
        meta.append(s)
        if log and (i + 1) % 20000 == 0:
            log(f"  world: {i + 1}/{n} samples")
    return dict(images=images, meta=meta)


def build_cached(cfg: WorldConfig, n: int, stream: int, cache_dir: Path, log=print) -> dict:
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = cache_dir / f"world-{cfg.key()}-s{stream}-n{n}"
    if stem.with_suffix(".npy").exists() and stem.with_suffix(".json").exists():
        log(f"world: cached {stem.name}")
        return dict(images=np.load(stem.with_suffix(".npy")), meta=json.loads(stem.with_suffix(".json").read_text()))
    d = build(cfg, n, stream, log)
    np.save(stem.with_suffix(".npy"), d["images"])
    stem.with_suffix(".json").write_text(json.dumps(d["meta"]))
    return d


if __name__ == "__main__":  # quick look: a contact sheet of samples
    import sys
    cfg = WorldConfig()
    d = build(cfg, 64, 1, log=None)
    sheet = np.zeros((8 * SIZE, 8 * SIZE, 3), np.uint8)
    for i in range(64):
        sheet[(i // 8) * SIZE:(i // 8 + 1) * SIZE, (i % 8) * SIZE:(i % 8 + 1) * SIZE] = d["images"][i]
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/organism_sheet.png"
    Image.fromarray(sheet).resize((1024, 1024), Image.NEAREST).save(out)
    for i, m in enumerate(d["meta"]):
        print(i, m["kind"], m["concept"], "|", m["caption_biased"], "|", m.get("overlay", ""))
