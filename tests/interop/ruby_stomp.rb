# Interop scenario for the Ruby `stomp` gem (Debian package ruby-stomp).
#
# Usage: ruby ruby_stomp.rb HOST PORT LOGIN PASSCODE VERSION   (VERSION: 1.0, 1.1 or 1.2)
#
# Drives one Stomp::Connection through the interop scenario (see
# tests/interop.rs) and exits non-zero with a message on the first deviation.
# Every wait is bounded.

EXPECTED_VERSION = '1.4.10'
TIMEOUT = 5.0

begin
  require 'stomp'
rescue LoadError => e
  warn "FAIL: the Ruby stomp gem is missing (#{e.message}): run tests/setup.sh"
  exit 3
end

class Deviation < StandardError; end

def check(cond, what)
  raise Deviation, what unless cond
end

def step(text)
  puts "  - #{text}"
  $stdout.flush
end

# Frames in arrival order. A RECEIPT and the MESSAGE its SEND produced may
# arrive in either order, so waits take the first frame of the wanted command
# and keep the others; an ERROR fails any wait at once.
class Inbox
  def initialize(conn)
    @conn = conn
    @pending = []
  end

  def take(command, within)
    deadline = Time.now + within
    loop do
      i = @pending.index { |f| f.command == command || f.command == 'ERROR' }
      return @pending.delete_at(i) if i
      return nil if Time.now >= deadline
      # poll returns nil at once when nothing is readable; the short pause
      # between polls only bounds CPU use, the deadline bounds the wait.
      frame = @conn.poll
      if frame.nil?
        raise Deviation, 'the broker closed the connection' if @conn.closed?
        sleep 0.01
      else
        @pending << frame
      end
    end
  end

  def expect(command, what)
    f = take(command, TIMEOUT)
    raise Deviation, "no #{command} within #{TIMEOUT}s while waiting for #{what}" if f.nil?
    if f.command != command
      raise Deviation, "expected #{command} for #{what}, got #{f.command} #{f.headers} #{f.body.inspect}"
    end
    f
  end

  def receipt(id)
    f = expect('RECEIPT', "receipt #{id}")
    check(f.headers['receipt-id'] == id, "receipt-id #{f.headers['receipt-id'].inspect}, expected #{id}")
  end

  def message(what)
    expect('MESSAGE', what)
  end

  def nothing(within, what)
    f = take('MESSAGE', within) || take('RECEIPT', 0)
    raise Deviation, "unexpected #{f.command} #{f.headers} (#{what})" if f
  end
end

class Scenario
  def initialize(host, port, login, passcode, version)
    @host, @port, @login, @passcode, @version = host, port, login, passcode, version
    @queue = "/queue/interop.ruby-stomp.#{version}"
    @topic = "/topic/interop.ruby-stomp.#{version}"
  end

  def open(passcode)
    headers = {}
    if @version != '1.0'
      headers = { 'accept-version' => @version, 'host' => '/', 'heart-beat' => '1000,1000' }
    end
    Stomp::Connection.new(
      hosts: [{ login: @login, passcode: passcode, host: @host, port: @port, ssl: false }],
      reliable: false, connect_timeout: TIMEOUT, start_timeout: TIMEOUT,
      connect_headers: headers, closed_check: true
    )
  end

  def run
    refused_login
    connect
    subscribe
    topic_message
    binary_and_redelivery
    transactions
    unsubscribe
    idle_on_heartbeats unless @version == '1.0'
    disconnect
  end

  def ack(msg, receipt)
    h = msg.headers
    case @version
    when '1.2' then @conn.ack(h['ack'], receipt: receipt)
    when '1.1' then @conn.ack(h['message-id'], subscription: h['subscription'], receipt: receipt)
    else @conn.ack(h['message-id'], receipt: receipt)
    end
    @inbox.receipt(receipt)
  end

  def refused_login
    step 'a wrong passcode is refused with an ERROR'
    frame = nil
    begin
      conn = open("wrong-#{@passcode}")
      frame = conn.connection_frame
      conn.disconnect rescue nil
    rescue StandardError => e
      frame = e
    end
    if frame.is_a?(Stomp::Message)
      check(frame.command == 'ERROR', "CONNECT with a wrong passcode got #{frame.command}")
      check(frame.headers['message'] == 'authentication failed', "unexpected refusal: #{frame.headers}")
    else
      check(frame.is_a?(Stomp::Error::ProtocolError) || frame.to_s.match?(/auth|login/i),
            "CONNECT with a wrong passcode: unexpected #{frame.class}: #{frame}")
    end
  end

  def connect
    step "connect #{@version} as '#{@login}'#{@version == '1.0' ? '' : ' with heart-beats 1000,1000'}"
    @conn = open(@passcode)
    @inbox = Inbox.new(@conn)
    frame = @conn.connection_frame
    check(frame.command == 'CONNECTED', "CONNECT got #{frame.command} #{frame.headers} #{frame.body}")
    check((frame.headers['version'] || '1.0') == @version, "negotiated version #{frame.headers['version'].inspect}")
    if @version != '1.0'
      check(frame.headers['heart-beat'] == '1000,1000', "CONNECTED heart-beat #{frame.headers['heart-beat'].inspect}")
    end
  end

  def subscribe
    ack = @version == '1.0' ? 'client' : 'client-individual'
    step "subscribe to #{@queue} (ack:#{ack}) and #{@topic} (ack:auto), with receipts"
    @conn.subscribe(@queue, { id: 'q', ack: ack, receipt: 'sub-q' })
    @inbox.receipt('sub-q')
    @conn.subscribe(@topic, { id: 't', ack: 'auto', receipt: 'sub-t' })
    @inbox.receipt('sub-t')
  end

  def topic_message
    step 'send to the topic with a receipt, user headers and a content-type; receive them intact'
    # The gem unescapes with sequential replacements, so a backslash followed
    # by c, n or r would come back wrong (see docs-interop.md); this one is not.
    tricky = @version == '1.0' ? 'a:b' : "a:b\\d\ne"
    body = 'héllo ✓'
    @conn.publish(@topic, body, { 'content-type' => 'text/plain;charset=utf-8', 'x-interop' => 'ruby-stomp',
                                  'x-tricky' => tricky, receipt: 'send-t' })
    @inbox.receipt('send-t')
    msg = @inbox.message('the topic message')
    h = msg.headers
    check(h['destination'] == @topic, "destination #{h['destination'].inspect}")
    check(h['subscription'] == 't', "subscription #{h['subscription'].inspect}")
    check(h['message-id'], "no message-id: #{h}")
    check(h['x-interop'] == 'ruby-stomp', "x-interop #{h['x-interop'].inspect}")
    check(h['x-tricky'] == tricky, "x-tricky #{h['x-tricky'].inspect}, expected #{tricky.inspect}")
    check(h['content-type'] == 'text/plain;charset=utf-8', "content-type #{h['content-type'].inspect}")
    check(msg.body.dup.force_encoding('UTF-8') == body, "body #{msg.body.inspect}")
    check(h['ack'].nil?, "auto-ack MESSAGE carries an ack header: #{h}")
  end

  def binary_and_redelivery
    step 'send a binary body with NUL bytes; receive it byte for byte with content-length'
    payload = ("\0bin\0ary\0".b + (0..255).map(&:chr).join.b)
    @conn.publish(@queue, payload, { 'content-type' => 'application/octet-stream', receipt: 'send-bin' })
    @inbox.receipt('send-bin')
    first = @inbox.message('the binary message')
    check(first.body.b == payload, "binary body differs: #{first.body.b.inspect}")
    check(first.headers['content-length'] == payload.bytesize.to_s, "content-length #{first.headers['content-length'].inspect}")
    check(first.headers['content-type'] == 'application/octet-stream', "content-type #{first.headers['content-type'].inspect}")
    check(first.headers['redelivered'].nil?, "first delivery flagged redelivered: #{first.headers}")
    check(first.headers['ack'], "1.2 client-individual MESSAGE without ack header: #{first.headers}") if @version == '1.2'
    if @version == '1.0'
      step '1.0 has no NACK: unsubscribe without ACK and subscribe again for the redelivery'
      @conn.unsubscribe(@queue, { id: 'q', receipt: 'unsub-q' })
      @inbox.receipt('unsub-q')
      @conn.subscribe(@queue, { id: 'q2', ack: 'client', receipt: 'sub-q2' })
      @inbox.receipt('sub-q2')
    else
      step 'NACK it; it comes back with redelivered:true'
      h = first.headers
      if @version == '1.2'
        @conn.nack(h['ack'], receipt: 'nack-bin')
      else
        @conn.nack(h['message-id'], subscription: h['subscription'], receipt: 'nack-bin')
      end
      @inbox.receipt('nack-bin')
    end
    again = @inbox.message('the redelivered binary message')
    check(again.body.b == payload, 'redelivered body differs')
    check(again.headers['redelivered'] == 'true', "second delivery without redelivered:true: #{again.headers}")
    check(again.headers['message-id'] == first.headers['message-id'], 'redelivery has a different message-id')
    step 'ACK the redelivery'
    ack(again, 'ack-bin')
  end

  def transactions
    step "a transaction's SEND is held until COMMIT"
    @conn.begin('tx-commit', receipt: 'begin-1')
    @inbox.receipt('begin-1')
    @conn.publish(@queue, 'committed', { transaction: 'tx-commit', receipt: 'send-tx1' })
    @inbox.receipt('send-tx1')
    @conn.publish(@queue, 'outside', { receipt: 'send-outside' })
    @inbox.receipt('send-outside')
    msg = @inbox.message('the message sent outside the transaction')
    check(msg.body == 'outside', "got #{msg.body.inspect} before COMMIT, expected 'outside'")
    ack(msg, 'ack-outside')
    @conn.commit('tx-commit', receipt: 'commit-1')
    @inbox.receipt('commit-1')
    msg = @inbox.message('the committed message')
    check(msg.body == 'committed', "got #{msg.body.inspect}, expected 'committed'")
    ack(msg, 'ack-committed')

    step "an aborted transaction's SEND is never delivered"
    @conn.begin('tx-abort', receipt: 'begin-2')
    @inbox.receipt('begin-2')
    @conn.publish(@queue, 'aborted', { transaction: 'tx-abort', receipt: 'send-tx2' })
    @inbox.receipt('send-tx2')
    @conn.abort('tx-abort', receipt: 'abort-2')
    @inbox.receipt('abort-2')
    @conn.publish(@queue, 'after-abort', { receipt: 'send-after' })
    @inbox.receipt('send-after')
    msg = @inbox.message('the message sent after ABORT')
    check(msg.body == 'after-abort', "got #{msg.body.inspect}, expected 'after-abort'")
    ack(msg, 'ack-after')
  end

  def unsubscribe
    step 'unsubscribe from the topic; a later topic message is not delivered'
    @conn.unsubscribe(@topic, { id: 't', receipt: 'unsub-t' })
    @inbox.receipt('unsub-t')
    @conn.publish(@topic, 'unheard', { receipt: 'send-unheard' })
    @inbox.receipt('send-unheard')
    @conn.publish(@queue, 'fence', { receipt: 'send-fence' })
    @inbox.receipt('send-fence')
    msg = @inbox.message('the queue message after unsubscribing the topic')
    check(msg.body == 'fence', "got #{msg.body.inspect} (#{msg.headers}), expected 'fence'")
    ack(msg, 'ack-fence')
    @inbox.nothing(0.3, 'nothing may follow the unsubscribe')
  end

  def idle_on_heartbeats
    step 'stay idle for 3.5 s: heart-beats both ways keep the connection open'
    sent = @conn.hbsend_count
    received = @conn.hbrecv_count
    # Not polling here: the gem's own receive ticker reads the broker's heart-beats.
    sleep 3.5
    check(@conn.hbsend_count > sent, 'the gem sent no heart-beat while idle')
    check(@conn.hbrecv_count > received, 'no heart-beat received from the broker while idle')
    @inbox.nothing(0, 'idle period')
    @conn.publish(@queue, 'still-here', { receipt: 'after-idle' })
    @inbox.receipt('after-idle')
    msg = @inbox.message('the message sent after the idle period')
    ack(msg, 'ack-idle')
  end

  def disconnect
    step 'disconnect with a receipt'
    @conn.disconnect(receipt: 'bye')
    frame = @conn.disconnect_receipt
    check(frame && frame.command == 'RECEIPT' && frame.headers['receipt-id'] == 'bye',
          "DISCONNECT answered with #{frame && frame.command} #{frame && frame.headers}")
  end
end

if ARGV.length != 5
  warn 'usage: ruby_stomp.rb HOST PORT LOGIN PASSCODE VERSION'
  exit 2
end
host, port, login, passcode, version = ARGV
puts "ruby stomp gem #{Stomp::Version::STRING} STOMP #{version} against #{host}:#{port}"
if Stomp::Version::STRING != EXPECTED_VERSION
  warn "FAIL: stomp gem #{Stomp::Version::STRING} installed, #{EXPECTED_VERSION} expected: run tests/setup.sh"
  exit 3
end
unless %w[1.0 1.1 1.2].include?(version)
  warn "FAIL: unknown STOMP version #{version.inspect}"
  exit 2
end
begin
  Scenario.new(host, port.to_i, login, passcode, version).run
rescue Deviation => e
  warn "FAIL: ruby-stomp #{version}: #{e.message}"
  exit 1
rescue StandardError => e
  warn "FAIL: ruby-stomp #{version}: #{e.class}: #{e.message}\n#{e.backtrace.first(5).join("\n")}"
  exit 1
end
puts "PASS ruby-stomp #{version}"
