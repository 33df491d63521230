// Lodestone bootstrap: wires the page to the tracker (wasm) and does its I/O. Every decision is
// made in the wasm module; this only moves events and bytes, and never throws into the page.
// Event numbers passed to `fire` are the `event` constants in lib.rs.
// `lastY` starts at 0, not `scrollY`: reading that forces a layout while the page loads (the
// first scroll event sets it).
var script = document.currentScript || document.querySelector("script[data-site][src*='lodestone']"), t = null, pending = null, popup = null, debug = null, linkAt = 0, tapAt = 0, lastY = 0, lastAt = 0, lastPath = location.pathname, entry = null, leaving = 0, queued = [], shows = 0, config = null, leads = null, deliverer = null;
var base = script && safe(function () { return new URL("./", script.src); });
function safe(f) { try { return f(); } catch (e) { return null; } }
// JSON text, or null (a page may have broken `JSON.stringify`).
function text(v) { return safe(function () { return JSON.stringify(v); }); }
function fire(kind, n, m, value) { return safe(function () { return t.on(kind, n || 0, m || 0, put(value)); }); }
// Strings to the tracker: written into its memory as a little-endian u32 length and the UTF-8
// bytes, in memory it allocates (and takes over); 0 for none. (Missing text codecs stop the
// setup here: no widget rather than an error.)
// `w` is the tracker module's exports once instantiated (`t` once it has started).
var dec = new TextDecoder(), enc = new TextEncoder(), w = null;
function put(s) {
  if (s == null) return 0;
  var b = enc.encode(s), p = w.alloc(b.length + 4);
  if (!p) return 0;
  new DataView(w.memory.buffer).setUint32(p, b.length, true);
  new Uint8Array(w.memory.buffer).set(b, p + 4);
  return p;
}
// Strings from the tracker: (address, length) in its memory.
function str(p, l) { return dec.decode(new Uint8Array(w.memory.buffer, p, l)); }
// The tracker module (`url`), compiled as it streams (or, only when the server sent another
// type than `application/wasm`, once downloaded), with the host's functions as its imports
// (see the tracker's host.rs). Resolves to its exports.
function tracker(url) {
  function one(f) { return function (p, l) { return f(str(p, l)); }; }
  function two(f) { return function (a, b, c, d) { return f(str(a, b), str(c, d)); }; }
  // Keyed by the one-letter import names host.rs gives the functions (`link_name`): every
  // visitor downloads these names twice, here and in the module.
  var h = host, imports = { h: {
    // The clock and random numbers looked up at each call, as a page sees them (a test's clock).
    a: function () { return Date.now(); }, b: function () { return Math.random(); }, i: h.listen, j: h.prefetch, l: h.hide, q: h.flush,
    c: function () { return put(text(h.page())); },
    d: function (p, l) { return put(h.load(str(p, l))); },
    h: function (tag, p, l) { h.send(tag, str(p, l)); },
    n: function (ok, p, l) { h.settle(ok, str(p, l)); },
    e: two(h.save), f: one(h.erase), g: two(h.beacon), k: one(h.show), m: two(h.emit), o: one(h.mark), p: two(h.deliver), r: one(h.debug)
  } };
  // (An error page is not a module: instantiating it fails.)
  return fetch(url).then(function (r) {
    return WebAssembly.instantiateStreaming(r.clone(), imports).catch(function (e) {
      // Any other failure (a page's CSP refusing WebAssembly) is not tried twice.
      if (r.headers.get("Content-Type") === "application/wasm") throw e;
      return r.arrayBuffer().then(function (b) { return WebAssembly.instantiate(b, imports); });
    });
  }).then(function (m) { return w = m.instance.exports; });
}
// Where the visitor is in the tab's session history (null without the Navigation API).
function at() { return safe(function () { return navigation.currentEntry.index; }); }
// Whether the page shows a modal of its own: a modal `<dialog>`, an element full screen, or an
// ARIA modal (a consent wall, an age gate) on screen. Ours lives in a shadow root, unseen here.
function walled() {
  var d = document, all = d.querySelectorAll("[aria-modal=true]"), i, e, r, s;
  if (safe(function () { return d.querySelector(":modal"); })) return 1;
  for (i = 0; i < all.length; i++) {
    e = all[i]; r = e.getBoundingClientRect(); s = getComputedStyle(e);
    if (r.width > 1 && r.height > 1 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth && !e.closest("[inert],[aria-hidden=true]")
      && (e.checkVisibility ? e.checkVisibility({ opacityProperty: true, visibilityProperty: true }) : s.visibility !== "hidden" && s.opacity > 0)) return 1;
  }
}
// This page's address as a lead and the history keep it: no fragment, and of the query only
// campaign tags and ad click ids (utm_*, gclid, fbclid, ...); any other parameter may carry a
// token or a person's details.
function address() {
  return safe(function () {
    var u = new URL(location.href), drop = [];
    u.hash = "";
    u.searchParams.forEach(function (v, k) { if (!/^(utm_.+|gclid|gbraid|wbraid|dclid|fbclid|msclkid|ttclid|twclid|li_fat_id|mc_cid)$/.test(k)) drop.push(k); });
    drop.forEach(function (k) { u.searchParams.delete(k); });
    return u.href;
  });
}
function asset(name) { return new URL("assets/" + name, base); }
function on(target, name, f, capture) { target.addEventListener(name, function (e) { safe(function () { f(e); }); }, { passive: true, capture: !!capture }); }
function loadPopup() {
  if (!popup) {
    popup = import(asset("{{POPUP_JS}}").href).then(function (m) {
      return m.default(asset("{{POPUP_WASM}}")).then(function () { return m; });
    });
    popup.catch(function () { popup = null; });
  }
  return popup;
}
// Lead delivery, its own module: loaded with a popup (which shows only once it has), or when
// the browser holds queued leads; never on the pages most visitors see. `deliverer` is the
// module once started.
function loadLeads() {
  if (!leads) {
    leads = import(asset("{{LEADS_JS}}").href).then(function (m) {
      return m.default(asset("{{LEADS_WASM}}")).then(function () { m.start(site, origin, host); deliverer = m; return m; });
    });
    leads.catch(function () { leads = null; });
  }
  return leads;
}
// GET (no body) or a `text/plain` POST, in a task of its own (a page's fetch may throw at once:
// that is a failed send, answered after this call): leads queued on earlier pages, sent
// together at start, then do not add up to one long task while the page loads. `answer` hears
// the status (0 when unreachable) and the JSON (null when there is none).
function request(url, body, answer) {
  var o = { mode: "cors", credentials: "omit" };
  // A lead whose answer does not come within 10 s (a stalled network or server) counts as
  // not sent: it stays queued, is retried, and the visitor is told so.
  if (body != null) { o.method = "POST"; o.body = body; o.keepalive = true; safe(function () { o.signal = AbortSignal.timeout(10000); }); }
  new Promise(function (go) { setTimeout(go, 0); }).then(function () { return fetch(url, o); }).then(function (r) {
    return r.json().catch(function () { return null; }).then(function (j) { answer(r.status, j); });
  }).catch(function () { answer(0, null); });
}
// The popup's form waits on `pending` ([resolve, reject, submission id, its answers]); a popup
// closed or withdrawn waits no more, so an answer that comes later settles no other popup's form.
var ctx = {
  submit: function (fields) { return new Promise(function (ok, no) { pending = [ok, no, null, fields]; fire(9); }); },
  close: function (reason) { pending = null; fire(8, 0, 0, String(reason)); }
};
var host = {
  // Each part read on its own: a page that broke one of these globals still gets the rest, and
  // the privacy signals above all (the tracker takes a missing `gpc` as "on").
  page: function () {
    var utm = {}, ref = document.referrer;
    safe(function () {
      var q = new URLSearchParams(location.search);
      "source medium campaign term content".split(" ").forEach(function (k) { if (q.get("utm_" + k)) utm["utm_" + k] = q.get("utm_" + k); });
    });
    return { gpc: safe(function () { return navigator.globalPrivacyControl === true; }) !== false, dnt: safe(function () { return navigator.doNotTrack === "1"; }),
      path: location.pathname, title: document.title, href: address(), host: location.host, referrer: ref,
      referrer_host: safe(function () { return new URL(ref).host.toLowerCase(); }) || "", utm: utm,
      // By the pointer, not the window: a narrow desktop window still has a mouse (and exits
      // through the top edge), a large tablet in landscape still has none.
      device: safe(function () { return !matchMedia("(pointer: coarse)").matches ? "desktop" : Math.min(screen.width, screen.height) < 600 ? "mobile" : "tablet"; }) || "desktop" };
  },
  load: function (k) { return safe(function () { return localStorage.getItem(k); }); },
  save: function (k, v) { safe(function () { localStorage.setItem(k, v); }); },
  erase: function (k) { safe(function () { localStorage.removeItem(k); }); },
  // Not `sendBeacon`: it always carries the site's cookies (to an ingest server on a subdomain,
  // say), and counters must carry nothing about the visitor. `keepalive` outlives the page.
  beacon: function (url, body) { safe(function () { fetch(url, { method: "POST", body: body, mode: "cors", credentials: "omit", keepalive: true }).catch(function () {}); }); },
  // The site config (the tracker's one request, tag 0) is kept: its CTAs and campaigns' copy
  // are read here.
  send: function (tag, url) { request(url, null, function (status, j) { if (status === 200) config = j; fire(1, tag, status, text(j)); }); },
  // Lead delivery's: a lead sent, its answer to the delivery module.
  post: function (tag, url, body) { request(url, body, function (status, j) { safe(function () { deliverer.on(1, tag, status, text(j)); }); }); },
  // The popup's form submitted on `campaign`, with the visitor's history from the tracker: to
  // delivery, which builds the lead and settles the form (or, when its module cannot be loaded
  // or builds no lead, the form is told it was not sent).
  deliver: function (campaign, history) {
    var p = pending, page = host.page(), rules = config && config.rules;
    function failed() { if (p && p === pending) host.settle(false, "null"); }
    loadLeads().then(function (m) { return safe(function () { return m.submit(campaign, history, text(p && p[3]) || "null", rules, text(page) || "null"); }); }).then(function (id) { if (!id) failed(); else if (p) p[2] = id; }, failed);
  },
  // Queued leads (their key present) are sent by delivery when due.
  flush: function () { if (host.load("lodestone:" + site + ":queue")) loadLeads().then(function (m) { safe(function () { m.on(2, 0, 0); }); }).catch(function () {}); },
  settled: function (id, ok, value) { if (pending && pending[2] === id) host.settle(ok, value); },
  converted: function (campaign, remember, count) { fire(24, remember ? 1 : 0, count ? 1 : 0, campaign); },
  // Scroll depth and fast scrolls up, interactions, clicks (data-lodestone-open, configured CTAs,
  // outbound links), exit intent, SPA navigation, and the one-second tick.
  listen: function () {
    var d = document, ctas = config && config.cta, h = history, seen = 0, height = 0;
    // How far down the page the visitor can see: the bottom of the viewport, in percent.
    function depth() { var sh = d.documentElement.scrollHeight; return sh > 0 ? Math.min(100, Math.round((scrollY + innerHeight) / sh * 100)) : 100; }
    // Whether the middle of the screen shows an element that scrolls by itself (an app shell
    // whose window never scrolls, the body included): the window's depth then says nothing.
    // Every element at that point, not only the top one: a popup, banner or modal over the
    // content must not hide the scroller beneath it.
    function boxed() {
      return d.elementsFromPoint(innerWidth / 2, innerHeight / 2).some(function (e) { return e !== d.documentElement && e.scrollHeight > e.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(e).overflowY); });
    }
    // The path the tracker has now (an SPA may have moved before the config arrived).
    lastPath = location.pathname;
    entry = at();
    on(window, "scroll", function () {
      var y = scrollY, now = Date.now();
      fire(3, seen = Math.max(seen, depth()));
      // A fast scroll up is an exit signal, unless a tap just caused it ("back to top").
      if (lastY - y > innerHeight / 4 && now - lastAt < 400 && now - tapAt > 2000) fire(15, 2);
      if (y >= lastY || now - lastAt > 400) { lastY = y; lastAt = now; }
    });
    // In the capture phase: keys typed into the popup stop at its host, and still count.
    "pointerdown keydown mousemove touchstart wheel".split(" ").forEach(function (e) { on(window, e, function () { fire(4); }, true); });
    on(d, "click", function (e) {
      var el = e.target instanceof Element ? e.target : null, a = el && el.closest("a[href]"), o = el && el.closest("[data-lodestone-open]");
      tapAt = Date.now();
      if (!el) return;
      if (a) { linkAt = Date.now(); if (a.host && a.host !== location.host) fire(18); }
      if (o) fire(16, 0, 0, o.getAttribute("data-lodestone-open"));
      (Array.isArray(ctas) ? ctas : []).forEach(function (c) { if (safe(function () { return el.closest(c.selector); })) fire(17, 0, 0, c.name); });
    }, true);
    on(d, "pointerdown", function (e) { if (e.target instanceof Element && e.target.closest("a[href]")) linkAt = Date.now(); }, true);
    on(d, "mouseout", function (e) { if (!e.relatedTarget && e.clientY <= 0 && Date.now() - linkAt > 1000) fire(15, 1); });
    // Going away: what is not stored yet (the last second's scroll depth) is stored now.
    // Exit intent is the tab hidden unless the page is going away (a navigation hides it too):
    // `pagehide` comes first, and the check waits a task for browsers where it comes second.
    // Leads this page waits for an answer to: the next page sends them at once.
    on(window, "pagehide", function () { leaving = 1; fire(23); if (deliverer) safe(function () { deliverer.on(3, 0, 0); }); });
    // A page restored from the back-forward cache is viewed again (its script does not rerun).
    on(window, "pageshow", function (e) { leaving = 0; if (e.persisted) { seen = height = 0; lastPath = location.pathname; entry = at(); fire(22); } });
    on(d, "visibilitychange", function () {
      if (d.visibilityState === "hidden" && Date.now() - linkAt > 1000) setTimeout(function () { if (d.visibilityState === "hidden" && !leaving) fire(15, 3); }, 0);
    });
    // Whether the path changed since last seen (a new page view: its depth starts afresh).
    function moved() { var m = location.pathname !== lastPath; if (m) { lastPath = location.pathname; seen = 0; } return m; }
    // A popstate that changes the path is a new page view (a hash change is not), and an exit
    // signal when it goes back: the Navigation API's entry index tells Forward apart (where
    // there is none, every popstate counts as Back).
    on(window, "popstate", function () { var i = at(), back = !(i > entry); entry = i; if (moved()) { if (back) fire(15, 4); fire(14); } });
    ["pushState", "replaceState"].forEach(function (k) {
      var orig = h[k];
      // Defined, not assigned: a page that froze `History.prototype` makes an assignment throw.
      if (typeof orig === "function") safe(function () { Object.defineProperty(h, k, { configurable: true, writable: true, value: function () { var r = orig.apply(this, arguments); entry = at(); setTimeout(function () { moved(); fire(14); }, 0); return r; } }); });
    });
    // Every second; and what the visitor sees without scrolling counts as seen (a page that fits
    // the screen is read to its end) once the page has loaded and kept its height for a second,
    // and the visitor has interacted since the page view began (the tracker says whether).
    setInterval(function () {
      var v = d.visibilityState === "visible", p = depth(), sh = d.documentElement.scrollHeight, same = sh === height;
      height = sh;
      if (v && same && d.readyState === "complete" && p > seen && safe(boxed) === false && fire(3, p, 1)) seen = p;
      fire(2, v ? 1 : 0);
    }, 1000);
  },
  prefetch: function () { (window.requestIdleCallback || function (f) { setTimeout(f, 200); })(function () { loadPopup(); }); },
  // A popup hidden (closed, or withdrawn by a navigation) while its module loads never mounts.
  // In a tab the visitor is not looking at, the popup waits until they do (it is counted as
  // shown, and its cooldowns start, only then); while the page shows a modal of its own
  // (`walled`), until that closes: it would sit beneath it, or fight it for focus.
  show: function (id) {
    var n = ++shows, d = document, json = safe(function () { return JSON.stringify(config.campaigns.filter(function (c) { return c.id === id; })[0]); });
    // (A task later: the tracker is still handling the call that asked.)
    if (!json) return void setTimeout(function () { if (n === shows) fire(7); }, 0);
    // With lead delivery loaded: a form on screen can always be queued, the network gone or not.
    Promise.all([loadPopup(), loadLeads()]).then(function (r) {
      var m = r[0];
      (function mount() {
        if (n !== shows) return;
        if (d.hidden) return void d.addEventListener("visibilitychange", mount, { once: true });
        if (safe(walled)) return void setTimeout(mount, 250);
        fire(safe(function () { m.mount(json, ctx); return 1; }) ? 6 : 7);
      })();
    }, function () { if (n === shows) fire(7); });
  },
  hide: function () { shows++; pending = null; if (popup) popup.then(function (m) { safe(function () { m.unmount(); }); }).catch(function () {}); },
  emit: function (name, detail) { setTimeout(function () { safe(function () { dispatchEvent(new CustomEvent(name, { detail: JSON.parse(detail) })); }); }, 0); },
  settle: function (ok, value) { var p = pending; pending = null; if (p) p[ok ? 0 : 1](safe(function () { return JSON.parse(value); })); },
  mark: function (name) { safe(function () { performance.mark(name); }); },
  // The debug overlay (`?lodestone_debug=1`): its own module, loaded only then.
  debug: function (json) {
    if (!debug) debug = import(asset("{{DEBUG_JS}}").href);
    debug.then(function (m) { m.render(JSON.parse(json)); }).catch(function () {});
  }
};
// The tracker calls these while it holds its state: one that threw would leave it unusable for
// the rest of the page view, so none does, whatever the page has done to the globals they use.
Object.keys(host).forEach(function (k) {
  var f = host[k];
  host[k] = function (a, b, c) { return safe(function () { return f(a, b, c); }); };
});
// `window.lodestone` exists at once: calls made before the tracker has loaded (a consent banner,
// an early `open`) are queued and replayed in order once it has.
function api(kind) {
  return function (arg) {
    // Only `consent(true)` grants and only `consent(false)` withdraws (and erases).
    if (kind === 20 && arg !== true && arg !== false) return undefined;
    var v = arg === undefined || arg === true || arg === false ? undefined : safe(function () { return String(arg); }), n = arg === true ? 1 : 0;
    if (!t) { queued.push([kind, n, v]); return undefined; }
    return fire(kind, n, 0, v);
  };
}
var site = base && script.getAttribute("data-site");
// The tag included twice (by hand and by a tag manager): the second copy stands down.
if (site && !(window.lodestone && "ready" in window.lodestone && !window.lodestone.q)) {
  var origin = (script.getAttribute("data-api") || new URL(script.src).origin).replace(/\/+$/, ""), early = window.lodestone && window.lodestone.q;
  window.lodestone = { ready: false, open: api(10), close: api(11), score: api(12), reset: api(13), track: api(19), consent: api(20),
    // The debug build of the tracker reports every rule's verdict; the page reloads into it.
    debug: function () { var u = new URL(location.href); u.searchParams.set("lodestone_debug", "1"); location.assign(u.href); } };
  // Calls the page made through the README's stub before this script ran, in order; later
  // calls through a reference to the stub's functions are passed on.
  if (early && early.forEach) {
    var pass = function (c) { safe(function () { window.lodestone[c[0]](c[1]); }); };
    early.forEach(pass);
    // Defined, not assigned: a page that froze `Array.prototype` makes an assignment throw.
    safe(function () { Object.defineProperty(early, "push", { value: pass }); });
  }
  tracker(asset(new URLSearchParams(location.search).get("lodestone_debug") === "1" ? "{{DEBUG_TRACKER_WASM}}" : "{{TRACKER_WASM}}")).then(function (m) {
    m.start(put(site), put(origin));
    t = m;
    // Another tab of this site stored (or erased) the visitor's history since it was read.
    on(window, "storage", function (e) { if (e.key === "lodestone:" + site) fire(21, e.newValue === null ? 1 : 0); });
    window.lodestone.ready = true;
    queued.forEach(function (c) { fire(c[0], c[1], 0, c[2]); });
    queued = [];
  }).catch(function () {});
}
