// @stomp/stompjs in Node against stompede's WebSocket listener (driven by tests/stompjs_ws.rs).
//
// Usage: node stompjs_ws.mjs ws://HOST:PORT/ws
//
// Node 20 has no global WebSocket, so the `ws` package provides it through
// stomp.js's webSocketFactory. Covers: subprotocol negotiation, subscribe,
// send (text and binary bodies), client-individual ACK, redelivery of what
// was not acknowledged, and receipts for every step. Prints OK and exits 0,
// or exits 1 naming the first deviation. Every wait is bounded.

import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const TIMEOUT_MS = 5000;
const url = process.argv[2];
if (!url) {
  console.error('usage: node stompjs_ws.mjs ws://HOST:PORT/ws');
  process.exit(2);
}
const queue = `/queue/stompjs-ws.${process.pid}.${Date.now()}`;

class Deviation extends Error {}

function check(ok, what) {
  if (!ok) throw new Deviation(what);
}

/** Everything a client reports, in arrival order; `take` waits for the first match. */
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
  }
  put(kind, value) {
    this.items.push({ kind, value });
    this.waiters.forEach(w => w());
  }
  take(kind, timeoutMs = TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const seen = this.items.map(i => i.kind).join(', ') || 'nothing';
        reject(new Deviation(`${this.name}: no ${kind} within ${timeoutMs} ms (pending: ${seen})`));
      }, timeoutMs);
      const attempt = () => {
        const i = this.items.findIndex(it => it.kind === kind);
        if (i < 0) return false;
        const [it] = this.items.splice(i, 1);
        clearTimeout(timer);
        this.waiters = this.waiters.filter(w => w !== attempt);
        resolve(it.value);
        return true;
      };
      if (!attempt()) this.waiters.push(attempt);
    });
  }
  /** The next MESSAGE, which must be the very next thing that arrived besides receipts. */
  async nextMessage() {
    const m = await this.take('MESSAGE');
    const odd = this.items.find(i => i.kind === 'ERROR');
    check(!odd, `${this.name}: ERROR from the broker: ${odd && odd.value.headers.message}`);
    return m;
  }
}

let receipts = 0;

/** Sends through `send(headers)` with a fresh receipt and waits for the RECEIPT. */
async function withReceipt(c, send) {
  const id = `r-${++receipts}`;
  c.client.watchForReceipt(id, frame => c.inbox.put(`RECEIPT:${id}`, frame));
  send({ receipt: id });
  await c.inbox.take(`RECEIPT:${id}`);
}

async function connect(name) {
  const inbox = new Inbox(name);
  const c = { inbox, socket: null };
  c.client = new Client({
    webSocketFactory: () => {
      c.socket = new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']);
      return c.socket;
    },
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: 0,
    debug: () => {},
    onConnect: f => inbox.put('CONNECTED', f),
    onStompError: f => inbox.put('ERROR', f),
    onWebSocketClose: e => inbox.put('CLOSED', e),
    onUnhandledMessage: m => inbox.put('UNHANDLED', m),
  });
  c.client.activate();
  const connected = await inbox.take('CONNECTED');
  check(connected.headers.version === '1.2', `${name}: CONNECTED version ${connected.headers.version}`);
  check(c.socket.protocol === 'v12.stomp', `${name}: negotiated subprotocol '${c.socket.protocol}'`);
  return c;
}

function subscribe(c, headers) {
  return withReceipt(c, r =>
    c.client.subscribe(queue, m => c.inbox.put('MESSAGE', m), { ...headers, ...r }));
}

async function main() {
  const producer = await connect('producer');
  const consumer = await connect('consumer');

  // A window of two unacknowledged messages, so an ACK is what lets the third through.
  await subscribe(consumer, { ack: 'client-individual', 'prefetch-count': '2' });
  const binary = new Uint8Array([0, 1, 0xff, 0, 0x7f]);
  await withReceipt(producer, r => producer.client.publish({ destination: queue, body: 'm1', headers: r }));
  await withReceipt(producer, r => producer.client.publish({ destination: queue, body: 'm2', headers: r }));
  await withReceipt(producer, r => producer.client.publish({
    destination: queue,
    binaryBody: binary,
    headers: { 'content-type': 'application/octet-stream', ...r },
  }));

  const m1 = await consumer.inbox.nextMessage();
  const m2 = await consumer.inbox.nextMessage();
  check(m1.body === 'm1' && m2.body === 'm2', `first deliveries: '${m1.body}', '${m2.body}'`);
  check(typeof m1.headers.ack === 'string', 'MESSAGE without an ack header on a client-individual subscription');

  // Acknowledge m2 only: client-individual must not take m1 with it.
  await withReceipt(consumer, r => m2.ack(r));
  const m3 = await consumer.inbox.nextMessage();
  check(
    Buffer.from(m3.binaryBody).equals(Buffer.from(binary)),
    `binary body changed: ${Buffer.from(m3.binaryBody).toString('hex')}`,
  );
  await withReceipt(consumer, r => m3.ack(r));

  // m1 is still unacknowledged: a new consumer gets it, marked redelivered, and nothing else.
  await consumer.client.deactivate();
  const again = await connect('second consumer');
  await subscribe(again, { ack: 'client-individual' });
  const redelivered = await again.inbox.nextMessage();
  check(redelivered.body === 'm1', `redelivered '${redelivered.body}', expected m1`);
  check(redelivered.headers.redelivered === 'true', 'redelivered message lacks redelivered:true');
  await withReceipt(again, r => redelivered.ack(r));
  await withReceipt(producer, r => producer.client.publish({ destination: queue, body: 'marker', headers: r }));
  const next = await again.inbox.nextMessage();
  check(next.body === 'marker', `after m1 came '${next.body}': an acknowledged message came back`);
  await withReceipt(again, r => next.ack(r));

  await again.client.deactivate();
  await producer.client.deactivate();
  console.log('OK');
}

const deadline = setTimeout(() => {
  console.error('scenario did not finish within 30 s');
  process.exit(1);
}, 30000);
main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  e => {
    console.error(e instanceof Deviation ? `deviation: ${e.message}` : e);
    process.exit(1);
  },
);
