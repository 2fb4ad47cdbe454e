#!/usr/bin/env python3
"""Validate JSON instances against the JSON Schemas in schemas/ (draft 2020-12).

Usage: validate.py SCHEMAS_DIR CASES_FILE

CASES_FILE holds a JSON array of {"schema": "<path under SCHEMAS_DIR>", "instance": <any JSON>}.
Prints one JSON object on stdout:
  {"schemaErrors": {"<path>": "<problem>", ...},
   "results": [{"valid": true|false, "errors": ["<path>: <message>", ...]}, ...]}
schemaErrors lists schema files that are not valid schemas or whose $id does not match their path.
Format checking covers "uuid" and "date-time" (a strict RFC 3339 checker is used when the optional
rfc3339-validator package is absent). Exit status 0 when the run completed, 2 on usage errors,
3 when the jsonschema package is missing.
"""
import datetime
import json
import pathlib
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError as error:  # pragma: no cover - reported to the Swift test
    print(f"validate.py: the jsonschema package is missing ({error}); "
          "create the venv with: python3 -m venv .venv && .venv/bin/pip install jsonschema",
          file=sys.stderr)
    sys.exit(3)

BASE = "https://biometrics.example/schemas/"
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


def format_checker():
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        @checker.checks("date-time", raises=ValueError)
        def _date_time(instance):
            if not isinstance(instance, str):
                return True
            match = RFC3339.match(instance)
            if not match:
                return False
            year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
            datetime.datetime(year, month, day, hour, minute, min(second, 59))
            return hour < 24 and minute < 60 and second < 61
    for name in ("uuid", "date-time"):
        if name not in checker.checkers:
            raise SystemExit(f"validate.py: no format checker for {name}")
    return checker


def load_schemas(root):
    schemas, problems = {}, {}
    for path in sorted(root.rglob("*.schema.json")):
        relative = path.relative_to(root).as_posix()
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            if schema.get("$id") != BASE + relative:
                problems[relative] = f"$id is {schema.get('$id')!r}, expected {BASE + relative!r}"
            if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
                problems[relative] = "$schema must be draft 2020-12"
        except Exception as error:  # noqa: BLE001 - reported, not raised
            problems[relative] = str(error).splitlines()[0]
            continue
        schemas[relative] = schema
    return schemas, problems


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1]).resolve()
    cases = json.loads(pathlib.Path(argv[2]).read_text(encoding="utf-8"))
    schemas, problems = load_schemas(root)
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in schemas.values() if "$id" in schema)
    checker = format_checker()
    validators = {}
    results = []
    for case in cases:
        name = case["schema"]
        if name not in schemas:
            results.append({"valid": False, "errors": [f"no such schema: {name}"]})
            continue
        if name not in validators:
            validators[name] = Draft202012Validator(schemas[name], registry=registry, format_checker=checker)
        errors = [f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
                  for error in validators[name].iter_errors(case["instance"])]
        results.append({"valid": not errors, "errors": errors[:5]})
    json.dump({"schemaErrors": problems, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
