#!/usr/bin/env python3
"""Generate assets/world/countries-110m.json, the country outlines of the HTML report's map.

What: every Natural Earth admin-0 country at 1:110m as one SVG path string, projected
equirectangularly onto a 720 x 360 box (x = (lon + 180) / 360 * 720, y = (90 - lat) / 180 * 360),
keyed by ISO 3166-1 alpha-2 in lower case ("fr"), the ids of probes/regions.yaml's countries.

Why: the report's resolution map (src/report/html.rs, world_map) fills each member's country
by its statistic. The report is one self-contained file, so the outlines are embedded in the
binary (src/report/world.rs, include_str!) rather than fetched; this script makes them from
the published TopoJSON with the standard library only, deterministically (sorted keys, fixed
rounding), so re-running it on the same package reproduces the file byte for byte.

Source: the npm package world-atlas 2.0.2 (ISC, Mike Bostock), countries-110m.json, which is
Natural Earth's "Admin 0 - Countries" at 1:110m (public domain) as TopoJSON: shared borders
are arcs, each a list of delta-encoded quantized positions, turned back into degrees by the
topology's transform.

Keys: world-atlas keys features by ISO 3166-1 numeric code. The numeric -> alpha-2 table comes
from probes/regions.yaml (the UN M49 code of each of its 195 countries is its ISO numeric
code), plus OTHER_TERRITORIES below for the territories Natural Earth draws that are not UN
members or observers. Three features have no ISO code (Kosovo, N. Cyprus, Somaliland); they
are kept, under their Natural Earth names, as unkeyed background shapes, so the map has no
holes where they are.

Each country carries its bounding box ([x0, y0, x1, y1] in box units): the report draws a
member as its country only when the member's own coordinates fall in that box, so a member
whose id merely looks like a country code (a US state "in") is not painted over India.

Shapes: each arc is simplified once (Douglas-Peucker, SIMPLIFY_TENTHS in tenths of a box
unit, arc ends kept), so neighbours still share exactly the same border; coordinates are
rounded to 0.1 (0.05 degrees), the first point of a ring absolute and the rest relative.
world-atlas 2 does not cut shapes at the antimeridian (Fiji, Russia's Chukotka and Wrangel
Island cross it; Antarctica goes round the south pole): rings are unwrapped there and cut
into the box, Antarctica closed along its bottom edge.
Holes (Lesotho in South Africa) are rings of the same path: draw with fill-rule="evenodd".

Run:
  cd /tmp && npm pack world-atlas@2.0.2                       # world-atlas-2.0.2.tgz
  python3 scripts/make_world_shapes.py /tmp/world-atlas-2.0.2.tgz           # writes the asset
  python3 scripts/make_world_shapes.py /tmp/world-atlas-2.0.2.tgz --check   # exit 1 if it differs
The argument may also be an unpacked countries-110m.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "world" / "countries-110m.json"
REGIONS = ROOT / "probes" / "regions.yaml"
VERSION = "2.0.2"
WIDTH, HEIGHT = 720, 360
# Douglas-Peucker tolerance in tenths of a box unit (a box unit is half a degree).
SIMPLIFY_TENTHS = 1.5
# The box's width in tenths: 360 degrees of longitude.
FULL = WIDTH * 10

# Territories in Natural Earth's 110m countries that are not among regions.yaml's 195 UN
# members and observers: ISO 3166-1 numeric -> alpha-2.
OTHER_TERRITORIES = {
    "010": "aq",  # Antarctica
    "158": "tw",  # Taiwan
    "238": "fk",  # Falkland Islands
    "260": "tf",  # French Southern Territories
    "304": "gl",  # Greenland
    "540": "nc",  # New Caledonia
    "630": "pr",  # Puerto Rico
    "732": "eh",  # Western Sahara
}


def read_topology(source: Path) -> dict:
    """countries-110m.json from the npm tarball (checking its version) or as a file."""
    if source.suffix in (".tgz", ".gz"):
        with tarfile.open(source) as tar:
            package = json.load(tar.extractfile("package/package.json"))
            if package.get("version") != VERSION:
                sys.exit(f"{source}: world-atlas {package.get('version')}, expected {VERSION}")
            return json.load(tar.extractfile("package/countries-110m.json"))
    return json.loads(source.read_text(encoding="utf-8"))


def numeric_to_alpha2() -> dict[str, str]:
    """ISO numeric (= M49) -> alpha-2 of the countries family of probes/regions.yaml."""
    text = REGIONS.read_text(encoding="utf-8")
    family = text.split("\n  - id: countries\n", 1)[1].split("\n  - id: ", 1)[0]
    table = {}
    for member in family.split("\n      - id: ")[1:]:
        alpha2 = member.split("\n", 1)[0].strip().strip('"')  # "no": YAML would read a bare no as false
        m49 = re.search(r'^\s+m49: "(\d{3})"$', member, re.M)
        if m49 is None:
            sys.exit(f"{REGIONS}: member {alpha2} has no m49 code")
        table[m49.group(1)] = alpha2
    if len(table) != 195:
        sys.exit(f"{REGIONS}: read {len(table)} countries, expected 195")
    for numeric, alpha2 in OTHER_TERRITORIES.items():
        table.setdefault(numeric, alpha2)
    return table


def decode_arcs(topology: dict) -> list[list[tuple[int, int]]]:
    """Every arc as projected points in integer tenths of a box unit, unwrapped: a step across
    the antimeridian goes on past the box's edge (x < 0 or x > 7200) instead of jumping back."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        qx = qy = 0
        points: list[tuple[int, int]] = []
        for dx, dy in arc:
            qx, qy = qx + dx, qy + dy
            lon, lat = qx * sx + tx, qy * sy + ty
            x = round((lon + 180) / 360 * WIDTH * 10)
            y = round((90 - lat) / 180 * HEIGHT * 10)
            if points:
                x += FULL * round((points[-1][0] - x) / FULL)
            if not points or points[-1] != (x, y):
                points.append((x, y))
        arcs.append(simplify(points))
    return arcs


def simplify(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Douglas-Peucker keeping both ends; a closed arc is split at its farthest point first,
    so an island keeps at least three corners."""
    if len(points) < 3:
        return points
    if points[0] == points[-1]:
        x0, y0 = points[0]
        far = max(range(1, len(points) - 1), key=lambda i: (points[i][0] - x0) ** 2 + (points[i][1] - y0) ** 2)
        return simplify(points[: far + 1])[:-1] + simplify(points[far:])
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = points[a], points[b]
        length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        best, far = -1.0, -1
        for i in range(a + 1, b):
            px, py = points[i]
            if length == 0:
                dist = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                dist = abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
            if dist > best:
                best, far = dist, i
        if far > 0 and best > SIMPLIFY_TENTHS:
            keep[far] = True
            stack += [(a, far), (far, b)]
    return [p for p, k in zip(points, keep) if k]


def ring(arcs: list[list[tuple[int, int]]], indices: list[int]) -> list[tuple[int, int]]:
    """A ring's points from its arcs (~i: arc i reversed), each arc shifted by whole turns to
    start where the last one ends, so a ring crossing the antimeridian stays in one piece."""
    points: list[tuple[int, int]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        if points:
            shift = points[-1][0] - arc[0][0]
            points += [(x + shift, y) for x, y in arc[1:]]
        else:
            points += arc
    if points and points[-1][0] != points[0][0]:
        # Around a pole (Antarctica): the ring ends a whole turn east or west of where it
        # started; close it along the box's edge at that pole.
        pole = HEIGHT * 10 if sum(y for _, y in points) > len(points) * HEIGHT * 5 else 0
        points += [(points[-1][0], pole), (points[0][0], pole)]
    while len(points) > 1 and points[-1] == points[0]:
        points.pop()
    return points


def in_box(points: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """A ring cut into the box: each turn's worth of it clipped to 0 <= x <= 7200 and moved
    into the box (Sutherland-Hodgman, one vertical edge at a time)."""

    def clip(points: list[tuple[int, int]], edge: int, inside) -> list[tuple[int, int]]:
        out = []
        for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1]):
            if inside(ax):
                out.append((ax, ay))
            if inside(ax) != inside(bx) and ax != bx:
                out.append((edge, round(ay + (by - ay) * (edge - ax) / (bx - ax))))
        return [p for i, p in enumerate(out) if p != out[i - 1]] if len(out) > 1 else out

    xs = [x for x, _ in points]
    pieces = []
    for turn in range(min(xs) // FULL, (max(xs) - 1) // FULL + 1):
        moved = [(x - turn * FULL, y) for x, y in points]
        piece = clip(clip(moved, 0, lambda x: x >= 0), FULL, lambda x: x <= FULL)
        if len(piece) >= 3:
            pieces.append(piece)
    return pieces


def number(tenths: int) -> str:
    """Tenths as SVG path text: 12.3, -0.5, 7."""
    sign = "-" if tenths < 0 else ""
    whole, frac = divmod(abs(tenths), 10)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac}"


def path(rings: list[list[tuple[int, int]]]) -> str:
    """Rings as one path: an absolute moveto, then relative linetos, closed."""
    parts = []
    for points in rings:
        if len(points) < 3:
            continue
        (x, y), rest = points[0], points[1:]
        text = f"M{number(x)} {number(y)}l"
        for i, (px, py) in enumerate(rest):
            for j, value in enumerate((number(px - x), number(py - y))):
                # A minus sign separates numbers by itself.
                text += value if (i == 0 and j == 0) or value.startswith("-") else " " + value
            x, y = px, py
        parts.append(text + "z")
    return "".join(parts)


def bounds(pieces: list[list[tuple[int, int]]]) -> list[float]:
    """[x0, y0, x1, y1] of the pieces, in box units."""
    xs = [x for piece in pieces for x, _ in piece]
    ys = [y for piece in pieces for _, y in piece]
    return [min(xs) / 10, min(ys) / 10, max(xs) / 10, max(ys) / 10]


def shapes(topology: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """(alpha-2 -> {bounds, d}, Natural Earth name -> d for the features without a code)."""
    arcs = decode_arcs(topology)
    alpha2_of = numeric_to_alpha2()
    keyed, unkeyed = {}, {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        kind = geometry["type"]
        polygons = {"Polygon": [geometry.get("arcs", [])], "MultiPolygon": geometry.get("arcs", [])}.get(kind)
        if polygons is None:
            sys.exit(f"unexpected geometry {kind} for {geometry['properties']['name']}")
        pieces = [piece for polygon in polygons for r in polygon for piece in in_box(ring(arcs, r))]
        d = path(pieces)
        if not d:
            continue
        numeric = geometry.get("id")
        if numeric is None:
            unkeyed[geometry["properties"]["name"]] = d
        elif numeric in alpha2_of:
            key = alpha2_of[numeric]
            if key in keyed:
                sys.exit(f"two features for {key}")
            keyed[key] = {"bounds": bounds(pieces), "d": d}
        else:
            sys.exit(f"no alpha-2 for ISO numeric {numeric} ({geometry['properties']['name']})")
    return keyed, unkeyed


def render(keyed: dict[str, dict], unkeyed: dict[str, str]) -> str:
    """The asset: one shape a line, keys sorted, so a diff shows what changed."""

    def block(items: dict) -> str:
        text = {k: json.dumps(v, separators=(", ", ": ")) for k, v in items.items()}
        return ",\n".join(f"    {json.dumps(k)}: {text[k]}" for k in sorted(items))

    head = {
        "source": f"Natural Earth admin-0 countries 1:110m (public domain) via world-atlas {VERSION} "
        "(ISC); made by scripts/make_world_shapes.py",
        "projection": "equirectangular: x = (lon + 180) / 360 * width, y = (90 - lat) / 180 * height",
        "width": WIDTH,
        "height": HEIGHT,
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    return (
        "{\n"
        + "\n".join(lines)
        + '\n  "countries": {\n'
        + block(keyed)
        + '\n  },\n  "unkeyed": {\n'
        + block(unkeyed)
        + "\n  }\n}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path, help="world-atlas-2.0.2.tgz or its countries-110m.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed asset differs")
    args = parser.parse_args()
    keyed, unkeyed = shapes(read_topology(args.source))
    text = render(keyed, unkeyed)
    json.loads(text)  # what the Rust side reads must be JSON
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.relative_to(ROOT)} is {'current' if same else 'out of date'}")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(keyed)} countries, {len(unkeyed)} unkeyed, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
