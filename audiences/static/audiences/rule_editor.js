/* Structured editor for audience rules: edits the JSON tree with selects and inputs, keeps the
 * JSON view beside it in step, and previews the rule (count, sample, reach, errors by path).
 * Plain JavaScript, no dependencies. The textarea stays the field Django submits. */
(function () {
  "use strict";

  const OPS_WITHOUT_VALUE = ["exists", "not_exists"];
  const LIST_OPS = ["in", "not_in", "between"];
  const TEMPLATES = {
    all: () => ({ all: [{ tag: "" }] }),
    any: () => ({ any: [{ tag: "" }] }),
    not: () => ({ not: { event: "" } }),
    trait: () => ({ trait: "", op: "eq", value: "" }),
    tag: () => ({ tag: "" }),
    event: () => ({ event: "", within_days: 30 }),
    sequence: () => ({ sequence: [{ event: "" }, { event: "" }], within_days: 7 }),
    last_event: () => ({ last_event: "", older_than_days: 30 }),
    audience: () => ({ audience: "" }),
    consent: () => ({ consent: "email", topic: "marketing" }),
  };
  const LABELS = {
    all: "All of", any: "Any of", not: "Not", trait: "Trait", tag: "Tag", event: "Did event",
    sequence: "Sequence", last_event: "Last event", audience: "In audience", consent: "Consent",
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  function select(options, value, onchange, labels) {
    const s = el("select", { onchange: (e) => onchange(e.target.value) });
    options.forEach((o) => {
      const opt = el("option", { value: o, text: labels ? labels[o] || o : o });
      if (o === value) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function parseScalar(text) {
    const t = text.trim();
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    if (t === "true") return true;
    if (t === "false") return false;
    if (t !== "" && !isNaN(Number(t))) return Number(t);
    return t;
  }
  function formatValue(v) {
    if (Array.isArray(v)) return v.map(formatValue).join(", ");
    if (typeof v === "string" && (v === "true" || v === "false" || (v.trim() !== "" && !isNaN(Number(v))))) return '"' + v + '"';
    return v === undefined || v === null ? "" : String(v);
  }

  function formOf(node, forms) {
    return (node && typeof node === "object" && forms.find((f) => f in node)) || "tag";
  }

  function RuleEditor(root) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.tree = root.querySelector(".rule-tree");
    this.output = root.querySelector(".rule-preview");
    this.vocab = JSON.parse(root.querySelector(".rule-vocabulary").textContent);
    this.previewUrl = root.dataset.previewUrl;
    const lists = { events: "rule-events", traits: "rule-traits" };
    Object.entries(lists).forEach(([key, id]) => {
      if (!document.getElementById(id)) {
        const dl = el("datalist", { id: id });
        this.vocab[key].forEach((n) => dl.appendChild(el("option", { value: n })));
        document.body.appendChild(dl);
      }
    });
    try {
      this.state = JSON.parse(this.textarea.value || "{}");
    } catch (e) {
      this.state = {};
    }
    // A new audience has no rule yet (the field renders "null" or nothing): start from "All of".
    if (!this.state || typeof this.state !== "object" || !Object.keys(this.state).length) this.state = TEMPLATES.all();
    this.textarea.addEventListener("change", () => {
      try {
        this.state = JSON.parse(this.textarea.value);
        this.render();
      } catch (e) {
        this.message("The JSON is not valid: " + e.message, "errornote");
      }
    });
    root.querySelector(".rule-preview-button").addEventListener("click", (e) => {
      e.preventDefault();
      this.preview();
    });
    this.render();
  }

  RuleEditor.prototype.sync = function () {
    this.textarea.value = JSON.stringify(this.state, null, 2);
  };
  RuleEditor.prototype.render = function () {
    this.sync();
    this.tree.replaceChildren(this.node(this.state, "", (n) => { this.state = n; this.render(); }));
  };

  // One rule node. `replace(newNode)` swaps it in its parent and re-renders.
  RuleEditor.prototype.node = function (node, path, replace) {
    const self = this;
    const form = formOf(node, this.vocab.forms);
    const box = el("div", { class: "rule-node rule-" + form, "data-path": path });
    const head = el("div", { class: "rule-head" }, [
      select(this.vocab.forms, form, (f) => replace(TEMPLATES[f]()), LABELS),
    ]);
    box.appendChild(head);
    const changed = () => self.sync();
    const here = path ? path + "." + form : form;

    if (form === "all" || form === "any") {
      const list = el("div", { class: "rule-children" });
      node[form].forEach((child, i) => {
        const row = el("div", { class: "rule-child" }, [
          this.node(child, here + "[" + i + "]", (n) => { node[form][i] = n; self.render(); }),
          el("button", { type: "button", class: "rule-remove", title: "Remove", text: "✕", onclick: () => {
            node[form].splice(i, 1);
            self.render();
          } }),
        ]);
        list.appendChild(row);
      });
      box.appendChild(list);
      box.appendChild(el("button", { type: "button", class: "rule-add", text: "+ condition", onclick: () => {
        node[form].push(TEMPLATES.tag());
        self.render();
      } }));
    } else if (form === "not") {
      box.appendChild(this.node(node.not, here, (n) => { node.not = n; self.render(); }));
    } else if (form === "trait") {
      head.append(this.input(node, "trait", "address.country", "rule-traits"));
      this.condition(head, node, changed);
    } else if (form === "tag") {
      head.append(this.input(node, "tag", "vip or rfm:champions"));
    } else if (form === "audience") {
      head.append(select(["", ...this.vocab.audiences], node.audience, (v) => { node.audience = v; changed(); }));
    } else if (form === "consent") {
      head.append(select(this.vocab.channels, node.consent, (v) => { node.consent = v; changed(); }),
        el("span", { text: " topic " }), this.input(node, "topic", "marketing"));
    } else if (form === "event") {
      head.append(this.input(node, "event", "Order Completed", "rule-events"));
      box.appendChild(this.window(node, true));
      box.appendChild(this.comparison(node, "count", "count", { gte: 1 }));
      box.appendChild(this.comparison(node, "sum", "sum of", { property: "revenue", gte: 100 }));
      box.appendChild(this.where(node, here));
    } else if (form === "last_event") {
      head.append(this.input(node, "last_event", "Order Completed", "rule-events"));
      const mode = "older_than_days" in node ? "older_than_days" : "within_days";
      const days = el("input", { type: "number", min: "1", value: node[mode] || 30, class: "rule-days", oninput: (e) => {
        node[mode] = Number(e.target.value); changed();
      } });
      box.appendChild(el("div", { class: "rule-row" }, [
        select(["older_than_days", "within_days"], mode, (m) => { const d = node[mode]; delete node[mode]; node[m] = d; self.render(); },
          { older_than_days: "more than … days ago", within_days: "within the last … days" }),
        days, el("span", { text: " days" }),
      ]));
      box.appendChild(this.where(node, here));
    } else if (form === "sequence") {
      const steps = el("ol", { class: "rule-steps" });
      node.sequence.forEach((step, i) => {
        const li = el("li", {}, [this.input(step, "event", "Product Viewed", "rule-events"), this.where(step, here + "[" + i + "]"),
          el("button", { type: "button", class: "rule-remove", text: "✕", onclick: () => { node.sequence.splice(i, 1); self.render(); } })]);
        steps.appendChild(li);
      });
      box.appendChild(steps);
      box.appendChild(el("button", { type: "button", class: "rule-add", text: "+ step", onclick: () => { node.sequence.push({ event: "" }); self.render(); } }));
      box.appendChild(this.window(node, false));
    }
    return box;
  };

  RuleEditor.prototype.input = function (obj, key, placeholder, list) {
    const attrs = { type: "text", value: obj[key] || "", placeholder: placeholder, oninput: (e) => { obj[key] = e.target.value; this.sync(); } };
    if (list) attrs.list = list;
    return el("input", attrs);
  };

  RuleEditor.prototype.condition = function (container, cond, changed) {
    const value = el("input", { type: "text", value: formatValue(cond.value), placeholder: "value (a, b for lists)", oninput: (e) => {
      const text = e.target.value;
      cond.value = LIST_OPS.includes(cond.op) ? text.split(",").map(parseScalar).filter((v) => v !== "") : parseScalar(text);
      changed();
    } });
    const op = select(this.vocab.ops, cond.op, (o) => {
      cond.op = o;
      if (OPS_WITHOUT_VALUE.includes(o)) delete cond.value;
      else if (LIST_OPS.includes(o) && !Array.isArray(cond.value)) cond.value = cond.value === undefined || cond.value === "" ? [] : [cond.value];
      else if (!LIST_OPS.includes(o) && Array.isArray(cond.value)) cond.value = cond.value[0] ?? "";
      this.render();
    });
    container.append(op);
    if (!OPS_WITHOUT_VALUE.includes(cond.op)) container.append(value);
  };

  RuleEditor.prototype.where = function (node, path) {
    const self = this;
    const box = el("div", { class: "rule-where" }, [el("span", { class: "rule-label", text: "where" })]);
    (node.where || []).forEach((cond, i) => {
      const row = el("div", { class: "rule-row", "data-path": path + ".where[" + i + "]" }, [this.input(cond, "property", "products.sku")]);
      this.condition(row, cond, () => self.sync());
      row.appendChild(el("button", { type: "button", class: "rule-remove", text: "✕", onclick: () => {
        node.where.splice(i, 1);
        if (!node.where.length) delete node.where;
        self.render();
      } }));
      box.appendChild(row);
    });
    box.appendChild(el("button", { type: "button", class: "rule-add", text: "+ property condition", onclick: () => {
      (node.where = node.where || []).push({ property: "", op: "eq", value: "" });
      self.render();
    } }));
    return box;
  };

  RuleEditor.prototype.window = function (node, allowBetween) {
    const self = this;
    const mode = "within_days" in node ? "within_days" : "between" in node ? "between" : "ever";
    const modes = allowBetween ? ["ever", "within_days", "between"] : ["ever", "within_days"];
    const row = el("div", { class: "rule-row" }, [el("span", { class: "rule-label", text: "when" }),
      select(modes, mode, (m) => {
        delete node.within_days; delete node.between;
        if (m === "within_days") node.within_days = 30;
        if (m === "between") node.between = ["2025-01-01", "2025-12-31"];
        self.render();
      }, { ever: "ever", within_days: "in the last … days", between: "between dates" })]);
    if (mode === "within_days") {
      row.append(el("input", { type: "number", min: "1", class: "rule-days", value: node.within_days, oninput: (e) => { node.within_days = Number(e.target.value); self.sync(); } }));
    } else if (mode === "between") {
      [0, 1].forEach((i) => row.append(el("input", { type: "text", class: "rule-date", value: node.between[i], placeholder: "YYYY-MM-DD", oninput: (e) => { node.between[i] = e.target.value; self.sync(); } })));
    }
    return row;
  };

  RuleEditor.prototype.comparison = function (node, key, label, fresh) {
    const self = this;
    const row = el("div", { class: "rule-row" });
    const on = key in node;
    row.appendChild(el("label", {}, [
      el("input", { type: "checkbox", ...(on ? { checked: "checked" } : {}), onchange: (e) => {
        if (e.target.checked) node[key] = fresh; else delete node[key];
        self.render();
      } }),
      el("span", { text: " " + label }),
    ]));
    if (on) {
      const spec = node[key];
      if (key === "sum") row.append(this.input(spec, "property", "revenue"));
      const cmp = Object.keys(spec).find((k) => k !== "property") || "gte";
      row.append(select(["gte", "gt", "lte", "lt", "eq"], cmp, (c) => { const v = spec[cmp]; delete spec[cmp]; spec[c] = v; self.sync(); },
        { gte: "≥", gt: ">", lte: "≤", lt: "<", eq: "=" }));
      row.append(el("input", { type: "number", step: "any", value: spec[cmp], class: "rule-days", oninput: (e) => {
        const c = Object.keys(spec).find((k) => k !== "property");
        spec[c] = Number(e.target.value); self.sync();
      } }));
    }
    return row;
  };

  RuleEditor.prototype.message = function (html, cls) {
    this.output.className = "rule-preview " + (cls || "");
    this.output.innerHTML = html;
  };

  RuleEditor.prototype.preview = function () {
    const csrf = document.querySelector("[name=csrfmiddlewaretoken]");
    const slug = document.getElementById("id_slug");
    this.root.querySelectorAll(".rule-has-error").forEach((n) => n.classList.remove("rule-has-error"));
    this.message("Counting…");
    fetch(this.previewUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify({ rule: this.state, slug: slug ? slug.value : "" }),
      credentials: "same-origin",
    }).then((r) => r.json()).then((data) => this.show(data)).catch((e) => this.message("Preview failed: " + e, "errornote"));
  };

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  RuleEditor.prototype.show = function (data) {
    const issues = (list, cls) => (list || []).map((i) => '<li class="' + cls + '"><code>' + escapeHtml(i.path) + "</code>: " + escapeHtml(i.message) + "</li>").join("");
    if (!data.ok) {
      (data.errors || []).forEach((err) => this.mark(err.path));
      this.message("<p>The rule has errors:</p><ul class='rule-errors'>" + issues(data.errors, "error") + "</ul>", "errornote");
      return;
    }
    const reach = Object.entries(data.reachable).map(([c, n]) => "<tr><td>" + escapeHtml(c) + "</td><td>" + n + "</td></tr>").join("");
    const sample = data.sample.map((p) => '<li><a href="/admin/tracking/profile/' + p.id + '/change/">' + escapeHtml(p.name) + "</a></li>").join("");
    this.message(
      "<p><strong>" + data.count + "</strong> profiles match now.</p>" +
      (data.warnings.length ? "<ul class='rule-warnings'>" + issues(data.warnings, "warning") + "</ul>" : "") +
      "<table><thead><tr><th>Channel</th><th>Reachable</th></tr></thead><tbody>" + reach + "</tbody></table>" +
      (data.sample_hidden
        ? "<p class='rule-sample-hidden'>No sample: seeing who matches needs the personal data permission.</p>"
        : "<p>Sample of " + data.sample.length + ":</p><ul class='rule-sample'>" + sample + "</ul>"), "");
  };

  // Highlight the deepest node whose path is a prefix of the error's path.
  RuleEditor.prototype.mark = function (path) {
    let best = null;
    this.root.querySelectorAll("[data-path]").forEach((n) => {
      const p = n.dataset.path;
      if ((p === "" || path === p || path.startsWith(p + ".") || path.startsWith(p + "[")) && (!best || p.length >= best.dataset.path.length)) best = n;
    });
    if (best) best.classList.add("rule-has-error");
  };

  // The journey canvas embeds this editor for "if" branches and entry rules.
  window.VoyageRuleEditor = RuleEditor;

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".rule-editor:not([data-manual])").forEach((root) => new RuleEditor(root));
  });
})();
