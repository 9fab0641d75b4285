// The README's few lines for rooms with the unmodified @wsrpc/client: it
// follows the room "chat:1", joins it again from the last position seen on
// every reconnect (onconnect), drops what it saw already and reloads on a
// loss. Usage:
//   node rooms.js ws://127.0.0.1:PORT/ws/ TOTAL
// The Go test (rooms_test.go) emits events {"n": 1…TOTAL} to the room and
// cuts the TCP connection in the middle; this prints "ok …" once it has
// seen all of them, exactly once and in order, or "FAIL …".
'use strict';
global.WebSocket = require('ws');
const WSRPC = require('@wsrpc/client');

console.group = console.groupEnd = () => {}; // the client groups each event's log

const [url, totalArg] = process.argv.slice(2);
const total = Number(totalArg);
const rpc = new WSRPC(url, 50); // reconnect 50 ms after a close

const seen = [];
let losses = 0;
let connects = 0;
function show(ev) {
  seen.push(ev.n);
  if (ev.n === total) finish();
}
function reload() { losses++; }

// The README's lines, as they are there.
const rooms = { 'chat:1': null };          // room → last position seen
rpc.addServerEventListener((ev) => {
  const r = ev._room;
  if (!r || !(r.name in rooms)) return;     // not a room event
  const p = rooms[r.name];
  if (r.joined) {                           // the mark: where the join left us
    if (r.lost || !p || r.offset > p.offset) rooms[r.name] = { epoch: r.epoch, offset: r.offset };
    if (r.lost) reload(r.name);             // history did not reach back
    return;
  }
  if (p && p.epoch === r.epoch && r.offset <= p.offset) return;  // seen already
  rooms[r.name] = { epoch: r.epoch, offset: r.offset };
  show(ev);
});
rpc.addEventListener('onconnect', () => {
  connects++;
  for (const room in rooms) rpc.call('rooms.join', { room, since: rooms[room], marker: true }).catch(() => {});
});

function finish() {
  console.log(`connects ${connects}, events ${seen.length}, losses ${losses}`);
  const inOrder = seen.every((n, i) => n === i + 1);
  if (seen.length === total && inOrder && losses === 0) {
    console.log(`ok rooms: all ${total} events once, in order`);
    process.exit(0);
  }
  console.log(`FAIL rooms: ${seen.length} events, in order: ${inOrder}, losses: ${losses}`);
  process.exit(1);
}
setTimeout(() => {
  console.log(`FAIL rooms: timed out with ${seen.length} of ${total} events`);
  process.exit(1);
}, 30000);
rpc.connect();
