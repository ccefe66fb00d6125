// The OOCSI console: talks to the gateway's /ws endpoint (the oocsi-web
// protocol: the first frame is the handle, then "subscribe C",
// "unsubscribe C" and "sendjson R {...}"; messages come back as
// {"data", "recipient", "sender", "timestamp"}, and "ping" wants any answer).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 500;
  const CALL_TIMEOUT_MS = 15000;

  // ---------------------------------------------------------------- URL parameters
  // Read by hand from the whole address, so that '#' is part of a value
  // (?handle=lamp_### works without writing %23).
  function readParams(href) {
    const params = new Map();
    const q = href.indexOf("?");
    if (q < 0) return params;
    const decode = (s) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, " "));
      } catch (e) {
        return s;
      }
    };
    for (const part of href.slice(q + 1).split("&")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      const key = decode(eq < 0 ? part : part.slice(0, eq));
      const value = eq < 0 ? "" : decode(part.slice(eq + 1));
      if (!params.has(key)) params.set(key, []);
      params.get(key).push(value);
    }
    return params;
  }
  const params = readParams(location.href);
  const param = (key) => (params.has(key) ? params.get(key)[0] : null);
  const cleanName = (s) => (s || "").trim().replace(/\s+/g, "_");

  const watched = new Set();
  for (const v of params.get("channel") || ["chat"])
    for (const c of v.split(",")) if (cleanName(c)) watched.add(cleanName(c));
  if (watched.size === 0) watched.add("chat");
  const firstChannel = () => watched.values().next().value || "chat";
  const pattern = cleanName(param("handle")) || "console_####";
  const report = cleanName(param("report"));
  const announce = param("hello") !== "0";

  // ---------------------------------------------------------------- data: JSON or key=value
  function inferValue(v) {
    if (v === "true") return true;
    if (v === "false") return false;
    if (v === "null") return null;
    if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(v)) {
      const n = Number(v);
      if (Number.isFinite(n) && (/[.eE]/.test(v) || Number.isSafeInteger(n))) return n;
    }
    return v;
  }

  // Returns the data object or throws an Error with a message for the user.
  function parseData(text) {
    const t = text.trim();
    if (t === "") return {};
    if (t[0] === "{") {
      let o;
      try {
        o = JSON.parse(t);
      } catch (e) {
        throw new Error("not valid JSON: " + e.message);
      }
      if (o === null || typeof o !== "object" || Array.isArray(o)) throw new Error("JSON must be an object");
      return o;
    }
    const pairs = [];
    for (const word of t.split(/\s+/)) {
      const m = /^([^=:]+)(:?)=(.*)$/.exec(word);
      if (m) pairs.push({ key: m[1], raw: m[2] === ":", value: m[3] });
      else if (pairs.length) pairs[pairs.length - 1].value += " " + word;
      else throw new Error("'" + word + "' is not key=value");
    }
    const o = {};
    for (const p of pairs) {
      if (p.raw) {
        try {
          o[p.key] = JSON.parse(p.value);
        } catch (e) {
          throw new Error(p.key + ":= needs JSON: " + e.message);
        }
      } else {
        o[p.key] = inferValue(p.value);
      }
    }
    return o;
  }

  // ---------------------------------------------------------------- connection
  let ws = null;
  let me = null; // our handle once welcomed
  let askFor = pattern; // the handle asked for on the next connect
  let attempt = 0;
  let retryAt = 0;
  let retryTimer = null;
  let tickTimer = null;
  let joins = 0; // successful joins, for the one-time URL actions
  let readyToken = null;
  const calls = new Map(); // _MESSAGE_ID -> {name, channel, timer, urlCall}

  const stateLog = []; // the states shown since the last join, for report=
  function setState(kind, text) {
    const el = $("state");
    el.className = "state " + kind;
    el.textContent = text;
    document.body.dataset.state = kind;
    if (stateLog.length < 50) stateLog.push(text);
  }

  // report=CHANNEL: what the page shows, as shown, for tests and monitors.
  function reportShown(data) {
    if (report && me !== null && report !== me) rawSend(report, data);
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    retryTimer = tickTimer = null;
    if (ws) return;
    setState("connecting", "connecting as " + askFor + " …");
    let sock;
    try {
      sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    } catch (e) {
      scheduleReconnect("cannot open: " + e.message);
      return;
    }
    ws = sock;
    let refused = null;
    sock.onopen = () => sock.send(askFor); // the first frame is the bare handle
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      if (ev.data === "ping") {
        sock.send(".");
        return;
      }
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (me === null) {
        const m = /^welcome (.+)$/.exec(frame.message || "");
        if (m) welcomed(m[1]);
        else refused = String(frame.message || "refused");
        return;
      }
      onFrame(frame);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      me = null;
      readyToken = null;
      for (const [id, c] of calls) finishCall(id, c, null, "connection lost before the answer");
      renderChannels();
      if (refused && askFor !== pattern) askFor = pattern; // our old name is taken: fresh digits
      scheduleReconnect(refused ? refused : "closed (" + ev.code + ")");
    };
  }

  function scheduleReconnect(why) {
    const delay = Math.min(15000, 1000 * 2 ** Math.min(attempt, 4));
    attempt++;
    retryAt = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setState("offline", why + " · reconnecting in " + s + " s");
    };
    tick();
    tickTimer = setInterval(tick, 1000);
    retryTimer = setTimeout(connect, delay);
  }

  function welcomed(name) {
    me = name;
    askFor = name; // reconnect under the same handle
    attempt = 0;
    setState("connected", "connected as " + me);
    for (const c of watched) ws.send("subscribe " + c);
    // The protocol acknowledges no subscribe; a message to ourselves comes
    // back after the subscriptions are in place.
    readyToken = Math.random().toString(36).slice(2);
    rawSend(me, { _console_ready: readyToken });
    renderChannels();
  }

  function joined() {
    joins++;
    renderChannels();
    reportShown({ console_state: $("state").textContent, before: stateLog.splice(0), joins: joins });
    if (announce) for (const c of watched) send(c, { hello: "from the browser", handle: me });
    if (joins > 1) return;
    if (params.has("send")) $("send-form").requestSubmit();
    if (param("call")) {
      urlCallPending = true;
      $("call-form").requestSubmit(); // runs the submit handler at once
      urlCallPending = false;
    }
  }

  function rawSend(recipient, data) {
    if (!ws || me === null) return false;
    ws.send("sendjson " + recipient + " " + JSON.stringify(data));
    return true;
  }

  // Sends and shows the message in the stream as ours.
  function send(recipient, data, kind) {
    if (!rawSend(recipient, data)) return false;
    addRow({ time: Date.now(), from: me, to: recipient, data: data, kind: kind || "mine" });
    if (!watched.has(recipient) && recipient !== me) noteTarget(recipient);
    return true;
  }

  function onFrame(f) {
    const d = f.data;
    if (!d || typeof d !== "object") return;
    const from = String(f.sender);
    const to = String(f.recipient);
    if (to === me && readyToken && d._console_ready === readyToken) {
      readyToken = null;
      joined();
      return;
    }
    if (from === me && to === report) return; // our own reports
    const direct = to === me;
    noteSeen(from, direct ? null : to);
    if (direct && typeof d._MESSAGE_ID === "string" && calls.has(d._MESSAGE_ID)) {
      const c = calls.get(d._MESSAGE_ID);
      addRow({ time: f.timestamp, from: from, to: to, data: d, kind: "answer" });
      finishCall(d._MESSAGE_ID, c, d, null, from);
      return;
    }
    addRow({ time: f.timestamp, from: from, to: to, data: d, kind: direct ? "direct" : "msg" });
    if (d.echo === "please" && from !== me && watched.has(to)) send(to, { echo: true, of: d, handle: me });
  }

  // ---------------------------------------------------------------- the stream
  const fmtTime = (t) => {
    let ms = Number(t);
    if (!Number.isFinite(ms) || ms <= 0) ms = Date.now();
    if (ms < 1e11) ms *= 1000; // seconds
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    return { short: p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()), iso: d.toISOString() };
  };
  const TAGS = { mine: "you", direct: "direct", answer: "answer" };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function addRow(r) {
    const t = fmtTime(r.time);
    const li = el("li", "msg " + r.kind);
    const time = el("time", "time", t.short);
    time.dateTime = t.iso;
    time.title = t.iso;
    const from = el("span", "from", r.from);
    const to = el("span", "to", r.to);
    const tag = TAGS[r.kind] ? el("span", "tag " + r.kind, TAGS[r.kind]) : null;
    const data = el("code", "data", JSON.stringify(r.data));
    li.append(time, from, el("span", "arrow", "→"), to);
    if (tag) li.append(tag);
    li.append(data);
    li.dataset.search = (r.from + " " + r.to + " " + data.textContent).toLowerCase();
    applyFilter(li);
    const list = $("stream");
    if ($("pause").checked) li.classList.add("held");
    list.prepend(li);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
    $("empty").hidden = true;
    reportShown({
      console_row: {
        time: time.textContent,
        from: from.textContent,
        to: to.textContent,
        data: data.textContent,
        kind: tag ? tag.textContent : "",
      },
    });
  }

  function applyFilter(li) {
    const q = $("filter").value.trim().toLowerCase();
    li.classList.toggle("filtered", q !== "" && !li.dataset.search.includes(q));
  }
  $("filter").addEventListener("input", () => {
    for (const li of $("stream").children) applyFilter(li);
  });
  $("pause").addEventListener("change", () => {
    if (!$("pause").checked) for (const li of $("stream").querySelectorAll(".held")) li.classList.remove("held");
  });
  $("clear").addEventListener("click", () => {
    $("stream").replaceChildren();
    $("empty").hidden = false;
  });

  // ---------------------------------------------------------------- presence: what we can see
  const seen = new Map(); // handle -> {last, where:Set}
  const targets = new Set(); // channels/handles we sent to

  function noteSeen(handle, channel) {
    if (!handle || handle === me) return;
    const s = seen.get(handle) || { last: 0, where: new Set() };
    s.last = Date.now();
    s.where.add(channel || "you");
    seen.set(handle, s);
    renderSeen();
  }

  function noteTarget(name) {
    if (targets.has(name)) return;
    targets.add(name);
    renderChannels();
  }

  function renderSeen() {
    const ul = $("seen");
    ul.replaceChildren();
    const rows = [...seen.entries()].sort((a, b) => b[1].last - a[1].last);
    for (const [h, s] of rows) {
      const li = el("li");
      const name = el("button", "name", h);
      name.type = "button";
      name.title = "send to " + h;
      name.addEventListener("click", () => {
        $("send-to").value = h;
        $("send-data").focus();
      });
      li.append(name, el("span", "where", [...s.where].join(", ")), el("time", "ago", fmtTime(s.last).short));
      ul.append(li);
    }
    if (!rows.length) ul.append(el("li", "note", "nobody yet"));
    renderNames();
  }

  function renderChannels() {
    const ul = $("channels");
    ul.replaceChildren();
    for (const c of watched) {
      const li = el("li", "chip" + (me !== null ? " on" : ""));
      const pick = el("button", "name", c);
      pick.type = "button";
      pick.title = "send to " + c;
      pick.addEventListener("click", () => {
        $("send-to").value = c;
        $("call-channel").value = $("call-channel").value || c;
      });
      const drop = el("button", "drop", "×");
      drop.type = "button";
      drop.title = "stop watching " + c;
      drop.setAttribute("aria-label", "stop watching " + c);
      drop.addEventListener("click", () => {
        watched.delete(c);
        if (ws && me !== null) ws.send("unsubscribe " + c);
        renderChannels();
      });
      li.append(pick, drop);
      ul.append(li);
    }
    for (const t of targets) if (!watched.has(t)) ul.append(el("li", "chip sent", t));
    renderNames();
  }

  function renderNames() {
    const dl = $("names");
    dl.replaceChildren();
    for (const n of new Set([...watched, ...targets, ...seen.keys()])) {
      const o = document.createElement("option");
      o.value = n;
      dl.append(o);
    }
  }

  $("watch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const c = cleanName($("watch-name").value);
    if (!c || watched.has(c)) return;
    watched.add(c);
    if (ws && me !== null) ws.send("subscribe " + c);
    $("watch-name").value = "";
    renderChannels();
  });

  // ---------------------------------------------------------------- forms
  function formNote(id, text, bad) {
    const o = $(id);
    o.textContent = text;
    o.classList.toggle("bad", !!bad);
  }

  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const to = cleanName($("send-to").value);
    let data;
    try {
      data = parseData($("send-data").value);
    } catch (err) {
      formNote("send-note", err.message, true);
      return;
    }
    if (!to) return formNote("send-note", "who to?", true);
    if (!send(to, data)) return formNote("send-note", "not connected", true);
    formNote("send-note", "sent to " + to, false);
  });

  let urlCallPending = false;
  $("call-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const channel = cleanName($("call-channel").value);
    const name = cleanName($("call-name").value);
    let data;
    try {
      data = parseData($("call-data").value);
    } catch (err) {
      formNote("call-result", err.message, true);
      return;
    }
    if (!channel || !name) return formNote("call-result", "channel and name, please", true);
    const id = (crypto.randomUUID && crypto.randomUUID()) || Date.now().toString(36) + Math.random().toString(36).slice(2);
    const req = Object.assign({}, data, { _MESSAGE_HANDLE: name, _MESSAGE_ID: id });
    if (!send(channel, req, "mine")) return formNote("call-result", "not connected", true);
    const c = { name: name, channel: channel, started: Date.now(), urlCall: urlCallPending };
    urlCallPending = false;
    c.timer = setTimeout(() => finishCall(id, c, null, "no answer within " + CALL_TIMEOUT_MS / 1000 + " s"), CALL_TIMEOUT_MS);
    calls.set(id, c);
    formNote("call-result", "calling " + name + " on " + channel + " …", false);
  });

  function finishCall(id, c, answer, error, from) {
    if (!calls.has(id)) return;
    calls.delete(id);
    clearTimeout(c.timer);
    if (error) {
      formNote("call-result", c.name + ": " + error, true);
      return;
    }
    const result = Object.assign({}, answer);
    delete result._MESSAGE_ID;
    delete result._MESSAGE_HANDLE;
    formNote("call-result", c.name + " answered (" + from + "): " + JSON.stringify(result), false);
    reportShown({ console_call: $("call-result").textContent });
    if (c.urlCall) send(firstChannel(), { callresult: result, handle: me });
  }

  // ---------------------------------------------------------------- start
  $("send-to").value = cleanName(param("to")) || firstChannel();
  $("send-data").value = param("data") || "";
  $("call-name").value = cleanName(param("call")) || "";
  $("call-channel").value = cleanName(param("callchannel")) || cleanName(param("call")) || "";
  $("call-data").value = param("calldata") || (param("call") ? "x=21" : "");

  const help = $("help");
  const toggleHelp = (open) => {
    help.hidden = !open;
    $("help-button").setAttribute("aria-expanded", String(open));
  };
  $("help-button").addEventListener("click", () => toggleHelp(help.hidden));
  toggleHelp(params.has("help"));
  $("state").addEventListener("click", () => {
    if (!ws) {
      attempt = 0;
      connect();
    }
  });
  window.addEventListener("online", () => {
    if (!ws) connect();
  });

  renderChannels();
  renderSeen();
  connect();
})();
