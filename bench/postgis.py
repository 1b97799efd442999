#!/usr/bin/env python3
"""SQL that loads this API's data into PostGIS for the peers of bench/martin.sh and bench/peers.sh.

  postgis.py layer NAME FILE.geojson   a table NAME from one of the API's GeoJSON layers: the
                                       same features and properties, WGS84, a GiST index (what
                                       Martin's auto-published table sources expect)
  postgis.py offers GRAPHQL_URL        a table `graphile.offer (id, name, kind, geom)` holding what
                                       the API's `offers { id name kind geometry }` answers, page
                                       by page (what PostGraphile serves as `allOffers`; in a
                                       schema of its own, apart from the layers' `offers`)
"""
import json
import sys
import urllib.request


def q(s):
    return "'" + s.replace("'", "''") + "'"


def layer(name, path):
    features = json.load(open(path))["features"]
    keys = sorted({k for f in features for k in f["properties"]})

    def sqltype(k):
        values = [f["properties"].get(k) for f in features if f["properties"].get(k) is not None]
        if values and all(isinstance(v, bool) for v in values):
            return "boolean"
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "bigint"
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return "double precision"
        return "text"

    types = {k: sqltype(k) for k in keys}

    def lit(v, t):
        if v is None:
            return "NULL"
        if t == "boolean":
            return "TRUE" if v else "FALSE"
        if t in ("bigint", "double precision"):
            return repr(v)
        return q(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))

    cols = ", ".join(f'"{k}" {types[k]}' for k in keys)
    print(f'CREATE TABLE "{name}" (fid serial PRIMARY KEY, {cols}, geom geometry(Geometry, 4326));')
    print("BEGIN;")
    names = ", ".join(f'"{k}"' for k in keys)
    for f in features:
        values = ", ".join(lit(f["properties"].get(k), types[k]) for k in keys)
        geom = q(json.dumps(f["geometry"]))
        print(f'INSERT INTO "{name}" ({names}, geom) VALUES ({values}, ST_SetSRID(ST_GeomFromGeoJSON({geom}), 4326));')
    print("COMMIT;")
    print(f'CREATE INDEX ON "{name}" USING gist (geom); ANALYZE "{name}";')


def offers(url):
    query = "query($after: String) { offers(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id name kind geometry } } } }"
    print("CREATE SCHEMA graphile;")
    print("CREATE TABLE graphile.offer (id text PRIMARY KEY, name text NOT NULL, kind text NOT NULL, geom geometry(Geometry, 4326) NOT NULL);")
    print("BEGIN;")
    after = None
    while True:
        body = json.dumps({"query": query, "variables": {"after": after}}).encode()
        req = urllib.request.Request(url, body, {"content-type": "application/json"})
        page = json.load(urllib.request.urlopen(req))["data"]["offers"]
        for e in page["edges"]:
            n = e["node"]
            geom = q(json.dumps(n["geometry"]))
            print(f"INSERT INTO graphile.offer VALUES ({q(n['id'])}, {q(n['name'])}, {q(n['kind'])}, ST_SetSRID(ST_GeomFromGeoJSON({geom}), 4326));")
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    print("COMMIT;")
    print("CREATE INDEX ON graphile.offer USING gist (geom); ANALYZE graphile.offer;")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "layer":
        layer(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "offers":
        offers(sys.argv[2])
    else:
        sys.exit(__doc__)
