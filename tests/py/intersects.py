"""Which features of a GeoJSON FeatureCollection intersect a box, by shapely (GEOS): the
reference the API's bbox filters are checked against.

Usage: intersects.py FILE west,south,east,north   the features intersecting that box
       intersects.py FILE find                    a box that some feature's bounding box meets
                                                  while its shape does not, and the answer for it
Prints {"bbox": [w, s, e, n], "intersecting": [ids], "bbox_only": [ids]}."""
import json
import sys

from shapely.geometry import box, shape

with open(sys.argv[1], encoding="utf-8") as f:
    features = [(feat["id"], shape(feat["geometry"])) for feat in json.load(f)["features"]]


def answer(w, s, e, n):
    query = box(w, s, e, n)
    hits = sorted(i for i, g in features if g.intersects(query))
    bbox_only = sorted(i for i, g in features if not g.intersects(query) and box(*g.bounds).intersects(query))
    return {"bbox": [w, s, e, n], "intersecting": hits, "bbox_only": bbox_only}


if sys.argv[2] == "find":
    size = 0.002
    for _, g in features:
        minx, miny, maxx, maxy = g.bounds
        for x, y in [(minx, miny), (minx, maxy - size), (maxx - size, miny), (maxx - size, maxy - size)]:
            a = answer(round(x, 6), round(y, 6), round(x + size, 6), round(y + size, 6))
            if a["bbox_only"]:
                print(json.dumps(a))
                sys.exit(0)
    print(json.dumps(None))
else:
    print(json.dumps(answer(*(float(v) for v in sys.argv[2].split(",")))))
