"""Reads an OGC API - Features service with OWSLib: collections, then items of a collection in
a bbox. Prints JSON. Usage: ogc_client.py URL COLLECTION west,south,east,north"""
import json
import sys

from owslib.ogcapi.features import Features

url, collection, bbox = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split(",")]
api = Features(url)
conformance = api.conformance()
collections = api.collections()
items = api.collection_items(collection, bbox=bbox, limit=100)
print(json.dumps({
    "conformsTo": conformance.get("conformsTo", []),
    "collections": [c["id"] for c in collections["collections"]],
    "numberMatched": items.get("numberMatched"),
    "numberReturned": items.get("numberReturned"),
    "features": [{"id": f["id"], "name": f["properties"].get("name"), "coordinates": f["geometry"]["coordinates"] if f["geometry"]["type"] == "Point" else None} for f in items["features"]],
}))
