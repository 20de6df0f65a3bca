// Interop scenario for @stomp/rx-stomp (RxJS on top of @stomp/stompjs) over
// TCP through @stomp/tcp-wrapper.
//
// Usage: node rx_stomp.mjs HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)
//
// Subscriptions are rx-stomp `watch()` Observables (SUBSCRIBE on subscribe,
// UNSUBSCRIBE on unsubscribe), SENDs go through `publish()`, receipts come
// through `unhandledReceipts$`. rx-stomp has no transaction API of its own:
// the transactions use the stompjs Client it exposes as `stompClient`.
// Exits non-zero with a message on the first deviation; every wait is bounded.

import { Deviation, Inbox, TIMEOUT_MS, check, requirePackage, runMain, step } from './inbox.mjs';

requirePackage('@stomp/rx-stomp', '2.4.0');
requirePackage('@stomp/stompjs', '7.5.0');
requirePackage('@stomp/tcp-wrapper', '1.0.1');
requirePackage('rxjs', '7.8.2');
const { RxStomp } = await import('@stomp/rx-stomp');
const { Versions } = await import('@stomp/stompjs');
const { TCPWrapper } = await import('@stomp/tcp-wrapper');

const [host, portText, login, passcode, version] = process.argv.slice(2);
if (!['1.0', '1.1', '1.2'].includes(version)) {
  console.error('usage: rx_stomp.mjs HOST PORT LOGIN PASSCODE VERSION');
  process.exit(2);
}
const port = Number(portText);
const queue = `/queue/interop.rx-stomp.${version}`;
const topic = `/topic/interop.rx-stomp.${version}`;

/** An RxStomp whose every event lands in `inbox`; `pongs` counts server heart-beats. */
function makeClient(inbox, pass) {
  const stats = { pongs: 0 };
  const rx = new RxStomp();
  rx.configure({
    webSocketFactory: () => new TCPWrapper(host, port),
    connectHeaders: { login, passcode: pass },
    stompVersions: new Versions([version]),
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: 0,
    debug: line => {
      if (line.startsWith('<<< PONG')) stats.pongs += 1;
    },
    onDisconnect: frame => inbox.put('DISCONNECTED', frame),
  });
  rx.serverHeaders$.subscribe(headers => inbox.put('CONNECTED', { headers }));
  rx.stompErrors$.subscribe(frame => inbox.put('ERROR', frame));
  rx.unhandledReceipts$.subscribe(frame => inbox.put('RECEIPT', frame));
  rx.unhandledMessage$.subscribe(frame => inbox.put('MESSAGE', frame));
  rx.webSocketErrors$.subscribe(() => inbox.put('CLOSED', null));
  return { client: rx, stats };
}

/** A watch() of `destination` with `headers` whose messages land in `inbox`. */
function watch(client, inbox, destination, headers) {
  return client
    .watch({ destination, subHeaders: headers, unsubHeaders: () => ({ receipt: `un${headers.receipt}` }) })
    .subscribe(msg => inbox.put('MESSAGE', msg));
}

async function receipt(inbox, id) {
  const frame = await inbox.expect('RECEIPT', `receipt ${id}`);
  check(frame.headers['receipt-id'] === id, `receipt-id ${frame.headers['receipt-id']}, expected ${id}`);
}

const text = msg => new TextDecoder().decode(msg.binaryBody);

async function refusedLogin() {
  step('a wrong passcode is refused with an ERROR');
  const inbox = new Inbox();
  const { client } = makeClient(inbox, `wrong-${passcode}`);
  client.activate();
  const frame = await inbox.expect('ERROR', 'CONNECT with a wrong passcode');
  check(frame.headers.message === 'authentication failed', `unexpected refusal: ${JSON.stringify(frame.headers)}`);
  await client.deactivate({ force: true });
}

async function scenario() {
  console.log(`@stomp/rx-stomp 2.4.0 (@stomp/stompjs 7.5.0, rxjs 7.8.2) STOMP ${version} over @stomp/tcp-wrapper against ${host}:${port}`);
  await refusedLogin();

  step(`connect ${version} as '${login}'${version === '1.0' ? '' : ' with heart-beats 1000,1000'}`);
  const inbox = new Inbox();
  const { client, stats } = makeClient(inbox, passcode);
  client.activate();
  const connected = await inbox.expect('CONNECTED', 'CONNECT');
  check((connected.headers.version ?? '1.0') === version, `negotiated version ${connected.headers.version}`);
  if (version !== '1.0') {
    check(connected.headers['heart-beat'] === '1000,1000', `CONNECTED heart-beat ${connected.headers['heart-beat']}`);
  }

  const qAck = version === '1.0' ? 'client' : 'client-individual';
  step(`subscribe to ${queue} (ack:${qAck}) and ${topic} (ack:auto), with receipts`);
  let qSub = watch(client, inbox, queue, { id: 'q', ack: qAck, receipt: 'sub-q' });
  await receipt(inbox, 'sub-q');
  const tSub = watch(client, inbox, topic, { id: 't', receipt: 'sub-t' });
  await receipt(inbox, 'sub-t');

  step('send to the topic with a receipt, user headers and a content-type; receive them intact');
  // rx-stomp sends through stompjs, which escapes header values only for 1.2, and unescapes them with
  // sequential replacements that turn a backslash followed by 'c' into '\:'
  // (see docs-interop.md): the value with a colon, backslash and newline is
  // sent in 1.2 only, and its backslash is not followed by c, n or r.
  const tricky = version === '1.2' ? 'a:b\\d\ne' : 'plain value';
  const body = 'héllo ✓';
  client.publish({
    destination: topic,
    body,
    headers: { 'content-type': 'text/plain;charset=utf-8', 'x-interop': 'rx-stomp', 'x-tricky': tricky, receipt: 'send-t' },
  });
  await receipt(inbox, 'send-t');
  let msg = await inbox.expect('MESSAGE', 'the topic message');
  const h = msg.headers;
  check(h.destination === topic, `destination ${h.destination}`);
  check(h.subscription === 't', `subscription ${h.subscription}`);
  check(h['message-id'], `no message-id: ${JSON.stringify(h)}`);
  check(h['x-interop'] === 'rx-stomp', `x-interop ${h['x-interop']}`);
  check(h['x-tricky'] === tricky, `x-tricky ${JSON.stringify(h['x-tricky'])}, expected ${JSON.stringify(tricky)}`);
  check(h['content-type'] === 'text/plain;charset=utf-8', `content-type ${h['content-type']}`);
  check(msg.body === body, `body ${JSON.stringify(msg.body)}`);
  check(h.ack === undefined, `auto-ack MESSAGE carries an ack header: ${JSON.stringify(h)}`);

  step('send a binary body with NUL bytes; receive it byte for byte with content-length');
  const payload = new Uint8Array([0, 98, 105, 110, 0, 97, 114, 121, 0, ...Array.from({ length: 256 }, (_, i) => i)]);
  client.publish({
    destination: queue,
    binaryBody: payload,
    headers: { 'content-type': 'application/octet-stream', receipt: 'send-bin' },
  });
  await receipt(inbox, 'send-bin');
  const first = await inbox.expect('MESSAGE', 'the binary message');
  check(Buffer.from(first.binaryBody).equals(Buffer.from(payload)), `binary body differs: ${Buffer.from(first.binaryBody).toString('hex')}`);
  check(first.headers['content-length'] === String(payload.length), `content-length ${first.headers['content-length']}`);
  check(first.headers['content-type'] === 'application/octet-stream', `content-type ${first.headers['content-type']}`);
  check(first.headers.redelivered === undefined, 'first delivery flagged redelivered');
  if (version === '1.2') check(first.headers.ack, '1.2 client-individual MESSAGE without ack header');
  if (version === '1.0') {
    step('1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery');
    qSub.unsubscribe();
    await receipt(inbox, 'unsub-q');
    qSub = watch(client, inbox, queue, { id: 'q2', ack: 'client', receipt: 'sub-q2' });
    await receipt(inbox, 'sub-q2');
  } else {
    step('NACK it; it comes back with redelivered:true');
    first.nack({ receipt: 'nack-bin' });
    await receipt(inbox, 'nack-bin');
  }
  const again = await inbox.expect('MESSAGE', 'the redelivered binary message');
  check(Buffer.from(again.binaryBody).equals(Buffer.from(payload)), 'redelivered body differs');
  check(again.headers.redelivered === 'true', `second delivery without redelivered:true: ${JSON.stringify(again.headers)}`);
  check(again.headers['message-id'] === first.headers['message-id'], 'redelivery has a different message-id');
  step('ACK the redelivery');
  again.ack({ receipt: 'ack-bin' });
  await receipt(inbox, 'ack-bin');

  step("a transaction's SEND is held until COMMIT (through rx-stomp's stompClient)");
  const tx1 = client.stompClient.begin('tx-commit');
  client.publish({ destination: queue, body: 'committed', headers: { transaction: tx1.id, receipt: 'send-tx1' } });
  await receipt(inbox, 'send-tx1');
  client.publish({ destination: queue, body: 'outside', headers: { receipt: 'send-outside' } });
  await receipt(inbox, 'send-outside');
  msg = await inbox.expect('MESSAGE', 'the message sent outside the transaction');
  check(text(msg) === 'outside', `got ${text(msg)} before COMMIT, expected 'outside'`);
  msg.ack({ receipt: 'ack-outside' });
  await receipt(inbox, 'ack-outside');
  tx1.commit();
  msg = await inbox.expect('MESSAGE', 'the committed message');
  check(text(msg) === 'committed', `got ${text(msg)}, expected 'committed'`);
  msg.ack({ receipt: 'ack-committed' });
  await receipt(inbox, 'ack-committed');

  step("an aborted transaction's SEND is never delivered");
  const tx2 = client.stompClient.begin('tx-abort');
  client.publish({ destination: queue, body: 'aborted', headers: { transaction: tx2.id, receipt: 'send-tx2' } });
  await receipt(inbox, 'send-tx2');
  tx2.abort();
  client.publish({ destination: queue, body: 'after-abort', headers: { receipt: 'send-after' } });
  await receipt(inbox, 'send-after');
  msg = await inbox.expect('MESSAGE', 'the message sent after ABORT');
  check(text(msg) === 'after-abort', `got ${text(msg)}, expected 'after-abort'`);
  msg.ack({ receipt: 'ack-after' });
  await receipt(inbox, 'ack-after');

  step('unsubscribe from the topic; a later topic message is not delivered');
  tSub.unsubscribe();
  await receipt(inbox, 'unsub-t');
  client.publish({ destination: topic, body: 'unheard', headers: { receipt: 'send-unheard' } });
  await receipt(inbox, 'send-unheard');
  client.publish({ destination: queue, body: 'fence', headers: { receipt: 'send-fence' } });
  await receipt(inbox, 'send-fence');
  msg = await inbox.expect('MESSAGE', 'the queue message after unsubscribing the topic');
  check(text(msg) === 'fence', `got ${text(msg)} (${JSON.stringify(msg.headers)}), expected 'fence'`);
  msg.ack({ receipt: 'ack-fence' });
  await receipt(inbox, 'ack-fence');
  await inbox.nothing(300, 'nothing may follow the unsubscribe');

  if (version !== '1.0') {
    step('stay idle for 3.5 s: heart-beats both ways keep the connection open');
    const before = stats.pongs;
    await inbox.nothing(3500, 'idle period');
    check(stats.pongs > before, 'no heart-beat received from the broker while idle');
    client.publish({ destination: queue, body: 'still-here', headers: { receipt: 'after-idle' } });
    await receipt(inbox, 'after-idle');
    msg = await inbox.expect('MESSAGE', 'the message sent after the idle period');
    msg.ack({ receipt: 'ack-idle' });
    await receipt(inbox, 'ack-idle');
  }

  step('disconnect with a receipt');
  client.stompClient.disconnectHeaders = { receipt: 'bye' };
  const closing = client.deactivate();
  const bye = await inbox.expect('DISCONNECTED', 'the DISCONNECT receipt');
  check(bye.headers['receipt-id'] === 'bye', `DISCONNECT receipt-id ${bye.headers['receipt-id']}`);
  await Promise.race([closing, new Promise((_, reject) => setTimeout(() => reject(new Deviation('deactivate() did not finish')), TIMEOUT_MS))]);
}

await runMain(`rx-stomp ${version}`, scenario);
