// The browser demo's page logic, an ES module. It uses the global WSRPC that
// the unmodified @wsrpc/client defines, typed by api.js: the module
// `wsrpc gen ts` generates from the server's rpc.discover document (api.ts,
// compiled; `go generate` in examples/browser makes both). tsc --checkJs
// --strict checks this file against them (tsconfig.json).
// @ts-check
'use strict';

import { bind, expose } from './api.js';

(function () {
  /** @type {(id: string) => string} */
  const input = (id) => /** @type {HTMLInputElement} */ ($(id)).value;
  /** @type {(id: string) => HTMLElement} */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const logList = $('log');

  /** @param {string} text @param {string} [kind] */
  function show(text, kind) {
    const banner = $('banner');
    banner.textContent = text;
    banner.dataset.kind = kind || 'error';
    banner.hidden = false;
  }

  if (typeof WSRPC !== 'function') {
    show('The JavaScript client did not load: run `npm ci` in examples/browser (or `make browser`) and reload.');
    setStatus('offline', 'no client');
    return;
  }

  // Keep entries few: the log is for people, not a record.
  /** @param {string} kind @param {string} text */
  function log(kind, text) {
    const li = document.createElement('li');
    li.dataset.kind = kind;
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = kind;
    const body = document.createElement('span');
    body.textContent = text;
    li.append(time, tag, body);
    logList.prepend(li);
    while (logList.lastChild && logList.children.length > 10) logList.lastChild.remove();
  }

  /** @param {string} state @param {string} text */
  function setStatus(state, text) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = text;
    document.body.dataset.state = state;
  }

  // A number when the input reads as one, else the text as it is (so the
  // server's TypeError for a non-number can be seen).
  /** @param {string} text @returns {number | string} */
  function numberOr(text) {
    const t = text.trim();
    return t !== '' && !isNaN(Number(t)) ? Number(t) : t;
  }

  /** @param {any} e an error reply ({type, message}) or anything thrown */
  function describeError(e) {
    if (e && typeof e === 'object' && (e.type || e.message)) return (e.type || 'Error') + ': ' + e.message;
    return String(e);
  }

  /**
   * call runs one call, shows its result (or error) in output and logs it.
   * @param {string} output the id of the element showing the result
   * @param {string} method the method's name, for the log
   * @param {object | undefined} params the params, for the log
   * @param {() => Promise<unknown>} run makes the call through the typed API
   */
  async function call(output, method, params, run) {
    const out = $(output);
    const args = params ? JSON.stringify(params) : '';
    log('call', method + '(' + args + ')');
    out.classList.remove('error', 'fresh');
    try {
      const result = await run();
      out.textContent = JSON.stringify(result);
      log('result', method + ' → ' + JSON.stringify(result));
    } catch (e) {
      out.textContent = describeError(e);
      out.classList.add('error');
      log('error', method + ' failed: ' + describeError(e));
    }
    void out.offsetWidth; // restart the highlight animation
    out.classList.add('fresh');
  }

  const wsURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/';
  $('ws-url').textContent = wsURL;
  const RPC = new WSRPC(wsURL, 2000);
  const api = bind(RPC); // every call below is typed by api.ts
  let me = '';

  // The page's route, which the server's document declares (PeerRoutes):
  // the server calls it through multiply_loopback.
  let multiplied = 0;
  expose(RPC, {
    multiply(params) {
      const r = params.x * params.y;
      multiplied++;
      flow(2);
      flow(3);
      $('multiply-calls').textContent = 'server called multiply(' + params.x + ', ' + params.y + ') → ' + r +
        (multiplied > 1 ? ' (' + multiplied + ' times)' : '');
      log('served', 'the server called multiply(' + params.x + ', ' + params.y + ') → ' + r);
      return r;
    },
  });

  // flow lights up a step of the loopback's sequence.
  /** @param {number} step */
  function flow(step) {
    const li = document.querySelector('#flow li[data-step="' + step + '"]');
    if (li) li.classList.add('done');
  }

  /** @param {string} iso */
  function showClock(iso) {
    const d = new Date(iso);
    if (!isNaN(d.getTime())) $('clock').textContent = d.toLocaleTimeString([], { hour12: false });
  }

  /** @param {number} value @param {string} [by] */
  function showCounter(value, by) {
    const el = $('counter');
    el.textContent = String(value);
    el.classList.remove('bump');
    void el.offsetWidth;
    el.classList.add('bump');
    if (by) $('counter-by').textContent = by === me ? 'last +1: this tab' : 'last +1: tab ' + by.slice(0, 8);
  }

  // The feed room: events with a position ("_room"), which this tab joins
  // again from the last one it saw after every reconnect, so that it gets
  // what it missed, once and in order (the README's few lines for rooms).
  /** @type {Record<string, {epoch: string, offset: number} | null>} */
  const rooms = { feed: null }; // room → last position seen
  let feedLast = 0; // the last feed number shown
  let gaps = 0; // feed numbers skipped: 0 unless history was lost
  let replayed = 0; // feed events received since this connection's join, before its mark

  /** @param {any} ev an event with a "_room" member @returns {boolean} whether it was one */
  function roomEvent(ev) {
    const r = ev && ev._room;
    if (!r || !(r.name in rooms)) return false;
    const p = rooms[r.name];
    if (r.joined) { // the mark: where the join left this tab
      if (r.lost || !p || r.offset > p.offset) rooms[r.name] = { epoch: r.epoch, offset: r.offset };
      if (r.lost) {
        $('feed-note').textContent = 'history lost: the feed starts again';
        log('info', 'the feed history did not reach back');
      } else if (replayed > 0) {
        $('feed-note').textContent = 'caught up ' + replayed + ' missed event' + (replayed > 1 ? 's' : '') + ' after reconnecting';
        log('info', 'caught up ' + replayed + ' missed feed events');
      }
      replayed = -1; // live from here
      return true;
    }
    if (p && p.epoch === r.epoch && r.offset <= p.offset) return true; // seen already
    rooms[r.name] = { epoch: r.epoch, offset: r.offset };
    if (replayed >= 0) replayed++;
    if (feedLast && ev.n !== feedLast + 1) gaps++;
    feedLast = ev.n;
    $('feed').textContent = '#' + ev.n;
    $('feed-gaps').textContent = String(gaps);
    return true;
  }

  RPC.addServerEventListener(function (ev) {
    if (roomEvent(ev)) return;
    switch (ev && ev.type) {
      case 'tick':
        showClock(ev.time);
        break;
      case 'counter':
        showCounter(ev.value, ev.by);
        if (ev.by !== me) log('event', 'another tab set the counter to ' + ev.value);
        break;
      case 'tabs':
        $('tabs').textContent = String(ev.count);
        break;
      default:
        log('event', JSON.stringify(ev));
    }
  });

  RPC.addEventListener('onconnect', async function () {
    setStatus('online', 'online');
    $('banner').hidden = true;
    replayed = 0;
    for (const room in rooms) {
      api.rooms.join({ room, since: rooms[room] || undefined, marker: true })
        .catch((e) => log('error', 'joining ' + room + ' failed: ' + describeError(e)));
    }
    try {
      const s = await api.state();
      me = s.you;
      $('you').textContent = me.slice(0, 8);
      $('you').title = me;
      $('counter').textContent = String(s.counter);
      $('tabs').textContent = String(s.tabs);
      showClock(s.time);
      log('info', 'connected as tab ' + me.slice(0, 8));
    } catch (e) {
      log('error', 'state failed: ' + describeError(e));
    }
  });
  RPC.addEventListener('onclose', function () {
    if (document.body.dataset.state === 'online') log('info', 'disconnected; reconnecting…');
    setStatus('offline', 'reconnecting…');
  });

  $('subtract-form').addEventListener('submit', function (e) {
    e.preventDefault();
    // A text that is not a number is sent as it is, on purpose: the page
    // shows the server's TypeError for it.
    const params = { a: /** @type {number} */ (numberOr(input('a'))), b: /** @type {number} */ (numberOr(input('b'))) };
    call('subtract-result', 'subtract', params, () => api.subtract(params));
  });
  $('kv-form').addEventListener('submit', function (e) {
    e.preventDefault();
    const params = { key: input('key'), value: input('value') };
    call('kv-result', 'kv.set', params, () => api.kv.set(params));
  });
  $('kv-get').addEventListener('click', function () {
    const params = { key: input('key') };
    call('kv-result', 'kv.get', params, () => api.kv.get(params));
  });
  $('loopback').addEventListener('click', async function () {
    document.querySelectorAll('#flow li').forEach((li) => li.classList.remove('done'));
    flow(1);
    await call('loopback-result', 'multiply_loopback', undefined, () => api.multiply_loopback());
    if (!$('loopback-result').classList.contains('error')) flow(4);
  });
  $('increment').addEventListener('click', async function () {
    try {
      const n = await api.increment();
      log('result', 'increment → ' + n + ' (sent to every tab)');
    } catch (e) {
      log('error', 'increment failed: ' + describeError(e));
    }
  });

  RPC.connect();
})();
