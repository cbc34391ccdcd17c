/* qiportal deviations: progressive enhancement of the auditor's decision form.
   Without JavaScript every field stays visible (with the hint "only for a
   nonconformity"); with it, the corrective action and due date show only while the
   nonconformity (Abweichung) radio is checked. No inline script (CSP). */
(function () {
  "use strict";

  function update(form) {
    var checked = form.querySelector("input[type=radio][name=decision]:checked");
    var show = !!checked && checked.value === "nonconformity";
    form.querySelectorAll("[data-nonconformity-only]").forEach(function (field) {
      field.hidden = !show;
      field.querySelectorAll("input, textarea, select").forEach(function (input) {
        input.disabled = !show;
      });
    });
  }

  function init() {
    document.querySelectorAll("form[data-decision-form]").forEach(function (form) {
      form.querySelectorAll("[data-nonconformity-only] .field__hint").forEach(function (hint) {
        hint.hidden = true; // the fields appear only when they apply
      });
      update(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "decision") update(form);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
