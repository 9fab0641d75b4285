// Runs the unmodified @wsrpc/client (npm, 4.4.1) under Node against a Go
// wsrpc server and checks the behaviour a browser app relies on. Usage:
//   node interop.js ws://127.0.0.1:PORT/ws/
// Prints "ok <check>" or "FAIL <check>: <why>" per check and exits non-zero
// if any check failed. The Go test interop_test.go starts the server (with
// the introduction's routes plus a few test routes) and runs this script.
'use strict';
// ws offers permessage-deflate by default, as browsers do; the sockets are
// kept to report what was negotiated.
const sockets = [];
global.WebSocket = class extends require('ws') {
  constructor(...args) { super(...args); sockets.push(this); }
};
const WSRPC = require('@wsrpc/client');
const assert = require('node:assert/strict');

const url = process.argv[2];
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log('ok ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL ' + name + ': ' + (e && e.stack ? e.stack : JSON.stringify(e)));
  }
}

function connect() {
  const rpc = new WSRPC(url, 100000);
  rpc.addRoute('multiply', (p) => p.x * p.y);
  rpc.addRoute('js_fail', () => { throw { type: 'JSError', message: 'thrown by a JS route' }; });
  const events = [];
  rpc.addServerEventListener((ev) => events.push(ev));
  rpc.connect();
  return { rpc, events, opened: rpc.onEvent('onconnect') };
}

async function rejection(promise) {
  try {
    const v = await promise;
    throw new Error('expected a rejection, got ' + JSON.stringify(v));
  } catch (e) {
    return e;
  }
}

(async () => {
  const { rpc, events, opened } = connect();
  await opened;

  await check('introduction flow', async () => {
    assert.equal(await rpc.call('subtract', { a: 1, b: 9 }), -8);
    assert.equal(await rpc.call('kv.set', { key: 'foo', value: 'bar' }), true);
    assert.equal(await rpc.call('kv.get', { key: 'foo' }), 'bar');
    assert.equal(await rpc.call('multiply_loopback'), 200);
  });

  await check('proxy style and positional params', async () => {
    assert.equal(await rpc.proxy.subtract({ a: 10, b: 3 }), 7);
    assert.equal(await rpc.call('subtract_positional', [10, 3]), 7);
  });

  await check('kv stores any JSON value unchanged', async () => {
    const value = { nested: [1, 2.5, 'x', null, true], big: 12345678901234567 };
    assert.equal(await rpc.call('kv.set', { key: 'obj', value }), true);
    assert.deepEqual(await rpc.call('kv.get', { key: 'obj' }), value);
    assert.equal(await rpc.call('kv.get', { key: 'missing' }), null);
    assert.equal(await rpc.call('kv.get', { key: 'missing', default: 42 }), 42);
  });

  await check('unknown route error shape', async () => {
    const e = await rejection(rpc.call('no_such_route', {}));
    assert.equal(e.type, 'NotImplementedError');
    assert.match(e.message, /not implemented/);
    assert.deepEqual(Object.keys(e).sort(), ['message', 'type']);
  });

  await check('unexposed and masked members', async () => {
    let e = await rejection(rpc.call('kv.delete_all', {}));
    assert.equal(e.type, 'NotImplementedError');
    // The reference's words, then the member called.
    assert.match(e.message, /^Method not implemented: kv\.delete_all /);
    e = await rejection(rpc.call('kv.on_close', {}));
    assert.equal(e.type, 'NotImplementedError');
    e = await rejection(rpc.call('subtract.x', {}));
    assert.equal(e.type, 'NotImplementedError');
    assert.match(e.message, /not implemented/);
  });

  await check('bad params give TypeError', async () => {
    let e = await rejection(rpc.call('subtract', { a: 1 }));
    assert.equal(e.type, 'TypeError');
    e = await rejection(rpc.call('subtract', { a: 1, b: 2, zzz: 3 }));
    assert.equal(e.type, 'TypeError');
    assert.match(e.message, /zzz/);
  });

  await check('handler error type and message', async () => {
    const e = await rejection(rpc.call('fail', { message: 'custom failure' }));
    assert.equal(e.type, 'KeyError');
    assert.equal(e.message, 'custom failure');
  });

  await check('built-in ping echoes params', async () => {
    assert.deepEqual(await rpc.call('ping', { pong: 'pong' }), { pong: 'pong' });
    assert.deepEqual(await rpc.call('ping'), {});
  });

  await check('bytes are padded base64', async () => {
    assert.equal(await rpc.call('bytes'), 'AAFoZWxsbw==');
  });

  await check('100 concurrent 12 KB calls answered intact', async () => {
    const payload = 'x'.repeat(12 * 1024);
    const calls = [];
    for (let i = 0; i < 100; i++) calls.push(rpc.call('echo', { data: payload + i }));
    const results = await Promise.all(calls);
    results.forEach((r, i) => assert.equal(r, payload + i));
  });

  await check('server calls a JS route that throws', async () => {
    const r = await rpc.call('js_fail_loopback');
    assert.deepEqual(r, { type: 'JSError', message: 'thrown by a JS route' });
  });

  await check('server events reach the listener', async () => {
    events.length = 0;
    assert.equal(await rpc.call('emit_event', { topic: 'news' }), true);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(events, [{ topic: 'news' }]);
  });

  await check('keepalive pings are answered and the connection stays up', async () => {
    const before = await rpc.call('pings_answered');
    await new Promise((r) => setTimeout(r, 700));
    const after = await rpc.call('pings_answered');
    assert.ok(after >= before + 2, `pings answered went from ${before} to ${after}`);
    assert.equal(rpc.state(), 'OPEN');
  });

  // The Go test checks this line against the server's EnableCompression.
  console.log('extensions: ' + (sockets[0].extensions || 'none'));
  rpc.destroy();
  console.log(failed === 0 ? 'all checks passed' : failed + ' checks failed');
  process.exit(failed === 0 ? 0 : 1);
})().catch((e) => { console.log('FAIL setup: ' + e); process.exit(1); });
