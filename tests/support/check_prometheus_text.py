#!/usr/bin/python3
"""Checks that a file is valid Prometheus text exposition format (0.0.4) with
an independent parser (Debian's python3-prometheus-client) and the rules that
parser leaves out, then prints its samples as JSON lines for the caller to
look at: {"name": ..., "labels": {...}, "value": ...}.

    check_prometheus_text.py FILE

Exit status 1, with the reason on stderr, when the text is not valid.
"""

import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def fail(why):
    print(f"invalid exposition: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if text and not text.endswith("\n"):
        fail("the text does not end with a newline")
    typed = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary",
                                                    "untyped"):
                fail(f"line {number}: bad TYPE line {line!r}")
            if parts[2] in typed:
                fail(f"line {number}: second TYPE for {parts[2]}")
            typed[parts[2]] = parts[3]
        elif line.startswith("#") or not line:
            continue
        else:
            name = re.split(r"[{ ]", line, 1)[0]
            family = re.sub(r"_(bucket|sum|count|total)$", "", name)
            if name not in typed and family not in typed and f"{family}_total" not in typed:
                fail(f"line {number}: sample {name} before its TYPE line")
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser says why
        fail(str(e))
    for family in families:
        if not NAME.match(family.name):
            fail(f"bad metric name {family.name!r}")
        buckets = {}
        counts = {}
        for s in family.samples:
            for label in s.labels:
                if not LABEL.match(label):
                    fail(f"{s.name}: bad label name {label!r}")
            if family.type == "counter" and s.value < 0:
                fail(f"{s.name}: a counter is negative")
            if family.type == "histogram":
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                if s.name.endswith("_bucket"):
                    buckets.setdefault(key, []).append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    counts[key] = s.value
            print(json.dumps({"name": s.name, "labels": s.labels,
                              "value": None if math.isnan(s.value) else s.value}))
        for key, series in buckets.items():
            values = [v for _, v in series]
            if values != sorted(values):
                fail(f"{family.name}{dict(key)}: buckets are not cumulative")
            if series[-1][0] != math.inf or series[-1][1] != counts.get(key):
                fail(f"{family.name}{dict(key)}: the +Inf bucket is not the count")


if __name__ == "__main__":
    main()
