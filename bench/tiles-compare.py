"""Compares, feature by feature, the composite tiles two servers make over the territory (z5–z16):
for each tile whose bytes differ, decodes both with mapbox-vector-tile and compares them with
shapely: features present in one only, geometries that differ, invalid geometries on each side,
and how far each polygon moved (the area of the symmetric difference over the outline's length,
in tile units of 1/4096 of the tile). Called by bench/tiles-diff.sh.
Usage: python3 bench/tiles-compare.py OLD_PORT NEW_PORT
"""
import http.client
import math
import statistics
import sys

import mapbox_vector_tile
from shapely.geometry import shape
from shapely.validation import explain_validity

W, S, E, N = 3.28, 50.28, 3.62, 50.52


def tile(lon, lat, z):
    n = 2 ** z
    la = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)


old, new = (http.client.HTTPConnection("127.0.0.1", int(p)) for p in sys.argv[1:3])


def get(conn, path):
    conn.request("GET", path)
    return conn.getresponse().read()


def features(data):
    t = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}) if data else {}
    return {
        (name, f.get("id"), i): shape(f["geometry"])
        for name, layer in t.items()
        for i, f in enumerate(sorted(layer["features"], key=lambda f: f.get("id") or 0))
    }


tiles = changed = invalid_old = invalid_new = only_one_side = 0
moved = []
for z in range(5, 17):
    (x0, y0), (x1, y1) = tile(W, N, z), tile(E, S, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            path = f"/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt?outside=true"
            a, b = get(old, path), get(new, path)
            if a == b:
                continue
            tiles += 1
            fa, fb = features(a), features(b)
            for k in set(fa) ^ set(fb):
                only_one_side += 1
                print(f"  z{z} {x}/{y}: {k} in one tile only")
            for k in fa.keys() & fb.keys():
                ga, gb = fa[k], fb[k]
                if ga.equals_exact(gb, 0):
                    continue
                changed += 1
                invalid_old += not ga.is_valid
                invalid_new += not gb.is_valid
                if ga.is_valid and not gb.is_valid:
                    print(f"  z{z} {x}/{y}: {k} valid before, now {explain_validity(gb)}")
                if ga.geom_type.endswith("Polygon"):
                    d = ga.buffer(0).symmetric_difference(gb.buffer(0)).area
                    moved.append((d / max(ga.length, 1), z, x, y, k[0]))
print(f"  {tiles} tiles differ; {changed} features differ, {only_one_side} in one tile only")
print(f"  invalid geometries among them: {invalid_old} before, {invalid_new} after")
if moved:
    moved.sort(reverse=True)
    print(f"  polygons moved by a median {statistics.median(m[0] for m in moved):.4f} units, at most:")
    for m in moved[:5]:
        print("    %.3f units, z%d %d/%d %s" % m)
