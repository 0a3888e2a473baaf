// kb: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  // Ask before destructive buttons (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Live Markdown preview: the server renders and sanitises, exactly as the card page will.
  function preview(textarea) {
    var target = document.getElementById(textarea.getAttribute("data-preview"));
    var timer = null, seq = 0;
    function render() {
      var mine = ++seq;
      fetch("/cards/preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ text: textarea.value })
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && mine === seq) target.innerHTML = data.html; })
        .catch(function () { /* keep the last preview */ });
    }
    textarea.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(render, 250); });
  }
  document.querySelectorAll("textarea[data-preview]").forEach(preview);

  // Show the custom-days field only when "Custom…" is chosen.
  var interval = document.getElementById("interval"), custom = document.getElementById("custom_days");
  var sync = function () { if (interval && custom) custom.closest(".field").hidden = interval.value !== "custom"; };
  if (interval && custom) { interval.addEventListener("change", sync); sync(); }

  // A new card's interval, audience and verifying team follow its collection until the author sets them.
  var collection = document.querySelector("select[data-defaults]");
  if (collection) {
    var defaults = JSON.parse(collection.getAttribute("data-defaults"));
    var from = document.getElementById("defaults_from"), form = collection.form;
    var fields = { interval: interval, public: document.getElementById("is_public"),
                   team: document.getElementById("verifier_team") };
    var touched = {};
    Object.keys(fields).forEach(function (name) {
      if (fields[name]) fields[name].addEventListener("change", function (event) {
        if (event.isTrusted) touched[name] = true;
      });
    });
    if (custom) custom.addEventListener("input", function () { touched.interval = true; });
    if (form.getAttribute("data-from-request")) touched.team = true;  // the request's team verifies it
    collection.addEventListener("change", function () {
      var d = defaults[collection.value];
      if (!d) return;
      if (!touched.interval && interval) {
        var preset = interval.querySelector('option[value="' + d.interval + '"]');
        interval.value = preset ? String(d.interval) : "custom";
        if (!preset && custom) custom.value = d.interval;
        sync();
      }
      if (!touched.public && fields.public) fields.public.checked = d.public;
      if (!touched.team && fields.team) fields.team.value = String(d.team);
      if (from) from.value = collection.value;
    });
  }
})();

// Queue: one checkbox selects every card in the list.
document.querySelectorAll("input[data-select-all]").forEach(function (box) {
  box.addEventListener("change", function () {
    document.querySelectorAll('input[name="' + box.getAttribute("data-select-all") + '"]')
      .forEach(function (other) { other.checked = box.checked; });
  });
});

// Search as you type: "/" focuses the box; results come from /api/v1/search (the same ranking as the
// results page); ↑/↓ move, Enter opens, Escape closes. Without JavaScript the box submits to /search.
(function () {
  "use strict";
  var input = document.getElementById("site-search"), list = document.getElementById("search-suggest");
  if (!input || !list) return;
  var timer = null, seq = 0, active = -1, items = [];

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && tag !== "input" && tag !== "textarea" &&
        tag !== "select" && !event.target.isContentEditable) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  var LABELS = { verified: "Verified", due_soon: "Due soon", needs_verification: "Needs verification",
                 draft: "Draft", archived: "Archived" };

  function render(data) {
    list.textContent = "";
    items = [];
    active = -1;
    if (data.did_you_mean) {
      var note = el("div", "suggest-note", "Did you mean "), fix = el("a", "", data.did_you_mean);
      fix.href = "/search?q=" + encodeURIComponent(data.did_you_mean);
      fix.addEventListener("click", function (event) {
        event.preventDefault(); input.value = data.did_you_mean; query(); input.focus();
      });
      note.appendChild(fix); note.appendChild(document.createTextNode("?"));
      list.appendChild(note);
    }
    if (data.notice && !data.results.length) list.appendChild(el("div", "suggest-note", data.notice));
    data.results.forEach(function (r, i) {
      var row = el("div", "suggest-item");
      row.setAttribute("role", "option");
      row.id = "suggest-" + i;
      var link = el("a", "suggest-title", r.title);
      link.href = r.url;
      var badge = el("span", "badge badge-" + r.status, LABELS[r.status] || r.status);
      badge.title = r.reasons.map(function (x) { return x.message; }).join(" ");
      var snippet = el("div", "snippet");
      snippet.innerHTML = r.snippet;  // server-escaped text with <mark> highlights only
      var meta = el("div", "meta", (r.collection.name || "") + " · " +
                    (r.verified_at ? "verified " + r.verified_at.slice(0, 10) : "never verified"));
      var draft = !!r.draft;  // no served wording: copied only as a draft
      var copy = el("button", "button small copy-answer" + (draft ? " copy-draft" : ""),
                    draft ? "Copy draft (not verified)" : "Copy answer");
      copy.type = "button";
      copy.setAttribute("data-card", r.id);
      if (draft) copy.setAttribute("data-draft", "1");
      if (data.search_id) copy.setAttribute("data-sid", data.search_id);
      var head = el("div", "suggest-head");
      head.appendChild(link); head.appendChild(badge);
      if (r.pending && !draft) {
        var tag = el("span", "tag warn", "pending change");
        tag.title = "Revision " + r.pending.revision + " awaits verification; Copy gives the verified answer";
        head.appendChild(tag);
      }
      head.appendChild(copy);
      row.appendChild(head); row.appendChild(snippet); row.appendChild(meta);
      row.appendChild(el("div", "copy-panel"));
      row.lastChild.hidden = true;
      row.addEventListener("mousedown", function (event) { if (event.target === row) event.preventDefault(); });
      list.appendChild(row);
      items.push(row);
    });
    var all = el("a", "suggest-all", data.total ? "All " + data.total + " results →" : "No cards found. Search anyway →");
    all.href = "/search?q=" + encodeURIComponent(input.value);
    list.appendChild(all);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function highlight(index) {
    items.forEach(function (row, i) { row.classList.toggle("active", i === index); row.setAttribute("aria-selected", i === index); });
    active = index;
    if (index >= 0) { input.setAttribute("aria-activedescendant", items[index].id); items[index].scrollIntoView({ block: "nearest" }); }
    else input.removeAttribute("aria-activedescendant");
  }

  function query() {
    var text = input.value;
    if (!text.trim()) { close(); return; }
    var mine = ++seq;
    fetch("/api/v1/search?limit=8&prefix=1&q=" + encodeURIComponent(text), { credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && mine === seq) render(data); })
      .catch(function () { /* the form still submits to /search */ });
  }

  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(query, 120); });
  input.addEventListener("focus", function () { if (input.value.trim() && items.length) { list.hidden = false; } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && items.length) { event.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
    else if (event.key === "ArrowUp" && items.length) { event.preventDefault(); highlight(Math.max(active - 1, -1)); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); window.location.href = items[active].querySelector("a").href; }
    else if (event.key === "Escape") { close(); }
  });
  document.addEventListener("click", function (event) { if (!input.form.contains(event.target)) close(); });
})();

// "Copy answer": the served (verified) answer as chat-ready plain text, the words the chatbot and the FAQ
// give. Placeholders such as {customer_name} are fields to fill first, and the copy waits until every one
// is filled; links to internal cards are announced first; a draft (never verified) is copied only after a
// confirmation. The copy is counted (ranking and the gap report).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var confirmedDrafts = {};

  function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {  // plain-HTTP intranets: the older way
      var area = document.createElement("textarea");
      area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
      document.body.appendChild(area); area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  function done(button, panel, text, data) {
    // The button's own label ("Copy answer", or "Copy draft (not verified)"), kept from before the first
    // copy: a second copy within the 2.5 s of "Copied ✓" must not turn a draft's button into "Copy answer".
    if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
    var label = button.getAttribute("data-label");
    return writeClipboard(text).then(function () {
      button.textContent = "Copied ✓";
      button.setAttribute("data-copied", text);
      clearTimeout(button.kbRelabel);
      button.kbRelabel = setTimeout(function () { button.textContent = label; }, 2500);
      if (panel) { panel.hidden = true; panel.textContent = ""; }
      var body = new FormData();
      if (button.getAttribute("data-sid")) body.append("sid", button.getAttribute("data-sid"));
      fetch("/cards/" + data.id + "/copied", { method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": csrf } }).catch(function () {});
    }, function () {
      if (!panel) return;  // show the text so the agent can copy it by hand
      panel.hidden = false; panel.textContent = "";
      var area = document.createElement("textarea");
      area.value = text; area.rows = 6; panel.appendChild(area); area.select();
    });
  }

  function note(form, cls, text) {
    var p = document.createElement("p");
    p.className = cls; p.textContent = text;
    form.appendChild(p);
    return p;
  }

  // The answer could not be fetched (signed out, a network error, a server error): say so, copy nothing.
  function failed(panel, why) {
    if (!panel) return;
    panel.textContent = "";
    panel.hidden = false;
    note(panel, "error", why + " Nothing was copied.").setAttribute("role", "alert");
  }

  // Fields for the placeholders and a word about internal links, then "Copy" (or straight to the clipboard
  // when there is nothing to say).
  function prepare(button, panel, data) {
    if (!panel || (!data.placeholders.length && !data.internal_links.length)) {
      done(button, panel, data.text, data);
      return;
    }
    panel.textContent = "";
    panel.hidden = false;
    var form = document.createElement("form");
    form.className = "placeholder-form";
    form.noValidate = true;
    if (data.internal_links.length) {
      note(form, "hint internal-links", "Links to internal cards reach the customer as words only, not links: " +
        data.internal_links.map(function (t) { return "“" + t + "”"; }).join(", ") + ".");
    }
    if (data.placeholders.length) note(form, "", "Fill in before copying:");
    // Fields by placeholder name, not `form.elements[name]`: that gives the collection's own `item`,
    // `namedItem` or `length` for placeholders so named, never the field.
    var fields = {};
    data.placeholders.forEach(function (name, i) {
      var label = document.createElement("label");
      var words = name.replace(/_/g, " ");
      label.textContent = words.charAt(0).toUpperCase() + words.slice(1);
      var field = document.createElement("input");
      field.name = name; field.required = true; field.setAttribute("data-placeholder", name);
      fields[name] = field;
      label.appendChild(field); form.appendChild(label);
      if (i === 0) setTimeout(function () { field.focus(); }, 0);
    });
    var error = note(form, "error", "");
    error.hidden = true;
    error.setAttribute("role", "alert");
    var go = document.createElement("button");
    go.type = "submit"; go.className = "button small"; go.textContent = "Copy";
    form.appendChild(go);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var empty = data.placeholders.filter(function (name) { return !fields[name].value.trim(); });
      if (empty.length) {  // never a raw {placeholder} on the clipboard
        error.textContent = "Fill in " + empty.map(function (n) { return "{" + n + "}"; }).join(", ") + " first.";
        error.hidden = false;
        fields[empty[0]].focus();
        return;
      }
      var text = data.text;
      data.placeholders.forEach(function (name) {
        text = text.split("{" + name + "}").join(fields[name].value.trim());
      });
      done(button, panel, text, data);
    });
    panel.appendChild(form);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".copy-answer") : null;
    if (!button) return;
    event.preventDefault();
    var holder = button.closest(".hit, .suggest-item, .answer") || document;
    var panel = holder.querySelector(".copy-panel") ||
      (button.closest(".card-page") && button.closest(".card-page").querySelector(".copy-panel"));
    fetch("/cards/" + button.getAttribute("data-card") + "/answer.json", { credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then(function (r) {
        // A session that ended answers with the sign-in page (a redirect to HTML), not with the answer.
        if (r.redirected || r.status === 401) throw new Error("You are signed out: sign in again, then copy.");
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("json") < 0) {
          throw new Error("The answer could not be loaded (HTTP " + r.status + ").");
        }
        return r.json();
      })
      .then(function (data) {
        if (data.draft && !confirmedDrafts[data.id]) {
          if (!window.confirm("This card is a draft: nobody has verified it, and the chatbot and the FAQ do not " +
                              "give this answer. Copy the draft anyway?")) return;
          confirmedDrafts[data.id] = true;
        }
        prepare(button, panel, data);
      }, function (error) {  // fetching failed; a mistake in the code above is not caught, it shows as one
        failed(panel, error instanceof TypeError ? "The answer could not be loaded: the server did not answer."
                                                 : error.message);
      });
  });
})();

// Duplicate check while writing a title: similar existing cards, before saving.
(function () {
  "use strict";
  var title = document.querySelector("input[data-similar]"), box = document.getElementById("similar");
  if (!title || !box) return;
  var timer = null, seq = 0;
  function check() {
    var mine = ++seq, exclude = title.getAttribute("data-similar");
    fetch("/search/similar?title=" + encodeURIComponent(title.value) + (exclude ? "&exclude=" + exclude : ""),
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || mine !== seq) return;
        box.textContent = "";
        box.hidden = !data.results.length;
        if (!data.results.length) return;
        var p = document.createElement("p");
        p.textContent = "Similar cards already exist. Update one of them instead of adding a duplicate?";
        box.appendChild(p);
        var ul = document.createElement("ul");
        data.results.forEach(function (r) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = r.url; a.target = "_blank"; a.textContent = r.title;
          li.appendChild(a); ul.appendChild(li);
        });
        box.appendChild(ul);
      }).catch(function () {});
  }
  title.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 300); });
  if (title.value) check();
})();

// Onboarding path editor: reorder cards by dragging them, or from the keyboard (focus a handle ⠿, Space or
// Enter picks the card up, ↑/↓ move it, across sections at their edges, Space or Enter drops it, Escape
// puts it back). The new order is saved as one layout; a refused layout (400) is undone and the server's
// reason announced. Without JavaScript the ↑/↓ buttons of each card post the same moves.
(function () {
  "use strict";
  var editor = document.querySelector(".path-editor[data-layout-url]");
  if (!editor) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var status = document.getElementById("reorder-status");
  var picked = null;    // keyboard: {item, before}
  var dragged = null;   // mouse: {item, before, dropped}
  var moving = false;   // a handle is being moved in the DOM: its focus events mean nothing

  function lists() { return Array.prototype.slice.call(editor.querySelectorAll("ol.sortable[data-section]")); }
  function itemsOf(list) { return Array.prototype.slice.call(list.querySelectorAll(":scope > li.item[data-item]")); }
  function titleOf(item) { return item.getAttribute("data-title") || item.textContent.trim(); }
  function handleOf(item) { return item.querySelector("button.handle"); }
  function say(text) {
    if (!status) return;
    status.textContent = "";  // a repeated message is announced again
    window.setTimeout(function () { status.textContent = text; }, 30);
  }

  // [[section id, [item ids…]], …], as the layout endpoint takes it; and the nodes, to put them back.
  function layout() {
    return lists().map(function (list) {
      return [Number(list.getAttribute("data-section")),
              itemsOf(list).map(function (li) { return Number(li.getAttribute("data-item")); })];
    });
  }
  function snapshot() { return lists().map(function (list) { return [list, itemsOf(list)]; }); }
  function restore(before) {
    before.forEach(function (pair) { pair[1].forEach(function (li) { pair[0].appendChild(li); }); });
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function where(item) {
    var list = item.parentNode, mine = itemsOf(list);
    return titleOf(item) + ": position " + (mine.indexOf(item) + 1) + " of " + mine.length + " in " +
      (list.getAttribute("aria-label") || "this section");
  }

  function focusHandle(item) {
    var handle = handleOf(item);
    if (handle && document.activeElement !== handle) handle.focus();
  }

  // One save at a time, each sending the order shown when it starts, so the server ends where the page is.
  var saving = Promise.resolve();
  function save(before, item, done) {
    saving = saving.then(function () { return send(before, item, done); });
  }
  function send(before, item, done) {
    var body = JSON.stringify({ sections: layout() });
    editor.setAttribute("aria-busy", "true");
    return fetch(editor.getAttribute("data-layout-url"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    }).then(function (answer) {
      if (answer.ok) { say(done + " Saved."); return; }
      var why = (answer.data && answer.data.error && answer.data.error.message) ||
        "the server refused it, HTTP " + answer.status;
      undo(before, item);
      say("Not saved (" + why + "). The previous order is back.");
    }, function () {
      undo(before, item);
      say("Not saved (the server did not answer). The previous order is back.");
    }).then(function () { editor.removeAttribute("aria-busy"); });
  }

  function undo(before, item) {
    if (picked) letGo();  // a card picked up meanwhile is put down where the old order has it
    moving = true; restore(before); focusHandle(item); moving = false;
  }

  // --- keyboard -----------------------------------------------------------------------------------------

  function pickUp(item) {
    picked = { item: item, before: snapshot(), start: layout() };
    item.classList.add("picked");
    handleOf(item).setAttribute("aria-pressed", "true");
    say("Picked up " + titleOf(item) + ". Use the arrow keys to move it, Space or Enter to drop it, Escape to cancel. " +
        where(item) + ".");
  }

  function letGo() {
    var was = picked;
    picked = null;
    was.item.classList.remove("picked");
    handleOf(was.item).setAttribute("aria-pressed", "false");
    return was;
  }

  function drop() {
    var was = letGo();
    if (same(was.start, layout())) { say(titleOf(was.item) + " dropped where it was. " + where(was.item) + "."); return; }
    var text = titleOf(was.item) + " dropped. " + where(was.item) + ".";
    say(text + " Saving…");
    save(was.before, was.item, text);
  }

  function cancel() {
    var was = letGo();
    moving = true; restore(was.before); focusHandle(was.item); moving = false;
    say("Move cancelled. " + where(was.item) + ".");
  }

  function step(item, delta) {
    var list = item.parentNode, all = lists(), mine = itemsOf(list), index = mine.indexOf(item);
    var target = mine[index + delta];
    moving = true;
    if (target) {
      list.insertBefore(item, delta < 0 ? target : target.nextSibling);
    } else {
      var neighbour = all[all.indexOf(list) + delta];
      if (!neighbour) { moving = false; say(where(item) + " (" + (delta < 0 ? "already first" : "already last") + ")."); return; }
      if (delta < 0) neighbour.appendChild(item); else neighbour.insertBefore(item, neighbour.firstChild);
    }
    focusHandle(item);
    moving = false;
    say(where(item) + ".");
  }

  editor.addEventListener("keydown", function (event) {
    var handle = event.target.closest ? event.target.closest("button.handle") : null;
    if (!handle || !editor.contains(handle)) return;
    var item = handle.closest("li.item");
    var key = event.key;
    if (key === " " || key === "Spacebar" || key === "Enter") {
      event.preventDefault();
      if (picked && picked.item === item) drop();
      else { if (picked) cancel(); pickUp(item); }
    } else if (picked && picked.item === item && (key === "ArrowUp" || key === "ArrowDown")) {
      event.preventDefault();
      step(item, key === "ArrowUp" ? -1 : 1);
    } else if (picked && picked.item === item && (key === "Escape" || key === "Esc")) {
      event.preventDefault();
      cancel();
    }
  });
  // A handle does nothing on its own when clicked (Space and Enter are handled on keydown, above).
  editor.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("button.handle")) event.preventDefault();
  });
  // Leaving a picked-up card (Tab, a click elsewhere) puts it back, as Escape does.
  editor.addEventListener("focusout", function (event) {
    if (moving || !picked || event.target !== handleOf(picked.item)) return;
    window.setTimeout(function () {
      if (picked && !moving && document.activeElement !== handleOf(picked.item)) cancel();
    }, 0);
  });

  // --- mouse (HTML5 drag and drop) ------------------------------------------------------------------------

  function clearTargets() {
    editor.querySelectorAll(".drop-target").forEach(function (n) { n.classList.remove("drop-target"); });
  }

  function listAt(target) {
    if (!target.closest) return null;
    var list = target.closest("ol.sortable[data-section]");
    if (list && editor.contains(list)) return list;
    var section = target.closest(".path-section");
    return section && editor.contains(section) ? section.querySelector("ol.sortable[data-section]") : null;
  }

  editor.addEventListener("dragstart", function (event) {
    var item = event.target.closest ? event.target.closest("li.item[data-item]") : null;
    if (!item || !editor.contains(item)) return;
    if (picked) cancel();
    dragged = { item: item, before: snapshot(), start: layout(), dropped: false };
    event.dataTransfer.effectAllowed = "move";
    try { event.dataTransfer.setData("text/plain", titleOf(item)); } catch (e) { /* old browsers */ }
    window.setTimeout(function () { if (dragged) item.classList.add("dragging"); }, 0);
  });

  function over(event) {
    if (!dragged) return;
    var list = listAt(event.target);
    if (!list) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!list.classList.contains("drop-target")) { clearTargets(); list.classList.add("drop-target"); }
    // Before the first card whose middle is below the pointer; else at the end.
    var next = itemsOf(list).filter(function (li) { return li !== dragged.item; }).find(function (li) {
      var box = li.getBoundingClientRect();
      return event.clientY < box.top + box.height / 2;
    });
    if (next) { if (next.previousElementSibling !== dragged.item) list.insertBefore(dragged.item, next); }
    else if (list.lastElementChild !== dragged.item) list.appendChild(dragged.item);
  }
  editor.addEventListener("dragenter", over);
  editor.addEventListener("dragover", over);

  editor.addEventListener("drop", function (event) {
    if (!dragged) return;
    event.preventDefault();
    dragged.dropped = true;
  });

  editor.addEventListener("dragend", function () {
    if (!dragged) return;
    var was = dragged;
    dragged = null;
    was.item.classList.remove("dragging");
    clearTargets();
    if (!was.dropped) { restore(was.before); return; }  // dropped outside the editor, or Escape
    if (same(was.start, layout())) return;
    var text = titleOf(was.item) + " moved. " + where(was.item) + ".";
    say(text + " Saving…");
    save(was.before, was.item, text);
  });
})();

// Check questions on the onboarding reader: answered in place (the server says right or wrong and why);
// without JavaScript the form posts and the page comes back with the same result.
document.addEventListener("submit", function (event) {
  "use strict";
  var form = event.target;
  if (event.defaultPrevented || !form.matches || !form.matches("form.question[data-question]")) return;
  event.preventDefault();
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var result = form.querySelector(".result"), button = form.querySelector('button[type="submit"], button:not([type])');
  function show(text, right) {
    if (!result) return;
    result.textContent = text;
    form.classList.toggle("right", right === true);
    form.classList.toggle("wrong", right === false);
  }
  if (button) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  fetch(form.action, { method: "POST", credentials: "same-origin", body: new FormData(form),
    headers: { Accept: "application/json", "X-CSRFToken": csrf } })
    .then(function (r) {
      if (r.redirected || (r.headers.get("Content-Type") || "").indexOf("json") < 0) {
        throw new Error("Your answer was not recorded: sign in again, then answer.");
      }
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    })
    .then(function (answer) {
      if (!answer.ok) {
        show((answer.data.error && answer.data.error.message) || "Choose one of the answers.", null);
        return;
      }
      var data = answer.data;
      if (data.correct) show("Right. " + (data.explanation || ""), true);
      else show("Not quite: read the card again and retry.", false);
      if (button) button.textContent = "Answer again";
    }, function (error) {
      show(error instanceof TypeError ? "Your answer was not sent: the server did not answer. Try again." : error.message, null);
    })
    .then(function () { if (button) button.disabled = false; form.removeAttribute("aria-busy"); });
});
