"""Parses a Prometheus text exposition with the reference Python parser (prometheus_client.parser) and prints
{"families": [{"name", "type", "help", "samples": [{"name", "labels", "value"}]}]} as JSON. Any parse error exits 1."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        text = handle.read()
    families = []
    for family in text_string_to_metric_families(text):
        families.append({
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [
                {"name": s.name, "labels": s.labels,
                 "value": None if math.isnan(s.value) else (str(s.value) if math.isinf(s.value) else s.value)}
                for s in family.samples
            ],
        })
    json.dump({"families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
