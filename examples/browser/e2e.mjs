// The browser demo's end-to-end check in real Chromium (Debian's package,
// driven by playwright-core):
//   node e2e.mjs http://127.0.0.1:8000/ artifacts/demo.png [PROXY_URL CONTROL_URL]
// It clicks through the page in one tab, checks what the page shows, checks
// that a second tab receives the broadcast counter, and saves a screenshot
// of the first tab. With PROXY_URL (the demo behind a TCP proxy) and
// CONTROL_URL (a POST to it cuts the proxy's connections and refuses new
// ones for ?ms=), a third tab, loaded through the proxy, goes offline for a
// few seconds and must catch up the feed room's events it missed. Exit
// code 0 means every check passed.
import { chromium } from 'playwright-core';

const [url, screenshot, proxyURL, controlURL] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node e2e.mjs URL SCREENSHOT.png');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 15000;

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok   ' + what);
}

// text waits until the element's text is want (a string or a test), then
// returns it; on timeout it says what the page showed instead.
async function text(page, selector, want, what) {
  const test = typeof want === 'function' ? want : (t) => t === want;
  const deadline = Date.now() + timeout;
  let got;
  for (;;) {
    got = (await page.locator(selector).textContent()).trim();
    if (test(got)) break;
    if (Date.now() > deadline) throw new Error(`check failed: ${what}: ${selector} shows ${JSON.stringify(got)}`);
    await page.waitForTimeout(50);
  }
  console.log('ok   ' + what + ': ' + got);
  return got;
}

// open loads the page (from at, default url) in a new tab; the console
// errors that expected matches (a tab sent offline on purpose) are not
// problems.
async function open(context, name, problems, at = url, expected = null) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(expected && expected.test(m.text()))) problems.push(`${name}: console error: ${m.text()}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${name}: HTTP ${r.status()} for ${r.url()}`); });
  page.on('requestfailed', (r) => problems.push(`${name}: request failed: ${r.url()} ${r.failure()?.errorText}`));
  const res = await page.goto(at);
  check(res && res.ok(), `${name}: GET ${at} answers ${res && res.status()}`);
  await text(page, '#status', 'online', `${name}: connected`);
  return page;
}

async function snap(page) {
  await page.screenshot({ path: screenshot, fullPage: true }).then(
    () => console.log('screenshot: ' + screenshot),
    (e) => console.error('screenshot failed: ' + e.message));
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
const problems = [];
let first;
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  first = await open(context, 'tab 1', problems);
  check(await first.evaluate(() => typeof WSRPC === 'function'), 'tab 1: the global WSRPC is defined by @wsrpc/client');

  // Calls to server routes, with the results shown.
  await first.fill('#a', 'x');
  await first.fill('#b', '9');
  await first.click('#subtract');
  await text(first, '#subtract-result', "TypeError: subtract() argument 'a' must be a number, not a string", 'subtract("x", 9) shows the TypeError');
  await first.fill('#a', '1');
  await first.click('#subtract');
  await text(first, '#subtract-result', '-8', 'subtract(1, 9)');

  await first.fill('#key', 'foo');
  await first.fill('#value', 'bar');
  await first.click('#kv-set');
  await text(first, '#kv-result', 'true', 'kv.set(foo, bar)');
  await first.click('#kv-get');
  await text(first, '#kv-result', '"bar"', 'kv.get(foo)');

  // A server→browser call, answered by the page's multiply route.
  await first.click('#loopback');
  await text(first, '#loopback-result', '200', 'multiply_loopback');
  await text(first, '#multiply-calls', 'server called multiply(10, 20) → 200', 'the browser route served the server');
  await first.locator('#flow li[data-step="4"].done').waitFor();
  check(await first.locator('#flow li.done').count() === 4, 'the four steps of the loopback are shown');

  // The broadcast reaches a second tab.
  const second = await open(context, 'tab 2', problems);
  await text(first, '#tabs', '2', 'tab 1 sees two tabs online');
  await text(second, '#tabs', '2', 'tab 2 sees two tabs online');
  const before = Number(await text(second, '#counter', (t) => /^\d+$/.test(t), 'tab 2: counter before'));
  await first.click('#increment');
  await text(second, '#counter', String(before + 1), 'tab 2 received the counter tab 1 incremented');
  await text(second, '#counter-by', (t) => t.startsWith('last +1: tab '), 'tab 2 names the other tab');
  await text(first, '#counter', String(before + 1), 'tab 1 shows the same counter');
  await text(first, '#counter-by', 'last +1: this tab', 'tab 1 knows it was itself');
  const clock = await text(second, '#clock', (t) => /^\d\d:\d\d:\d\d$/.test(t), 'tab 2 shows the server clock');
  await text(second, '#clock', (t) => t !== clock, 'tab 2: the clock ticks');

  // A tab that goes offline for a few seconds catches up the feed room.
  if (proxyURL && controlURL) {
    const third = await open(context, 'tab 3', problems, proxyURL, /WebSocket|ERR_CONNECTION/);
    const feedNumber = (t) => /^#\d+$/.test(t);
    await text(third, '#feed', feedNumber, 'tab 3: the feed runs');
    const res = await fetch(controlURL + '?ms=3000', { method: 'POST' });
    check(res.ok, 'the proxy takes tab 3 offline for 3 s');
    await text(third, '#status', (t) => t !== 'online', 'tab 3 is offline');
    await text(third, '#status', 'online', 'tab 3 is back online');
    await text(third, '#feed-note', (t) => /^caught up \d+ missed events? after reconnecting$/.test(t), 'tab 3 caught up the feed it missed');
    const level = Number((await text(first, '#feed', feedNumber, 'tab 1: the feed')).slice(1));
    await text(third, '#feed', (t) => feedNumber(t) && Number(t.slice(1)) >= level, 'tab 3 is level with tab 1');
    await text(third, '#feed-gaps', '0', 'tab 3 skipped no feed number');
    await third.close();
  }

  // The picture shows both tabs online, once the last highlight has faded.
  await first.waitForTimeout(1100);
  await snap(first);
  await second.close();
  await text(first, '#tabs', '1', 'tab 1 sees the second tab leave');
  check(problems.length === 0, 'no page errors' + (problems.length ? ':\n  ' + problems.join('\n  ') : ''));
} catch (e) {
  failed = true;
  console.error('FAIL ' + (e && e.message ? e.message : e));
  if (problems.length) console.error('page problems:\n  ' + problems.join('\n  '));
  if (first) await snap(first); // what the page showed when it failed
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
