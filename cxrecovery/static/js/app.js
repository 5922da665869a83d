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
})();
