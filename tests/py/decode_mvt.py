"""Decodes a Mapbox Vector Tile with mapbox-vector-tile (not the encoder under test), in raw tile
coordinates with y pointing down, and prints layers, features and the signed area of every
polygon ring (the surveyor's formula on the raw integers) as JSON."""
import json
import sys

import mapbox_vector_tile


def area(ring):
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1])) / 2.0


with open(sys.argv[1], "rb") as f:
    data = f.read()
tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
out = {}
for name, layer in tile.items():
    features = []
    for feat in layer["features"]:
        g = feat["geometry"]
        polygons = []
        if g["type"] == "Polygon":
            polygons = [g["coordinates"]]
        elif g["type"] == "MultiPolygon":
            polygons = g["coordinates"]
        features.append({
            "id": feat.get("id"),
            "type": g["type"],
            "coordinates": g["coordinates"],
            "properties": feat["properties"],
            "ring_areas": [[area([tuple(p) for p in ring]) for ring in poly] for poly in polygons],
        })
    out[name] = {"extent": layer["extent"], "version": layer.get("version"), "features": features}
print(json.dumps(out))
