// Interop scenario for stompit (npm) over TCP.
//
// Usage: node stompit.mjs HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)
//
// Exits non-zero with a message on the first deviation; every wait is bounded.
// stompit gives receipts only to frames it sends with an `onReceipt` option
// (SEND, ACK, NACK, COMMIT, ABORT, DISCONNECT); it treats any other RECEIPT as
// a protocol error. A SUBSCRIBE or BEGIN is therefore confirmed by the receipt
// of the next frame: the broker handles a connection's frames in order.

import { Deviation, Inbox, check, requirePackage, runMain, step } from './inbox.mjs';

requirePackage('stompit', '1.0.0');
const { default: stompit } = await import('stompit');

const [host, portText, login, passcode, version] = process.argv.slice(2);
if (!['1.0', '1.1', '1.2'].includes(version)) {
  console.error('usage: stompit.mjs HOST PORT LOGIN PASSCODE VERSION');
  process.exit(2);
}
const port = Number(portText);
const queue = `/queue/interop.stompit.${version}`;
const topic = `/topic/interop.stompit.${version}`;

function connect(inbox, pass) {
  const connectHeaders = { host: '/', login, passcode: pass, 'accept-version': version };
  if (version !== '1.0') connectHeaders['heart-beat'] = '1000,1000';
  stompit.connect({ host, port, timeout: 5000, connectHeaders }, (error, client) => {
    if (error) {
      inbox.put('ERROR', { headers: { message: error.message }, body: '' });
      return;
    }
    client.on('error', e => inbox.put('ERROR', { headers: { message: e.message }, body: '' }));
    inbox.put('CONNECTED', { headers: client.headers, client });
  });
}

/** A message listener that reads each body whole, then records the frame. */
const listener = inbox => (error, message) => {
  if (error) {
    inbox.put('ERROR', { headers: { message: error.message }, body: '' });
    return;
  }
  const chunks = [];
  message.on('data', c => chunks.push(c));
  message.on('end', () => inbox.put('MESSAGE', { headers: message.headers, body: Buffer.concat(chunks), raw: message }));
};

/** Options for a frame whose RECEIPT lands in `inbox` as `name`. */
const receipted = (inbox, name) => ({ onReceipt: () => inbox.put('RECEIPT', { headers: { 'receipt-id': name } }) });

async function scenario() {
  console.log(`stompit 1.0.0 STOMP ${version} against ${host}:${port}`);

  step('a wrong passcode is refused with an ERROR');
  const refused = new Inbox();
  // stompit 1.0.0 destroys the ERROR frame's own stream instead of the client
  // when the ERROR has `content-type:text/plain` and a body of at most 4096
  // bytes, so the error escapes as an uncaught exception rather than reaching
  // the connect callback (see docs-interop.md). Catch it here to check it.
  const uncaught = e => refused.put('ERROR', { headers: { message: e.message, detail: e.longMessage }, body: '' });
  process.once('uncaughtException', uncaught);
  connect(refused, `wrong-${passcode}`);
  const error = await refused.expect('ERROR', 'CONNECT with a wrong passcode');
  process.removeListener('uncaughtException', uncaught);
  check(error.headers.message === 'authentication failed', `unexpected refusal: ${JSON.stringify(error.headers)}`);

  step(`connect ${version} as '${login}'${version === '1.0' ? '' : ' with heart-beats 1000,1000'}`);
  const inbox = new Inbox();
  connect(inbox, passcode);
  const connected = await inbox.expect('CONNECTED', 'CONNECT');
  const client = connected.client;
  check((connected.headers.version ?? '1.0') === version, `negotiated version ${connected.headers.version}`);
  if (version !== '1.0') {
    check(connected.headers['heart-beat'] === '1000,1000', `CONNECTED heart-beat ${connected.headers['heart-beat']}`);
  }
  const receipt = async name => {
    await inbox.expect('RECEIPT', `receipt ${name}`);
  };
  const send = async (headers, body, name) => {
    const frame = client.send(headers, receipted(inbox, name));
    frame.end(body);
    await receipt(name);
  };
  const ack = async (msg, name) => {
    client.ack(msg.raw, {}, receipted(inbox, name));
    await receipt(name);
  };

  const qAck = version === '1.0' ? 'client' : 'client-individual';
  step(`subscribe to ${queue} (ack:${qAck}) and ${topic} (ack:auto)`);
  let qSub = client.subscribe({ destination: queue, id: 'q', ack: qAck }, listener(inbox));
  const tSub = client.subscribe({ destination: topic, id: 't', ack: 'auto' }, listener(inbox));

  step('send to the topic with a receipt, user headers and a content-type; receive them intact');
  const tricky = version === '1.0' ? 'a:b' : 'a:b\\c\nd';
  const body = 'héllo ✓';
  await send({ destination: topic, 'content-type': 'text/plain;charset=utf-8', 'x-interop': 'stompit', 'x-tricky': tricky }, body, 'send-t');
  let msg = await inbox.expect('MESSAGE', 'the topic message');
  const h = msg.headers;
  check(h.destination === topic, `destination ${h.destination}`);
  check(h.subscription === 't', `subscription ${h.subscription}`);
  check(h['message-id'], `no message-id: ${JSON.stringify(h)}`);
  check(h['x-interop'] === 'stompit', `x-interop ${h['x-interop']}`);
  check(h['x-tricky'] === tricky, `x-tricky ${JSON.stringify(h['x-tricky'])}, expected ${JSON.stringify(tricky)}`);
  check(h['content-type'] === 'text/plain;charset=utf-8', `content-type ${h['content-type']}`);
  check(msg.body.toString('utf8') === body, `body ${JSON.stringify(msg.body.toString('utf8'))}`);
  check(h.ack === undefined, `auto-ack MESSAGE carries an ack header: ${JSON.stringify(h)}`);

  step('send a binary body with NUL bytes; receive it byte for byte with content-length');
  const payload = Buffer.concat([Buffer.from('\0bin\0ary\0', 'latin1'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
  // stompit writes content-length only when told to; without it the first NUL ends the frame.
  await send({ destination: queue, 'content-type': 'application/octet-stream', 'content-length': payload.length }, payload, 'send-bin');
  const first = await inbox.expect('MESSAGE', 'the binary message');
  check(first.body.equals(payload), `binary body differs: ${first.body.toString('hex')}`);
  check(String(first.headers['content-length']) === String(payload.length), `content-length ${first.headers['content-length']}`);
  check(first.headers['content-type'] === 'application/octet-stream', `content-type ${first.headers['content-type']}`);
  check(first.headers.redelivered === undefined, 'first delivery flagged redelivered');
  if (version === '1.2') check(first.headers.ack, '1.2 client-individual MESSAGE without ack header');
  if (version === '1.0') {
    step('1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery');
    qSub.unsubscribe();
    qSub = client.subscribe({ destination: queue, id: 'q2', ack: 'client' }, listener(inbox));
  } else {
    step('NACK it; it comes back with redelivered:true');
    client.nack(first.raw, {}, receipted(inbox, 'nack-bin'));
    await receipt('nack-bin');
  }
  const again = await inbox.expect('MESSAGE', 'the redelivered binary message');
  check(again.body.equals(payload), 'redelivered body differs');
  check(again.headers.redelivered === 'true', `second delivery without redelivered:true: ${JSON.stringify(again.headers)}`);
  check(again.headers['message-id'] === first.headers['message-id'], 'redelivery has a different message-id');
  step('ACK the redelivery');
  await ack(again, 'ack-bin');

  step("a transaction's SEND is held until COMMIT");
  const tx1 = client.begin('tx-commit');
  const inTx = tx1.send({ destination: queue }, receipted(inbox, 'send-tx1'));
  inTx.end('committed');
  await receipt('send-tx1');
  await send({ destination: queue }, 'outside', 'send-outside');
  msg = await inbox.expect('MESSAGE', 'the message sent outside the transaction');
  check(msg.body.toString() === 'outside', `got ${msg.body} before COMMIT, expected 'outside'`);
  await ack(msg, 'ack-outside');
  tx1.commit(receipted(inbox, 'commit-1'));
  await receipt('commit-1');
  msg = await inbox.expect('MESSAGE', 'the committed message');
  check(msg.body.toString() === 'committed', `got ${msg.body}, expected 'committed'`);
  await ack(msg, 'ack-committed');

  step("an aborted transaction's SEND is never delivered");
  const tx2 = client.begin('tx-abort');
  tx2.send({ destination: queue }, receipted(inbox, 'send-tx2')).end('aborted');
  await receipt('send-tx2');
  tx2.abort(receipted(inbox, 'abort-2'));
  await receipt('abort-2');
  await send({ destination: queue }, 'after-abort', 'send-after');
  msg = await inbox.expect('MESSAGE', 'the message sent after ABORT');
  check(msg.body.toString() === 'after-abort', `got ${msg.body}, expected 'after-abort'`);
  await ack(msg, 'ack-after');

  step('unsubscribe from the topic; a later topic message is not delivered');
  tSub.unsubscribe();
  await send({ destination: topic }, 'unheard', 'send-unheard');
  await send({ destination: queue }, 'fence', 'send-fence');
  msg = await inbox.expect('MESSAGE', 'the queue message after unsubscribing the topic');
  check(msg.body.toString() === 'fence', `got ${msg.body} (${JSON.stringify(msg.headers)}), expected 'fence'`);
  await ack(msg, 'ack-fence');
  await inbox.nothing(300, 'nothing may follow the unsubscribe');

  if (version !== '1.0') {
    // stompit destroys the connection ("connection timed out") when a whole
    // heart-beat interval plus 100 ms passes without a byte from the broker.
    step('stay idle for 3.5 s: heart-beats both ways keep the connection open');
    await inbox.nothing(3500, 'idle period');
    await send({ destination: queue }, 'still-here', 'after-idle');
    msg = await inbox.expect('MESSAGE', 'the message sent after the idle period');
    await ack(msg, 'ack-idle');
  }

  step('disconnect with a receipt (stompit waits for it)');
  const closed = new Promise(resolve => client.disconnect(err => resolve(err ?? null)));
  const result = await Promise.race([closed, new Promise(resolve => setTimeout(() => resolve('timeout'), 5000))]);
  if (result !== null) throw new Deviation(`disconnect failed: ${result === 'timeout' ? 'no receipt within 5 s' : result.message}`);
}

await runMain(`stompit ${version}`, scenario);
