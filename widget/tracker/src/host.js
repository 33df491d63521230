// Lodestone bootstrap: wires the page to the tracker (wasm) and does its I/O. Every decision is
// made in the wasm module; this only moves events and bytes, and never throws into the page.
// Event numbers passed to `fire` are the `event` constants in lib.rs.
var script = document.currentScript, t = null, pending = null, popup = null;
var base = new URL("./", script.src);
function safe(f) { try { return f(); } catch (e) { return null; } }
function fire(kind, n, m, value) { return safe(function () { return t.on(kind, n || 0, m || 0, value); }); }
function asset(name) { return new URL("assets/" + name, base); }
function loadPopup() {
  if (!popup) {
    popup = import(asset("{{POPUP_JS}}").href).then(function (m) {
      return m.default({ module_or_path: asset("{{POPUP_WASM}}") }).then(function () { return m; });
    });
    popup.catch(function () { popup = null; });
  }
  return popup;
}
var ctx = {
  submit: function (fields) { return new Promise(function (ok, no) { pending = [ok, no]; fire(9, 0, 0, fields); }); },
  close: function (reason) { fire(8, 0, 0, String(reason)); }
};
var host = {
  page: function () {
    var q = new URLSearchParams(location.search), utm = {}, ref = document.referrer;
    "source medium campaign term content".split(" ").forEach(function (k) { if (q.get("utm_" + k)) utm["utm_" + k] = q.get("utm_" + k); });
    return { path: location.pathname, href: location.href.split("#")[0], host: location.host, referrer: ref,
      referrer_host: safe(function () { return new URL(ref).host; }) || "", utm: utm,
      gpc: navigator.globalPrivacyControl === true, dnt: navigator.doNotTrack === "1" };
  },
  load: function (k) { return safe(function () { return localStorage.getItem(k); }); },
  save: function (k, v) { safe(function () { localStorage.setItem(k, v); }); },
  erase: function (k) { safe(function () { localStorage.removeItem(k); }); },
  beacon: function (url, body) { safe(function () { navigator.sendBeacon(url, body); }); },
  send: function (tag, url, body) {
    var o = { mode: "cors", credentials: "omit" };
    if (body != null) { o.method = "POST"; o.body = body; o.keepalive = true; }
    fetch(url, o).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (j) { fire(1, tag, r.status, j); });
    }).catch(function () { fire(1, tag, 0, null); });
  },
  listen: function () {
    var opts = { passive: true };
    addEventListener("scroll", function () {
      var h = document.documentElement.scrollHeight;
      fire(3, h > 0 ? Math.min(100, Math.round((scrollY + innerHeight) / h * 100)) : 100);
    }, opts);
    "pointerdown keydown mousemove touchstart".split(" ").forEach(function (e) { addEventListener(e, function () { fire(4); }, opts); });
    setInterval(function () { fire(2, document.visibilityState === "visible" ? 1 : 0); }, 1000);
  },
  prefetch: function () { (window.requestIdleCallback || function (f) { setTimeout(f, 200); })(function () { loadPopup(); }); },
  show: function (json) { loadPopup().then(function (m) { m.mount(json, ctx); fire(6); }).catch(function () { fire(7); }); },
  hide: function () { if (popup) popup.then(function (m) { safe(function () { m.unmount(); }); }); },
  emit: function (name, detail) { setTimeout(function () { safe(function () { dispatchEvent(new CustomEvent(name, { detail: JSON.parse(detail) })); }); }, 0); },
  settle: function (ok, value) { var p = pending; pending = null; if (p) p[ok ? 0 : 1](JSON.parse(value)); },
  mark: function (name) { safe(function () { performance.mark(name); }); }
};
function api(kind) { return function (arg) { return fire(kind, 0, 0, arg === undefined ? undefined : String(arg)); }; }
var site = script.getAttribute("data-site");
var origin = (script.getAttribute("data-api") || new URL(script.src).origin).replace(/\/+$/, "");
if (site) {
  __lodestone_tracker({ module_or_path: asset("{{TRACKER_WASM}}") }).then(function () {
    __lodestone_tracker.start(site, origin, host);
    t = __lodestone_tracker;
    window.lodestone = { open: api(10), close: api(11), score: api(12), reset: api(13) };
  }).catch(function () {});
}
