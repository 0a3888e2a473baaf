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
  if (interval && custom) {
    var sync = function () { custom.closest(".field").hidden = interval.value !== "custom"; };
    interval.addEventListener("change", sync); sync();
  }
})();

// Queue: one checkbox selects every card in the list.
document.querySelectorAll("input[data-select-all]").forEach(function (box) {
  box.addEventListener("change", function () {
    document.querySelectorAll('input[name="' + box.getAttribute("data-select-all") + '"]')
      .forEach(function (other) { other.checked = box.checked; });
  });
});
