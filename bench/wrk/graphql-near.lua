-- A typical page query: 20 offers around the Fosse d'Arenberg with their commune and themes.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ offers(filter: { near: { lat: 50.3836, lon: 3.4265, radiusMeters: 20000 } }, first: 20) { totalCount edges { cursor node { id name slug kind distanceMeters location { lat lon } commune { code name } themes { code name } } } } }"}'
