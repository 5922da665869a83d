/* CX Recovery: the little glue the pages need beyond htmx. Every page works without it. */
(function () {
  "use strict";

  // Filter forms send every field; drop the empty ones so the pushed (bookmarkable) URL stays short.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.verb !== "get" || !elt.closest || !elt.closest("[data-drop-empty]")) return;
    var params = event.detail.parameters;
    var empty = [];
    if (typeof params.entries === "function") {
      for (var pair of params.entries()) { if (pair[1] === "") empty.push(pair[0]); }
      empty.forEach(function (name) { params.delete(name); });
    }
  });

  // A suggested customer fills the email field (and the lookup then confirms the match).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-fill-email]");
    if (!button) return;
    var input = document.getElementById("id_customer_email");
    if (!input) return;
    input.value = button.getAttribute("data-fill-email");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  });

  // A button marked data-confirm asks first (resolve, close); "Cancel" sends nothing. On the click, so it holds for
  // htmx and for a plain form post alike (htmx reads hx-confirm from the form, not from the button pressed).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-confirm]");
    if (!button) return;
    if (!window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A message's close button.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (!button) return;
    var flash = button.closest(".flash");
    if (flash) flash.remove();
  });

  // A select marked data-autosubmit sends its form when changed (instead of an inline onchange handler, which the
  // Content-Security-Policy forbids).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches("[data-autosubmit]") || !field.form) return;
    if (typeof field.form.requestSubmit === "function") field.form.requestSubmit();
    else field.form.submit();
  });

  // The queue's filter form refreshes on any change except in the search box, which has its own debounced
  // trigger. (An htmx trigger filter like change[...] would need eval, which the Content-Security-Policy forbids.)
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form || !form.matches("[hx-trigger*='filters-changed']") || event.target.id === "id_q") return;
    if (window.htmx) window.htmx.trigger(form, "filters-changed");
  });
  // --- The complaint page after an action -------------------------------------------------------------
  // The complaint is swapped whole; CSS turns scroll anchoring off for it, so the page stays where it was. A new
  // note or reply is then brought into view (only as far as needed) and the button that was pressed keeps focus.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "complaint") return;
    var fresh = target.querySelector(".comment.is-new");
    if (fresh) {
      var box = fresh.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) fresh.scrollIntoView({ block: "nearest" });
    }
    tick();
  });

  // --- Deadlines tick --------------------------------------------------------------------------------
  // Same words as the server's deadline tag (tickets/templatetags/desk.py): "40 min left", "Overdue by 3 h".
  var SOON = 2 * 3600;
  function words(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    if (minutes < 1) return "less than a minute";
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60), rest = minutes % 60;
    if (hours < 48) return hours + " h" + (rest && hours < 10 ? " " + rest + " min" : "");
    return Math.floor(hours / 24) + " days";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      var late = left <= 0;
      var text = late ? "Overdue by " + words(left) : words(left) + " left";
      if (el.textContent === text) return;
      el.classList.toggle("late", late);
      el.classList.toggle("soon", !late && left <= SOON);
      el.classList.toggle("ok", !late && left > SOON);
      if (late) {
        el.textContent = "";
        var strong = document.createElement("strong");
        strong.textContent = "Overdue";
        el.appendChild(strong);
        el.appendChild(document.createTextNode(" by " + words(left)));
      } else {
        el.textContent = text;
      }
    });
  }
  setInterval(tick, 30000);

  // --- The live queue ---------------------------------------------------------------------------------
  // It refreshes itself every minute, except while someone is using it: complaints ticked, focus or an open
  // "Save this view" inside it. (An htmx trigger filter would need eval, which the Content-Security-Policy forbids.)
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live-queue")) return;
    var busy = elt.querySelector("input[name=ids]:checked, details[open]") || elt.contains(document.activeElement);
    if (busy || document.hidden) event.preventDefault();
  });

  // Tick every complaint on the page; the bar says how many are ticked.
  function countTicked(root) {
    var form = root && root.closest ? root.closest("form") : null;
    if (!form) return;
    var label = form.querySelector("[data-bulk-count]");
    var n = form.querySelectorAll("input[name=ids]:checked").length;
    if (label) label.textContent = n ? n + " ticked:" : "Tick complaints to act on several at once:";
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-pick-all]")) {
      box.closest("table").querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = box.checked; });
    }
    if (box.matches && box.matches("[data-pick-all], input[name=ids]")) countTicked(box);
  });

  // --- Keyboard shortcuts (docs/shortcuts.md); "?" lists them ----------------------------------------
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }
  var pending = "";
  var cursor = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table[data-queue] tbody tr")); }
  function moveCursor(step) {
    var all = rows();
    if (!all.length) return;
    var current = all.findIndex(function (r) { return r.classList.contains("is-cursor"); });
    cursor = Math.max(0, Math.min(all.length - 1, (current < 0 ? -1 : current) + step));
    all.forEach(function (r) { r.classList.remove("is-cursor"); });
    var row = all[cursor];
    row.classList.add("is-cursor");
    var link = row.querySelector("a.ref");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  function openDialog() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open && typeof dialog.showModal === "function") dialog.showModal();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) openDialog();
  });
  function compose(kind) {
    var radio = document.querySelector("#comment-form input[name=kind][value=" + kind + "]");
    var box = document.querySelector("#comment-form textarea[name=body]");
    if (!box) return false;
    if (radio) radio.checked = true;
    box.focus();
    return true;
  }
  document.addEventListener("keydown", function (event) {
    var body = document.body;
    if (!body.hasAttribute("data-shortcuts")) return;
    // Ctrl/Cmd+Enter in the note box saves it.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.matches && event.target.matches("#comment-form textarea")) {
      event.preventDefault();
      var form = event.target.form;
      if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    var key = event.key;
    if (pending === "g") {
      pending = "";
      if (key === "q") { window.location.href = body.getAttribute("data-queue-url"); event.preventDefault(); }
      else if (key === "n" && body.getAttribute("data-notices-url")) { window.location.href = body.getAttribute("data-notices-url"); event.preventDefault(); }
      return;
    }
    var handled = true;
    var queue = document.querySelector("table[data-queue]");
    var complaint = document.getElementById("complaint");
    if (key === "?") openDialog();
    else if (key === "g") pending = "g";
    else if (key === "c") window.location.href = body.getAttribute("data-new-url");
    else if (key === "/" && document.getElementById("id_q")) document.getElementById("id_q").focus();
    else if (queue && (key === "j" || key === "k")) moveCursor(key === "j" ? 1 : -1);
    else if (queue && key === "o" && document.querySelector("tr.is-cursor a.ref")) document.querySelector("tr.is-cursor a.ref").click();
    else if (queue && key === "x" && document.querySelector("tr.is-cursor input[name=ids]")) {
      var pick = document.querySelector("tr.is-cursor input[name=ids]");
      pick.checked = !pick.checked;
      countTicked(pick);
    }
    else if (complaint && key === "r") handled = compose("reply");
    else if (complaint && key === "n") handled = compose("note");
    else if (complaint && key === "a" && document.getElementById("assign-me")) document.getElementById("assign-me").click();
    else if (complaint && key === "m" && document.getElementById("macro-choice")) document.getElementById("macro-choice").focus();
    else if (complaint && key === "u") window.location.href = body.getAttribute("data-queue-url");
    else handled = false;
    if (handled) event.preventDefault();
  });
})();
