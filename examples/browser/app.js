// The browser demo's page logic. It uses only the global WSRPC that the
// unmodified @wsrpc/client defines.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const logList = $('log');

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
    while (logList.children.length > 10) logList.lastChild.remove();
  }

  function setStatus(state, text) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = text;
    document.body.dataset.state = state;
  }

  // A number when the input reads as one, else the text as it is (so the
  // server's TypeError for a non-number can be seen).
  function numberOr(text) {
    const t = text.trim();
    return t !== '' && !isNaN(Number(t)) ? Number(t) : t;
  }

  function describeError(e) {
    if (e && typeof e === 'object' && (e.type || e.message)) return (e.type || 'Error') + ': ' + e.message;
    return String(e);
  }

  // call runs one call, shows its result (or error) in output and logs it.
  async function call(output, method, params) {
    const out = $(output);
    const args = params ? JSON.stringify(params) : '';
    log('call', method + '(' + args + ')');
    out.classList.remove('error', 'fresh');
    try {
      const result = await RPC.call(method, params || {});
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
  let me = '';

  // A browser route: the server calls it through multiply_loopback.
  let multiplied = 0;
  RPC.addRoute('multiply', function (params) {
    const r = params.x * params.y;
    multiplied++;
    flow(2);
    flow(3);
    $('multiply-calls').textContent = 'server called multiply(' + params.x + ', ' + params.y + ') → ' + r +
      (multiplied > 1 ? ' (' + multiplied + ' times)' : '');
    log('served', 'the server called multiply(' + params.x + ', ' + params.y + ') → ' + r);
    return r;
  });

  // flow lights up a step of the loopback's sequence.
  function flow(step) {
    const li = document.querySelector('#flow li[data-step="' + step + '"]');
    if (li) li.classList.add('done');
  }

  function showClock(iso) {
    const d = new Date(iso);
    if (!isNaN(d)) $('clock').textContent = d.toLocaleTimeString([], { hour12: false });
  }

  function showCounter(value, by) {
    const el = $('counter');
    el.textContent = String(value);
    el.classList.remove('bump');
    void el.offsetWidth;
    el.classList.add('bump');
    if (by) $('counter-by').textContent = by === me ? 'last +1: this tab' : 'last +1: tab ' + by.slice(0, 8);
  }

  RPC.addServerEventListener(function (ev) {
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
    try {
      const s = await RPC.call('state', {});
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
    call('subtract-result', 'subtract', { a: numberOr($('a').value), b: numberOr($('b').value) });
  });
  $('kv-form').addEventListener('submit', function (e) {
    e.preventDefault();
    call('kv-result', 'kv.set', { key: $('key').value, value: $('value').value });
  });
  $('kv-get').addEventListener('click', function () {
    call('kv-result', 'kv.get', { key: $('key').value });
  });
  $('loopback').addEventListener('click', async function () {
    document.querySelectorAll('#flow li').forEach((li) => li.classList.remove('done'));
    flow(1);
    await call('loopback-result', 'multiply_loopback');
    if (!$('loopback-result').classList.contains('error')) flow(4);
  });
  $('increment').addEventListener('click', async function () {
    try {
      const n = await RPC.call('increment', {});
      log('result', 'increment → ' + n + ' (sent to every tab)');
    } catch (e) {
      log('error', 'increment failed: ' + describeError(e));
    }
  });

  RPC.connect();
})();
