"""Expands a JSON-LD document with PyLD (a JSON-LD 1.1 processor) without any network access,
and prints the number of nodes and the @type and schema.org name of each as JSON."""
import json
import sys

from pyld import jsonld


def no_remote(url, options=None):
    raise RuntimeError(f"the document asked for a remote context: {url}")


jsonld.set_document_loader(no_remote)
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
expanded = jsonld.expand(doc)
S = "https://schema.org/"
nodes = []
for n in expanded:
    names = n.get(S + "name", [])
    nodes.append({
        "id": n.get("@id"),
        "types": n.get("@type", []),
        "names": {v.get("@language", ""): v.get("@value") for v in names},
        "has_geo": (S + "geo") in n,
        "images": [i.get(S + "license", [{}])[0].get("@value") for i in n.get(S + "image", [])],
    })
print(json.dumps({"count": len(nodes), "nodes": nodes}))
