/* Integrations pages: copy the webhook URL, the secret or a payload template to the clipboard. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var status = button.parentNode.querySelector(".copy-status");
    function done(text) { if (status) status.textContent = text; }
    source.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(source.value).then(
        function () { done("Copied"); },
        function () { done("Selected: press Ctrl+C to copy"); }
      );
    } else {
      done("Selected: press Ctrl+C to copy");
    }
  });
})();
