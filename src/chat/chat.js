// stompede demo chat: STOMP over WebSocket with @stomp/stompjs (global StompJs).
//
// A room R uses two topics: /topic/chat.R for messages and /topic/presence.R
// for presence. Each page announces "join" once its subscriptions are active
// (their RECEIPTs arrived), "here" every PRESENCE_EVERY_MS and in answer to
// someone else's join, and "leave" when it goes. A member not heard from for
// PRESENCE_EXPIRES_MS is dropped from the list (a closed laptop sends no leave).
//
// URL parameters: ?name=...&room=... prefill the form; ?ws=ws://host:port/ws
// overrides the broker address (default: this host, port from config.json).
(function () {
  'use strict';

  var PRESENCE_EVERY_MS = 5000;
  var PRESENCE_EXPIRES_MS = 15000;
  var ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var me = { id: randomId(), name: '' };
  var room = null;
  var client = null;
  var presenceTimer = null;
  var members = new Map(); // id -> { name, seen }

  function randomId() {
    var a = new Uint8Array(8);
    crypto.getRandomValues(a);
    return Array.from(a, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  function setStatus(text, state) {
    $('status').textContent = text;
    document.body.dataset.state = state;
  }

  function brokerURL() {
    if (params.get('ws')) return Promise.resolve(params.get('ws'));
    return fetch('config.json').then(function (r) {
      if (!r.ok) throw new Error('config.json: HTTP ' + r.status);
      return r.json();
    }).then(function (cfg) {
      var scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      return scheme + '://' + location.hostname + ':' + cfg.websocket_port + cfg.websocket_path;
    });
  }

  function addLine(who, text, cls) {
    var li = document.createElement('li');
    if (cls) li.className = cls;
    if (who) {
      var w = document.createElement('span');
      w.className = 'who';
      w.textContent = who;
      li.appendChild(w);
    }
    li.appendChild(document.createTextNode(text));
    var list = $('messages');
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  function renderMembers() {
    var list = $('members');
    list.textContent = '';
    var entries = Array.from(members.entries()).sort(function (a, b) {
      return a[1].name.localeCompare(b[1].name);
    });
    entries.forEach(function (e) {
      var li = document.createElement('li');
      li.textContent = e[1].name;
      li.dataset.member = e[1].name;
      if (e[0] === me.id) li.className = 'me';
      list.appendChild(li);
    });
  }

  function announce(type) {
    if (!client || !client.connected) return;
    client.publish({
      destination: '/topic/presence.' + room,
      body: JSON.stringify({ type: type, id: me.id, name: me.name }),
      headers: { 'content-type': 'application/json' },
    });
  }

  function prune() {
    var now = Date.now();
    members.forEach(function (m, id) {
      if (id !== me.id && now - m.seen > PRESENCE_EXPIRES_MS) members.delete(id);
    });
    renderMembers();
  }

  function parse(frame) {
    try { return JSON.parse(frame.body); } catch (e) { return null; }
  }

  function onPresence(frame) {
    var p = parse(frame);
    if (!p || typeof p.id !== 'string' || typeof p.name !== 'string') return;
    if (p.type === 'leave') {
      if (members.delete(p.id)) addLine('', p.name + ' left', 'notice');
    } else {
      var known = members.has(p.id);
      members.set(p.id, { name: p.name, seen: Date.now() });
      if (!known && p.id !== me.id) addLine('', p.name + ' is here', 'notice');
      // A newcomer learns who is already here without waiting a period.
      if (p.type === 'join' && p.id !== me.id) announce('here');
    }
    renderMembers();
  }

  function onChat(frame) {
    var m = parse(frame);
    if (!m || typeof m.text !== 'string') return;
    addLine(String(m.name || '?'), m.text, m.id === me.id ? 'mine' : '');
  }

  // Subscribes with a receipt each and resolves once both are active, so the
  // join announcement cannot overtake our own subscriptions.
  function subscribeAll() {
    var topics = [['/topic/chat.' + room, onChat], ['/topic/presence.' + room, onPresence]];
    return Promise.all(topics.map(function (t, i) {
      return new Promise(function (resolve) {
        var receipt = 'sub-' + i + '-' + randomId();
        client.watchForReceipt(receipt, resolve);
        client.subscribe(t[0], t[1], { receipt: receipt });
      });
    }));
  }

  function onConnect() {
    members.clear();
    members.set(me.id, { name: me.name, seen: Date.now() });
    renderMembers();
    subscribeAll().then(function () {
      announce('join');
      clearInterval(presenceTimer);
      presenceTimer = setInterval(function () { announce('here'); prune(); }, PRESENCE_EVERY_MS);
      setStatus('Connected to room ' + room + ' as ' + me.name, 'connected');
    });
  }

  function join(ev) {
    ev.preventDefault();
    var name = $('name').value.trim();
    var r = $('room').value.trim();
    if (!name || !ROOM_RE.test(r)) {
      setStatus('Enter a name, and a room of letters, digits, - or _.', 'error');
      return;
    }
    me.name = name;
    room = r;
    setStatus('Connecting…', 'connecting');
    brokerURL().then(function (url) {
      client = new StompJs.Client({
        brokerURL: url,
        heartbeatIncoming: 10000,
        heartbeatOutgoing: 10000,
        reconnectDelay: 2000,
      });
      client.onConnect = onConnect;
      client.onStompError = function (f) {
        setStatus('Broker error: ' + (f.headers.message || 'unknown'), 'error');
      };
      client.onWebSocketClose = function () {
        clearInterval(presenceTimer);
        if (client && client.active) setStatus('Disconnected; reconnecting…', 'error');
      };
      client.activate();
      $('join-form').hidden = true;
      $('chat').hidden = false;
      $('room-title').textContent = 'Room ' + room;
    }).catch(function (e) {
      setStatus('Cannot reach the broker: ' + e.message, 'error');
    });
  }

  function send(ev) {
    ev.preventDefault();
    var input = $('text');
    var text = input.value.trim();
    if (!text || !client || !client.connected) return;
    client.publish({
      destination: '/topic/chat.' + room,
      body: JSON.stringify({ id: me.id, name: me.name, text: text, ts: Date.now() }),
      headers: { 'content-type': 'application/json' },
    });
    input.value = '';
    input.focus();
  }

  function leave() {
    if (!client) return;
    announce('leave');
    clearInterval(presenceTimer);
    var c = client;
    client = null;
    c.deactivate();
    members.clear();
    renderMembers();
    $('messages').textContent = '';
    $('chat').hidden = true;
    $('join-form').hidden = false;
    setStatus('Left room ' + room + '.', 'idle');
  }

  if (typeof StompJs === 'undefined') {
    setStatus('stomp.js is not installed on the server: run `npm install @stomp/stompjs@7.5.0` in the broker\'s working directory.', 'error');
    $('join').disabled = true;
  }
  if (params.get('name')) $('name').value = params.get('name');
  if (params.get('room')) $('room').value = params.get('room');
  $('join-form').addEventListener('submit', join);
  $('send-form').addEventListener('submit', send);
  $('leave').addEventListener('click', leave);
  window.addEventListener('pagehide', leave);
}());
