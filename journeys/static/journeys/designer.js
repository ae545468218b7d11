/* Structured journey editor: stages, actions and transitions as form rows, kept in sync with the JSON
   textarea beside it (the JSON is what is saved). Editing the JSON directly re-draws the forms. */
(function () {
  "use strict";
  const ACTIONS = ["send", "tag_add", "tag_remove", "set_trait", "webhook"];
  const KINDS = ["after", "on_event", "on_audience_entered", "if"];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "on") Object.entries(v).forEach(([evt, fn]) => node.addEventListener(evt, fn));
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }
  function input(value, onchange, attrs) {
    return el("input", Object.assign({ value: value == null ? "" : String(value), on: { change: (e) => onchange(e.target.value) } }, attrs || {}));
  }
  function select(options, value, onchange) {
    const s = el("select", { on: { change: (e) => onchange(e.target.value) } });
    options.forEach((o) => { const opt = el("option", { value: o, text: o }); if (o === value) opt.selected = true; s.appendChild(opt); });
    return s;
  }
  function parseMaybe(text) { try { return JSON.parse(text); } catch (e) { return text; } }

  function actionKind(a) {
    if (a.send) return "send";
    if (a.tag) return a.tag.remove !== undefined ? "tag_remove" : "tag_add";
    if (a.set_trait) return "set_trait";
    if (a.webhook) return "webhook";
    return "send";
  }
  function newAction(kind) {
    return { send: { send: { channel: "email", template: "", topic: "marketing" } }, tag_add: { tag: { add: "" } },
      tag_remove: { tag: { remove: "" } }, set_trait: { set_trait: { trait: "value" } },
      webhook: { webhook: { endpoint: 1, payload: {} } } }[kind];
  }
  function transitionKind(t) { return KINDS.find((k) => k in t) || "after"; }
  function newTransition(kind, to) {
    return { after: { to: to, after: { days: 1 } }, on_event: { to: to, on_event: { event: "" } },
      on_audience_entered: { to: to, on_audience_entered: "" }, if: { to: to, if: { tag: "" } } }[kind];
  }

  function init() {
    const textarea = document.querySelector("textarea.journey-json");
    const root = document.getElementById("journey-designer");
    if (!textarea || !root) return;
    let def;
    const write = () => { textarea.value = JSON.stringify(def, null, 2); };
    const redraw = () => { write(); render(); };

    function render() {
      root.innerHTML = "";
      (def.stages || []).forEach((stage, si) => root.appendChild(stageCard(stage, si)));
      root.appendChild(el("button", { type: "button", class: "button", text: "+ stage", on: { click: () => {
        def.stages = def.stages || []; def.stages.push({ key: "stage-" + (def.stages.length + 1), transitions: [] }); redraw(); } } }));
    }

    function stageCard(stage, si) {
      const card = el("fieldset", { class: "module aligned journey-stage" });
      const isExit = stage.exit === true, isSplit = Array.isArray(stage.split);
      card.appendChild(el("h2", { text: "Stage " + (si + 1) }));
      card.appendChild(el("div", { class: "form-row" }, [
        el("label", { text: "key " }), input(stage.key, (v) => { stage.key = v; write(); }),
        el("label", { text: " type " }),
        select(["normal", "split", "exit"], isExit ? "exit" : isSplit ? "split" : "normal", (v) => {
          delete stage.exit; delete stage.split; delete stage.transitions;
          if (v === "exit") stage.exit = true;
          else if (v === "split") stage.split = [{ to: "", weight: 50 }, { to: "", weight: 50 }];
          else stage.transitions = [];
          redraw();
        }),
        el("button", { type: "button", class: "button", text: "remove stage", on: { click: () => { def.stages.splice(si, 1); redraw(); } } }),
      ]));
      // actions
      stage.actions = stage.actions || [];
      stage.actions.forEach((a, ai) => card.appendChild(actionRow(stage, a, ai)));
      card.appendChild(el("button", { type: "button", class: "button", text: "+ action", on: { click: () => { stage.actions.push(newAction("send")); redraw(); } } }));
      if (isSplit) {
        stage.split.forEach((b, bi) => card.appendChild(el("div", { class: "form-row" }, [
          el("label", { text: "branch → " }), input(b.to, (v) => { b.to = v; write(); }),
          el("label", { text: " weight % " }), input(b.weight, (v) => { b.weight = parseInt(v, 10) || 0; write(); }, { type: "number", min: "1", max: "100" }),
          el("button", { type: "button", class: "button", text: "×", on: { click: () => { stage.split.splice(bi, 1); redraw(); } } }),
        ])));
        card.appendChild(el("button", { type: "button", class: "button", text: "+ branch", on: { click: () => { stage.split.push({ to: "", weight: 0 }); redraw(); } } }));
      } else if (!isExit) {
        stage.transitions = stage.transitions || [];
        stage.transitions.forEach((t, ti) => card.appendChild(transitionRow(stage, t, ti)));
        card.appendChild(el("button", { type: "button", class: "button", text: "+ transition", on: { click: () => { stage.transitions.push(newTransition("after", "")); redraw(); } } }));
      }
      return card;
    }

    function actionRow(stage, a, ai) {
      const kind = actionKind(a);
      const row = el("div", { class: "form-row" }, [el("label", { text: "action " }),
        select(ACTIONS, kind, (v) => { stage.actions[ai] = newAction(v); redraw(); })]);
      if (kind === "send") {
        row.appendChild(select(["email", "sms", "whatsapp", "push", "webpush", "webhook"], a.send.channel, (v) => { a.send.channel = v; write(); }));
        row.appendChild(el("label", { text: " template " })); row.appendChild(input(a.send.template, (v) => { a.send.template = v; write(); }));
        row.appendChild(el("label", { text: " topic " })); row.appendChild(input(a.send.topic || "marketing", (v) => { a.send.topic = v; write(); }));
      } else if (kind === "tag_add" || kind === "tag_remove") {
        const op = kind === "tag_add" ? "add" : "remove";
        row.appendChild(input(a.tag[op], (v) => { a.tag[op] = v; write(); }));
      } else if (kind === "set_trait") {
        row.appendChild(input(JSON.stringify(a.set_trait), (v) => { a.set_trait = parseMaybe(v); write(); }, { size: "50" }));
      } else if (kind === "webhook") {
        row.appendChild(el("label", { text: " endpoint id " }));
        row.appendChild(input(a.webhook.endpoint, (v) => { a.webhook.endpoint = parseInt(v, 10); write(); }, { type: "number" }));
        row.appendChild(el("label", { text: " payload " }));
        row.appendChild(input(JSON.stringify(a.webhook.payload || {}), (v) => { a.webhook.payload = parseMaybe(v); write(); }, { size: "40" }));
      }
      row.appendChild(el("button", { type: "button", class: "button", text: "×", on: { click: () => { stage.actions.splice(ai, 1); redraw(); } } }));
      return row;
    }

    function transitionRow(stage, t, ti) {
      const kind = transitionKind(t);
      const keys = (def.stages || []).map((s) => s.key);
      const row = el("div", { class: "form-row" }, [el("label", { text: "→ " }),
        select(keys.includes(t.to) ? keys : [t.to || ""].concat(keys), t.to, (v) => { t.to = v; write(); }),
        select(KINDS, kind, (v) => { stage.transitions[ti] = newTransition(v, t.to); redraw(); })]);
      if (kind === "after") {
        ["days", "hours", "minutes"].forEach((u) => {
          row.appendChild(input(t.after[u], (v) => { if (v === "") delete t.after[u]; else t.after[u] = parseInt(v, 10) || 0; write(); }, { type: "number", min: "0", placeholder: u, style: "width:5em" }));
        });
        row.appendChild(el("label", { text: " at (local) " }));
        row.appendChild(input(t.after.at, (v) => { if (v) t.after.at = v; else delete t.after.at; write(); }, { placeholder: "10:00", style: "width:5em" }));
      } else if (kind === "on_event") {
        row.appendChild(input(t.on_event.event, (v) => { t.on_event.event = v; write(); }, { placeholder: "event name" }));
        row.appendChild(input(JSON.stringify(t.on_event.where || []), (v) => { t.on_event.where = parseMaybe(v); write(); }, { size: "40", placeholder: "where [conds]" }));
      } else if (kind === "on_audience_entered") {
        row.appendChild(input(t.on_audience_entered, (v) => { t.on_audience_entered = v; write(); }, { placeholder: "audience slug" }));
      } else {
        row.appendChild(input(JSON.stringify(t.if), (v) => { t.if = parseMaybe(v); write(); }, { size: "50", placeholder: "audience rule" }));
      }
      row.appendChild(el("button", { type: "button", class: "button", text: "×", on: { click: () => { stage.transitions.splice(ti, 1); redraw(); } } }));
      return row;
    }

    function load() {
      try { def = JSON.parse(textarea.value); } catch (e) {
        root.innerHTML = ""; root.appendChild(el("p", { class: "errornote", text: "The JSON does not parse: " + e.message })); return;
      }
      if (typeof def !== "object" || def === null) def = {};
      render();
    }
    textarea.addEventListener("change", load);
    load();
  }
  document.addEventListener("DOMContentLoaded", init);
})();
