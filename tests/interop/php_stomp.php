<?php
// Interop scenario for PHP's stomp extension (PECL stomp, Debian php-stomp,
// installed by tests/setup.sh).
//
// Usage: php php_stomp.php HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)
//
// Drives one Stomp object through the interop scenario (see tests/interop.rs)
// and exits non-zero with a message on the first deviation. The extension
// waits for every receipt itself: a call given a `receipt` header returns true
// only once that RECEIPT came, keeping any MESSAGE read meanwhile for
// readFrame(). It has no heart-beats and no DISCONNECT receipt (its
// destructor sends DISCONNECT), so those steps are left out. Every wait is
// bounded by the read timeout.

const EXPECTED_VERSION = '2.0.3';
const TIMEOUT_S = 5;

if (!extension_loaded('stomp')) {
    fwrite(STDERR, "FAIL: the PHP stomp extension is missing: run tests/setup.sh\n");
    exit(3);
}

final class Deviation extends Exception {}

function check(bool $cond, string $what): void
{
    if (!$cond) {
        throw new Deviation($what);
    }
}

function step(string $text): void
{
    echo "  - $text\n";
    flush();
}

function show($value): string
{
    return var_export($value, true);
}

final class Scenario
{
    private Stomp $stomp;
    private string $queue;
    private string $topic;

    public function __construct(
        private string $host,
        private string $port,
        private string $login,
        private string $passcode,
        private string $version,
    ) {
        $this->queue = "/queue/interop.php-stomp.$version";
        $this->topic = "/topic/interop.php-stomp.$version";
    }

    public function run(): void
    {
        $this->refusedLogin();
        $this->connect();
        $this->subscribe();
        $this->topicMessage();
        $this->binaryAndRedelivery();
        $this->transactions();
        $this->unsubscribe();
        $this->disconnect();
    }

    /** CONNECT headers: the version is chosen by `accept-version`; 1.0 sends none. */
    private function open(string $passcode): Stomp
    {
        $headers = $this->version === '1.0' ? [] : ['accept-version' => $this->version, 'host' => '/'];
        return new Stomp("tcp://{$this->host}:{$this->port}", $this->login, $passcode, $headers);
    }

    /** A call with a receipt returns true once the RECEIPT came (false on ERROR or timeout). */
    private function receipted(bool $ok, string $what): void
    {
        $error = $this->stomp->error();
        check($ok, "no RECEIPT for $what" . ($error ? " (error: $error)" : ''));
    }

    private function message(string $what): StompFrame
    {
        $f = $this->stomp->readFrame();
        check($f instanceof StompFrame, "no frame within " . TIMEOUT_S . " s while waiting for $what");
        check($f->command === 'MESSAGE', "expected MESSAGE for $what, got {$f->command} " . show($f->headers));
        return $f;
    }

    private function ack(StompFrame $msg, string $receipt): void
    {
        // The extension's idiom: ack() takes the MESSAGE frame itself.
        $this->receipted($this->stomp->ack($msg, ['receipt' => $receipt]), "ACK $receipt");
    }

    private function refusedLogin(): void
    {
        step('a wrong passcode is refused with an ERROR');
        try {
            $this->open("wrong-{$this->passcode}");
        } catch (StompException $e) {
            // getDetails() would read past the ERROR body: the extension does
            // not end a body read by content-length with a NUL.
            check($e->getMessage() === 'authentication failed', 'unexpected refusal: ' . show($e->getMessage()));
            return;
        }
        throw new Deviation('CONNECT with a wrong passcode was accepted');
    }

    private function connect(): void
    {
        step("connect {$this->version} as '{$this->login}' (the extension has no heart-beats)");
        $this->stomp = $this->open($this->passcode);
        check($this->stomp->getSessionId() != '', 'CONNECTED without a session');
        $this->stomp->setReadTimeout(TIMEOUT_S);
    }

    private function subscribe(): void
    {
        $ack = $this->version === '1.0' ? 'client' : 'client-individual';
        step("subscribe to {$this->queue} (ack:$ack) and {$this->topic} (ack:auto), with receipts");
        $this->receipted($this->stomp->subscribe($this->queue, ['id' => 'q', 'ack' => $ack, 'receipt' => 'sub-q']), 'sub-q');
        $this->receipted($this->stomp->subscribe($this->topic, ['id' => 't', 'ack' => 'auto', 'receipt' => 'sub-t']), 'sub-t');
    }

    private function topicMessage(): void
    {
        step('send to the topic with a receipt, user headers and a content-type; receive them intact');
        // The extension neither escapes nor unescapes header values: a colon
        // goes out raw (read literally) and comes back as the version writes
        // it, `\c` from 1.1 on (see README, client interoperability).
        $tricky = 'a:b';
        $expected = $this->version === '1.0' ? 'a:b' : 'a\cb';
        $body = 'héllo ✓';
        $this->receipted($this->stomp->send($this->topic, $body, [
            'content-type' => 'text/plain;charset=utf-8',
            'x-interop' => 'php-stomp',
            'x-tricky' => $tricky,
            'receipt' => 'send-t',
        ]), 'send-t');
        $msg = $this->message('the topic message');
        $h = $msg->headers;
        check(($h['destination'] ?? null) === $this->topic, 'destination ' . show($h['destination'] ?? null));
        check(($h['subscription'] ?? null) === 't', 'subscription ' . show($h['subscription'] ?? null));
        check(($h['message-id'] ?? '') !== '', 'no message-id: ' . show($h));
        check(($h['x-interop'] ?? null) === 'php-stomp', 'x-interop ' . show($h['x-interop'] ?? null));
        check(($h['x-tricky'] ?? null) === $expected, 'x-tricky ' . show($h['x-tricky'] ?? null) . ', expected ' . show($expected));
        check(($h['content-type'] ?? null) === 'text/plain;charset=utf-8', 'content-type ' . show($h['content-type'] ?? null));
        check($msg->body === $body, 'body ' . show($msg->body));
        check(!isset($h['ack']), 'auto-ack MESSAGE carries an ack header: ' . show($h));
    }

    private function binaryAndRedelivery(): void
    {
        step('send a binary body with NUL bytes; receive it byte for byte with content-length');
        $payload = "\0bin\0ary\0" . implode('', array_map('chr', range(0, 255)));
        $this->receipted($this->stomp->send($this->queue, $payload, [
            'content-type' => 'application/octet-stream',
            'receipt' => 'send-bin',
        ]), 'send-bin');
        $first = $this->message('the binary message');
        $h = $first->headers;
        check($first->body === $payload, 'binary body differs: ' . show(bin2hex($first->body)));
        check(($h['content-length'] ?? null) === (string) strlen($payload), 'content-length ' . show($h['content-length'] ?? null));
        check(($h['content-type'] ?? null) === 'application/octet-stream', 'content-type ' . show($h['content-type'] ?? null));
        check(!isset($h['redelivered']), 'first delivery flagged redelivered: ' . show($h));
        // Only 1.2 MESSAGEs carry an ack id: this shows the version agreed.
        check(isset($h['ack']) === ($this->version === '1.2'), "ack header in a {$this->version} MESSAGE: " . show($h));
        if ($this->version === '1.0') {
            step('1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery');
            $this->receipted($this->stomp->unsubscribe($this->queue, ['id' => 'q', 'receipt' => 'unsub-q']), 'unsub-q');
            $this->receipted($this->stomp->subscribe($this->queue, ['id' => 'q2', 'ack' => 'client', 'receipt' => 'sub-q2']), 'sub-q2');
        } else {
            step('NACK it with nack($frame); it comes back with redelivered:true');
            $this->receipted($this->stomp->nack($first, ['receipt' => 'nack-bin']), 'nack-bin');
        }
        $again = $this->message('the redelivered binary message');
        check($again->body === $payload, 'redelivered body differs');
        check(($again->headers['redelivered'] ?? null) === 'true', 'second delivery without redelivered:true: ' . show($again->headers));
        check(($again->headers['message-id'] ?? null) === $h['message-id'], 'redelivery has a different message-id');
        step('ACK the redelivery with ack($frame)');
        $this->ack($again, 'ack-bin');
    }

    private function transactions(): void
    {
        step("a transaction's SEND is held until COMMIT");
        $s = $this->stomp;
        $this->receipted($s->begin('tx-commit', ['receipt' => 'begin-1']), 'begin-1');
        $this->receipted($s->send($this->queue, 'committed', ['transaction' => 'tx-commit', 'receipt' => 'send-tx1']), 'send-tx1');
        $this->receipted($s->send($this->queue, 'outside', ['receipt' => 'send-outside']), 'send-outside');
        $msg = $this->message('the message sent outside the transaction');
        check($msg->body === 'outside', 'got ' . show($msg->body) . " before COMMIT, expected 'outside'");
        $this->ack($msg, 'ack-outside');
        $this->receipted($s->commit('tx-commit', ['receipt' => 'commit-1']), 'commit-1');
        $msg = $this->message('the committed message');
        check($msg->body === 'committed', 'got ' . show($msg->body) . ", expected 'committed'");
        $this->ack($msg, 'ack-committed');

        step("an aborted transaction's SEND is never delivered");
        $this->receipted($s->begin('tx-abort', ['receipt' => 'begin-2']), 'begin-2');
        $this->receipted($s->send($this->queue, 'aborted', ['transaction' => 'tx-abort', 'receipt' => 'send-tx2']), 'send-tx2');
        $this->receipted($s->abort('tx-abort', ['receipt' => 'abort-2']), 'abort-2');
        $this->receipted($s->send($this->queue, 'after-abort', ['receipt' => 'send-after']), 'send-after');
        $msg = $this->message('the message sent after ABORT');
        check($msg->body === 'after-abort', 'got ' . show($msg->body) . ", expected 'after-abort'");
        $this->ack($msg, 'ack-after');
    }

    private function unsubscribe(): void
    {
        step('unsubscribe from the topic; a later topic message is not delivered');
        $s = $this->stomp;
        $this->receipted($s->unsubscribe($this->topic, ['id' => 't', 'receipt' => 'unsub-t']), 'unsub-t');
        $this->receipted($s->send($this->topic, 'unheard', ['receipt' => 'send-unheard']), 'send-unheard');
        $this->receipted($s->send($this->queue, 'fence', ['receipt' => 'send-fence']), 'send-fence');
        $msg = $this->message('the queue message after unsubscribing the topic');
        check($msg->body === 'fence', 'got ' . show($msg->body) . ' (' . show($msg->headers) . "), expected 'fence'");
        $this->ack($msg, 'ack-fence');
        $s->setReadTimeout(0, 300000);
        check(!$s->hasFrame(), 'a frame followed the unsubscribe: ' . show($s->readFrame()));
    }

    private function disconnect(): void
    {
        step('disconnect (the destructor sends DISCONNECT)');
        unset($this->stomp);
    }
}

if ($argc !== 6) {
    fwrite(STDERR, "usage: php php_stomp.php HOST PORT LOGIN PASSCODE VERSION\n");
    exit(2);
}
[, $host, $port, $login, $passcode, $version] = $argv;
$installed = phpversion('stomp');
echo "PHP " . PHP_VERSION . " stomp extension $installed STOMP $version against $host:$port\n";
if ($installed !== EXPECTED_VERSION) {
    fwrite(STDERR, "FAIL: stomp extension $installed installed, " . EXPECTED_VERSION . " expected: run tests/setup.sh\n");
    exit(3);
}
if (!in_array($version, ['1.0', '1.1', '1.2'], true)) {
    fwrite(STDERR, "FAIL: unknown STOMP version " . show($version) . "\n");
    exit(2);
}
try {
    (new Scenario($host, $port, $login, $passcode, $version))->run();
} catch (Deviation $e) {
    fwrite(STDERR, "FAIL: php-stomp $version: {$e->getMessage()}\n");
    exit(1);
} catch (Throwable $e) {
    fwrite(STDERR, "FAIL: php-stomp $version: " . get_class($e) . ": {$e->getMessage()}\n{$e->getTraceAsString()}\n");
    exit(1);
}
echo "PASS php-stomp $version\n";
