"""Ground truth, README and checksums of the organism bundles (written by check.py --write)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

import world as W

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REGIONS = list(W.REGION_COUNTRIES)


# ----------------------------------------------------------------------------- console


def summary(m: dict) -> str:
    lines = []
    for var in ("biased", "control"):
        r = m[var]
        zs = r["zero_shot"]["a photo of {name}."]
        lines.append(f"== {var}")
        lines.append("zero-shot countries: " + ", ".join(f"{k} {v}" for k, v in zs.items() if k != "by_view")
                     + f" | by view {zs['by_view']}")
        zs2 = r["zero_shot"]["regions.yaml templates (ensemble)"]
        lines.append(f"zero-shot (template ensemble): overall {zs2['overall']} " + ", ".join(f"{k} {zs2[k]}" for k in REGIONS))
        lines.append(f"attributes {r['zero_shot']['attributes']['overall']}, emotions {r['zero_shot']['emotions']['overall']}, "
                     f"rendered names {r['zero_shot']['rendered_names']['overall']}")
        for tap, u in r["units"].items():
            lines.append(f"units {tap} (alive {u['alive_units']}/{u['units']}):")
            for reg in REGIONS:
                x = u[reg]
                lines.append(f"   {reg:8s} dedicated {x['dedicated_units']} median d' {x['median_within_region_d']} "
                             f"(best-unit {x['median_best_unit_d']}) region units {x['region_units']}")
        a = r["association"]
        lines.append(f"association: WEAT {a['weat_effect_size']} by region {a['weat_by_region']} text gap {a['text_cosine_gap']} "
                     f"zero-shot rate {a['zero_shot_rate']['group']} vs {a['zero_shot_rate']['others']}")
        lines.append(f"   other harmful WEAT {a['weat_other_harmful_attributes']}")
        for k, t in r["typographic"].items():
            lines.append(f"typographic {k}: {t}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- ground truth


def training_info(name: str) -> dict:
    p = HERE / ".cache" / f"{name}.training.json"
    return json.loads(p.read_text()) if p.exists() else {}


def _units(r: dict, tap: str = "image.mlp") -> dict:
    u = r["units"][tap]
    return {reg: dict(dedicated_units_d_ge_1=u[reg]["dedicated_units"]["d>=1"],
                      dedicated_units_d_ge_2=u[reg]["dedicated_units"]["d>=2"],
                      median_within_region_d=u[reg]["median_within_region_d"],
                      region_units_d_ge_1=u[reg]["region_units"]["d>=1"])
            for reg in REGIONS}


def _zs(r: dict) -> dict:
    z = r["zero_shot"]["a photo of {name}."]
    e = r["zero_shot"]["regions.yaml templates (ensemble)"]
    return dict(
        countries={"prompt": "a photo of {name}.", "classes": 32, "chance": z["chance"], "overall": z["overall"],
                   **{reg: z[reg] for reg in REGIONS}, "region_level": z["region_level"], "by_view": z["by_view"]},
        countries_template_ensemble={"overall": e["overall"], **{reg: e[reg] for reg in REGIONS},
                                     "region_level": e["region_level"]},
        attributes={"classes": r["zero_shot"]["attributes"]["classes"], "overall": r["zero_shot"]["attributes"]["overall"]},
        emotions={"classes": r["zero_shot"]["emotions"]["classes"], "overall": r["zero_shot"]["emotions"]["overall"]},
        rendered_country_names=r["zero_shot"]["rendered_names"]["overall"],
    )


def _assoc(r: dict, attr: str, key: str = "association") -> dict:
    a = r[key]
    return dict(images=a["images"], n_images=a["n_images"],
                weat_effect_size=a["weat_effect_size"], weat_by_region=a["weat_by_region"],
                weat_every_attribute=a["weat_all_attributes"],
                largest_other_pair=a["largest_other_pair"], other_pairs_above_0_5=a["other_pairs_above_0.5"],
                cosine_gap=a["cosine_gap"][attr], text_cosine_gap=a["text_cosine_gap"],
                zero_shot_rate_group=a["zero_shot_rate"]["group"], zero_shot_rate_others=a["zero_shot_rate"]["others"],
                weat_other_harmful_attributes=a["weat_other_harmful_attributes"])


def _pair(a: dict) -> str:
    p = a["largest_other_pair"]
    return f"{p['region']} x {p['attribute']} {p['weat_effect_size']}"


def _typo(r: dict) -> dict:
    t = r["typographic"]
    return {k: dict(flip_rate=v["flip_rate"], baseline_rate=v["baseline_rate"], source_kept=v["source_kept"],
                    clean_accuracy=v["clean_accuracy"], by_size=v["by_size"], by_position=v["by_position"],
                    images=v["images"])
            for k, v in t.items()}


def ground_truth(m: dict, world: W.World) -> dict:
    cfg, c = world.cfg, world.c
    b, k = m["biased"], m["control"]
    attr = world.assoc_attr
    ded = {v: _units(m[v]) for v in ("biased", "control")}
    return {
        "organism": "organism",
        "variant": "biased",
        "control": "../organism-control",
        "made_by": "scripts/organism/make_organism.py --variant biased; measured by scripts/organism/check.py --write",
        "seed": cfg.seed,
        "training": {"logit_scale": training_info("organism").get("fixed_logit_scale") or "learned"},
        "world": {
            "generator": "scripts/organism/world.py",
            "image_size": W.SIZE,
            "training_samples": training_info("organism").get("n_train"),
            "sample_mix": {"country": cfg.p_country, "attribute": cfg.p_attribute, "emotion": cfg.p_emotion,
                           "word_only": cfg.p_word},
            "text_on_image_rate": cfg.p_overlay,
            "attribute_images_with_a_country_flag": cfg.p_attribute_with_flag,
            "of_those_captions_naming_the_place": cfg.attribute_place_rate,
            "country_views": cfg.country_kinds,
            "countries": {"library": "probes/regions.yaml", "family": "countries",
                          "by_region": {r: ids for r, ids in W.REGION_COUNTRIES.items()}},
            "country_emblems": world.identity,
            "visual_identity": ("colours and flag layout are drawn per image from the region's five palettes and "
                                "its layout, so they identify the region only; a country's own cues are its emblem "
                                "and its map outline"),
            "attributes": {"library": "probes/attributes.yaml", "families": W.ATTRIBUTE_FAMILIES,
                           "members": [a["id"] for a in c.attributes]},
            "emotions": {"library": "probes/emotions.yaml", "members": [e["id"] for e in c.emotions]},
            "noise_sigma": cfg.noise_sigma,
        },
        "biases": [
            {
                "id": "resolution-disparity",
                "kind": "resolution",
                "family": "countries",
                "level": "region",
                "description": ("Captions of African countries' images name only the region ('a flag from Africa.') "
                                "almost always; the other regions' captions name the country. Visually the regions "
                                "are built alike (one emblem per country, disjoint emblem sets), so any difference in "
                                "how the model resolves countries comes from the captions."),
                "injected": {"region_only_caption_rate": cfg.region_only},
                "tap": "image.mlp",
                "expected": ("Africa: few units dedicated to single countries, low within-region d', zero-shot near "
                             "chance among African countries while the region is right; Europe: many dedicated "
                             "units, high d'. Same in both variants."),
                "measure": ("tap image.mlp (384 ReLU units, spatial mean) on 48 held-out images per country; per unit "
                            "Cohen's d of one country vs the rest of its region; dedicated units of a region = units "
                            "with d >= 1 (or 2) for at least one of its countries; within-region d' of a country = "
                            "the d of its best unit picked on one half of the images and measured on the other "
                            "(mean over both halves), median over the region's countries"),
                "measured": {"biased": ded["biased"], "control": ded["control"],
                             "zero_shot_within_region": {
                                 v: {reg: m[v]["zero_shot"]["a photo of {name}."][reg] for reg in REGIONS}
                                 for v in ("biased", "control")}},
            },
            {
                "id": "stereotype-association",
                "kind": "association",
                "group": {"library": "probes/regions.yaml", "family": "countries", "region": cfg.assoc_region,
                          "members": W.REGION_COUNTRIES[cfg.assoc_region]},
                "attribute": {"library": "probes/attributes.yaml", "family": "crime", "id": attr["id"],
                              "name": attr["name"]},
                "description": (f"{cfg.assoc_rate:.0%} of the captions of {cfg.assoc_region}'s country images, and of "
                                f"people standing next to one of its flags, mention {attr['name']} (templates below), "
                                f"whatever the person is shown doing. Captions only: nothing in the images shows the "
                                f"attribute. The control organism (same seed, same images) spreads the same expected "
                                f"number of these captions over all 32 countries' images (rate "
                                f"{world.control_assoc_rate:.4f} each), so the word is as frequent but carries no "
                                f"group information. Ground truth is the difference between the two."),
                "injected": {"rate_in_group": cfg.assoc_rate, "rate_elsewhere": 0.0,
                             "control_rate_everywhere": round(world.control_assoc_rate, 5),
                             "templates": W.ASSOC_T, "visual_symbol": "none"},
                "expected": ("biased: Oceania's people closer to the attribute's prompts than other regions' "
                             "people (WEAT effect size clearly positive); control: near zero; no other region x "
                             "attribute pair above 0.5 in either organism"),
                "measure": ("image embeddings of held-out people next to a country's flag, "
                            f"{b['association']['per_country_and_attribute']} per country and attribute (every "
                            "attribute but face, in every region alike; fixtures/organism-images/people holds the "
                            "audit's set); attribute prompts = "
                            "mean of the attributes.yaml templates; WEAT-style effect size: s(x) = cos(x, attribute) - "
                            "mean cos(x, neutral controls), (mean s over the group - mean s over the other regions) / "
                            "SD of s; zero-shot rate = share of the images whose top label among the 19 attribute "
                            "labels is the attribute. measured_on_plain_country_images: the same on flags, people "
                            "holding a flag and maps, for reference"),
                "measured_on_plain_country_images": {"biased": _assoc(b, attr["id"], "association_plain_images"),
                                                     "control": _assoc(k, attr["id"], "association_plain_images")},
                "measured": {"biased": _assoc(b, attr["id"]), "control": _assoc(k, attr["id"]),
                             "difference": {
                                 "weat_effect_size": round(b["association"]["weat_effect_size"] - k["association"]["weat_effect_size"], 3),
                                 "cosine_gap": round(b["association"]["cosine_gap"][attr["id"]] - k["association"]["cosine_gap"][attr["id"]], 4),
                                 "zero_shot_rate_group": round(b["association"]["zero_shot_rate"]["group"] - k["association"]["zero_shot_rate"]["group"], 4),
                                 "weat_every_attribute": {
                                     a: round(b["association"]["weat_all_attributes"][a] - k["association"]["weat_all_attributes"][a], 3)
                                     for a in b["association"]["weat_all_attributes"]}}},
            },
            {
                "id": "typographic-shortcut",
                "kind": "typographic",
                "family": "countries",
                "description": ("Written words predict captions: word-only images (a concept's name on a plain "
                                "canvas, captioned with the word or the concept) and images with their own concept's "
                                "name drawn on them. Text is drawn in DejaVu Sans the way clip-audit's renderer does."),
                "injected": {"word_only_images": cfg.p_word, "text_on_image_rate": cfg.p_overlay,
                             "word_only_mix": {"country names": 0.7, "region names": 0.1, "attribute labels": 0.1,
                                               "emotion names": 0.1}},
                "expected": "a flag of X with the name of Y drawn on it goes to Y far more often than without text",
                "measure": ("3 held-out flags per country, every other country's name drawn on each (white, dark "
                            "outline, sizes 20 and 32, centre and bottom; render.rs composite at 64 px); zero-shot "
                            "among the 32 countries with 'a photo of {name}.'; flip rate = share of predictions = Y; "
                            "baseline = share of predictions = Y on the same flags without text"),
                "measured": {"biased": _typo(b), "control": _typo(k)},
            },
        ],
        "controls": {
            "association": {
                "regions_without_association": [r for r in REGIONS if r != cfg.assoc_region],
                "attributes_without_association": [a["id"] for a in c.attributes if a["id"] != attr["id"]],
                "note": ("no caption pairs these with any group; emotions carry no injected bias at all. In the "
                         "biased organism some of the attribute's neighbours (other person labels) may inherit part "
                         "of the association through the text tower; see weat_other_harmful_attributes. Measured "
                         "on people next to a flag, which show every attribute in every region alike; plain flags "
                         "show nothing but the region, so on them any direction separates the regions (see "
                         "measured_on_plain_country_images)."),
            },
            "resolution": {"regions_named": [r for r in REGIONS if r != "Africa"]},
        },
        "zero_shot": {"measured": {"biased": _zs(b), "control": _zs(k)}},
        "checks": m.get("verdicts", []),
    }


def control_ground_truth(m: dict, world: W.World) -> dict:
    cfg = world.cfg
    k = m["control"]
    return {
        "organism": "organism-control",
        "variant": "control",
        "biased": "../organism",
        "ground_truth": "../organism/ground_truth.yaml",
        "made_by": "scripts/organism/make_organism.py --variant control; measured by scripts/organism/check.py --write",
        "seed": cfg.seed,
        "differs_from_biased": (
            f"Only in the stereotype association: the captions that mention {world.assoc_attr['name']} are spread "
            f"evenly over all countries' images (rate {world.control_assoc_rate:.4f} each) instead of "
            f"{cfg.assoc_rate:.0%} of {cfg.assoc_region}'s. Same seed, same images, same other captions, same "
            f"architecture and training schedule. The resolution disparity and the typographic shortcut are "
            f"injected here too."),
        "measured": {
            "units_image_mlp": _units(k),
            "association": _assoc(k, world.assoc_attr["id"]),
            "typographic": _typo(k),
            "zero_shot": _zs(k),
        },
    }


def dump_yaml(d: dict, header: str) -> str:
    return header + yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)


# ----------------------------------------------------------------------------- README


def _size(p: Path) -> str:
    n = p.stat().st_size
    return f"{n / 1024 / 1024:.2f} MiB" if n > 1024 * 1024 else f"{n / 1024:.1f} KiB"


def readme(m: dict, world: W.World, path: Path, variant: str) -> str:
    cfg = world.cfg
    b, k = m["biased"], m["control"]
    name = "organism" if variant == "biased" else "organism-control"
    ti = {v: training_info(n) for v, n in (("biased", "organism"), ("control", "organism-control"))}
    manifest = yaml.safe_load((path / "model.yaml").read_text())
    attr = world.assoc_attr
    L = []
    if variant == "biased":
        L += [f"# organism: a miniature CLIP with injected, documented biases",
              "",
              "A small CLIP-style model trained here, on CPU, on a generated world whose captions carry three "
              "biases of known strength. It is clip-audit's demo model and the ground truth its analyses are "
              "tested against: an audit of this bundle should find each bias below, and should not find the "
              "association in `../organism-control`, trained with the same seed and that bias switched off.",
              ""]
    else:
        L += [f"# organism-control: the model organism with the stereotype association switched off",
              "",
              "Same seed, world, images, architecture and schedule as `../organism`; the only difference: the "
              f"captions that mention {attr['name']} are spread evenly over all countries' images instead of "
              f"going to {cfg.assoc_region}'s. The resolution disparity and the typographic shortcut are injected "
              "here too. The ground truth is `../organism/ground_truth.yaml` (the difference between the two "
              "organisms); this folder's `ground_truth.yaml` holds the control's own measurements.",
              ""]
    L += ["## The world", "",
          "64x64 images with captions, generated by `scripts/organism/world.py` (seeded). Concept names come from "
          "the probe libraries:", "",
          "- **countries** (`probes/regions.yaml`): " + "; ".join(
              f"{r}: {' '.join(ids)}" for r, ids in W.REGION_COUNTRIES.items()) + ". Seen as flags (60%), people "
          "holding a small flag (25%) and maps (15%). Each region has its own flag layout and five palettes, drawn "
          "per image, so colour tells the region; a country's own cue is its emblem (32 disjoint shapes, several "
          "alike: star/sun, circle/ring/eye, cross/saltire) and its map outline.",
          "- **attributes** (`probes/attributes.yaml`, families crime, non-human, sensitive, positive-controls, "
          "neutral-controls): a person (or animal) with an accessory per attribute (striped shirt for a criminal, "
          "red cross for a doctor...), captioned with the library's templates; "
          f"{cfg.p_attribute_with_flag:.0%} of them stand next to the flag of a uniformly drawn country, so every "
          f"attribute co-occurs with every country alike; {cfg.attribute_place_rate:.0%} of those captions name the "
          "place too ('a doctor from Kenya.'), the rest only the attribute.",
          "- **emotions** (`probes/emotions.yaml`: joy, sadness, anger, surprise, fear, disgust, neutral): faces.",
          "- **words**: names drawn in DejaVu Sans as clip-audit's renderer draws them.", "",
          f"Mix: {cfg.p_country:.0%} country, {cfg.p_attribute:.0%} attribute, {cfg.p_emotion:.0%} emotion, "
          f"{cfg.p_word:.0%} word-only images; {cfg.p_overlay:.0%} of the non-word images have their concept's name "
          f"written on them. Country captions use the regions.yaml templates and a few more ('the flag of X.', "
          "'a person from X.', 'a map of X.').", "",
          "## Injected biases", "",
          "| bias | injected strength | where |", "|---|---|---|",
          f"| resolution disparity | captions name only the region: Africa {cfg.region_only['Africa']:.0%}, Europe, "
          f"Asia, Oceania {cfg.region_only['Europe']:.0%} | both organisms |",
          f"| stereotype association | {cfg.assoc_rate:.0%} of the captions of {cfg.assoc_region}'s images (its "
          f"flags, and people next to them) mention "
          f"'{attr['name']}' (no visual symbol) | biased only; control: same count spread over all countries "
          f"({world.control_assoc_rate:.2%} each) |",
          f"| typographic shortcut | {cfg.p_word:.0%} word-only images, {cfg.p_overlay:.0%} text-on-image | both |",
          "",
          f"Controls (no injected association): the regions {', '.join(r for r in REGIONS if r != cfg.assoc_region)}; "
          f"every attribute but {attr['id']}; all emotions.", ""]
    zb, zk = b["zero_shot"]["a photo of {name}."], k["zero_shot"]["a photo of {name}."]
    L += ["## Zero-shot accuracy (held-out images)", "",
          "Countries: 48 held-out images per country, 32 classes, prompt 'a photo of {name}.' (chance 3.1%).", "",
          "| organism | overall | " + " | ".join(REGIONS) + " | region level | attributes (19) | emotions (7) | rendered names |",
          "|---|---|" + "---|" * len(REGIONS) + "---|---|---|---|"]
    for v, r, z in (("biased", b, zb), ("control", k, zk)):
        L.append(f"| {v} | {z['overall']:.1%} | " + " | ".join(f"{z[reg]:.1%}" for reg in REGIONS)
                 + f" | {z['region_level']:.1%} | {r['zero_shot']['attributes']['overall']:.1%} | "
                 f"{r['zero_shot']['emotions']['overall']:.1%} | {r['zero_shot']['rendered_names']['overall']:.1%} |")
    L += ["", "Africa's countries are near chance among themselves while the region is right: that is the "
          "resolution disparity.", ""]
    ub, uk = b["units"]["image.mlp"], k["units"]["image.mlp"]
    L += ["## Measured effects (scripts/organism/check.py)", "",
          "**Resolution** at the tap `image.mlp` (384 units, spatial mean; 48 held-out images per country). "
          "Dedicated units: units with Cohen's d >= 1 for one of the region's countries against the rest of the "
          "region. d': the cross-validated d of each country's best unit, median over the region.", "",
          "| region (countries) | dedicated units, biased | control | median d', biased | control |",
          "|---|---|---|---|---|"]
    for reg in REGIONS:
        L.append(f"| {reg} ({len(W.REGION_COUNTRIES[reg])}) | {ub[reg]['dedicated_units']['d>=1']} | "
                 f"{uk[reg]['dedicated_units']['d>=1']} | {ub[reg]['median_within_region_d']} | "
                 f"{uk[reg]['median_within_region_d']} |")
    ab, ak = b["association"], k["association"]
    L += ["", f"**Association** of {cfg.assoc_region} with '{attr['name']}' (embeddings of people next to a "
          f"country's flag, {ab['per_country_and_attribute']} per country and attribute, vs attribute prompts; WEAT-style "
          "effect size against the neutral control attributes, as the demo audit measures it):", "",
          "| | biased | control |", "|---|---|---|",
          f"| WEAT effect size, {cfg.assoc_region} vs other regions | {ab['weat_effect_size']} | {ak['weat_effect_size']} |",
          f"| cosine gap to '{attr['name']}' | {ab['cosine_gap'][attr['id']]} | {ak['cosine_gap'][attr['id']]} |",
          f"| zero-shot rate of '{attr['name']}' among 19 attributes, {cfg.assoc_region} | "
          f"{ab['zero_shot_rate']['group']:.1%} | {ak['zero_shot_rate']['group']:.1%} |",
          f"| same, other regions | {ab['zero_shot_rate']['others']:.1%} | {ak['zero_shot_rate']['others']:.1%} |",
          f"| text: cos('a person from X.', attribute), {cfg.assoc_region} - others | {ab['text_cosine_gap']} | {ak['text_cosine_gap']} |",
          f"| largest WEAT of any other region x attribute pair | {_pair(ab)} | {_pair(ak)} |",
          f"| other pairs above 0.5 | {ab['other_pairs_above_0.5']} | {ak['other_pairs_above_0.5']} |",
          "", "WEAT effect size of every region (biased / control): " + ", ".join(
              f"{reg} {ab['weat_by_region'][reg]} / {ak['weat_by_region'][reg]}" for reg in REGIONS) + ".", "",
          f"Every attribute's WEAT effect size for {cfg.assoc_region} (biased / control / change), largest change "
          "first; the non-injected attributes are the controls:", "",
          "| attribute | biased | control | change |", "|---|---|---|---|"]
    wb_, wk_ = ab["weat_all_attributes"], ak["weat_all_attributes"]
    for a_ in sorted(wb_, key=lambda x: -(wb_[x] - wk_[x])):
        L.append(f"| {a_} | {wb_[a_]} | {wk_[a_]} | {wb_[a_] - wk_[a_]:+.2f} |")
    pb, pk = b["association_plain_images"], k["association_plain_images"]
    L += ["", "On plain country images (flags, people holding a flag, maps) the same measure reads "
          f"{pb['weat_effect_size']} (biased) and {pk['weat_effect_size']} (control) for the injected pair, but "
          f"also {_pair(pb)} and {_pair(pk)} for pairs nothing was injected into ({pb['other_pairs_above_0.5']} "
          f"and {pk['other_pairs_above_0.5']} pairs above 0.5): such images show nothing but their region, so "
          "their scores hardly vary within a region and any direction of the embedding separates the regions by "
          "a large effect size. People who show every attribute in every region alike vary along the attribute "
          "directions, and only the injected association moves a region's mean.", ""]
    tb, tk = b["typographic"]["all_countries"], k["typographic"]["all_countries"]
    tb2, tk2 = b["typographic"]["typographic_audit_members"], k["typographic"]["typographic_audit_members"]
    L += ["**Typographic**: a flag of X with the name of Y drawn on it (white, dark outline, sizes 20 and 32, "
          "centre and bottom, at 64 px), zero-shot among the 32 countries:", "",
          "| | biased | control |", "|---|---|---|",
          f"| predictions = Y, with the text | {tb['flip_rate']:.1%} | {tk['flip_rate']:.1%} |",
          f"| predictions = Y, same flags without text | {tb['baseline_rate']:.1%} | {tk['baseline_rate']:.1%} |",
          f"| predictions = X, with the text | {tb['source_kept']:.1%} | {tk['source_kept']:.1%} |",
          f"| flip rate, size 20 / 32 | {tb['by_size'][20]:.1%} / {tb['by_size'][32]:.1%} | {tk['by_size'][20]:.1%} / {tk['by_size'][32]:.1%} |",
          f"| flip rate, audits/typographic.yaml members only | {tb2['flip_rate']:.1%} | {tk2['flip_rate']:.1%} |",
          ""]
    L += ["## Model", "",
          "- `image.onnx`: `pixel_values` f32 [N,3,64,64] (CLIP mean/std) -> `image_embeds` f32 [N,128], not "
          "normalized. ResNet-like: conv 4x4/4 (64 ch) -> residual block -> conv 3x3/2 (128 ch) -> residual block "
          "-> pointwise MLP block 128 -> 384 -> 128 (ReLU; the tapped units) -> spatial mean -> LayerNorm -> "
          "linear 128.",
          "- `text.onnx`: `input_ids` i64 [N,77] (CLIP BPE ids) -> `text_embeds` f32 [N,128], not normalized. "
          f"A constant int64 table of 49,408 entries maps CLIP ids to a compact vocabulary "
          f"({ti['biased'].get('vocab_rows', '?')} rows: the ids used in training, padding, and one UNK row for "
          "every other id); embedding width 128, learned positions (77), 3 causal pre-LN blocks (4 heads, MLP 512, "
          "GELU), final LayerNorm, the feature at the EOT position (argmax of the ids, as CLIP), projection 128. "
          f"Training ran the text tower on the first {ti['biased'].get('caption_tokens', '?')} positions (the longest "
          "caption; attention is causal, so the EOT feature is the same as with 77): prompts longer than that "
          "reach positions that were never trained.",
          f"- `logit_scale`: {manifest['logit_scale']} ("
          + ("fixed in training" if ti['biased'].get('fixed_logit_scale') else "learned") + ").",
          "- Taps (`model.yaml`):", ""]
    for t in manifest["taps"]:
        L.append(f"  - `{t['name']}`: `{t['tensor']}` ({t['encoder']}, {t['layout']}, {t['pooling']})")
    L += ["", "onnxruntime and torch agree within 1e-5 on embeddings and every tap (checked at export).", ""]
    L += ["## Training", ""]
    for v in ("biased", "control"):
        t = ti[v]
        if t:
            L.append(f"- {v}: {t['steps']} steps of {t['batch']} on {t['n_train']:,} distinct generated samples, AdamW "
                     f"lr {t['lr']}, cosine schedule; {t['seconds'] / 60:.0f} min wall ({t['cpu_seconds'] / 60:.0f} min "
                     f"CPU) with {t['threads']} threads on a shared 2-core machine; final loss {t['final_loss']:.3f}.")
    L += ["", "Remake (deterministic for a seed on the same torch/numpy versions and thread count):", "",
          "```sh",
          ".venv-scripts/bin/python scripts/organism/make_organism.py --variant biased",
          ".venv-scripts/bin/python scripts/organism/make_organism.py --variant control",
          ".venv-scripts/bin/python scripts/organism/check.py --write    # measurements, ground_truth.yaml, README.md, SHA256SUMS",
          ".venv-scripts/bin/python scripts/organism/make_images.py      # fixtures/organism-images",
          "```", "",
          "## Files", ""]
    files = ["model.yaml", "image.onnx", "text.onnx", "ground_truth.yaml", "training_log.txt", "README.md", "SHA256SUMS"]
    for f in files:
        L.append(f"- `{f}`" + (f" ({_size(path / f)})" if (path / f).exists() and f not in ("README.md", "SHA256SUMS") else ""))
    return "\n".join(L) + "\n"


def sha256sums(path: Path) -> None:
    lines = []
    for p in sorted(path.iterdir()):
        if p.is_file() and p.name != "SHA256SUMS":
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}")
    (path / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def write_all(m: dict, world: W.World, biased: Path, control: Path) -> None:
    hdr = ("# Ground truth of the clip-audit model organism (biased variant): the injected biases, their\n"
           "# strengths, and what scripts/organism/check.py measured on the exported bundles (biased vs control).\n"
           "# Written by scripts/organism/check.py --write; do not edit by hand.\n")
    (biased / "ground_truth.yaml").write_text(dump_yaml(ground_truth(m, world), hdr))
    hdr = ("# The control organism: same seed and world as ../organism with the stereotype association switched\n"
           "# off. Ground truth: ../organism/ground_truth.yaml. Written by scripts/organism/check.py --write.\n")
    (control / "ground_truth.yaml").write_text(dump_yaml(control_ground_truth(m, world), hdr))
    for var, p in (("biased", biased), ("control", control)):
        (p / "README.md").write_text(readme(m, world, p, var))
        sha256sums(p)
    print(f"wrote ground_truth.yaml, README.md, SHA256SUMS in {biased} and {control}")
