// Runs the graphql-http server audit (GraphQL-over-HTTP specification) against a URL and prints
// one JSON line per audit: {id, name, status, reason}. Used by tests/tests/graphql_http.rs.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-http-audit.mjs http://host:port/graphql');
  process.exit(2);
}
const results = [];
for (const audit of serverAudits({ url })) {
  const r = await audit.fn();
  results.push({ id: audit.id, name: r.name, status: r.status, reason: r.reason ?? null });
}
console.log(JSON.stringify(results));
