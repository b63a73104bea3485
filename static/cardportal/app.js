// Page behaviour that used to sit in inline handlers: the Content-Security-Policy allows no
// inline script, so templates mark elements with data- attributes and this file acts on them.
(function () {
  "use strict";

  // <select data-autosubmit>: a filter applies as soon as it changes.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
    // <input type=checkbox data-all="g"> ticks every [data-group="g"].
    if (el.matches && el.matches("input[data-all]")) {
      document.querySelectorAll('[data-group="' + el.dataset.all + '"]').forEach(function (box) {
        box.checked = el.checked;
      });
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-print], [data-confirm]") : null;
    if (!el) return;
    if (el.hasAttribute("data-print")) {
      event.preventDefault();
      window.print();
    } else if (el.hasAttribute("data-confirm") && !window.confirm(el.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // hx-get ... data-reload-after-request: reload the page once the fragment's request is done
  // (replaces hx-on, which htmx would have to eval).
  document.addEventListener("htmx:afterRequest", function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-reload-after-request")) {
      window.location.reload();
    }
  });
})();
