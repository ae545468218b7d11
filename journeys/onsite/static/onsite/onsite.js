/* Voyage on-site messages, snippet v1 (docs/onsite.md). No framework, no eval, no innerHTML:
   runs under a strict Content-Security-Policy. Renders inside a Shadow DOM. */
(function () {
  "use strict";
  if (window.__voyageOnsite) return;
  window.__voyageOnsite = true;
  var script = document.currentScript;
  if (!script) return;
  var base = script.src.replace(/\/onsite\/[^/]+\/onsite\.js.*$/, "");
  var writeKey = script.getAttribute("data-write-key");
  var page = window.voyageOnsite || {};
  var ls = safe(function () { return window.localStorage; });
  var ss = safe(function () { return window.sessionStorage; });
  var shownPopup = false;

  function safe(f) { try { return f(); } catch (e) { return null; } }
  function now() { return Date.now(); }
  function rid() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var a = new Uint8Array(16); c.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function unjson(v) {
    if (v == null || v === "") return "";
    var p = safe(function () { return JSON.parse(v); });
    return typeof p === "string" ? p : (p == null ? String(v) : "");
  }
  // The same ids analytics.js keeps (localStorage first, then its cookies).
  function ajs(name) {
    return unjson(ls && ls.getItem(name)) || unjson(cookie(name));
  }
  function store(k, v) { safe(function () { ss.setItem(k, JSON.stringify(v)); }); }
  function load(k) { return safe(function () { return JSON.parse(ss.getItem(k)); }); }

  var anonymousId = page.anonymousId || script.getAttribute("data-anonymous-id") || ajs("ajs_anonymous_id");
  if (!anonymousId) {
    anonymousId = rid();
    // Kept where analytics.js looks, so it adopts the same id if it loads later.
    safe(function () { ls.setItem("ajs_anonymous_id", JSON.stringify(anonymousId)); });
  }
  var userId = page.userId || script.getAttribute("data-user-id") || ajs("ajs_user_id");
  var signature = page.userIdSignature || script.getAttribute("data-user-id-signature") || "";

  var params = new URLSearchParams(location.search);
  var session = load("voyage_onsite_session");
  if (!session) {
    session = { id: rid(), pages: 0, events: [], utm: params.get("utm_source") || "" };
    var first = safe(function () { return ls.getItem("voyage_onsite_first_session"); });
    if (!first) safe(function () { ls.setItem("voyage_onsite_first_session", session.id); });
    session.isNew = !first;
  }
  session.pages += 1;
  store("voyage_onsite_session", session);
  var pageViewId = rid();
  var mobile = window.matchMedia("(max-width: 767px)").matches || /Mobi|Android/i.test(navigator.userAgent);

  function context(extra) {
    var body = {
      writeKey: writeKey, anonymousId: anonymousId, userId: userId || "", userIdSignature: signature,
      sessionId: session.id, pageViewId: pageViewId, url: location.href, device: mobile ? "mobile" : "desktop",
      newVisitor: !!session.isNew, sessionPages: session.pages, utmSource: session.utm || "",
      locale: navigator.language || "", preview: params.get("voyage_preview") || ""
    };
    for (var k in extra) body[k] = extra[k];
    return body;
  }
  function post(path, body, keepalive) {
    // text/plain JSON: a "simple" cross-origin request, no preflight; no cookies sent.
    return fetch(base + "/v1/onsite/" + path, {
      method: "POST", body: JSON.stringify(body), credentials: "omit", keepalive: !!keepalive
    });
  }
  function record(m, kind, keepalive) {
    return post("interactions", context({ messageId: m.id, arm: m.arm, kind: kind }), keepalive)
      .catch(function () {});
  }

  // --- rendering -----------------------------------------------------------------------------
  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".wrap{position:fixed;z-index:2147483000;color:#1b1b1f}",
    ".backdrop{inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;padding:16px}",
    ".slide{right:16px;bottom:16px;max-width:min(380px,calc(100vw - 32px))}",
    ".bar{left:0;right:0}.top{top:0}.bottom{bottom:0}",
    ".embed{position:static}",
    ".box{position:relative;background:#fff;border-radius:12px;padding:24px;max-width:min(460px,100%);",
    "box-shadow:0 10px 40px rgba(0,0,0,.25);max-height:calc(100vh - 32px);overflow:auto}",
    ".bar .box{max-width:none;border-radius:0;padding:12px 48px 12px 16px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}",
    ".embed .box{box-shadow:none;border:1px solid #ddd;max-width:none}",
    "h2{font-size:1.3rem;margin:0 0 8px;line-height:1.25;padding-right:24px}.bar h2{font-size:1rem;margin:0}",
    "p{margin:0 0 12px;line-height:1.45}.bar p{margin:0}",
    "img{max-width:100%;border-radius:8px;margin-bottom:12px;display:block}",
    ".coupon{font-weight:700;letter-spacing:.08em;border:2px dashed #6b4fbb;padding:6px 10px;display:inline-block}",
    ".close{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;border-radius:16px;",
    "background:transparent;font-size:22px;line-height:1;cursor:pointer;color:#444}",
    ".close:hover{background:#eee}",
    "button,input,a{font-size:1rem}",
    ".cta,.submit{display:inline-block;background:#6b4fbb;color:#fff;border:0;border-radius:8px;padding:10px 16px;",
    "text-decoration:none;cursor:pointer}",
    "form+.cta{margin-top:12px}",
    ":focus-visible{outline:3px solid #ffb000;outline-offset:2px}",
    "label{display:block;margin:0 0 8px}",
    "input[type=email],input[type=tel]{display:block;width:100%;padding:9px;border:1px solid #999;border-radius:6px;margin-top:4px}",
    ".check{display:flex;gap:8px;align-items:flex-start}",
    ".error{color:#b00020;min-height:1.2em;margin:4px 0 8px}",
    // Phones: pop-ups become a sheet along the bottom edge, full width, thumbs within reach.
    "@media (max-width:600px){.backdrop{align-items:flex-end;padding:0}",
    ".backdrop .box{max-width:100%;width:100%;border-radius:12px 12px 0 0;max-height:85vh}",
    ".slide{left:0;right:0;bottom:0;max-width:none}.slide .box{border-radius:12px 12px 0 0;max-width:none}",
    "h2{font-size:1.15rem}.cta,.submit{display:block;width:100%;text-align:center;padding:12px}",
    "input[type=email],input[type=tel]{font-size:16px}}",
    "@media (prefers-reduced-motion:no-preference){.box{animation:vy-in .25s ease-out}}",
    "@keyframes vy-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}"
  ].join("");
  var sheet = null;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  function show(m) {
    if (m.shown) return;
    if (m.popup) {
      if (shownPopup) return;
      shownPopup = true;
    }
    var target = m.kind === "embedded" ? document.querySelector(m.selector) : document.body;
    if (!target) return; // the page has no such element: nothing shown, nothing counted
    m.shown = true;
    var c = m.content;
    var host = document.createElement("voyage-onsite");
    host.setAttribute("data-message", String(m.id));
    var root = host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root) {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", {}, CSS)); // old browsers only; needs style-src 'unsafe-inline'
    }
    var modal = m.kind === "modal";
    var cls = { modal: "wrap backdrop", slide_in: "wrap slide", bar_top: "wrap bar top",
                bar_bottom: "wrap bar bottom", embedded: "embed" }[m.kind] || "wrap slide";
    var wrap = el("div", { "class": cls });
    var hid = "vy-h-" + m.id;
    var box = el("div", modal || m.kind === "slide_in"
      ? { "class": "box", role: "dialog", "aria-modal": modal ? "true" : "false", "aria-labelledby": hid }
      : { "class": "box", role: "region", "aria-labelledby": hid });
    wrap.appendChild(box);
    var previous = document.activeElement;
    function close(kind) {
      document.removeEventListener("keydown", onKey, true);
      if (host.parentNode) host.parentNode.removeChild(host);
      if (kind) record(m, kind);
      if (previous && previous.focus) safe(function () { previous.focus(); });
    }
    if (m.kind !== "embedded") {
      var x = el("button", { "class": "close", type: "button", "aria-label": "Close" }, "\u00d7");
      x.addEventListener("click", function () { close("close"); });
      box.appendChild(x);
    }
    if (c.image_url) box.appendChild(el("img", { src: c.image_url, alt: "" }));
    box.appendChild(el("h2", { id: hid }, c.headline));
    if (c.body) box.appendChild(el("p", {}, c.body));
    if (c.coupon_code) box.appendChild(el("p", {}, "")).appendChild(el("span", { "class": "coupon" }, c.coupon_code));
    if (m.form.email || m.form.phone) box.appendChild(form(m, box, close));
    if (c.cta_label && c.cta_url) {
      var a = el("a", { "class": "cta", href: c.cta_url }, c.cta_label);
      a.addEventListener("click", function () { record(m, "click", true); });
      box.appendChild(a);
    }
    root.appendChild(wrap);
    target.appendChild(host);
    record(m, "view");

    function focusables() {
      return Array.prototype.filter.call(
        box.querySelectorAll("a[href],button,input,select,textarea,[tabindex]:not([tabindex='-1'])"),
        function (n) { return !n.disabled; });
    }
    function onKey(e) {
      if (e.key === "Escape" && m.kind !== "embedded") { e.preventDefault(); close("close"); return; }
      if (e.key !== "Tab" || !modal) return;
      // Focus trap: Tab and Shift+Tab cycle inside the dialog.
      var items = focusables(); if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = root.activeElement;
      if (e.shiftKey && (active === first || !active)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || !active)) { e.preventDefault(); first.focus(); }
    }
    if (m.kind !== "embedded") document.addEventListener("keydown", onKey, true);
    if (modal) {
      wrap.addEventListener("click", function (e) { if (e.target === wrap) close("close"); });
      var f = focusables(); (f[1] || f[0]).focus();
    }
  }

  function form(m, box, close) {
    var c = m.content;
    var f = el("form", { novalidate: "" });
    var fields = {};
    function input(name, type, label, auto) {
      var l = el("label", {}, label);
      var i = el("input", { type: type, name: name, autocomplete: auto, required: "" });
      l.appendChild(i); f.appendChild(l); fields[name] = i;
    }
    if (m.form.email) input("email", "email", "Email", "email");
    if (m.form.phone) input("phone", "tel", "Phone (with country code, e.g. +14155550100)", "tel");
    if (m.form.email && m.form.phone) fields.phone.removeAttribute("required");
    var boxes = [];
    m.form.consents.forEach(function (k) {
      var l = el("label", { "class": "check" });
      var cb = el("input", { type: "checkbox", value: k.key });
      l.appendChild(cb); l.appendChild(el("span", {}, k.label));
      f.appendChild(l); boxes.push(cb);
    });
    var err = el("p", { "class": "error", role: "alert", "aria-live": "polite" });
    f.appendChild(err);
    f.appendChild(el("button", { "class": "submit", type: "submit" }, c.submit_label || "Sign up"));
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      err.textContent = "";
      var email = fields.email ? fields.email.value.trim() : "";
      var phone = fields.phone ? fields.phone.value.replace(/[\s()-]/g, "") : "";
      if (fields.email && !fields.email.checkValidity()) { err.textContent = "Please enter a valid email address."; fields.email.focus(); return; }
      if (fields.phone && (phone || fields.phone.required) && !/^\+[1-9]\d{6,14}$/.test(phone)) {
        err.textContent = "Please enter the phone number with its country code, e.g. +14155550100."; fields.phone.focus(); return;
      }
      var ticked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      post("submit", context({ messageId: m.id, arm: m.arm, email: email, phone: phone, consents: ticked }))
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!res[0]) {
            var e2 = res[1].error; err.textContent = typeof e2 === "string" ? e2 :
              Object.keys(e2).map(function (k) { return e2[k].join(" "); }).join(" ");
            return;
          }
          while (f.firstChild) f.removeChild(f.firstChild);
          f.appendChild(el("p", { role: "status", tabindex: "-1" }, c.success_text || "Thank you!")).focus();
        })
        .catch(function () { err.textContent = "Could not send; please try again."; });
    });
    return f;
  }

  // --- triggers ------------------------------------------------------------------------------
  function arm(m) {
    var t = m.trigger;
    if (params.get("voyage_preview")) return show(m);
    if (t.type === "page_load") return show(m);
    if (t.type === "delay") return setTimeout(function () { show(m); }, (t.seconds || 0) * 1000);
    if (t.type === "pages") { if (session.pages >= (t.pages || 1)) show(m); return; }
    if (t.type === "scroll") {
      var onScroll = function () {
        var d = document.documentElement;
        var depth = (window.scrollY + window.innerHeight) / Math.max(d.scrollHeight, 1) * 100;
        if (depth >= t.scroll) { window.removeEventListener("scroll", onScroll); show(m); }
      };
      window.addEventListener("scroll", onScroll, { passive: true });
      return onScroll();
    }
    if (t.type === "exit_intent") {
      if (mobile) return;
      // The pointer leaving through the top of the window (towards the tabs or the address bar);
      // not blur or beforeunload, which fire on link clicks too.
      var onOut = function (e) {
        if (!e.relatedTarget && e.clientY <= 0) { document.removeEventListener("mouseout", onOut); show(m); }
      };
      return document.addEventListener("mouseout", onOut);
    }
    if (t.type === "event") return watchEvent(m);
  }

  function watchEvent(m) {
    var t = m.trigger;
    function check() {
      // The latest trigger event not yet answered by the "unless" event (e.g. a Product Added with
      // no Checkout Started after it).
      var hit = null;
      session.events.forEach(function (ev) {
        if (ev.name === t.event) hit = ev;
        else if (hit && t.unless && ev.name === t.unless && ev.at >= hit.at) hit = null;
      });
      if (!hit || m.shown) return;
      var wait = t.unless ? (t.waitMinutes || 0) * 60000 - (now() - hit.at) : 0;
      if (wait <= 0) return show(m);
      setTimeout(check, wait);
    }
    listeners.push(check);
    check();
  }
  var listeners = [];
  function sawEvent(name) {
    session.events.push({ name: String(name), at: now() });
    if (session.events.length > 50) session.events.shift();
    store("voyage_onsite_session", session);
    listeners.forEach(function (f) { f(); });
  }
  // Events reach the snippet from analytics.js (when the page runs it) or voyageOnsite.track(name).
  window.voyageOnsite = page;
  page.track = sawEvent;
  function hookAnalytics() {
    var a = window.analytics;
    if (a && typeof a.on === "function") a.on("track", function (name) { sawEvent(name); });
  }

  function start() {
    hookAnalytics();
    post("decide", context({}))
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (j) { j.messages.forEach(arm); })
      .catch(function () {});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
