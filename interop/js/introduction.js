// The wsrpc introduction's JavaScript client, run under Node with the
// unmodified @wsrpc/client from npm:
//   node introduction.js ws://127.0.0.1:8000/ws/
// Prints the same four lines as the Go example client.
'use strict';
global.WebSocket = require('ws');
const WSRPC = require('@wsrpc/client');

const RPC = new WSRPC(process.argv[2] || 'ws://127.0.0.1:8000/ws/');
RPC.addRoute('multiply', ({ x, y }) => x * y);
RPC.connect();

(async () => {
  const show = (name, v) => console.log(name + ': ' + JSON.stringify(v));
  show('subtract', await RPC.call('subtract', { a: 1, b: 9 }));
  show('kv.set', await RPC.call('kv.set', { key: 'foo', value: 'bar' }));
  show('kv.get', await RPC.call('kv.get', { key: 'foo' }));
  show('multiply_loopback', await RPC.call('multiply_loopback'));
  RPC.destroy();
  process.exit(0);
})().catch((e) => { console.error('error:', e); process.exit(1); });
