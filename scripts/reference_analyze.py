#!/usr/bin/env python3
"""Python reference for `clip-audit bench analyze`: the selectivity grid the usual Python way.

Why: the analysis benchmark compares clip-audit's selectivity analysis with what a researcher
would otherwise write: numpy + scipy vectorised over units, pandas for the tables. This script
reads a clip-audit run folder (store format 2: parquet parts with `<part>.acts` activations
beside them, unit-major), computes the same unit x concept grid, times reading and computing,
and can write the long table so that a test can compare it with clip-audit's
`selectivity.parquet` (same column names). It is a reference for correctness and speed, not
part of clip-audit.

What it computes. A block is (tap, selection, modality): image-tower taps with the "image" and
"rendered_text" stimuli, text-tower taps with the "prompt" stimuli (the prompts count because
clip-audit's q-values run over every block). A block's concepts are its distinct `member`
values; a block needs at least two. For every unit and concept, the concept's stimuli (n1)
against the rest of the block (n2), N = n1 + n2:

- mean, and sd with ddof=1, of the concept's responses;
- Cohen's d = (mean1 - mean2) / s_p, s_p^2 = ((n1-1) s1^2 + (n2-1) s2^2) / (N-2); NaN when a
  side has fewer than 2 stimuli or s_p is 0 or not finite;
- average ranks over the block per unit (`scipy.stats.rankdata`), U1 = R1 - n1(n1+1)/2,
  AUROC = U1 / (n1 n2);
- the two-sided Mann-Whitney p of `scipy.stats.mannwhitneyu(method="asymptotic",
  use_continuity=True)`: U = max(U1, n1 n2 - U1), z = (U - n1 n2/2 - 0.5) / sigma with
  sigma^2 = n1 n2 / 12 * ((N+1) - sum(t^3 - t) / (N(N-1))) over the unit's tie groups t,
  p = erfc(z / sqrt(2)) = 2 * norm.sf(z), clipped to [0, 1] (1 when z <= 0). clip-audit uses an
  exact permutation p when min(n1, n2) <= 8; this script warns when a block has such a group;
- Benjamini-Hochberg q over every p of every block together (statsmodels `fdr_bh`; NaN p left
  out); a (unit, concept) pair is selective when q <= --fdr and d >= --min-effect.

Reading: the store folder `store/<key>` whose key.json was modified last; parts in sorted file
name order, the first row of a repeated id kept; the stimulus tables (`stimuli*.parquet`) with
one row per (selection, id), the first; stimuli without stored activations left out.

Usage:
    .venv-scripts/bin/python scripts/reference_analyze.py RUN_DIR [--out grid.parquet]
        [--fdr 0.05] [--min-effect 0.8] [--chunk-values 25000000]
Prints `reference: read <s> s`, `reference: grid <s> s` and the counts on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import erfc
from scipy.stats import rankdata

STORE_FORMAT = 2
MAGIC = b"CLIPACTS"
# Which stimuli each tower's taps are tested on.
TOWERS = {"images": ("image", "rendered_text"), "prompts": ("prompt",)}
# Groups at most this large get an exact permutation p in clip-audit.
EXACT_MAX_GROUP = 8


class NotARun(Exception):
    """The folder is not a clip-audit run folder of store format 2."""


# ----------------------------------------------------------------------------------- reading


def find_store(run: Path) -> Path:
    if not run.is_dir():
        raise NotARun(f"{run} is not a folder")
    base = run / "store"
    keys = [p for p in base.iterdir() if (p / "key.json").is_file()] if base.is_dir() else []
    if not keys:
        raise NotARun(f"{run} has no activation store (store/<key>/key.json); run `clip-audit run SPEC --out {run}` first")
    store = max(sorted(keys), key=lambda k: (k / "key.json").stat().st_mtime)
    try:
        key = json.loads((store / "key.json").read_text())
    except (OSError, ValueError) as e:
        raise NotARun(f"{store / 'key.json'} does not read as JSON ({e})") from e
    fmt = key.get("store_format") if isinstance(key, dict) else None
    if fmt != STORE_FORMAT:
        raise NotARun(f"{store} is store format {fmt}; this script reads format {STORE_FORMAT} (activations in <part>.acts)")
    return store


def read_stimuli(run: Path) -> pd.DataFrame:
    files = sorted(p for p in run.glob("stimuli*.parquet") if p.stem == "stimuli" or p.stem.startswith("stimuli-"))
    if not files:
        raise NotARun(f"{run} has no stimulus table (stimuli*.parquet)")
    cols = ["id", "selection", "member", "modality"]
    try:
        df = pd.concat([pq.read_table(f, columns=cols).to_pandas() for f in files], ignore_index=True)
    except (OSError, KeyError, pa.ArrowException) as e:
        raise NotARun(f"the stimulus tables of {run} do not read ({e})") from e
    return df.drop_duplicates(["selection", "id"], keep="first").reset_index(drop=True)


def acts_header(path: Path) -> tuple[dict, int]:
    """The header of an activations file and where its values start; checks magic, format, length."""
    if not path.is_file():
        raise NotARun(f"{path} is missing: a format-2 store keeps each part's activations beside it")
    with open(path, "rb") as f:
        fixed = f.read(16)
        if len(fixed) < 16 or fixed[:8] != MAGIC:
            raise NotARun(f"{path} is not a clip-audit activations file (wrong magic)")
        fmt, hlen = np.frombuffer(fixed[8:16], dtype="<u4")
        if fmt != STORE_FORMAT:
            raise NotARun(f"{path} is activations format {fmt}; this script reads {STORE_FORMAT}")
        try:
            header = json.loads(f.read(int(hlen)))
        except ValueError as e:
            raise NotARun(f"{path}: its header does not read ({e})") from e
    start = 16 + int(hlen)
    expected = start + 4 * header["rows"] * sum(t["units"] for t in header["taps"])
    if path.stat().st_size != expected:
        raise NotARun(f"{path} has {path.stat().st_size} bytes where its header promises {expected}")
    return header, start


def read_table(store: Path, table: str) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """A store table: its ids (each once) and each tap's activations, `units x stimuli` float32."""
    parts = sorted((store / table).glob("*.parquet")) if (store / table).is_dir() else []
    if not parts:
        return pd.Index([], dtype=object), {}
    ids, headers = [], []
    for part in parts:
        part_ids = pq.read_table(part, columns=["id"]).column("id").to_numpy(zero_copy_only=False)
        header, start = acts_header(part.with_suffix(".acts"))
        if header["rows"] != len(part_ids):
            raise NotARun(f"{part} has {len(part_ids)} rows but its activations {header['rows']}")
        if headers and header["taps"] != headers[0][0]["taps"]:
            raise NotARun(f"{part} holds taps {header['taps']} where {parts[0]} holds {headers[0][0]['taps']}")
        ids.append(part_ids)
        headers.append((header, start))
    all_ids = pd.Series(np.concatenate(ids))
    keep = ~all_ids.duplicated(keep="first").to_numpy()
    bounds = np.cumsum([0] + [len(i) for i in ids])
    kept_per_part = [np.flatnonzero(keep[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    n = int(keep.sum())
    taps = {}
    before = 0  # values of earlier taps, per row
    for t in headers[0][0]["taps"]:
        mat = np.empty((t["units"], n), dtype=np.float32)
        at = 0
        for part, (header, start), rows in zip(parts, headers, kept_per_part):
            nrows = header["rows"]
            mm = np.memmap(part.with_suffix(".acts"), dtype="<f4", mode="r",
                           offset=start + 4 * before * nrows, shape=(t["units"], nrows))
            mat[:, at:at + len(rows)] = mm if len(rows) == nrows else mm[:, rows]
            at += len(rows)
            del mm
        taps[t["name"]] = mat
        before += t["units"]
    return pd.Index(all_ids[keep].to_numpy()), taps


# ------------------------------------------------------------------------------------ tests


def tie_term(sorted_rows: np.ndarray) -> np.ndarray:
    """sum(t^3 - t) over the tie groups of each row of a row-wise sorted array."""
    r, n = sorted_rows.shape
    starts = np.ones((r, n + 1), dtype=bool)
    starts[:, 1:n] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    pos = np.flatnonzero(starts)  # group boundaries; a row's end and the next row's start give t = 1
    t = np.diff(pos).astype(np.float64)
    return np.bincount(pos[:-1] // (n + 1), weights=t**3 - t, minlength=r)


def rest_ss(mean: np.ndarray, ss: np.ndarray, n: np.ndarray, rest_mean: np.ndarray) -> np.ndarray:
    """Sum of squares of the rest of the block about its own mean, per (unit, concept):
    sum over the other concepts j of SS_j + n_j (mean_j - rest_mean)^2 (no cancellation)."""
    r, k = mean.shape
    other = ~np.eye(k, dtype=bool)
    out = np.empty_like(ss)
    step = max(1, (1 << 22) // (k * k))
    for a in range(0, r, step):
        b = min(r, a + step)
        diff = mean[a:b, None, :] - rest_mean[a:b, :, None]  # [unit, concept, other concept]
        out[a:b] = np.where(other, ss[a:b, None, :] + n * diff * diff, 0.0).sum(axis=2)
    return out


def block_tests(acts: np.ndarray, cols: np.ndarray, labels: np.ndarray, k: int, chunk_values: int) -> dict:
    """One-vs-rest tests of each of `k` concepts for every unit (row) of `acts` over the stimuli
    `cols` (columns), `labels[i]` the concept of `cols[i]`. Arrays `units x k`."""
    order = np.argsort(labels, kind="stable")  # each concept's stimuli contiguous
    cols, labels = cols[order], labels[order]
    n = np.bincount(labels, minlength=k).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.intp)
    big_n = len(cols)
    n1, n2 = n, big_n - n
    units = acts.shape[0]
    out = {name: np.empty((units, k)) for name in ("mean", "sd", "cohen_d", "auroc", "u", "p")}
    step = max(1, chunk_values // max(big_n, 1))
    for a in range(0, units, step):
        b = min(units, a + step)
        x = acts[a:b][:, cols]  # float32 [units, stimuli]
        ranks = rankdata(x, axis=1)  # average ranks, float64
        ties = tie_term(np.sort(x, axis=1))
        x = x.astype(np.float64)
        s = np.add.reduceat(x, starts, axis=1)
        mean = s / n1
        dev = x - np.repeat(mean, n.astype(np.intp), axis=1)
        ss = np.add.reduceat(dev * dev, starts, axis=1)
        del dev, x
        rsum = np.add.reduceat(ranks, starts, axis=1)
        del ranks
        with np.errstate(divide="ignore", invalid="ignore"):
            rest_mean = (s.sum(axis=1, keepdims=True) - s) / n2
            ss2 = rest_ss(mean, ss, n, rest_mean)
            sd = np.where(n1 > 1, np.sqrt(ss / (n1 - 1)), np.nan)
            pooled = np.sqrt((ss + ss2) / (big_n - 2))
            d = (mean - rest_mean) / pooled
            d[~((n1 >= 2) & (n2 >= 2) & np.isfinite(pooled) & (pooled > 0) & np.isfinite(d))] = np.nan
            u1 = rsum - n1 * (n1 + 1) / 2
            # scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True), two-sided
            u = np.maximum(u1, n1 * n2 - u1)
            var = n1 * n2 / 12 * ((big_n + 1) - ties[:, None] / (big_n * (big_n - 1)))
            z = (u - n1 * n2 / 2 - 0.5) / np.sqrt(np.maximum(var, 0.0))
            p = np.where(z <= 0, 1.0, np.clip(erfc(z / np.sqrt(2)), 0.0, 1.0))
            p[np.isnan(z)] = np.nan
        out["mean"][a:b], out["sd"][a:b], out["cohen_d"][a:b] = mean, sd, d
        out["auroc"][a:b], out["u"][a:b], out["p"][a:b] = u1 / (n1 * n2), u1, p
    out["n"] = n.astype(np.uint32)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """statsmodels `multipletests(method="fdr_bh")` q-values; NaN p stay NaN and are not counted."""
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    pv = p[ok]
    m = pv.size
    if m == 0:
        return q
    order = np.argsort(pv, kind="stable")
    ranked = pv[order] / (np.arange(1, m + 1) / m)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    qv = np.empty(m)
    qv[order] = np.minimum(ranked, 1.0)
    q[ok] = qv
    return q


# -------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a clip-audit run folder (store format 2)")
    ap.add_argument("--out", type=Path, help="write the long unit x concept table here (parquet)")
    ap.add_argument("--fdr", type=float, default=0.05, help="false discovery rate (default 0.05)")
    ap.add_argument("--min-effect", type=float, default=0.8, help="smallest selective Cohen's d (default 0.8)")
    ap.add_argument("--chunk-values", type=int, default=25_000_000,
                    help="units x stimuli ranked at once (memory: about 40 bytes each; default 25e6)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    try:
        store = find_store(args.run)
        stimuli = read_stimuli(args.run)
        tables = {t: read_table(store, t) for t in TOWERS}
    except NotARun as e:
        print(f"reference_analyze: {e}", file=sys.stderr)
        return 1
    if not tables["images"][1] and not tables["prompts"][1]:
        print(f"reference_analyze: {store} holds no activations", file=sys.stderr)
        return 1
    read_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    blocks = []  # (tap, selection, modality, concepts, tests)
    used = set()
    for table, modalities in TOWERS.items():
        ids, taps = tables[table]
        stim = stimuli[stimuli["modality"].isin(modalities)].copy()
        stim["col"] = ids.get_indexer(stim["id"])
        stim = stim[stim["col"] >= 0]
        groups = [(key, g) for key, g in stim.groupby(["selection", "modality"], sort=False)]
        for tap in sorted(taps):
            for (selection, modality), g in groups:
                codes, concepts = pd.factorize(g["member"])
                if len(concepts) < 2:
                    continue
                n = np.bincount(codes)
                if min(n.min(), len(g) - n.max()) <= EXACT_MAX_GROUP:
                    print(f"reference_analyze: warning: {tap} / {selection} / {modality} has a group of at most "
                          f"{EXACT_MAX_GROUP} stimuli; clip-audit uses an exact p there, this script the normal "
                          "approximation", file=sys.stderr)
                tests = block_tests(taps[tap], g["col"].to_numpy(np.intp), codes, len(concepts), args.chunk_values)
                blocks.append((tap, selection, modality, list(concepts), tests))
                used.update(zip(g["selection"], g["id"]))
    all_p = np.concatenate([b[4]["p"].ravel() for b in blocks]) if blocks else np.empty(0)
    all_q = benjamini_hochberg(all_p)
    at = 0
    for b in blocks:
        size = b[4]["p"].size
        b[4]["q"] = all_q[at:at + size].reshape(b[4]["p"].shape)
        at += size
    selective = sum(int(((b[4]["q"] <= args.fdr) & (b[4]["cohen_d"] >= args.min_effect)).sum()) for b in blocks)
    grid_s = time.perf_counter() - t0

    units = sum(m.shape[0] for _, taps in tables.values() for m in taps.values())
    concepts = len({(b[1], b[2], c) for b in blocks for c in b[3]})
    print(f"reference: read  {read_s:.3f} s")
    print(f"reference: grid  {grid_s:.3f} s")
    print(f"reference: stimuli {len(used)} units {units} concepts {concepts} tests {all_p.size} "
          f"selective_pairs {selective}")

    if args.out:
        frames = []
        for tap, selection, modality, names, t in blocks:
            u, k = t["p"].shape
            frames.append(pd.DataFrame({
                "tap": tap, "selection": selection, "modality": modality,
                "concept": np.tile(np.asarray(names, dtype=object), u),
                "unit": np.repeat(np.arange(u, dtype=np.uint32), k),
                "n": np.tile(t["n"], u),
                **{c: t[c].ravel() for c in ("mean", "sd", "cohen_d", "auroc", "u", "p", "q")},
            }))
        schema = pa.schema([(c, pa.string()) for c in ("tap", "selection", "modality", "concept")]
                           + [("unit", pa.uint32()), ("n", pa.uint32())]
                           + [(c, pa.float64()) for c in ("mean", "sd", "cohen_d", "auroc", "u", "p", "q")])
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({f.name: [] for f in schema})
        pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False), args.out)
        print(f"reference: wrote {args.out} ({len(df)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
