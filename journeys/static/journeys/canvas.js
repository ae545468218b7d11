/* The journey canvas: the definition drawn as nodes (entry, stages, waits, branches, splits, exits) and
 * edges (transitions), arranged by dragging, edited in a side panel, validated as you edit.
 *
 * Plain JavaScript and SVG, no dependencies, no build step (docs/journeys.md says why). The JSON
 * textarea of the admin form stays the field Django saves; the canvas writes it on every edit, and
 * node positions go to the hidden "layout" field beside it. */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const ENTRY = "@entry";
  const W = 250; // node width in canvas units
  const LINE = 19;
  const GAP_X = 100;
  const GAP_Y = 64;
  const MAX_ACTION_LINES = 5;
  const MIN_FIT_ZOOM = 0.75; // below this 14px text is smaller than 11px on screen: pan instead
  const KIND_LABEL = { entry: "Entry", stage: "Stage", wait: "Wait", branch: "Branch", split: "Split", exit: "Exit" };
  const TRANSITIONS = ["after", "on_event", "on_audience_entered", "on_onsite", "if", "else"];
  const TRANSITION_LABEL = { after: "after a wait", on_event: "on an event", on_audience_entered: "on joining an audience", on_onsite: "on an on-site message", if: "if a rule matches", else: "else (no rule matched)" };
  const ACTIONS = ["send", "tag_add", "tag_remove", "set_trait", "webhook", "onsite"];
  const ACTION_LABEL = { send: "Send a message", tag_add: "Add a tag", tag_remove: "Remove a tag", set_trait: "Set traits", webhook: "Call a partner endpoint", onsite: "Show an on-site message on the next visit" };
  const ONSITE_DID = ["viewed", "clicked", "submitted"];
  // Message id → name, for labels on the canvas (filled from the pickers when the canvas starts).
  let onsiteNames = {};
  const onsiteName = (id) => (id === null || id === undefined || id === "" ? "?" : id in onsiteNames ? onsiteNames[id] : "#" + id);
  const LIST_OPS = ["in", "not_in", "between"];

  // ---------- small DOM helpers ----------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === undefined || v === null || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => c && node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }
  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVGNS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "text") node.textContent = v; else node.setAttribute(k, v); });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }
  function options(select, list, value) {
    list.forEach(([v, label]) => {
      const o = el("option", { value: v, text: label });
      if (String(v) === String(value)) o.selected = true;
      select.appendChild(o);
    });
    return select;
  }
  function parseScalar(text) {
    const t = String(text).trim();
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    if (t === "true") return true;
    if (t === "false") return false;
    if (t === "null") return null;
    if (t !== "" && !isNaN(Number(t))) return Number(t);
    return t;
  }
  function formatScalar(v) {
    if (Array.isArray(v)) return v.map(formatScalar).join(", ");
    if (v === undefined) return "";
    if (typeof v === "string") return v;
    return JSON.stringify(v);
  }
  const isObj = (v) => v && typeof v === "object" && !Array.isArray(v);
  const transitionKind = (t) => TRANSITIONS.find((k) => isObj(t) && k in t) || "after";

  // ---------- reading the definition ----------
  function stageKind(stage, hint) {
    if (stage.exit === true) return "exit";
    if (Array.isArray(stage.split)) return "split";
    const ts = Array.isArray(stage.transitions) ? stage.transitions : [];
    if (ts.some((t) => isObj(t) && ("if" in t || "else" in t))) return "branch";
    // A wait is a stage that only waits: no actions (not even an empty list) and only "after"s.
    const noActions = !("actions" in stage) || (hint === "wait" && Array.isArray(stage.actions) && !stage.actions.length);
    if (noActions && ts.every((t) => isObj(t) && "after" in t) && (ts.length || hint === "wait")) return "wait";
    if (!ts.length && hint === "branch") return hint;
    return "stage";
  }
  function afterText(a) {
    if (!isObj(a)) return "after ?";
    const parts = ["days", "hours", "minutes"].filter((u) => u in a).map((u) => a[u] + " " + (a[u] === 1 ? u.slice(0, -1) : u));
    return "after " + (parts.join(" ") || "?") + (a.at ? " at " + a.at : "");
  }
  function edgeLabel(t) {
    const kind = transitionKind(t);
    if (kind === "after") return afterText(t.after);
    if (kind === "on_event") return "on " + ((t.on_event && t.on_event.event) || "?") + (t.on_event && t.on_event.where && t.on_event.where.length ? " (where…)" : "");
    if (kind === "on_audience_entered") return "joins " + (t.on_audience_entered || "?");
    if (kind === "on_onsite") return isObj(t.on_onsite) ? (t.on_onsite.did || "?") + " " + onsiteName(t.on_onsite.message) : "on-site ?";
    if (kind === "if") return "if " + ruleText(t.if);
    return "else";
  }
  function ruleText(rule) {
    if (!isObj(rule)) return "rule";
    if ("tag" in rule) return "tag " + rule.tag;
    if ("audience" in rule) return "in " + rule.audience;
    if ("trait" in rule) return rule.trait + " " + rule.op + (rule.value !== undefined ? " " + formatScalar(rule.value) : "");
    if ("event" in rule) return "did " + rule.event;
    const k = Object.keys(rule)[0];
    return k ? k + " …" : "rule";
  }
  function actionText(a) {
    if (!isObj(a)) return "?";
    if (a.send) return "✉ " + (a.send.channel || "?") + ": " + (a.send.template || "?");
    if (a.tag) return a.tag.remove !== undefined ? "− tag " + a.tag.remove : "+ tag " + a.tag.add;
    if (a.set_trait) return "set " + Object.keys(a.set_trait || {}).join(", ");
    if (a.webhook) return "↗ webhook #" + a.webhook.endpoint;
    if (a.onsite) return "▣ on site: " + onsiteName(a.onsite.message);
    return Object.keys(a)[0] || "?";
  }
  function entryText(entry) {
    if (!isObj(entry)) return ["(no entry)"];
    if ("event" in entry) return ["on event", entry.event || "?"];
    if ("audience_entered" in entry) return ["joins audience", entry.audience_entered || "?"];
    if ("schedule" in entry) return ["schedule " + (entry.schedule || "?"), "audience " + (entry.audience || "?")];
    return ["(no entry)"];
  }

  // ---------- the canvas ----------
  function Canvas(root, data) {
    this.root = root;
    this.data = data;
    this.pickers = data.pickers;
    this.pickers.onsite_messages = this.pickers.onsite_messages || [];
    onsiteNames = Object.fromEntries(this.pickers.onsite_messages.map((m) => [m.id, m.name]));
    this.counts = data.counts || {};
    this.textarea = document.querySelector("textarea.journey-json");
    this.layoutInput = document.querySelector("input.journey-layout");
    this.svg = root.querySelector("svg.jc-svg");
    this.viewport = svg("g", { class: "jc-viewport" });
    this.edgeLayer = svg("g", { class: "jc-edges" });
    this.nodeLayer = svg("g", { class: "jc-nodes" });
    // Edge labels above the nodes: a label is never hidden behind the box its edge passes.
    this.labelLayer = svg("g", { class: "jc-labels" });
    this.viewport.append(this.edgeLayer, this.nodeLayer, this.labelLayer);
    this.svg.appendChild(svg("defs", {}, [
      svg("marker", { id: "jc-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "8", markerHeight: "8", orient: "auto-start-reverse" },
        [svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#5b7083" })]),
    ]));
    this.svg.appendChild(this.viewport);
    this.panel = root.querySelector(".jc-panel");
    this.issuesBox = root.querySelector(".jc-issues");
    this.status = root.querySelector(".jc-status");
    this.view = { x: 20, y: 20, k: 1 };
    this.selected = null; // null = journey settings; ENTRY; or a stage key
    this.issues = { errors: [], warnings: [] };
    this.dirty = false;
    this.loadJson();
    try { this.layout = this.layoutInput ? JSON.parse(this.layoutInput.value || "{}") : data.layout; } catch (e) { this.layout = {}; }
    if (!isObj(this.layout)) this.layout = {};
    if (!isObj(this.layout.nodes)) this.layout.nodes = {};
    this.autoLayout(false);
    this.bindToolbar();
    this.bindPointer();
    if (this.textarea) this.textarea.addEventListener("change", () => { if (this.loadJson()) { this.autoLayout(false); this.changed(true); } });
    document.querySelectorAll("a.journey-publish").forEach((a) => a.addEventListener("click", (e) => {
      if (this.dirty) { e.preventDefault(); this.say("Save your changes first: publishing publishes the saved draft.", "error"); }
    }));
    this.render();
    this.renderPanel();
    this.fit();
    this.validate();
  }

  Canvas.prototype.loadJson = function () {
    try {
      // Someone who may only view the journey has no JSON field: the definition comes with the page.
      const parsed = this.textarea ? JSON.parse(this.textarea.value) : this.data.definition;
      this.def = isObj(parsed) ? parsed : {};
      this.root.classList.remove("jc-json-broken");
    } catch (e) {
      this.root.classList.add("jc-json-broken");
      this.say("The JSON does not parse (" + e.message + "): the canvas shows the last version that did.", "error");
      if (!this.def) this.def = {};
      return false;
    }
    if (!Array.isArray(this.def.stages)) this.def.stages = [];
    return true;
  };
  Canvas.prototype.stages = function () { return this.def.stages.filter(isObj); };
  Canvas.prototype.stage = function (key) { return this.stages().find((s) => s.key === key); };
  Canvas.prototype.keys = function () { return this.stages().map((s) => s.key).filter((k) => typeof k === "string"); };

  Canvas.prototype.say = function (text, level) {
    this.status.textContent = text;
    this.status.className = "jc-status" + (level ? " jc-status-" + level : "");
  };

  // Every edit goes through here: JSON and layout fields written, picture redrawn, validation queued.
  Canvas.prototype.changed = function (structural) {
    if (!this.textarea || !this.layoutInput) return; // read-only
    this.textarea.value = JSON.stringify(this.def, null, 2);
    this.layoutInput.value = JSON.stringify(this.layout);
    this.dirty = true;
    this.say("Unsaved changes — Save keeps them as the draft.", "dirty");
    this.render();
    if (structural) this.renderPanel();
    this.validate();
  };
  Canvas.prototype.layoutChanged = function () {
    if (!this.layoutInput) return;
    this.layoutInput.value = JSON.stringify(this.layout);
    this.dirty = true;
    this.say("Unsaved changes — Save keeps them as the draft.", "dirty");
  };

  // ---------- geometry ----------
  Canvas.prototype.nodeLines = function (key) {
    if (key === ENTRY) return { kind: "entry", title: "Entry", lines: entryText(this.def.entry).slice(0, 2), counts: null };
    const stage = this.stage(key);
    const hint = (this.layout.nodes[key] || {}).kind;
    const kind = stageKind(stage, hint);
    const acts = (Array.isArray(stage.actions) ? stage.actions : []).map(actionText);
    const lines = acts.length > MAX_ACTION_LINES ? acts.slice(0, MAX_ACTION_LINES - 1).concat(["+ " + (acts.length - MAX_ACTION_LINES + 1) + " more"]) : acts;
    if (kind === "wait") (stage.transitions || []).forEach((t) => isObj(t) && lines.push(afterText(t.after)));
    const c = this.counts[key];
    return { kind: kind, title: stage.name ? stage.name : key, sub: stage.name ? key : null, lines: lines, counts: c || null };
  };
  Canvas.prototype.nodeHeight = function (info) {
    return 34 + (info.sub ? LINE - 4 : 0) + info.lines.length * LINE + (Object.keys(this.counts).length && info.kind !== "entry" ? 30 : 0) + 10;
  };

  // Positions for nodes without one: rows by distance from the entry, in definition order.
  Canvas.prototype.autoLayout = function (all) {
    const keys = this.keys();
    const missing = keys.filter((k) => all || !this.layout.nodes[k]);
    if (!missing.length && this.layout.nodes[ENTRY] && !all) return;
    const depth = {};
    if (keys.length) {
      depth[keys[0]] = 1;
      const queue = [keys[0]];
      while (queue.length) {
        const k = queue.shift();
        const s = this.stage(k);
        const next = (Array.isArray(s.transitions) ? s.transitions : []).concat(Array.isArray(s.split) ? s.split : []).map((t) => isObj(t) && t.to);
        next.forEach((n) => { if (keys.includes(n) && depth[n] === undefined) { depth[n] = depth[k] + 1; queue.push(n); } });
      }
    }
    const maxDepth = Math.max(1, ...Object.values(depth));
    keys.forEach((k) => { if (depth[k] === undefined) depth[k] = maxDepth + 1; });
    const rows = {};
    keys.forEach((k) => { (rows[depth[k]] = rows[depth[k]] || []).push(k); });
    const widest = Math.max(1, ...Object.values(rows).map((r) => r.length));
    const rowY = { 0: 0 };
    let y = 0;
    const levels = Object.keys(rows).map(Number).sort((a, b) => a - b);
    let prevH = this.nodeHeight(this.nodeLines(ENTRY));
    levels.forEach((d) => {
      y += prevH + GAP_Y;
      rowY[d] = y;
      prevH = Math.max(...rows[d].map((k) => this.nodeHeight(this.nodeLines(k))));
    });
    const total = widest * W + (widest - 1) * GAP_X;
    if (all || !this.layout.nodes[ENTRY]) this.layout.nodes[ENTRY] = { x: (total - W) / 2, y: 0 };
    levels.forEach((d) => {
      const row = rows[d];
      const start = (total - (row.length * W + (row.length - 1) * GAP_X)) / 2;
      row.forEach((k, i) => {
        if (all || !this.layout.nodes[k]) this.layout.nodes[k] = Object.assign({}, this.layout.nodes[k], { x: start + i * (W + GAP_X), y: rowY[d] });
      });
    });
  };

  Canvas.prototype.box = function (key) {
    const pos = this.layout.nodes[key] || { x: 0, y: 0 };
    return { x: pos.x, y: pos.y, w: W, h: this.nodeHeight(this.nodeLines(key)) };
  };

  // ---------- drawing ----------
  Canvas.prototype.edges = function () {
    const out = [];
    const keys = this.keys();
    if (keys.length) out.push({ from: ENTRY, to: keys[0], label: "", kind: "entry" });
    this.def.stages.forEach((s, si) => {
      if (!isObj(s)) return;
      (Array.isArray(s.transitions) ? s.transitions : []).forEach((t, ti) => {
        if (isObj(t) && keys.includes(t.to)) out.push({ from: s.key, to: t.to, label: edgeLabel(t), kind: transitionKind(t), path: "stages[" + si + "].transitions[" + ti + "]" });
      });
      (Array.isArray(s.split) ? s.split : []).forEach((b, bi) => {
        if (isObj(b) && keys.includes(b.to)) out.push({ from: s.key, to: b.to, label: (b.weight === undefined ? "?" : b.weight) + "%", kind: "split", path: "stages[" + si + "].split[" + bi + "]" });
      });
    });
    return out;
  };

  Canvas.prototype.render = function () {
    this.edgeLayer.replaceChildren();
    this.nodeLayer.replaceChildren();
    this.labelLayer.replaceChildren();
    const marks = this.marksByNode();
    [ENTRY].concat(this.keys()).forEach((key) => this.nodeLayer.appendChild(this.drawNode(key, marks[key])));
    // Outgoing edges leave a node in the order their targets lie, left to right: fewer crossings.
    const centre = (k) => this.box(k).x;
    const edges = this.edges().sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : centre(a.to) - centre(b.to)));
    const outCount = {};
    const outIndex = {};
    edges.forEach((e) => { outCount[e.from] = (outCount[e.from] || 0) + 1; });
    edges.forEach((e) => {
      outIndex[e.from] = (outIndex[e.from] || 0) + 1;
      this.edgeLayer.appendChild(this.drawEdge(e, outIndex[e.from], outCount[e.from]));
    });
    this.applyView();
  };

  Canvas.prototype.drawNode = function (key, mark) {
    const info = this.nodeLines(key);
    const b = this.box(key);
    const classes = ["jc-node", "jc-" + info.kind];
    if (key === this.selected) classes.push("jc-selected");
    if (mark && mark.errors.length) classes.push("jc-has-error");
    else if (mark && mark.warnings.length) classes.push("jc-has-warning");
    const g = svg("g", { class: classes.join(" "), transform: "translate(" + b.x + "," + b.y + ")", "data-key": key, tabindex: "0", role: "button",
      "aria-label": KIND_LABEL[info.kind] + " " + info.title });
    g.appendChild(svg("rect", { class: "jc-box", width: W, height: b.h, rx: info.kind === "entry" ? 24 : 8 }));
    g.appendChild(svg("rect", { class: "jc-band", width: 6, height: b.h, rx: 3 }));
    g.appendChild(svg("text", { class: "jc-kind", x: 16, y: 17, text: KIND_LABEL[info.kind].toUpperCase() }));
    g.appendChild(svg("text", { class: "jc-title", x: 16, y: 36, text: clip(info.title, 24) }));
    let y = 36;
    if (info.sub) { y += LINE - 4; g.appendChild(svg("text", { class: "jc-sub", x: 16, y: y, text: clip(info.sub, 30) })); }
    info.lines.forEach((line) => { y += LINE; g.appendChild(svg("text", { class: "jc-line", x: 16, y: y, text: clip(line, 30) })); });
    if (info.kind !== "entry" && Object.keys(this.counts).length) {
      const c = info.counts || { now: 0, visited: 0, converted: 0 };
      const band = svg("g", { class: "jc-counts", transform: "translate(0," + (b.h - 30) + ")" });
      band.appendChild(svg("rect", { width: W, height: 30, rx: 8, class: "jc-counts-bg" }));
      band.appendChild(svg("text", { x: 14, y: 20, text: "now " + fmt(c.now) + " · visited " + fmt(c.visited) + " · conv. " + fmt(c.converted) }));
      g.appendChild(band);
    }
    if (mark && (mark.errors.length || mark.warnings.length)) {
      const n = mark.errors.length || mark.warnings.length;
      const badge = svg("g", { class: "jc-badge", transform: "translate(" + (W - 14) + ",-8)" });
      badge.appendChild(svg("circle", { r: 12 }));
      badge.appendChild(svg("text", { y: 5, "text-anchor": "middle", text: mark.errors.length ? String(n) : "!" }));
      badge.appendChild(svg("title", { text: mark.errors.concat(mark.warnings).map((i) => i.path + ": " + i.message).join("\n") }));
      g.appendChild(badge);
    }
    if (info.kind !== "exit" && this.data.can_edit) g.appendChild(svg("circle", { class: "jc-port", cx: W / 2, cy: b.h, r: 8, "data-port": key }, [svg("title", { text: "Drag to a node to connect" })]));
    return g;
  };

  function clip(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  function fmt(n) { return (n || 0).toLocaleString("en"); }

  Canvas.prototype.drawEdge = function (e, i, n) {
    const a = this.box(e.from);
    const b = this.box(e.to);
    const sx = a.x + (W * i) / (n + 1);
    const sy = a.y + a.h;
    let d;
    let mid;
    if (e.from === e.to) {
      // A loop over the top right corner, clear of the edges in (top centre) and out (bottom).
      const x0 = a.x + W - 40, y0 = a.y, x1 = a.x + W, y1 = a.y + 15;
      d = "M" + x0 + "," + y0 + " C" + x0 + "," + (y0 - 50) + " " + (x1 + 50) + "," + (y1 - 5) + " " + x1 + "," + y1;
      mid = bezierAt([x0, y0], [x0, y0 - 50], [x1 + 50, y1 - 5], [x1, y1], 0.45);
      mid.y -= 12;
    } else if (b.y > sy + 10) {
      const tx = b.x + W / 2, ty = b.y;
      const dy = Math.max(40, (ty - sy) / 2);
      d = "M" + sx + "," + sy + " C" + sx + "," + (sy + dy) + " " + tx + "," + (ty - dy) + " " + tx + "," + ty;
      mid = bezierMid([sx, sy], [sx, sy + dy], [tx, ty - dy], [tx, ty]);
    } else if (b.y < a.y + a.h && a.y < b.y + b.h) {
      // Side by side: from the facing sides.
      const right = b.x > a.x;
      const ax = right ? a.x + W : a.x, ay = a.y + Math.min(a.h / 2, 40) + (i - (n + 1) / 2) * 8;
      const tx = right ? b.x : b.x + W, ty = b.y + Math.min(b.h / 2, 40);
      const dx = (tx - ax) / 2;
      d = "M" + ax + "," + ay + " C" + (ax + dx) + "," + ay + " " + (tx - dx) + "," + ty + " " + tx + "," + ty;
      mid = bezierMid([ax, ay], [ax + dx, ay], [tx - dx, ty], [tx, ty]);
    } else {
      // Back up the page: leave and arrive on the side the target lies on, bulging out past both boxes.
      const right = b.x + W / 2 >= a.x + W / 2;
      const side = right ? W : 0;
      const ax = a.x + side, ay = a.y + a.h / 2 + (i - (n + 1) / 2) * 8;
      const tx = b.x + side, ty = b.y + Math.min(b.h / 2, 26);
      const out = 60 + Math.abs(ay - ty) * 0.08;
      const bulge = right ? Math.max(ax, tx) + out : Math.min(ax, tx) - out;
      d = "M" + ax + "," + ay + " C" + bulge + "," + ay + " " + bulge + "," + ty + " " + tx + "," + ty;
      // Labelled near where it leaves: the long way back passes other boxes, its start rarely does.
      mid = bezierAt([ax, ay], [bulge, ay], [bulge, ty], [tx, ty], 0.22);
    }
    const g = svg("g", { class: "jc-edge jc-edge-" + e.kind, "data-from": e.from, "data-to": e.to, "data-path": e.path || "" });
    g.appendChild(svg("path", { class: "jc-edge-hit", d: d }));
    g.appendChild(svg("path", { class: "jc-edge-line", d: d, "marker-end": "url(#jc-arrow)" }));
    if (e.label) {
      const w = Math.min(28, e.label.length) * 7 + 10;
      this.labelLayer.appendChild(svg("g", { class: "jc-edge-label-box", "data-from": e.from, "data-to": e.to }, [
        svg("rect", { class: "jc-edge-label-bg", x: mid.x - w / 2, y: mid.y - 10, width: w, height: 19, rx: 4 }),
        svg("text", { class: "jc-edge-label", x: mid.x, y: mid.y + 4, "text-anchor": "middle", text: clip(e.label, 28) }),
      ]));
    }
    return g;
  };
  function bezierMid(p0, p1, p2, p3) { return bezierAt(p0, p1, p2, p3, 0.5); }
  function bezierAt(p0, p1, p2, p3, t) {
    const u = 1 - t;
    const c = (i) => u * u * u * p0[i] + 3 * u * u * t * p1[i] + 3 * u * t * t * p2[i] + t * t * t * p3[i];
    return { x: c(0), y: c(1) };
  }

  // ---------- view: zoom, pan, fit ----------
  Canvas.prototype.applyView = function () {
    this.viewport.setAttribute("transform", "translate(" + this.view.x + "," + this.view.y + ") scale(" + this.view.k + ")");
    const z = this.root.querySelector(".jc-zoom-level");
    if (z) z.textContent = Math.round(this.view.k * 100) + "%";
  };
  Canvas.prototype.bounds = function () {
    const keys = [ENTRY].concat(this.keys());
    const boxes = keys.map((k) => this.box(k));
    const x0 = Math.min(...boxes.map((b) => b.x)) - 70, y0 = Math.min(...boxes.map((b) => b.y));
    const x1 = Math.max(...boxes.map((b) => b.x + b.w)) + 70, y1 = Math.max(...boxes.map((b) => b.y + b.h)) + 20;
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  };
  // The whole journey in view, unless that would make text too small to read: then as much as fits at
  // the smallest readable zoom, starting from the entry (pan for the rest).
  Canvas.prototype.fit = function () {
    const r = this.svg.getBoundingClientRect();
    const bb = this.bounds();
    const pad = 24;
    const k = Math.max(MIN_FIT_ZOOM, Math.min(1.2, (r.width - 2 * pad) / bb.w, (r.height - 2 * pad) / bb.h));
    this.view.k = k;
    this.view.x = bb.w * k < r.width ? (r.width - bb.w * k) / 2 - bb.x * k : pad - bb.x * k;
    this.view.y = bb.h * k < r.height ? (r.height - bb.h * k) / 2 - bb.y * k : pad - bb.y * k;
    this.applyView();
  };
  Canvas.prototype.zoom = function (factor, cx, cy) {
    const r = this.svg.getBoundingClientRect();
    if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
    const k = Math.min(3, Math.max(0.2, this.view.k * factor));
    this.view.x = cx - ((cx - this.view.x) * k) / this.view.k;
    this.view.y = cy - ((cy - this.view.y) * k) / this.view.k;
    this.view.k = k;
    this.applyView();
  };
  Canvas.prototype.toWorld = function (clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    return { x: (clientX - r.left - this.view.x) / this.view.k, y: (clientY - r.top - this.view.y) / this.view.k };
  };

  Canvas.prototype.bindToolbar = function () {
    const on = (sel, fn) => this.root.querySelectorAll(sel).forEach((b) => b.addEventListener("click", (e) => { e.preventDefault(); fn(b); }));
    on("[data-add]", (b) => this.addNode(b.dataset.add));
    on(".jc-zoom-in", () => this.zoom(1.2));
    on(".jc-zoom-out", () => this.zoom(1 / 1.2));
    on(".jc-fit", () => this.fit());
    on(".jc-arrange", () => { this.autoLayout(true); this.layoutChanged(); this.render(); this.fit(); });
    on(".jc-settings", () => this.select(null));
  };

  Canvas.prototype.bindPointer = function () {
    let drag = null;
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = this.svg.getBoundingClientRect();
      this.zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const port = e.target.closest("[data-port]");
      const node = e.target.closest(".jc-node");
      const edge = e.target.closest(".jc-edge");
      if (port) {
        const w = this.toWorld(e.clientX, e.clientY);
        const line = svg("path", { class: "jc-wire", d: "" });
        this.viewport.appendChild(line);
        drag = { mode: "wire", from: port.dataset.port, line: line, x0: w.x, y0: w.y };
      } else if (node) {
        const key = node.dataset.key;
        const w = this.toWorld(e.clientX, e.clientY);
        const pos = this.layout.nodes[key] || { x: 0, y: 0 };
        drag = { mode: "node", key: key, dx: w.x - pos.x, dy: w.y - pos.y, moved: false, sx: e.clientX, sy: e.clientY };
      } else if (edge) {
        drag = { mode: "edge", from: edge.dataset.from, path: edge.dataset.path };
      } else {
        drag = { mode: "pan", sx: e.clientX, sy: e.clientY, vx: this.view.x, vy: this.view.y, moved: false };
      }
      this.svg.setPointerCapture(e.pointerId);
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      if (drag.mode === "node") {
        if (!drag.moved && Math.hypot(e.clientX - drag.sx, e.clientY - drag.sy) < 4) return;
        drag.moved = true;
        const w = this.toWorld(e.clientX, e.clientY);
        const old = this.layout.nodes[drag.key] || {};
        this.layout.nodes[drag.key] = Object.assign({}, old, { x: Math.round(w.x - drag.dx), y: Math.round(w.y - drag.dy) });
        this.render();
      } else if (drag.mode === "pan") {
        drag.moved = drag.moved || Math.hypot(e.clientX - drag.sx, e.clientY - drag.sy) > 3;
        this.view.x = drag.vx + e.clientX - drag.sx;
        this.view.y = drag.vy + e.clientY - drag.sy;
        this.applyView();
      } else if (drag.mode === "wire") {
        const w = this.toWorld(e.clientX, e.clientY);
        drag.line.setAttribute("d", "M" + drag.x0 + "," + drag.y0 + " L" + w.x + "," + w.y);
      }
    });
    const end = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      if (d.mode === "node") {
        if (d.moved) this.layoutChanged();
        this.select(d.key);
      } else if (d.mode === "pan") {
        if (!d.moved) this.select(null);
      } else if (d.mode === "edge") {
        this.select(d.from, d.path);
      } else if (d.mode === "wire") {
        d.line.remove();
        const hit = document.elementFromPoint(e.clientX, e.clientY);
        const target = hit && hit.closest && hit.closest(".jc-node");
        if (target && target.dataset.key !== ENTRY) this.connect(d.from, target.dataset.key);
      }
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", () => { if (drag && drag.line) drag.line.remove(); drag = null; });
    this.svg.addEventListener("keydown", (e) => {
      const node = e.target.closest && e.target.closest(".jc-node");
      if (node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); this.select(node.dataset.key); }
    });
  };

  // ---------- editing the graph ----------
  Canvas.prototype.uniqueKey = function (base) {
    const keys = this.keys();
    let n = 1;
    while (keys.includes(base + "-" + n)) n += 1;
    return base + "-" + n;
  };

  Canvas.prototype.addNode = function (kind) {
    const key = this.uniqueKey(kind === "stage" ? "stage" : kind);
    const stage = { key: key };
    if (kind === "exit") stage.exit = true;
    else if (kind === "split") stage.split = [];
    else { if (kind === "stage") stage.actions = []; stage.transitions = []; }
    const from = this.selected && this.selected !== ENTRY ? this.stage(this.selected) : null;
    // Below the selected node (and connected from it), or in the middle of what is in view.
    let pos;
    if (this.selected) {
      const b = this.box(this.selected);
      pos = { x: b.x, y: b.y + b.h + GAP_Y };
    } else {
      // To the right of everything drawn, level with the middle of the view: never on top of a node.
      const r = this.svg.getBoundingClientRect();
      const c = this.toWorld(r.left + r.width / 2, r.top + r.height / 2);
      const right = Math.max(...[ENTRY].concat(this.keys()).map((k) => this.box(k).x + W));
      pos = { x: Math.round(right + GAP_X), y: Math.round(c.y - 40) };
    }
    this.def.stages.push(stage);
    this.layout.nodes[key] = Object.assign(pos, kind === "wait" || kind === "branch" ? { kind: kind } : {});
    if (this.selected === ENTRY && this.keys().length === 1) { /* the entry leads to the first stage */ }
    else if (from && stageKind(from) !== "exit") this.connect(from.key, key, true);
    this.select(key);
    this.changed(true);
  };

  function newTransition(kind, to) {
    const t = { to: to };
    if (kind === "after") t.after = { days: 1 };
    else if (kind === "on_event") t.on_event = { event: "" };
    else if (kind === "on_audience_entered") t.on_audience_entered = "";
    else if (kind === "on_onsite") t.on_onsite = { message: null, did: "viewed" };
    else if (kind === "if") t.if = { tag: "" };
    else t.else = true;
    return t;
  }

  // A new edge from → to, of the kind the source node suggests.
  Canvas.prototype.connect = function (fromKey, toKey, quiet) {
    if (fromKey === ENTRY) {
      const i = this.def.stages.findIndex((s) => isObj(s) && s.key === toKey);
      if (i > 0) { const [s] = this.def.stages.splice(i, 1); this.def.stages.unshift(s); }
      if (!quiet) this.changed(true);
      return;
    }
    const src = this.stage(fromKey);
    const kind = stageKind(src, (this.layout.nodes[fromKey] || {}).kind);
    if (kind === "exit") return;
    if (kind === "split") {
      src.split.push({ to: toKey, weight: Math.max(1, 100 - src.split.reduce((a, b) => a + (Number(b.weight) || 0), 0)) });
    } else {
      src.transitions = Array.isArray(src.transitions) ? src.transitions : [];
      if (kind === "branch") {
        const hasIf = src.transitions.some((t) => isObj(t) && "if" in t);
        const elseAt = src.transitions.findIndex((t) => isObj(t) && "else" in t);
        if (hasIf && elseAt < 0) src.transitions.push(newTransition("else", toKey));
        else src.transitions.splice(elseAt < 0 ? src.transitions.length : elseAt, 0, newTransition("if", toKey));
      } else {
        src.transitions.push(newTransition("after", toKey));
      }
    }
    if (!quiet) { this.select(fromKey); this.changed(true); }
  };

  Canvas.prototype.rename = function (oldKey, newKey) {
    if (newKey === oldKey) return true;
    if (this.keys().includes(newKey)) { this.say("There is already a stage " + newKey + ".", "error"); return false; }
    this.stages().forEach((s) => {
      if (s.key === oldKey) s.key = newKey;
      (Array.isArray(s.transitions) ? s.transitions : []).concat(Array.isArray(s.split) ? s.split : [])
        .forEach((t) => { if (isObj(t) && t.to === oldKey) t.to = newKey; });
    });
    if (this.layout.nodes[oldKey]) { this.layout.nodes[newKey] = this.layout.nodes[oldKey]; delete this.layout.nodes[oldKey]; }
    if (this.counts[oldKey] && !this.counts[newKey]) { /* counts belong to the old key's runs: leave them */ }
    if (this.selected === oldKey) this.selected = newKey;
    return true;
  };

  Canvas.prototype.incoming = function (key) {
    const list = [];
    this.stages().forEach((s) => {
      (Array.isArray(s.transitions) ? s.transitions : []).forEach((t) => { if (isObj(t) && t.to === key && s.key !== key) list.push({ from: s.key, label: edgeLabel(t), ref: t }); });
      (Array.isArray(s.split) ? s.split : []).forEach((b) => { if (isObj(b) && b.to === key && s.key !== key) list.push({ from: s.key, label: b.weight + "% split", ref: b }); });
    });
    return list;
  };

  // Deleting asks what becomes of the edges into the stage: removed, or redirected to another stage.
  Canvas.prototype.askDelete = function (key) {
    const incoming = this.incoming(key);
    const others = this.keys().filter((k) => k !== key);
    const dialog = el("dialog", { class: "jc-dialog", "aria-label": "Delete stage " + key });
    const form = el("form", { method: "dialog" });
    form.appendChild(el("h2", { text: "Delete stage “" + key + "”?" }));
    if (this.keys()[0] === key && others.length) form.appendChild(el("p", { text: "It is the first stage: new runs will start in “" + others[0] + "” instead." }));
    let redirect = null;
    if (incoming.length) {
      form.appendChild(el("p", { text: incoming.length + " transition" + (incoming.length === 1 ? " leads" : "s lead") + " into it:" }));
      form.appendChild(el("ul", {}, incoming.map((i) => el("li", { text: "from " + i.from + " (" + i.label + ")" }))));
      form.appendChild(el("label", { class: "jc-choice" }, [el("input", { type: "radio", name: "incoming", value: "remove", checked: true }), " remove those transitions"]));
      if (others.length) {
        redirect = options(el("select", { name: "redirect-to", "aria-label": "Send them to" }), others.map((k) => [k, k]), others[0]);
        form.appendChild(el("label", { class: "jc-choice" }, [el("input", { type: "radio", name: "incoming", value: "redirect" }), " send them to ", redirect]));
        redirect.addEventListener("change", () => { form.querySelector("input[value=redirect]").checked = true; });
      }
    } else {
      form.appendChild(el("p", { text: "No transition leads into it." }));
    }
    form.appendChild(el("div", { class: "jc-dialog-buttons" }, [
      el("button", { type: "submit", value: "delete", class: "button jc-danger", text: "Delete stage" }),
      el("button", { type: "submit", value: "cancel", class: "button", text: "Cancel" }),
    ]));
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "delete") {
        const mode = (form.querySelector("input[name=incoming]:checked") || {}).value || "remove";
        this.deleteStage(key, mode === "redirect" && redirect ? redirect.value : null);
      }
      dialog.remove();
    });
    dialog.showModal();
  };

  Canvas.prototype.deleteStage = function (key, redirectTo) {
    this.stages().forEach((s) => {
      if (Array.isArray(s.transitions)) s.transitions = s.transitions.filter((t) => !(isObj(t) && t.to === key && !redirectTo));
      if (Array.isArray(s.split)) s.split = s.split.filter((b) => !(isObj(b) && b.to === key && !redirectTo));
      (s.transitions || []).concat(s.split || []).forEach((t) => { if (isObj(t) && t.to === key) t.to = redirectTo; });
    });
    this.def.stages = this.def.stages.filter((s) => !(isObj(s) && s.key === key));
    delete this.layout.nodes[key];
    this.selected = null;
    this.say("Deleted stage " + key + (redirectTo ? "; its incoming transitions now lead to " + redirectTo : "") + ".", "dirty");
    this.changed(true);
  };

  Canvas.prototype.select = function (key, focusPath) {
    this.selected = key;
    this.render();
    this.renderPanel(focusPath);
  };

  // ---------- validation ----------
  Canvas.prototype.validate = function () {
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validateNow(), 300);
  };
  Canvas.prototype.validateNow = function () {
    const csrf = document.querySelector("[name=csrfmiddlewaretoken]");
    const seq = (this.validateSeq = (this.validateSeq || 0) + 1);
    this.root.classList.add("jc-validating");
    fetch(this.data.validate_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify({ definition: this.def, journey_id: this.data.journey_id }),
    }).then((r) => r.json()).then((report) => {
      if (seq !== this.validateSeq) return; // a later edit's answer is on its way
      this.root.classList.remove("jc-validating");
      this.issues = { errors: report.errors || [], warnings: report.warnings || [] };
      this.render();
      this.markPanel();
      this.renderIssues();
    }).catch((e) => { this.root.classList.remove("jc-validating"); this.say("Could not check the journey: " + e, "error"); });
  };

  Canvas.prototype.nodeOfPath = function (path) {
    const m = /^stages\[(\d+)\]/.exec(path);
    if (m) { const s = this.def.stages[Number(m[1])]; return isObj(s) && typeof s.key === "string" ? s.key : null; }
    if (/^entry/.test(path)) return ENTRY;
    return null; // the journey's own settings
  };
  Canvas.prototype.marksByNode = function () {
    const marks = {};
    const add = (list, bucket) => list.forEach((i) => {
      const key = this.nodeOfPath(i.path) || "@journey";
      marks[key] = marks[key] || { errors: [], warnings: [] };
      marks[key][bucket].push(i);
    });
    add(this.issues.errors, "errors");
    add(this.issues.warnings, "warnings");
    const settings = this.root.querySelector(".jc-settings");
    if (settings) settings.classList.toggle("jc-has-error", !!(marks["@journey"] && marks["@journey"].errors.length));
    return marks;
  };

  Canvas.prototype.renderIssues = function () {
    const box = this.issuesBox;
    box.replaceChildren();
    const { errors, warnings } = this.issues;
    if (!errors.length) box.appendChild(el("p", { class: "jc-ok", text: "✓ The journey is valid" + (warnings.length ? ", with " + warnings.length + " warning" + (warnings.length === 1 ? "" : "s") : "") + "." }));
    else box.appendChild(el("p", { class: "errornote", text: errors.length + " error" + (errors.length === 1 ? "" : "s") + " — this draft cannot be published yet:" }));
    const list = el("ul", { class: "jc-issue-list" });
    const row = (i, cls) => {
      const key = this.nodeOfPath(i.path);
      const li = el("li", { class: cls }, [el("button", { type: "button", class: "jc-issue-link", text: (key && key !== ENTRY ? key : key === ENTRY ? "entry" : "journey") + " › " + (i.path || "(definition)"), onclick: () => this.select(key, i.path) }), ": " + i.message]);
      list.appendChild(li);
    };
    errors.forEach((i) => row(i, "jc-error"));
    warnings.forEach((i) => row(i, "jc-warning"));
    box.appendChild(list);
  };

  // Mark, in the panel, the field each issue is about (the deepest field whose path leads to it).
  Canvas.prototype.markPanel = function () {
    this.panel.querySelectorAll(".jc-field-error, .jc-field-warning").forEach((n) => n.classList.remove("jc-field-error", "jc-field-warning"));
    this.panel.querySelectorAll(".jc-msg").forEach((n) => n.remove());
    const fields = [...this.panel.querySelectorAll("[data-path]")];
    const mark = (issue, cls) => {
      if (this.nodeOfPath(issue.path) !== (this.selected || null) && !(this.selected === null && this.nodeOfPath(issue.path) === null)) return;
      let best = null;
      fields.forEach((f) => {
        const p = f.dataset.path;
        if ((issue.path === p || issue.path.startsWith(p + ".") || issue.path.startsWith(p + "[")) && (!best || p.length > best.dataset.path.length)) best = f;
      });
      const target = best || this.panel.querySelector(".jc-panel-head");
      if (!target) return;
      target.classList.add(cls);
      const msg = el("div", { class: "jc-msg " + cls, text: (best && best.dataset.path !== issue.path ? issue.path.slice(best.dataset.path.length).replace(/^\./, "") + ": " : "") + issue.message });
      target.after(msg);
    };
    this.issues.errors.forEach((i) => mark(i, "jc-field-error"));
    this.issues.warnings.forEach((i) => mark(i, "jc-field-warning"));
  };

  // ---------- the side panel ----------
  Canvas.prototype.renderPanel = function (focusPath) {
    const p = this.panel;
    p.replaceChildren();
    const ro = !this.data.can_edit;
    if (this.selected === null) this.panelJourney(p);
    else if (this.selected === ENTRY) this.panelEntry(p);
    else if (this.stage(this.selected)) this.panelStage(p, this.stage(this.selected));
    else { this.selected = null; this.panelJourney(p); }
    if (ro) p.querySelectorAll("input, select, textarea, button").forEach((n) => { n.disabled = true; });
    this.markPanel();
    if (focusPath) {
      const f = p.querySelector('[data-path="' + CSS.escape(focusPath) + '"]');
      if (f) { f.scrollIntoView({ block: "nearest" }); if (f.focus) f.focus(); }
    }
  };

  function field(label, control, path, help) {
    const id = "jc-f-" + Math.random().toString(36).slice(2, 9);
    const target = control.matches && control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
    if (target && !target.id) target.id = id;
    const row = el("div", { class: "jc-field", "data-path": path || null }, [el("label", { for: target ? target.id : null, text: label }), control]);
    if (help) row.appendChild(el("div", { class: "help", text: help }));
    return row;
  }
  function textInput(value, onchange, attrs) {
    return el("input", Object.assign({ type: "text", value: value === undefined || value === null ? "" : String(value), oninput: (e) => onchange(e.target.value) }, attrs || {}));
  }
  function numberInput(value, onchange, attrs) {
    return el("input", Object.assign({ type: "number", value: value === undefined || value === null ? "" : String(value), oninput: (e) => onchange(e.target.value === "" ? null : Number(e.target.value)) }, attrs || {}));
  }
  function selectInput(list, value, onchange, attrs) {
    const s = el("select", Object.assign({ onchange: (e) => onchange(e.target.value) }, attrs || {}));
    return options(s, list, value);
  }
  function removeButton(title, fn) { return el("button", { type: "button", class: "jc-remove", title: title, "aria-label": title, text: "✕", onclick: fn }); }
  function section(title, children) { return el("fieldset", { class: "jc-section" }, [el("legend", { text: title })].concat(children)); }

  // A choice among things that exist; the current value is kept (and flagged) when it no longer does.
  Canvas.prototype.picker = function (list, value, onchange, attrs, allowNew, missingLabel) {
    const known = list.map((o) => String(o[0]));
    const items = [["", "— choose —"]].concat(list);
    if (value !== undefined && value !== null && value !== "" && !known.includes(String(value))) items.push([String(value), value + " (" + (missingLabel || "does not exist") + ")"]);
    if (allowNew) items.push(["__new__", allowNew]);
    const wrap = el("span", { class: "jc-picker" });
    const s = selectInput(items, value === undefined || value === null ? "" : value, (v) => {
      if (v === "__new__") {
        const input = textInput("", (t) => onchange(t), { placeholder: "new name", class: "jc-new-name", "aria-label": "New name" });
        s.after(input);
        input.focus();
        return;
      }
      wrap.querySelectorAll(".jc-new-name").forEach((n) => n.remove());
      onchange(v);
    }, attrs);
    wrap.appendChild(s);
    return wrap;
  };
  Canvas.prototype.eventPicker = function (value, onchange, attrs) {
    return this.picker(this.pickers.events.map((n) => [n, n]), value, onchange, attrs, "another event (not seen yet)…", "not seen yet");
  };
  Canvas.prototype.audiencePicker = function (value, onchange, attrs) {
    return this.picker(this.pickers.audiences.map((a) => [a.slug, a.name + " (" + a.slug + ")"]), value, onchange, attrs);
  };
  Canvas.prototype.onsitePicker = function (value, onchange, attrs) {
    const list = this.pickers.onsite_messages.map((m) => [m.id, m.name + (m.status === "active" ? "" : " (" + m.status + ")")]);
    return this.picker(list, value, (v) => onchange(v === "" ? null : Number(v)), attrs);
  };
  Canvas.prototype.stagePicker = function (value, onchange, attrs) {
    return this.picker(this.keys().map((k) => [k, k]), value, onchange, attrs);
  };

  // Property conditions on an event ("where"): property, operator, value.
  Canvas.prototype.whereEditor = function (owner, path, done) {
    const box = el("div", { class: "jc-where", "data-path": path + ".where" });
    (Array.isArray(owner.where) ? owner.where : []).forEach((cond, i) => {
      const here = path + ".where[" + i + "]";
      const value = textInput(formatScalar(cond.value), (t) => {
        cond.value = LIST_OPS.includes(cond.op) ? t.split(",").map((x) => parseScalar(x)).filter((x) => x !== "") : parseScalar(t);
        done(false);
      }, { placeholder: "value (a, b for lists)", "data-path": here + ".value", "aria-label": "value" });
      const row = el("div", { class: "jc-row", "data-path": here }, [
        textInput(cond.property, (t) => { cond.property = t; done(false); }, { placeholder: "property, e.g. total", "data-path": here + ".property", "aria-label": "property" }),
        selectInput(this.pickers.condition_ops.map((o) => [o, o]), cond.op, (o) => {
          cond.op = o;
          if (this.pickers.unary_ops.includes(o)) delete cond.value;
          done(true);
        }, { "data-path": here + ".op", "aria-label": "operator" }),
        this.pickers.unary_ops.includes(cond.op) ? null : value,
        removeButton("Remove condition", () => { owner.where.splice(i, 1); if (!owner.where.length) delete owner.where; done(true); }),
      ]);
      box.appendChild(row);
    });
    box.appendChild(el("button", { type: "button", class: "jc-add", text: "+ property condition", onclick: () => {
      (owner.where = Array.isArray(owner.where) ? owner.where : []).push({ property: "", op: "eq", value: "" });
      done(true);
    } }));
    return box;
  };

  // The audience rule editor (audiences' own), for "if" branches and the entry rule.
  Canvas.prototype.ruleEditor = function (rule, path, onchange) {
    const root = el("div", { class: "rule-editor jc-rule", "data-manual": "1", "data-preview-url": this.data.rule_preview_url, "data-path": path });
    root.appendChild(el("div", { class: "rule-tree", "aria-label": "Rule" }));
    const ta = el("textarea", { class: "rule-json", hidden: true, "aria-label": "Rule as JSON" });
    ta.value = JSON.stringify(rule || {});
    root.appendChild(ta);
    const vocab = el("script", { type: "application/json", class: "rule-vocabulary" });
    vocab.textContent = JSON.stringify(this.pickers.rules);
    root.appendChild(vocab);
    root.appendChild(el("div", {}, [el("button", { type: "button", class: "button rule-preview-button", text: "Who matches now?" }), el("div", { class: "rule-preview", "aria-live": "polite" })]));
    if (!window.VoyageRuleEditor) { root.appendChild(el("p", { class: "errornote", text: "The rule editor did not load." })); return root; }
    const editor = new window.VoyageRuleEditor(root);
    const base = window.VoyageRuleEditor.prototype.sync;
    editor.sync = function () { base.call(this); onchange(this.state); };
    return root;
  };

  Canvas.prototype.panelHead = function (p, kind, title, extra) {
    p.appendChild(el("div", { class: "jc-panel-head" }, [el("span", { class: "jc-kind-tag jc-" + kind, text: KIND_LABEL[kind] || kind }), el("h3", { text: title })].concat(extra || [])));
  };

  Canvas.prototype.panelJourney = function (p) {
    const d = this.def;
    const done = (structural) => this.changed(structural);
    this.panelHead(p, "entry", "Journey settings");
    p.classList.remove("jc-panel-stage");
    p.appendChild(field("Name", textInput(d.name, (v) => { d.name = v; done(false); }, { "data-path": "name", class: "jc-name" }), "name"));
    const slugAttrs = { "data-path": "slug", class: "jc-slug" };
    if (this.data.slug_locked) slugAttrs.readonly = true;
    p.appendChild(field("Slug", textInput(d.slug, (v) => { d.slug = v; done(false); }, slugAttrs), "slug", this.data.slug_locked ? "The slug of a saved journey stays." : "Lowercase letters, digits, - and _."));
    // Re-entry
    const re = d.reentry === undefined ? "never" : d.reentry;
    const reMode = isObj(re) ? "cooldown" : re;
    const reRow = el("div", { class: "jc-row" }, [selectInput([["never", "never: once per profile"], ["after_exit", "again after leaving"], ["cooldown", "again after a cool-down"]], reMode, (v) => {
      d.reentry = v === "cooldown" ? { cooldown_days: 30 } : v;
      done(true);
    }, { "data-path": "reentry", class: "jc-reentry" })]);
    if (reMode === "cooldown") reRow.appendChild(el("span", {}, [numberInput(re.cooldown_days, (n) => { d.reentry = { cooldown_days: n }; done(false); }, { min: 0, "data-path": "reentry.cooldown_days", style: "width:5em", "aria-label": "cool-down days" }), " days"]));
    p.appendChild(field("Re-entry", reRow, "reentry"));
    p.appendChild(field("Holdout %", numberInput(d.holdout_percent === undefined ? 0 : d.holdout_percent, (n) => { if (n === null || n === 0) delete d.holdout_percent; else d.holdout_percent = n; done(false); }, { min: 0, max: 100, step: "any", "data-path": "holdout_percent", class: "jc-holdout" }), "holdout_percent", "This share of profiles gets no message or webhook (a control group)."));
    // Goal
    const goal = d.goal;
    const goalBox = el("div", {});
    goalBox.appendChild(el("label", {}, [el("input", { type: "checkbox", checked: isObj(goal), class: "jc-has-goal", onchange: (e) => {
      if (e.target.checked) d.goal = { event: "", within_days: 30 }; else delete d.goal;
      done(true);
    } }), " count a conversion"]));
    if (isObj(goal)) {
      goalBox.appendChild(field("Goal event", this.eventPicker(goal.event, (v) => { goal.event = v; done(false); }, { "data-path": "goal.event", class: "jc-goal-event" }), "goal.event"));
      goalBox.appendChild(field("within days of entry", numberInput(goal.within_days, (n) => { goal.within_days = n; done(false); }, { min: 1, "data-path": "goal.within_days", class: "jc-goal-days" }), "goal.within_days"));
      goalBox.appendChild(this.whereEditor(goal, "goal", done));
    }
    p.appendChild(section("Goal", [goalBox]));
    // Exit conditions
    const exits = Array.isArray(d.exit_when) ? d.exit_when : [];
    const exitBox = el("div", { "data-path": "exit_when" });
    exits.forEach((c, i) => {
      const here = "exit_when[" + i + "]";
      const row = el("div", { class: "jc-item", "data-path": here });
      if (isObj(c) && "audience_exited" in c) {
        row.appendChild(field("leaves audience", this.audiencePicker(c.audience_exited, (v) => { c.audience_exited = v; done(false); }, { "data-path": here + ".audience_exited" }), here + ".audience_exited"));
      } else if (isObj(c)) {
        row.appendChild(field("on event", this.eventPicker(c.event, (v) => { c.event = v; done(false); }, { "data-path": here + ".event" }), here + ".event"));
        row.appendChild(this.whereEditor(c, here, done));
      }
      row.appendChild(removeButton("Remove exit condition", () => { exits.splice(i, 1); if (!exits.length) delete d.exit_when; done(true); }));
      exitBox.appendChild(row);
    });
    exitBox.appendChild(el("div", { class: "jc-row" }, [
      el("button", { type: "button", class: "jc-add", text: "+ exit on an event", onclick: () => { (d.exit_when = exits).push({ event: "" }); done(true); } }),
      el("button", { type: "button", class: "jc-add", text: "+ exit on leaving an audience", onclick: () => { (d.exit_when = exits).push({ audience_exited: "" }); done(true); } }),
    ]));
    p.appendChild(section("Leave the journey early when…", [exitBox]));
  };

  Canvas.prototype.panelEntry = function (p) {
    const d = this.def;
    const done = (structural) => this.changed(structural);
    this.panelHead(p, "entry", "Entry");
    const entry = isObj(d.entry) ? d.entry : (d.entry = { event: "" });
    const mode = "audience_entered" in entry ? "audience_entered" : "schedule" in entry ? "schedule" : "event";
    p.appendChild(field("Profiles enter", selectInput([["event", "on an event"], ["audience_entered", "when they join an audience"], ["schedule", "on a schedule (an audience's members)"]], mode, (v) => {
      d.entry = v === "event" ? { event: "" } : v === "audience_entered" ? { audience_entered: "" } : { schedule: "0 10 * * 1", audience: "", timezone: "recipient" };
      done(true);
    }, { "data-path": "entry", class: "jc-entry-kind" }), "entry"));
    if (mode === "event") {
      p.appendChild(field("Event", this.eventPicker(entry.event, (v) => { entry.event = v; done(false); }, { "data-path": "entry.event", class: "jc-entry-event" }), "entry.event"));
      p.appendChild(this.whereEditor(entry, "entry", done));
    } else if (mode === "audience_entered") {
      p.appendChild(field("Audience", this.audiencePicker(entry.audience_entered, (v) => { entry.audience_entered = v; done(false); }, { "data-path": "entry.audience_entered" }), "entry.audience_entered"));
    } else {
      p.appendChild(field("Schedule (cron)", textInput(entry.schedule, (v) => { entry.schedule = v; done(false); }, { "data-path": "entry.schedule", placeholder: "0 10 * * 1" }), "entry.schedule", "minute hour day month weekday — \"0 10 * * 1\" is Mondays at 10:00."));
      p.appendChild(field("Audience", this.audiencePicker(entry.audience, (v) => { entry.audience = v; done(false); }, { "data-path": "entry.audience" }), "entry.audience"));
      const tz = entry.timezone || "recipient";
      p.appendChild(field("Time zone", textInput(tz, (v) => { entry.timezone = v || "recipient"; done(false); }, { "data-path": "entry.timezone", list: "jc-zones" }), "entry.timezone", "\"recipient\" reads the schedule in each member's own zone, or an IANA zone such as Europe/Berlin."));
    }
    const hasRule = isObj(d.entry_rule);
    p.appendChild(el("label", { class: "jc-check" }, [el("input", { type: "checkbox", checked: hasRule, class: "jc-has-entry-rule", onchange: (e) => {
      if (e.target.checked) d.entry_rule = { tag: "" }; else delete d.entry_rule;
      done(true);
    } }), " only profiles matching a rule enter"]));
    if (hasRule) p.appendChild(this.ruleEditor(d.entry_rule, "entry_rule", (rule) => { d.entry_rule = rule; done(false); }));
  };

  Canvas.prototype.panelStage = function (p, stage) {
    const si = this.def.stages.indexOf(stage);
    const base = "stages[" + si + "]";
    const done = (structural) => this.changed(structural);
    const kind = stageKind(stage, (this.layout.nodes[stage.key] || {}).kind);
    p.classList.add("jc-panel-stage");
    this.panelHead(p, kind, stage.key, [
      el("button", { type: "button", class: "button jc-delete", text: "Delete", onclick: () => this.askDelete(stage.key) }),
    ]);
    const keyInput = textInput(stage.key, () => {}, { "data-path": base + ".key", class: "jc-key", "aria-label": "Key" });
    keyInput.addEventListener("change", (e) => {
      const v = e.target.value.trim();
      if (!this.rename(stage.key, v)) { e.target.value = stage.key; return; }
      this.say("Renamed; every transition into it follows.", "dirty");
      done(true);
    });
    p.appendChild(field("Key", keyInput, base + ".key", "Renaming updates every transition that leads here."));
    p.appendChild(field("Label", textInput(stage.name, (v) => { if (v) stage.name = v; else delete stage.name; done(false); }, { "data-path": base + ".name", placeholder: "optional display name" }), base + ".name"));
    const typeChoices = [["stage", "stage (actions, then transitions)"], ["wait", "wait"], ["branch", "branch (if … else)"], ["split", "split (A/B)"], ["exit", "exit"]];
    p.appendChild(field("Type", selectInput(typeChoices, kind, (v) => this.retype(stage, v), { class: "jc-type", "data-path": base + ".type" }), base + ".type"));
    if (this.keys()[0] !== stage.key) {
      p.appendChild(el("button", { type: "button", class: "jc-add", text: "Make this the first stage (where runs start)", onclick: () => this.connect(ENTRY, stage.key) }));
    }
    p.appendChild(this.actionsEditor(stage, base, done));
    if (kind === "split") p.appendChild(this.splitEditor(stage, base, done));
    else if (kind !== "exit") p.appendChild(this.transitionsEditor(stage, base, kind, done));
    const c = this.counts[stage.key];
    if (c) p.appendChild(el("p", { class: "jc-panel-counts", text: "Now " + fmt(c.now) + " · visited " + fmt(c.visited) + " · converted " + fmt(c.converted) }));
  };

  Canvas.prototype.retype = function (stage, kind) {
    const to = this.keys().find((k) => k !== stage.key) || "";
    delete stage.exit;
    const keepTs = (Array.isArray(stage.transitions) ? stage.transitions : []).filter((t) => isObj(t) && !("if" in t) && !("else" in t));
    if (kind === "exit") { delete stage.split; delete stage.transitions; stage.exit = true; }
    else if (kind === "split") { delete stage.transitions; stage.split = [{ to: to, weight: 50 }, { to: to, weight: 50 }]; }
    else if (kind === "branch") { delete stage.split; stage.transitions = [newTransition("if", to), newTransition("else", to)]; }
    else if (kind === "wait") { delete stage.split; stage.transitions = keepTs.filter((t) => "after" in t); if (!stage.transitions.length) stage.transitions = [newTransition("after", to)]; }
    else { delete stage.split; stage.transitions = keepTs.length ? keepTs : [newTransition("after", to)]; stage.actions = stage.actions || []; }
    this.layout.nodes[stage.key] = Object.assign({}, this.layout.nodes[stage.key], { kind: kind });
    this.changed(true);
  };

  Canvas.prototype.actionsEditor = function (stage, base, done) {
    const actions = Array.isArray(stage.actions) ? stage.actions : [];
    const box = el("div", { "data-path": base + ".actions" });
    actions.forEach((a, i) => {
      const here = base + ".actions[" + i + "]";
      const kind = !isObj(a) ? "send" : a.send ? "send" : a.tag ? (a.tag.remove !== undefined ? "tag_remove" : "tag_add") : a.set_trait ? "set_trait" : a.webhook ? "webhook" : a.onsite ? "onsite" : "send";
      const item = el("div", { class: "jc-item jc-action", "data-path": here });
      item.appendChild(el("div", { class: "jc-row" }, [
        selectInput(ACTIONS.map((k) => [k, ACTION_LABEL[k]]), kind, (v) => { actions[i] = newAction(v, this.pickers); done(true); }, { "aria-label": "Action", class: "jc-action-kind" }),
        i > 0 ? el("button", { type: "button", class: "jc-move", title: "Move up", "aria-label": "Move up", text: "↑", onclick: () => { actions.splice(i - 1, 0, actions.splice(i, 1)[0]); done(true); } }) : null,
        removeButton("Remove action", () => { actions.splice(i, 1); done(true); }),
      ]));
      if (kind === "send") {
        const s = a.send;
        item.appendChild(field("Channel", selectInput(this.pickers.channels.map((c) => [c, c]), s.channel, (v) => { s.channel = v; done(true); }, { "data-path": here + ".send.channel", class: "jc-channel" }), here + ".send.channel"));
        const templates = this.pickers.templates.filter((t) => t.channel === s.channel).map((t) => [t.slug, t.name + " (" + t.slug + ")"]);
        item.appendChild(field("Template", this.picker(templates, s.template, (v) => {
          s.template = v;
          const t = this.pickers.templates.find((x) => x.slug === v);
          if (t && t.topic) s.topic = t.topic;
          done(true);
        }, { "data-path": here + ".send.template", class: "jc-template" }), here + ".send.template"));
        item.appendChild(field("Topic", selectInput(this.pickers.topics.map((t) => [t, t]).concat(s.topic && !this.pickers.topics.includes(s.topic) ? [[s.topic, s.topic]] : []), s.topic || "marketing", (v) => { s.topic = v; done(false); }, { "data-path": here + ".send.topic" }), here + ".send.topic"));
        // Extra template data is optional: offered, not added to every send.
        if (isObj(s.data)) item.appendChild(field("Template data", this.pairsEditor(s, "data", here + ".send.data", "data key", done), here + ".send.data"));
        else item.appendChild(el("button", { type: "button", class: "jc-add", text: "+ template data", onclick: () => { s.data = { field1: "" }; done(true); } }));
      } else if (kind === "tag_add" || kind === "tag_remove") {
        const op = kind === "tag_add" ? "add" : "remove";
        item.appendChild(field("Tag", textInput(a.tag[op], (v) => { a.tag[op] = v; done(false); }, { "data-path": here + ".tag." + op, placeholder: "tag name", class: "jc-tag" }), here + ".tag." + op));
      } else if (kind === "set_trait") {
        item.appendChild(this.pairsEditor(a, "set_trait", here + ".set_trait", "trait.path", done));
      } else if (kind === "webhook") {
        const w = a.webhook;
        item.appendChild(field("Endpoint", this.picker(this.pickers.endpoints.map((e) => [e.id, "#" + e.id + " " + e.label + (e.enabled ? "" : " (disabled)")]), w.endpoint, (v) => { w.endpoint = v === "" ? null : Number(v); done(false); }, { "data-path": here + ".webhook.endpoint" }), here + ".webhook.endpoint"));
        w.payload = isObj(w.payload) ? w.payload : {};
        item.appendChild(this.pairsEditor(w, "payload", here + ".webhook.payload", "key", done));
      } else if (kind === "onsite") {
        const o = a.onsite;
        item.appendChild(field("Message", this.onsitePicker(o.message, (v) => { o.message = v; done(true); }, { "data-path": here + ".onsite.message", class: "jc-onsite-message" }), here + ".onsite.message",
          "Shown once on the profile's next visit, whoever the message targets; its page rules, trigger and the pop-up cap still apply."));
        item.appendChild(field("Offered for (days)", numberInput(o.expires_days, (n) => { if (n === null) delete o.expires_days; else o.expires_days = n; done(false); },
          { min: 1, max: 365, placeholder: String(this.pickers.onsite_queue_days || 7), style: "width:6em", "data-path": here + ".onsite.expires_days", class: "jc-onsite-days" }), here + ".onsite.expires_days"));
      }
      box.appendChild(item);
    });
    box.appendChild(el("button", { type: "button", class: "jc-add jc-add-action", text: "+ action", onclick: () => { (stage.actions = actions).push(newAction("send", this.pickers)); done(true); } }));
    return section("Actions (on entering)", [box]);
  };

  // Key → value rows (traits to set, a webhook's payload); values read as numbers/booleans when they are.
  Canvas.prototype.pairsEditor = function (owner, prop, path, placeholder, done) {
    const obj = isObj(owner[prop]) ? owner[prop] : (owner[prop] = {});
    const box = el("div", { class: "jc-pairs", "data-path": path });
    Object.keys(obj).forEach((k) => {
      const keyInput = textInput(k, () => {}, { placeholder: placeholder, "aria-label": "name" });
      keyInput.addEventListener("change", (e) => {
        const nk = e.target.value.trim();
        const entries = Object.entries(obj).map(([kk, vv]) => [kk === k ? nk : kk, vv]);
        Object.keys(obj).forEach((kk) => delete obj[kk]);
        entries.forEach(([kk, vv]) => { if (kk) obj[kk] = vv; });
        done(true);
      });
      box.appendChild(el("div", { class: "jc-row" }, [keyInput, textInput(formatScalar(obj[k]), (v) => { obj[k] = parseScalar(v); done(false); }, { placeholder: "value", "aria-label": "value" }),
        removeButton("Remove", () => { delete obj[k]; done(true); })]));
    });
    box.appendChild(el("button", { type: "button", class: "jc-add", text: "+ " + placeholder, onclick: () => { let n = 1; while (("field" + n) in obj) n += 1; obj["field" + n] = ""; done(true); } }));
    return box;
  };

  Canvas.prototype.transitionsEditor = function (stage, base, kind, done) {
    const ts = Array.isArray(stage.transitions) ? stage.transitions : (stage.transitions = []);
    const box = el("div", { "data-path": base + ".transitions" });
    ts.forEach((t, i) => {
      const here = base + ".transitions[" + i + "]";
      const tk = transitionKind(t);
      const item = el("div", { class: "jc-item jc-transition", "data-path": here });
      item.appendChild(el("div", { class: "jc-row" }, [
        el("span", { text: "→" }),
        this.stagePicker(t.to, (v) => { t.to = v; done(true); }, { "data-path": here + ".to", class: "jc-to", "aria-label": "to stage" }),
        selectInput(TRANSITIONS.map((k) => [k, TRANSITION_LABEL[k]]), tk, (v) => { ts[i] = newTransition(v, t.to); done(true); }, { "aria-label": "when", class: "jc-when" }),
        removeButton("Remove transition", () => { ts.splice(i, 1); done(true); }),
      ]));
      if (tk === "after") {
        const a = isObj(t.after) ? t.after : (t.after = { days: 1 });
        const row = el("div", { class: "jc-row", "data-path": here + ".after" });
        ["days", "hours", "minutes"].forEach((u) => row.appendChild(el("label", { class: "jc-inline" }, [numberInput(a[u], (n) => { if (n === null) delete a[u]; else a[u] = n; done(false); }, { min: 0, style: "width:4.5em", "data-path": here + ".after." + u, class: "jc-after-" + u }), " " + u])));
        row.appendChild(el("label", { class: "jc-inline" }, ["at ", el("input", { type: "time", value: a.at || "", "data-path": here + ".after.at", oninput: (e) => { if (e.target.value) a.at = e.target.value; else delete a.at; done(false); } }), " local"]));
        item.appendChild(row);
      } else if (tk === "on_event") {
        const ev = isObj(t.on_event) ? t.on_event : (t.on_event = { event: "" });
        item.appendChild(field("Event", this.eventPicker(ev.event, (v) => { ev.event = v; done(false); }, { "data-path": here + ".on_event.event", class: "jc-event" }), here + ".on_event.event"));
        item.appendChild(this.whereEditor(ev, here + ".on_event", done));
      } else if (tk === "on_onsite") {
        const o = isObj(t.on_onsite) ? t.on_onsite : (t.on_onsite = { message: null, did: "viewed" });
        item.appendChild(field("On-site message", this.onsitePicker(o.message, (v) => { o.message = v; done(true); }, { "data-path": here + ".on_onsite.message", class: "jc-onsite-message" }), here + ".on_onsite.message"));
        item.appendChild(field("was", selectInput(ONSITE_DID.map((d) => [d, d]), o.did, (v) => { o.did = v; done(true); }, { "data-path": here + ".on_onsite.did", class: "jc-onsite-did" }), here + ".on_onsite.did",
          "Since the run entered the journey: already done when the stage is entered counts at once."));
      } else if (tk === "on_audience_entered") {
        item.appendChild(field("Audience", this.audiencePicker(t.on_audience_entered, (v) => { t.on_audience_entered = v; done(false); }, { "data-path": here + ".on_audience_entered" }), here + ".on_audience_entered"));
      } else if (tk === "if") {
        item.appendChild(this.ruleEditor(t.if, here + ".if", (rule) => { t.if = rule; done(false); }));
      } else {
        item.appendChild(el("p", { class: "help", text: "Runs that match none of the rules above go here." }));
      }
      box.appendChild(item);
    });
    const others = this.keys().filter((k) => k !== stage.key);
    const first = others[0] || stage.key;
    const add = (label, tk, cls) => el("button", { type: "button", class: "jc-add " + cls, text: label, onclick: () => {
      const elseAt = ts.findIndex((t) => isObj(t) && "else" in t);
      if (tk !== "else" && elseAt >= 0) ts.splice(elseAt, 0, newTransition(tk, first)); else ts.push(newTransition(tk, first));
      done(true);
    } });
    const buttons = el("div", { class: "jc-row" });
    if (kind === "branch") {
      buttons.appendChild(add("+ if", "if", "jc-add-if"));
      buttons.appendChild(add("+ on-site message", "on_onsite", "jc-add-onsite"));
      if (!ts.some((t) => isObj(t) && "else" in t)) buttons.appendChild(add("+ else", "else", "jc-add-else"));
    } else {
      buttons.appendChild(add("+ transition", "after", "jc-add-transition"));
    }
    box.appendChild(buttons);
    return section(kind === "branch" ? "Branches (decided on entering; first match wins)" : "Then (first to happen wins)", [box]);
  };

  Canvas.prototype.splitEditor = function (stage, base, done) {
    const split = stage.split;
    const box = el("div", { "data-path": base + ".split" });
    split.forEach((b, i) => {
      const here = base + ".split[" + i + "]";
      box.appendChild(el("div", { class: "jc-row jc-item", "data-path": here }, [
        el("span", { text: "→" }),
        this.stagePicker(b.to, (v) => { b.to = v; done(true); }, { "data-path": here + ".to", "aria-label": "to stage" }),
        numberInput(b.weight, (n) => { b.weight = n; done(false); }, { min: 1, max: 100, style: "width:5em", "data-path": here + ".weight", "aria-label": "weight %" }), " %",
        removeButton("Remove branch", () => { split.splice(i, 1); done(true); }),
      ]));
    });
    box.appendChild(el("button", { type: "button", class: "jc-add", text: "+ branch", onclick: () => { split.push({ to: this.keys().find((k) => k !== stage.key) || "", weight: 0 }); done(true); } }));
    return section("Split (weights add up to 100)", [box]);
  };

  function newAction(kind, pickers) {
    if (kind === "send") {
      const t = pickers.templates.find((x) => x.channel === "email");
      return { send: { channel: "email", template: t ? t.slug : "", topic: (t && t.topic) || "marketing" } };
    }
    if (kind === "tag_add") return { tag: { add: "" } };
    if (kind === "tag_remove") return { tag: { remove: "" } };
    if (kind === "set_trait") return { set_trait: { "": "" } };
    if (kind === "onsite") {
      const m = pickers.onsite_messages.find((x) => x.status === "active") || pickers.onsite_messages[0];
      return { onsite: { message: m ? m.id : null } };
    }
    const e = pickers.endpoints[0];
    return { webhook: { endpoint: e ? e.id : null, payload: {} } };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("journey-canvas");
    const data = document.getElementById("journey-canvas-data");
    if (root && data) window.journeyCanvas = new Canvas(root, JSON.parse(data.textContent));
  });
})();
