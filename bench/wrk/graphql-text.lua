-- A text search, accent- and case-insensitive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ offers(filter: { text: \\"cite minier\\" }, first: 20) { totalCount edges { node { id name slug commune { name } } } } }"}'
