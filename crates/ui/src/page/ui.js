// loadtape's recorder UI: the live list (server-sent events from /ui/events), filters, the
// opened exchange (fetched on demand from /ui/api/exchange/ID), drops and group marks.
// Everything the recording holds is drawn with textContent, never as HTML.
"use strict";
var rows = document.getElementById("rows");
var byId = {};
var openId = null;
var count = 0;

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function $(id) { return document.getElementById(id); }
function size(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
  return (n / 1048576).toFixed(1) + " MB";
}
function time(iso) { var d = new Date(iso); return d.toTimeString().slice(0, 8); }

function setCount() {
  var c = $("count");
  c.dataset.v = count;
  c.textContent = count + (count === 1 ? " exchange" : " exchanges");
}

function addRow(r) {
  if (byId[r.id]) return;
  var tr = el("tr", r.error || r.status === null ? "err" : r.status >= 400 ? "bad" : "");
  tr.dataset.id = r.id;
  tr.dataset.host = r.host.toLowerCase();
  tr.dataset.path = r.path.toLowerCase();
  tr.dataset.status = r.status === null ? "err" : String(r.status);
  tr.dataset.text = [r.method, r.url, r.tester, r.group, r.error, (r.tokens || []).join(" ")].join(" ").toLowerCase();
  var cells = [r.id, time(r.started), r.status === null ? "ERR" : r.status, r.method, r.host, r.path,
    Math.round(r.duration_ms), size(r.size), r.version.replace("HTTP/", ""), r.tester || "", r.group || ""];
  cells.forEach(function (c, i) {
    var td = el("td", i === 5 ? "path" : "", c);
    if (i === 5) td.title = r.url + (r.error ? " — " + r.error : "");
    tr.appendChild(td);
  });
  tr.addEventListener("click", function () { open(r.id); });
  byId[r.id] = tr;
  rows.appendChild(tr);
  count++;
  setCount();
  filterRow(tr);
}

function addNotice(n) {
  var tr = el("tr", "notice");
  tr.dataset.text = n.text.toLowerCase();
  tr.dataset.notice = "1";
  var td = el("td", "", time(n.at) + "  " + n.text);
  td.colSpan = 11;
  tr.appendChild(td);
  rows.appendChild(tr);
  filterRow(tr);
}

function dropped(id) {
  var tr = byId[id];
  if (!tr) return;
  tr.classList.add("dropped");
  tr.dataset.dropped = "1";
  if (openId === id) $("detail-msg").textContent = "dropped from the recording";
}

// Filters: every field must match (host and path by substring, status by 2xx / 404 / err).
function filters() {
  return { host: $("f-host").value.trim().toLowerCase(), path: $("f-path").value.trim().toLowerCase(),
    status: $("f-status").value.trim().toLowerCase(), text: $("f-text").value.trim().toLowerCase() };
}
function statusMatches(want, got) {
  if (!want) return true;
  if (/^[1-5]xx$/.test(want)) return got[0] === want[0] && got !== "err";
  return got === want;
}
function filterRow(tr, f) {
  f = f || filters();
  var d = tr.dataset;
  var ok = d.notice ? (!f.host && !f.path && (!f.status || f.status === "err") && (!f.text || d.text.indexOf(f.text) >= 0))
    : (d.host.indexOf(f.host) >= 0 && d.path.indexOf(f.path) >= 0 && statusMatches(f.status, d.status) &&
       (!f.text || d.text.indexOf(f.text) >= 0));
  tr.hidden = !ok;
}
["f-host", "f-path", "f-status", "f-text"].forEach(function (id) {
  $(id).addEventListener("input", function () {
    var f = filters();
    Array.prototype.forEach.call(rows.children, function (tr) { filterRow(tr, f); });
  });
});

// The live list. A reconnect (or falling behind) starts again from the backlog.
var source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/ui/events");
  source.addEventListener("open", function () {
    rows.textContent = ""; byId = {}; count = 0; setCount();
  });
  source.addEventListener("ready", function () {
    $("state").className = "live"; $("state").textContent = "live";
    // A link to one exchange: /ui#open=12.
    var m = /^#open=(\d+)$/.exec(location.hash);
    if (m && openId === null) open(Number(m[1]));
  });
  source.addEventListener("row", function (m) { addRow(JSON.parse(m.data)); });
  source.addEventListener("drop", function (m) { dropped(JSON.parse(m.data).id); });
  source.addEventListener("notice", function (m) { addNotice(JSON.parse(m.data)); });
  source.addEventListener("lagged", function () { connect(); });
  source.addEventListener("error", function () { $("state").className = "lost"; $("state").textContent = "reconnecting"; });
}
connect();

// The opened exchange.
function open(id) {
  openId = id;
  Array.prototype.forEach.call(rows.querySelectorAll("tr.open"), function (t) { t.classList.remove("open"); });
  if (byId[id]) byId[id].classList.add("open");
  $("detail").hidden = false;
  $("detail-msg").textContent = "";
  var body = $("detail-body");
  body.textContent = "loading…";
  fetch("/ui/api/exchange/" + id).then(function (r) { return r.json(); }).then(function (x) {
    if (openId !== id) return;
    body.textContent = "";
    if (x.error && !x.request) { body.textContent = x.error; return; }
    render(body, x);
  }).catch(function (e) { body.textContent = "cannot load: " + e; });
}
$("close").addEventListener("click", function () { $("detail").hidden = true; openId = null; });
$("drop").addEventListener("click", function () {
  if (openId === null) return;
  var id = openId;
  fetch("/ui/api/drop/" + id, { method: "POST", headers: { "x-loadtape-ui": "1" } }).then(function (r) { return r.json(); }).then(function (x) {
    $("detail-msg").textContent = x.error ? x.error : "dropped from the recording";
    if (!x.error) dropped(id);
  });
});
$("mark").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var name = $("mark-name").value.trim();
  var q = "name=" + encodeURIComponent(name) + ($("mark-me").checked ? "&scope=me" : "");
  fetch("/ui/api/mark?" + q, { method: "POST", headers: { "x-loadtape-ui": "1" } }).then(function (r) { return r.json(); }).then(function (x) {
    $("mark-name").value = "";
    $("mark-name").placeholder = x.error ? x.error : "group " + x.group + " started";
  });
});

function kv(title, pairs, marks) {
  var frag = document.createDocumentFragment();
  frag.appendChild(el("h3", "", title));
  var t = el("table");
  pairs.forEach(function (p) {
    var tr = el("tr");
    tr.appendChild(el("td", "", p[0]));
    var td = el("td", "", p[1]);
    var m = marks && marks(p[0], p[1]);
    if (m) mark(td, m);
    tr.appendChild(td);
    t.appendChild(tr);
  });
  frag.appendChild(t);
  return frag;
}

// A highlight: the value's cell, its class and origin underneath.
function mark(node, tokens) {
  node.classList.add("token");
  node.dataset.variable = tokens.map(function (t) { return t.variable; }).join(" ");
  tokens.forEach(function (t) {
    node.appendChild(el("span", "token-note", t.class + " {{" + t.variable + "}} — " + t.origin));
  });
}

function tokensAt(tokens, side, kind, name) {
  return tokens.filter(function (t) { return t.side === side && t.where && t.where.kind === kind && t.where.name === name; });
}

function render(root, x) {
  var tokens = (x.tokens || []).filter(function (t) { return !t.error; });
  var req = x.request, res = x.response;
  var over = [["request", req.method + " " + req.url], ["status", res ? res.status + " " + res.version : "no response"],
    ["started", x.started], ["duration", x.duration_ms.toFixed(1) + " ms"], ["http", req.version]];
  if (x.client) over.push(["client", x.client]);
  if (x.tester) over.push(["tester", x.tester]);
  if (x.group) over.push(["group", x.group]);
  if (x.error) over.push(["error", x.error]);
  root.appendChild(kv("Exchange #" + x.id, over));
  if (tokens.length) {
    root.appendChild(el("h3", "", "Token-like values"));
    var ul = el("ul");
    ul.id = "tokens";
    tokens.forEach(function (t) {
      ul.appendChild(el("li", "", t.class + " {{" + t.variable + "}} at " + t.side + " " + t.place + (t.applied ? "" : " (suggestion)") + " — " + t.origin));
    });
    root.appendChild(ul);
  }
  if (req.query.length) root.appendChild(kv("Query", req.query, function (k) { return hits(tokensAt(tokens, "request", "query", k)); }));
  root.appendChild(kv("Request headers", req.headers, function (k, v) { return hits(headerHits(tokens, "request", k, v)); }));
  if (req.body) root.appendChild(bodyView("Request body", req.body, tokens, "request"));
  if (res) {
    root.appendChild(kv("Response headers", res.headers, function (k, v) { return hits(headerHits(tokens, "response", k, v)); }));
    if (res.body) root.appendChild(bodyView("Response body", res.body, tokens, "response"));
  }
}
function hits(list) { return list.length ? list : null; }
function headerHits(tokens, side, name, value) {
  var n = name.toLowerCase();
  return tokens.filter(function (t) {
    if (t.side !== side || !t.where) return false;
    var w = t.where;
    if (w.kind === "header") return w.name === n;
    if (w.kind === "cookie") return n === "cookie" && value.indexOf(w.name + "=") >= 0;
    if (w.kind === "set-cookie") return n === "set-cookie" && value.indexOf(w.name + "=") === 0;
    return false;
  });
}

function bodyView(title, b, tokens, side) {
  var box = el("div", "body");
  var head = title + " (" + size(b.size) + (b.truncated ? ", truncated" : "") + (b.decoded_from ? ", decoded from " + b.decoded_from : "") + ")";
  box.appendChild(el("h3", "", head));
  if (b.kind === "json") {
    var mine = tokens.filter(function (t) { return t.side === side && t.where && t.where.kind === "json"; });
    var tree = el("ul", "tree");
    tree.dataset.kind = "json";
    tree.appendChild(node(null, b.json, "$", mine));
    box.appendChild(tree);
  } else if (b.kind === "image") {
    var img = el("img", "body");
    img.src = "data:" + b.mime + ";base64," + b.base64;
    box.appendChild(img);
  } else if (b.kind === "binary") {
    box.appendChild(el("pre", "hex", b.hex + (b.cut ? " …" : "")));
  } else {
    box.appendChild(el("pre", "text", b.text + (b.cut ? "\n…" : "")));
  }
  return box;
}

// The JSON tree; each leaf carries its JSONPath, spelled as the detect crate spells it.
function step(key) {
  if (typeof key === "number") return "[" + key + "]";
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return "." + key;
  return "['" + key.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "']";
}
function node(key, v, path, tokens) {
  var li = el("li");
  li.dataset.path = path;
  var label = key === null ? null : el("span", "k", (typeof key === "number" ? key : JSON.stringify(key)) + ": ");
  if (v !== null && typeof v === "object") {
    var det = el("details");
    det.open = true;
    var sum = el("summary");
    if (label) sum.appendChild(label);
    var isArr = Array.isArray(v);
    var keys = isArr ? v.map(function (_, i) { return i; }) : Object.keys(v);
    sum.appendChild(el("span", "", isArr ? "[" + keys.length + "]" : "{" + keys.length + "}"));
    det.appendChild(sum);
    var ul = el("ul");
    keys.forEach(function (k) { ul.appendChild(node(k, v[k], path + step(k), tokens)); });
    det.appendChild(ul);
    li.appendChild(det);
  } else {
    if (label) li.appendChild(label);
    var val = el("span", typeof v === "string" ? "s" : "n", JSON.stringify(v));
    li.appendChild(val);
    var here = tokens.filter(function (t) { return t.where.path === path; });
    if (here.length) mark(li, here);
  }
  return li;
}
