"""Validates GeoJSON files with geojson-validator (RFC 7946 structure, ring orientation, validity)
and prints {file: {"structure": ..., "invalid": ..., "problematic": ...}} as JSON."""
import json
import logging
import sys

import geojson_validator

logging.disable(logging.CRITICAL)
out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    geometries = geojson_validator.validate_geometries(doc)
    out[path] = {
        "structure": geojson_validator.validate_structure(doc, check_crs=False),
        "invalid": geometries["invalid"],
        # Holes are legitimate (a commune around another); the rest is a defect.
        "problematic": {k: v for k, v in geometries["problematic"].items() if k != "holes"},
        "types": geometries["count_geometry_types"],
    }
print(json.dumps(out))
