"""Writes N DATAtourisme objects for the import benchmarks: copies of the six real test objects
(tests/fixtures/datatourisme) under fictional ids and names, each copy with opening hours of its
own (the minutes of its opening times and the years of its periods moved), so that no copy's
opening hours are those of another and every object costs what a real one would.
With EVERY, every EVERY-th object has a later `lastUpdateDatatourisme` and another name (an
export of the next day); the others are byte for byte those written without it.
Usage: python3 bench/objects.py FOLDER N [EVERY]
"""
import glob
import json
import os
import re
import sys

out, n = sys.argv[1], int(sys.argv[2])
every = int(sys.argv[3]) if len(sys.argv) > 3 else 0
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "datatourisme")
real = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(src, "*.json")))]
os.makedirs(out, exist_ok=True)
TIME = re.compile(r"^(\d\d):(\d\d)")
DATE = re.compile(r"^(\d{4})(-\d\d-\d\d)")


def as_list(v):
    return v if isinstance(v, list) else [] if v is None else [v]


def own_hours(o, copy):
    """Moves the minutes of opening times to `copy % 60` and the years of periods by `copy // 60`."""
    minute, years = copy % 60, copy // 60
    for place in as_list(o.get("isLocatedAt")):
        for spec in as_list(place.get("schema:openingHoursSpecification")):
            for key in ("schema:opens", "schema:closes"):
                if isinstance(spec.get(key), str):
                    spec[key] = TIME.sub(lambda m: f"{m.group(1)}:{minute:02d}", spec[key])
            for key in ("schema:validFrom", "schema:validThrough"):
                v = spec.get(key)
                if isinstance(v, str) and "-02-29" not in v:
                    spec[key] = DATE.sub(lambda m: f"{int(m.group(1)) + years}{m.group(2)}", v)


for i in range(n):
    o = json.loads(json.dumps(real[i % len(real)]))
    o["@id"] = f"https://data.datatourisme.fr/bench/fictif-{i}"
    o["dc:identifier"] = f"fictif-{i}"
    o["rdfs:label"] = {"fr": [f"Objet fictif n°{i} (essai de charge)"]}
    own_hours(o, i // len(real))
    if every and i % every == 0:
        o["lastUpdateDatatourisme"] = "2030-01-01T00:00:00Z"
        o["rdfs:label"] = {"fr": [f"Objet fictif n°{i} (essai de charge, le lendemain)"]}
    json.dump(o, open(os.path.join(out, f"{i:05d}.json"), "w"))
