/* The on-site message designer (admin change page): shows only the fields the chosen kind and
   trigger use, adds URL-rule rows, adds tags from the chips, and keeps the live preview current.

   The preview asks the server (`preview/`) with the form as it stands, a moment after the last
   edit; the server checks it with the same forms as Save (its problems are listed by field) and
   renders it as decide does; both frames then load a page with the real snippet on it. Plain
   JavaScript, no build step. */
(function () {
  "use strict";
  var DEBOUNCE_MS = 450;
  var TRIGGER_FIELDS = {
    delay: ["trigger_seconds"],
    pages: ["trigger_pages"],
    scroll: ["trigger_scroll_percent"],
    event: ["trigger_event", "trigger_unless_event", "trigger_wait_minutes"]
  };
  var ALL_TRIGGER_FIELDS = ["trigger_seconds", "trigger_pages", "trigger_scroll_percent", "trigger_event",
    "trigger_unless_event", "trigger_wait_minutes"];

  function start() {
    var panel = document.getElementById("onsite-preview");
    if (!panel) return;
    var form = panel.closest("form");
    var readonly = panel.dataset.readonly === "1";
    var status = panel.querySelector(".vy-preview-status");
    var problems = panel.querySelector(".vy-problems");
    var variantSelect = document.getElementById("vy-preview-variant");
    var profileSelect = document.getElementById("vy-preview-profile");
    var frames = [document.getElementById("onsite-preview-desktop"), document.getElementById("onsite-preview-mobile")];
    var seq = 0;
    var timer = null;

    function value(name) {
      var radio = form.querySelector('input[name="' + name + '"]:checked');
      if (radio) return radio.value;
      var field = form.querySelector('[name="' + name + '"]');
      return field ? field.value : "";
    }
    function row(name) { return form.querySelector(".form-row.field-" + name); }

    // --- only the fields that apply ----------------------------------------------------------
    function sync() {
      if (readonly) return;
      var wanted = TRIGGER_FIELDS[value("trigger")] || [];
      ALL_TRIGGER_FIELDS.forEach(function (name) {
        var r = row(name);
        // A field with an error stays in view, whatever is chosen.
        if (r) r.hidden = wanted.indexOf(name) < 0 && !r.classList.contains("errors");
      });
      var selector = row("embed_selector");
      if (selector) selector.hidden = value("kind") !== "embedded" && !selector.classList.contains("errors");
    }

    // --- URL rules: another row ----------------------------------------------------------------
    form.addEventListener("click", function (e) {
      var add = e.target.closest(".vy-rule-add");
      if (add) {
        var box = add.closest(".vy-rules");
        var rows = box.querySelectorAll(".vy-rule");
        var last = rows[rows.length - 1];
        var next = 0;
        rows.forEach(function (r) { next = Math.max(next, Number(r.dataset.index) + 1); });
        var copy = last.cloneNode(true);
        copy.dataset.index = String(next);
        copy.querySelectorAll("[name]").forEach(function (input) {
          input.name = input.name.replace(/-\d+-/, "-" + next + "-");
          var label = input.getAttribute("aria-label");
          if (label) input.setAttribute("aria-label", label.replace(/^Rule \d+/, "Rule " + (rows.length + 1)));
          if (input.tagName === "INPUT") input.value = "";
          if (input.tagName === "SELECT") input.selectedIndex = 0;
        });
        copy.querySelector(".vy-rule-number").textContent = String(rows.length + 1);
        last.parentNode.appendChild(copy);
        copy.querySelector("input").focus();
        return;
      }
      var chip = e.target.closest(".vy-chip");
      if (chip) {
        var input = document.getElementById(chip.closest(".vy-tag-chips").dataset.for);
        var tags = input.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
        if (tags.indexOf(chip.dataset.tag) < 0) tags.push(chip.dataset.tag);
        input.value = tags.join(", ");
        input.dispatchEvent(new Event("input", { bubbles: true }));
        return;
      }
      var jump = e.target.closest("[data-jump]");
      if (jump) {
        e.preventDefault();
        var target = fieldElement(jump.dataset.jump);
        if (target) {
          target.scrollIntoView({ block: "center" });
          var focusable = target.matches("input,select,textarea") ? target : target.querySelector("input,select,textarea");
          if (focusable) focusable.focus({ preventScroll: true });
        }
      }
    });

    // --- problems, named by field -----------------------------------------------------------
    function fieldElement(name) {
      return document.getElementById("id_" + name) || document.getElementById("id_" + name + "_0") ||
        form.querySelector(".field-" + name) || document.getElementById(name + "-group");
    }
    // The name of the field a server-rendered row or box is for (inline ones carry their prefix).
    function rowField(box) {
      var cls = Array.prototype.find.call(box.classList, function (c) { return c.indexOf("field-") === 0; });
      if (!cls) return "";
      var inline = box.closest(".inline-related[id]");
      var name = cls.slice(6);
      return inline && /-\d+$/.test(inline.id) ? inline.id + "-" + name : name;
    }
    // Errors Save drew stay only while the live check still finds them.
    function retireSavedErrors(live) {
      form.querySelectorAll("ul.errorlist").forEach(function (ul) {
        var parent = ul.parentNode;
        var next = ul.nextElementSibling;
        var box = parent.classList.contains("form-row") ? parent :
          (next && next.classList.contains("fieldBox") ? next : null);
        if (!box) return;
        if (live[rowField(box)]) { ul.style.display = ""; return; }
        ul.style.display = "none";
        box.classList.remove("errors");
      });
      if (Object.keys(live).length) return;
      document.querySelectorAll("#content-main p.errornote").forEach(function (note) {
        if (!note.closest(".vy-problems")) note.style.display = "none"; // the admin's CSS outranks [hidden]
      });
    }
    function showProblems(list) {
      var live = {};
      list.forEach(function (p) { live[p.field] = true; });
      retireSavedErrors(live);
      form.querySelectorAll(".vy-live-error").forEach(function (n) {
        n.classList.remove("vy-live-error");
        n.removeAttribute("title");
      });
      problems.textContent = "";
      if (!list.length) return;
      var note = document.createElement("p");
      note.className = "errornote";
      note.textContent = list.length === 1 ? "1 problem — Save would refuse this:" :
        list.length + " problems — Save would refuse this:";
      var ul = document.createElement("ul");
      ul.className = "vy-problem-list";
      list.forEach(function (p) {
        var li = document.createElement("li");
        li.dataset.field = p.field;
        var a = document.createElement("a");
        a.href = "#";
        a.dataset.jump = p.field;
        a.textContent = p.label;
        li.appendChild(a);
        li.appendChild(document.createTextNode(": " + p.messages.join(" ")));
        ul.appendChild(li);
        var where = fieldElement(p.field);
        var box = where && (where.closest(".fieldBox") || where.closest(".form-row"));
        if (box) {
          box.classList.add("vy-live-error");
          box.title = p.messages.join(" ");
        }
      });
      problems.appendChild(note);
      problems.appendChild(ul);
    }

    // --- the preview --------------------------------------------------------------------------
    function schedule() {
      clearTimeout(timer);
      panel.classList.add("vy-pending");
      timer = setTimeout(refresh, DEBOUNCE_MS);
    }
    function fillVariants(list, chosen) {
      var keep = String(chosen);
      variantSelect.textContent = "";
      list.forEach(function (v) {
        var o = document.createElement("option");
        o.value = String(v.index);
        o.textContent = "Arm " + v.label;
        if (String(v.index) === keep) o.selected = true;
        variantSelect.appendChild(o);
      });
      variantSelect.disabled = list.length < 2;
    }
    function refresh() {
      var mine = ++seq;
      var data = readonly ? new FormData() : new FormData(form);
      var csrf = form.querySelector("[name=csrfmiddlewaretoken]");
      data.set("_preview_message", panel.dataset.message || "");
      data.set("_preview_variant", variantSelect.value || "0");
      data.set("_preview_profile", profileSelect.value || "");
      if (readonly) data.set("_preview_saved", "1");
      panel.classList.add("vy-busy");
      status.textContent = "Updating…";
      fetch(panel.dataset.previewUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf ? csrf.value : "" }
      })
        .then(function (r) {
          return r.json().then(function (j) {
            if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
            return j;
          });
        })
        .then(function (answer) {
          if (mine !== seq) return;
          showProblems(answer.errors || []);
          fillVariants(answer.variants || [], answer.variant);
          if (!answer.token) {
            panel.classList.remove("vy-busy", "vy-pending");
            status.textContent = "Nothing to show yet: write the content.";
            return;
          }
          var loaded = 0;
          frames.forEach(function (frame) {
            frame.onload = function () {
              loaded += 1;
              if (loaded === frames.length && mine === seq) {
                panel.classList.remove("vy-busy", "vy-pending");
                panel.dataset.rendered = String(mine);
                status.textContent = (answer.errors || []).length ?
                  "Shown as it stands; fix the problems before saving." : "Up to date.";
              }
            };
            frame.src = answer.frame + "?voyage_preview=1";
          });
        })
        .catch(function (err) {
          if (mine !== seq) return;
          panel.classList.remove("vy-busy", "vy-pending");
          status.textContent = "The preview could not be drawn: " + err.message;
        });
    }

    // Editing an arm's content previews that arm.
    form.addEventListener("focusin", function (e) {
      var inline = e.target.closest(".inline-related[id^='variants-']");
      if (!inline) return;
      var n = inline.id.replace("variants-", "");
      var option = variantSelect.querySelector('option[value="' + n + '"]');
      if (option && variantSelect.value !== n) { variantSelect.value = n; schedule(); }
    });
    form.addEventListener("input", function (e) {
      if (e.target === variantSelect || e.target === profileSelect || e.target.id === "vy-preview-dock") return;
      sync();
      schedule();
    });
    form.addEventListener("change", function (e) {
      if (e.target.id === "vy-preview-dock") return;
      sync();
      if (e.target === variantSelect || e.target === profileSelect) { clearTimeout(timer); refresh(); return; }
      schedule();
    });
    // Docked: the panel stays at the top (smaller) while the fields below scroll; remembered.
    var dock = document.getElementById("vy-preview-dock");
    var docked = false;
    try { docked = window.localStorage.getItem("voyage-onsite-preview-docked") === "1"; } catch (e) { /* private mode */ }
    dock.checked = docked;
    panel.classList.toggle("vy-docked", docked);
    dock.addEventListener("change", function () {
      panel.classList.toggle("vy-docked", dock.checked);
      try { window.localStorage.setItem("voyage-onsite-preview-docked", dock.checked ? "1" : "0"); } catch (e) { /* ignore */ }
    });
    document.addEventListener("formset:added", schedule);
    document.addEventListener("formset:removed", schedule);
    sync();
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
