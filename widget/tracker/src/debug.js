// Lodestone debug overlay, loaded only with `?lodestone_debug=1` or `lodestone.debug()`. It
// renders what the tracker's decision engine reports: per campaign, every targeting, trigger
// and frequency rule with pass/fail and the value it saw, the score and its explanation, and
// the cooldown state. Everything is written with textContent, inside its own shadow root.
var root = null, body = null, folded = false;
var css = ":host{all:initial}" +
  ".p{position:fixed;right:12px;bottom:12px;z-index:2147483647;width:380px;max-width:calc(100vw - 24px);box-sizing:border-box;max-height:70vh;overflow:auto;" +
  "background:#0f172a;color:#e2e8f0;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;border-radius:8px;" +
  "box-shadow:0 10px 30px rgba(0,0,0,.4);padding:10px 12px}" +
  "h2{font-size:13px;margin:0 0 6px;color:#fff}h3{font-size:12px;margin:10px 0 2px;color:#fff}" +
  ".t{float:right;width:24px;height:22px;margin:-2px 0 0 8px;padding:0;border:0;border-radius:4px;background:#334155;color:#fff;font:inherit;cursor:pointer}" +
  ".f>:not(h2){display:none}.f h2{margin:0}" +
  ".ok{color:#4ade80}.no{color:#f87171}.dim{color:#94a3b8}ul{margin:0;padding-left:14px}li{margin:0}";
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}
// `t` (ms since the epoch) as a time ago: `40 s ago`, `3 min ago`, `5 h ago`, `2 days ago`.
function ago(t) {
  var s = Math.max(0, (Date.now() - t) / 1000);
  return s < 90 ? Math.round(s) + " s ago" : s < 5400 ? Math.round(s / 60) + " min ago" :
    s < 129600 ? Math.round(s / 3600) + " h ago" : Math.round(s / 86400) + " days ago";
}
// Folds the overlay to its title line (and back), so it can stay open over the page on a phone.
function toggle() {
  var t = el("button", "t", folded ? "+" : "\u2212");
  t.setAttribute("aria-expanded", String(!folded));
  t.setAttribute("aria-label", "Lodestone debug details");
  t.onclick = function () {
    folded = !folded;
    body.classList.toggle("f", folded);
    t.textContent = folded ? "+" : "\u2212";
    t.setAttribute("aria-expanded", String(!folded));
  };
  return t;
}
// A rule the campaign on screen fails only because it shows (one popup per page view, the
// cooldown since this popup) is not a reason against it: `counted` marks it neutral.
function rule(list, r, counted) {
  var li = el("li", r.passed ? "ok" : counted ? "dim" : "no", (r.passed ? "\u2713 " : counted ? "\u00b7 " : "\u2717 ") + r.rule);
  if (r.wants != null) li.appendChild(el("span", "dim", " wants " + r.wants + ", saw " + r.seen));
  list.appendChild(li);
}
function section(parent, title, rules, counted) {
  if (!rules || !rules.length) return;
  parent.appendChild(el("div", "dim", title));
  var ul = el("ul");
  rules.forEach(function (r) { rule(ul, r, counted); });
  parent.appendChild(ul);
}
function ensure() {
  // Kept the last element of the document (the popup's host is appended to <html>, after the
  // body), so it stays above the popup and its backdrop.
  var top = document.documentElement;
  if (root && root.isConnected) { if (root.nextElementSibling || root.parentNode !== top) top.appendChild(root); return; }
  root = el("div");
  root.setAttribute("data-lodestone-debug", "");
  var shadow = root.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  shadow.adoptedStyleSheets = [sheet];
  body = el("div", "p");
  body.setAttribute("role", "status");
  shadow.appendChild(body);
  top.appendChild(root);
}
export function render(d) {
  ensure();
  var frag = document.createDocumentFragment();
  var title = el("h2", null, "Lodestone debug \u00b7 " + d.site + " \u00b7 " + d.path);
  title.insertBefore(toggle(), title.firstChild);
  frag.appendChild(title);
  if (d.config_error) {
    // No config, no campaign: say which request failed and the server's reason.
    var e = d.config_error;
    frag.appendChild(el("h3", "no", "\u2717 the site config " + (e.status === 200 ? "could not be read" : "did not load") + ", so no campaign can show"));
    frag.appendChild(el("div", "dim", "GET " + e.url + " \u2192 " + (e.status || "no answer") + (e.code ? " " + e.code : "")));
    frag.appendChild(el("div", null, e.message));
    body.replaceChildren(frag);
    return;
  }
  frag.appendChild(el("div", "dim", "device " + d.device + " \u00b7 visits " + d.visits + " \u00b7 page views " +
    d.page_views + " \u00b7 storage " + (d.stored ? "on" : "off (" + d.privacy + ")")));
  frag.appendChild(el("h3", null, "Score " + d.score.total));
  var ul = el("ul");
  d.score.explanation.forEach(function (i) { ul.appendChild(el("li", null, (i.points > 0 ? "+" : "") + i.points + "  " + i.reason)); });
  frag.appendChild(ul);
  d.campaigns.forEach(function (c) {
    // The campaign on screen is not eligible again (one popup per page view): say it shows.
    var mark = c.showing ? "\u25b6 " : c.eligible ? "\u2713 " : "\u2717 ";
    var h = el("h3", c.showing || c.eligible ? "ok" : "no", mark + c.id + " (priority " + c.priority + ")");
    if (c.showing) h.appendChild(el("span", "dim", " showing now"));
    frag.appendChild(h);
    section(frag, "targeting", c.targeting);
    section(frag, "trigger (" + (c.trigger_holds ? "holds" : "not yet") + ")", c.trigger);
    section(frag, c.showing ? "frequency (counting this showing)" : "frequency", c.frequency, c.showing);
    var m = c.memory, parts = [];
    if (m.closed) parts.push("closed " + ago(m.closed));
    if (m.converted) parts.push("converted " + ago(m.converted));
    parts.push("shown this session " + m.shown);
    frag.appendChild(el("div", "dim", "cooldown: " + parts.join(" \u00b7 ")));
  });
  body.replaceChildren(frag);
}
