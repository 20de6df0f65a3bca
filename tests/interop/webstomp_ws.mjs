// Interop scenario for webstomp-client over WebSocket (the `ws` package as
// Node's WebSocket) against the broker's listener at ws://HOST:PORT/ws.
//
// Usage: node webstomp_ws.mjs HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)
//
// webstomp-client picks its STOMP version from the WebSocket subprotocol the
// server chose, so only `v1X.stomp` for VERSION is offered. It reads frames
// as text and splits them at every NUL before looking at content-length, so
// it cannot receive a body with a NUL (nor one that is not UTF-8): the NUL
// body is sent to /queue/interop.webstomp.VERSION.binary, which
// tests/interop_ws.rs drains and checks byte for byte. Its disconnect()
// closes the socket right after DISCONNECT, so that receipt cannot be read
// (the broker's metrics show the DISCONNECT). Exits non-zero with a message
// on the first deviation; every wait is bounded.

import { Deviation, Inbox, TIMEOUT_MS, check, requirePackage, runMain, step } from './inbox.mjs';

requirePackage('webstomp-client', '1.2.6');
requirePackage('ws', '8.23.0');
const { default: webstomp } = await import('webstomp-client');
const { default: WebSocket } = await import('ws');

const [host, portText, login, passcode, version] = process.argv.slice(2);
if (!['1.0', '1.1', '1.2'].includes(version)) {
  console.error('usage: webstomp_ws.mjs HOST PORT LOGIN PASSCODE VERSION');
  process.exit(2);
}
const url = `ws://${host}:${portText}/ws`;
const subprotocol = `v1${version.slice(2)}.stomp`;
const queue = `/queue/interop.webstomp.${version}`;
const topic = `/topic/interop.webstomp.${version}`;
/** What the NUL body is, byte for byte (tests/interop_ws.rs checks the same). */
const NUL_BODY = '\0bin\0ary\0';

/** A connected-or-refused client whose every callback lands in `inbox`. */
function connect(inbox, pass) {
  const stats = { pongs: 0 };
  const ws = new WebSocket(url, [subprotocol]);
  const client = webstomp.over(ws, { heartbeat: { outgoing: 1000, incoming: 1000 }, protocols: [subprotocol] });
  client.debug = line => {
    if (line === '<<< PONG') stats.pongs += 1;
  };
  client.onreceipt = frame => inbox.put('RECEIPT', frame);
  client.connect(
    { login, passcode: pass },
    frame => inbox.put('CONNECTED', frame),
    e => inbox.put(e?.command === 'ERROR' ? 'ERROR' : 'CLOSED', e?.command ? e : { headers: { code: e?.code } }),
  );
  return { client, ws, stats };
}

async function receipt(inbox, id) {
  const frame = await inbox.expect('RECEIPT', `receipt ${id}`);
  check(frame.headers['receipt-id'] === id, `receipt-id ${frame.headers['receipt-id']}, expected ${id}`);
}

async function refusedLogin() {
  step('a wrong passcode is refused with an ERROR');
  const inbox = new Inbox();
  const { ws } = connect(inbox, `wrong-${passcode}`);
  const frame = await inbox.expect('ERROR', 'CONNECT with a wrong passcode');
  check(frame.headers.message === 'authentication failed', `unexpected refusal: ${JSON.stringify(frame.headers)}`);
  ws.close();
}

async function scenario() {
  console.log(`webstomp-client 1.2.6 + ws 8.23.0 STOMP ${version} (subprotocol ${subprotocol}) against ${url}`);
  await refusedLogin();

  step(`connect ${version} as '${login}'${version === '1.0' ? '' : ' with heart-beats 1000,1000'}`);
  const inbox = new Inbox();
  const { client, ws, stats } = connect(inbox, passcode);
  const connected = await inbox.expect('CONNECTED', 'CONNECT');
  check(ws.protocol === subprotocol, `subprotocol ${ws.protocol}, expected ${subprotocol}`);
  check((connected.headers.version ?? '1.0') === version, `negotiated version ${connected.headers.version}`);
  if (version !== '1.0') {
    check(connected.headers['heart-beat'] === '1000,1000', `CONNECTED heart-beat ${connected.headers['heart-beat']}`);
  }

  const qAck = version === '1.0' ? 'client' : 'client-individual';
  step(`subscribe to ${queue} (ack:${qAck}) and ${topic} (ack:auto), with receipts`);
  const onMessage = msg => inbox.put('MESSAGE', msg);
  let qSub = client.subscribe(queue, onMessage, { id: 'q', ack: qAck, receipt: 'sub-q' });
  await receipt(inbox, 'sub-q');
  const tSub = client.subscribe(topic, onMessage, { id: 't', receipt: 'sub-t' });
  await receipt(inbox, 'sub-t');

  step('send to the topic with a receipt, user headers and a content-type; receive them intact');
  // webstomp-client never escapes or unescapes header values: a raw colon
  // goes out as is (taken literally), and comes back escaped (`\c`) in 1.1
  // and 1.2, which it shows as is; so the colon is checked in 1.0 only.
  const tricky = version === '1.0' ? 'a:b' : 'plain value';
  const body = 'héllo ✓';
  client.send(topic, body, { 'content-type': 'text/plain;charset=utf-8', 'x-interop': 'webstomp', 'x-tricky': tricky, receipt: 'send-t' });
  await receipt(inbox, 'send-t');
  let msg = await inbox.expect('MESSAGE', 'the topic message');
  const h = msg.headers;
  check(h.destination === topic, `destination ${h.destination}`);
  check(h.subscription === 't', `subscription ${h.subscription}`);
  check(h['message-id'], `no message-id: ${JSON.stringify(h)}`);
  check(h['x-interop'] === 'webstomp', `x-interop ${h['x-interop']}`);
  check(h['x-tricky'] === tricky, `x-tricky ${JSON.stringify(h['x-tricky'])}, expected ${JSON.stringify(tricky)}`);
  check(h['content-type'] === 'text/plain;charset=utf-8', `content-type ${h['content-type']}`);
  check(msg.body === body, `body ${JSON.stringify(msg.body)}`);
  check(h.ack === undefined, `auto-ack MESSAGE carries an ack header: ${JSON.stringify(h)}`);

  step('send a body with NUL bytes (content-length) to the .binary queue, for the test to check');
  client.send(`${queue}.binary`, NUL_BODY, { 'content-type': 'application/octet-stream', receipt: 'send-nul' });
  await receipt(inbox, 'send-nul');

  step('send a multi-byte UTF-8 body (U+0001..U+00FF) to the queue; receive it intact with content-length');
  const wide = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');
  const wideBytes = Buffer.byteLength(wide, 'utf8');
  client.send(queue, wide, { 'content-type': 'text/plain;charset=utf-8', receipt: 'send-wide' });
  await receipt(inbox, 'send-wide');
  const first = await inbox.expect('MESSAGE', 'the wide message');
  check(first.body === wide, `body differs: ${JSON.stringify(first.body)}`);
  check(first.headers['content-length'] === String(wideBytes), `content-length ${first.headers['content-length']}, expected ${wideBytes}`);
  check(first.headers.redelivered === undefined, 'first delivery flagged redelivered');
  if (version === '1.2') check(first.headers.ack, '1.2 client-individual MESSAGE without ack header');
  if (version === '1.0') {
    step('1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery');
    qSub.unsubscribe({ receipt: 'unsub-q' });
    await receipt(inbox, 'unsub-q');
    qSub = client.subscribe(queue, onMessage, { id: 'q2', ack: 'client', receipt: 'sub-q2' });
    await receipt(inbox, 'sub-q2');
  } else {
    step('NACK it; it comes back with redelivered:true');
    first.nack({ receipt: 'nack-wide' });
    await receipt(inbox, 'nack-wide');
  }
  const again = await inbox.expect('MESSAGE', 'the redelivered message');
  check(again.body === wide, 'redelivered body differs');
  check(again.headers.redelivered === 'true', `second delivery without redelivered:true: ${JSON.stringify(again.headers)}`);
  check(again.headers['message-id'] === first.headers['message-id'], 'redelivery has a different message-id');
  step('ACK the redelivery');
  again.ack({ receipt: 'ack-wide' });
  await receipt(inbox, 'ack-wide');

  step("a transaction's SEND is held until COMMIT (BEGIN/COMMIT/ABORT take no receipt in webstomp-client)");
  const tx1 = client.begin('tx-commit');
  client.send(queue, 'committed', { transaction: tx1.id, receipt: 'send-tx1' });
  await receipt(inbox, 'send-tx1');
  client.send(queue, 'outside', { receipt: 'send-outside' });
  await receipt(inbox, 'send-outside');
  msg = await inbox.expect('MESSAGE', 'the message sent outside the transaction');
  check(msg.body === 'outside', `got ${msg.body} before COMMIT, expected 'outside'`);
  msg.ack({ receipt: 'ack-outside' });
  await receipt(inbox, 'ack-outside');
  tx1.commit();
  msg = await inbox.expect('MESSAGE', 'the committed message');
  check(msg.body === 'committed', `got ${msg.body}, expected 'committed'`);
  msg.ack({ receipt: 'ack-committed' });
  await receipt(inbox, 'ack-committed');

  step("an aborted transaction's SEND is never delivered");
  const tx2 = client.begin('tx-abort');
  client.send(queue, 'aborted', { transaction: tx2.id, receipt: 'send-tx2' });
  await receipt(inbox, 'send-tx2');
  tx2.abort();
  client.send(queue, 'after-abort', { receipt: 'send-after' });
  await receipt(inbox, 'send-after');
  msg = await inbox.expect('MESSAGE', 'the message sent after ABORT');
  check(msg.body === 'after-abort', `got ${msg.body}, expected 'after-abort'`);
  msg.ack({ receipt: 'ack-after' });
  await receipt(inbox, 'ack-after');

  step('unsubscribe from the topic; a later topic message is not delivered');
  tSub.unsubscribe({ receipt: 'unsub-t' });
  await receipt(inbox, 'unsub-t');
  client.send(topic, 'unheard', { receipt: 'send-unheard' });
  await receipt(inbox, 'send-unheard');
  client.send(queue, 'fence', { receipt: 'send-fence' });
  await receipt(inbox, 'send-fence');
  msg = await inbox.expect('MESSAGE', 'the queue message after unsubscribing the topic');
  check(msg.body === 'fence', `got ${msg.body} (${JSON.stringify(msg.headers)}), expected 'fence'`);
  msg.ack({ receipt: 'ack-fence' });
  await receipt(inbox, 'ack-fence');
  await inbox.nothing(300, 'nothing may follow the unsubscribe');

  if (version !== '1.0') {
    step('stay idle for 3.5 s: heart-beats both ways keep the connection open');
    const before = stats.pongs;
    await inbox.nothing(3500, 'idle period');
    check(stats.pongs > before, 'no heart-beat received from the broker while idle');
    client.send(queue, 'still-here', { receipt: 'after-idle' });
    await receipt(inbox, 'after-idle');
    msg = await inbox.expect('MESSAGE', 'the message sent after the idle period');
    msg.ack({ receipt: 'ack-idle' });
    await receipt(inbox, 'ack-idle');
  }

  step('disconnect (webstomp-client closes the socket right after DISCONNECT)');
  const closed = new Promise(resolve => ws.once('close', resolve));
  client.disconnect(null, { receipt: 'bye' });
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Deviation('the socket did not close')), TIMEOUT_MS))]);
}

await runMain(`webstomp ${version}`, scenario);
