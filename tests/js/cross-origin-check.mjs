// A page on another origin (a port of 127.0.0.1 served here) calls the API as the website or a
// partner would, in headless Chromium (Debian's package): a GraphQL query with fetch, a mutation
// with an API key, and a MapLibre map whose style, TileJSON and tiles all come from the API.
// Prints a JSON report. Usage: node cross-origin-check.mjs http://api-host:port editor-token offer-id version
import http from 'node:http';
import { chromium } from 'playwright-core';

const [api, token, offerId, version] = process.argv.slice(2);

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>partner</title>
<link rel="stylesheet" href="${api}/assets/maplibre-gl.css">
<style>#map { width: 800px; height: 600px; }</style></head>
<body><div id="map"></div>
<script src="${api}/assets/maplibre-gl.js"></script>
<script>
const api = ${JSON.stringify(api)};
const report = { origin: location.origin };
async function graphql(query, variables, headers) {
  const r = await fetch(api + '/graphql', {
    method: 'POST',
    headers: Object.assign({ 'content-type': 'application/json', accept: 'application/graphql-response+json' }, headers || {}),
    body: JSON.stringify({ query, variables }),
  });
  return { status: r.status, etag: r.headers.get('etag'), limit: r.headers.get('ratelimit-limit'), body: await r.json() };
}
async function run() {
  try {
    const q = await graphql('{ themes { code name } }');
    report.query = { status: q.status, themes: q.body.data ? q.body.data.themes.length : null, rateLimit: q.limit };
  } catch (e) { report.query = { error: String(e) }; }
  try {
    const m = await graphql(
      'mutation($id: ID!, $v: Int!) { updateOffer(id: $id, expectedVersion: $v, input: { openingHoursText: "Ouvert selon la saison (test cross-origin)" }) { version } }',
      { id: ${JSON.stringify(offerId)}, v: ${Number(version)} },
      { authorization: 'Bearer ' + ${JSON.stringify(token)} });
    report.mutation = { status: m.status, version: m.body.data ? m.body.data.updateOffer.version : null, errors: m.body.errors || null };
  } catch (e) { report.mutation = { error: String(e) }; }
  try {
    const r = await fetch(api + '/layers/offers.geojson');
    report.layer = { status: r.status, features: (await r.json()).features.length, etag: r.headers.get('etag') };
  } catch (e) { report.layer = { error: String(e) }; }
  report.map = await new Promise((resolve) => {
    const done = (v) => resolve(v);
    try {
      const map = new maplibregl.Map({ container: 'map', style: api + '/tiles/style.json', center: [3.43, 50.39], zoom: 11 });
      const errors = [];
      map.on('error', (e) => errors.push(String(e && e.error && e.error.message || e)));
      map.on('idle', () => done({ rendered: map.queryRenderedFeatures().length, errors }));
      setTimeout(() => done({ rendered: map.loaded() ? map.queryRenderedFeatures().length : 0, errors, timeout: true }), 30000);
    } catch (e) { done({ rendered: 0, errors: [String(e)] }); }
  });
  window.__report = report;
}
run();
</script></body></html>`;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { pageErrors: [], console: [] };
try {
  const tab = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  tab.on('pageerror', (e) => out.pageErrors.push(String(e)));
  tab.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
  await tab.goto(origin + '/');
  await tab.waitForFunction(() => window.__report, null, { timeout: 60000 });
  Object.assign(out, await tab.evaluate(() => window.__report));
} catch (e) {
  out.pageErrors.push(String(e));
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(out));
