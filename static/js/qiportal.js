/* qiportal: small progressive enhancements; every page works without JavaScript.
   No inline scripts (CSP): this file is loaded with `defer`. */
(function () {
  "use strict";

  // Close the user menu (<details>) with Escape and when clicking elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // Stop polling when the tab is hidden; htmx resumes on the next trigger.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.target.getAttribute && event.target.getAttribute("hx-trigger");
    if (document.hidden && /\bevery\b/.test(trigger || "")) {
      event.preventDefault();
    }
  });

  // Warn at once when a chosen file exceeds the 5 MB limit (the server checks again).
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    var max = 5 * 1024 * 1024;
    if (input.files && input.files[0] && input.files[0].size > max) {
      input.setCustomValidity(document.documentElement.lang === "en"
        ? "The file is larger than 5 MB."
        : "Die Datei ist größer als 5 MB.");
      input.reportValidity();
    } else {
      input.setCustomValidity("");
    }
  });
})();
