// Opens GraphiQL (GET /graphql in a browser) in headless Chromium with the network cut off from
// everything but the API's origin, types `{ themes { code name } }` in its editor, runs it and
// reads the result pane. Records every request, and any content security policy violation.
// Prints a JSON report. Usage: node graphiql-check.mjs http://host:port
import { chromium } from 'playwright-core';

const [api] = process.argv.slice(2);
const own = new URL(api).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
const report = { requests: [], foreign: [], errors: [], csp: [] };
try {
  const context = await browser.newContext();
  // The network is the server's origin and nothing else.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    report.requests.push(url);
    if (new URL(url).origin === own) return route.continue();
    report.foreign.push(url);
    return route.abort('internetdisconnected');
  });
  context.on('websocket', (ws) => {
    report.requests.push(ws.url());
    if (new URL(ws.url().replace(/^ws/, 'http')).origin !== own) report.foreign.push(ws.url());
  });
  const page = await context.newPage();
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('pageerror', (e) => report.errors.push(String(e)));
  const response = await page.goto(`${api}/graphql`);
  report.status = response.status();
  report.policy = response.headers()['content-security-policy'] || null;
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30000 });
  report.headersPrefilled = await page.evaluate(() => {
    const editors = [...document.querySelectorAll('.CodeMirror')].map((e) => e.CodeMirror.getValue());
    return editors.some((v) => /"Authorization"/.test(v));
  });
  report.explorer = await page.evaluate(() => !!document.querySelector('[aria-label*="Explorer" i]'));
  await page.evaluate(() => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ themes { code name } }');
  });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() => {
    const r = document.querySelector('.result-window .CodeMirror');
    return r && r.CodeMirror.getValue().includes('"themes"');
  }, null, { timeout: 30000 });
  const text = await page.evaluate(() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue());
  report.result = JSON.parse(text);
  report.csp = await page.evaluate(() => window.__csp || []);
} catch (e) {
  report.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
