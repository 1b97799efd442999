// Opens the map page in headless Chromium (Debian's package), waits for the map to be idle,
// counts the rendered features, clicks a totem and reads its popup, and saves a screenshot.
// Prints a JSON report. Usage: node map-check.mjs http://host:port/map screenshot.png
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const report = { errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  page.on('pageerror', (e) => report.errors.push(String(e)));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const response = await page.goto(`${url}#11/50.39/3.43`);
  report.policy = response.headers()['content-security-policy'] || null;
  await page.waitForFunction(() => window.__mapIdle === true || window.__mapError, null, { timeout: 60000 });
  report.mapError = await page.evaluate(() => window.__mapError || null);
  report.rendered = await page.evaluate(() => window.__map.queryRenderedFeatures().length);
  report.layers = await page.evaluate(() => [...new Set(window.__map.queryRenderedFeatures().map((f) => f.layer.id))].sort());
  // Click the Fosse d'Arenberg totem where the map draws it.
  const point = await page.evaluate(() => {
    const f = window.__map.queryRenderedFeatures({ layers: ['totems-circle'] })
      .find((x) => x.properties.slug === 'fosse-d-arenberg');
    if (!f) return null;
    const p = window.__map.project(f.geometry.coordinates);
    return { x: p.x, y: p.y };
  });
  if (point) {
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector('.maplibregl-popup', { timeout: 10000 });
    report.popup = await page.textContent('.maplibregl-popup .popup-name');
  }
  report.csp = await page.evaluate(() => window.__csp || []);
  await page.screenshot({ path: screenshot });
} catch (e) {
  report.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
