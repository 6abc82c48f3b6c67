/* Filters of the verification table (by figure, notebook, status and scale), kept in the page's #hash so a link can
   open the table filtered, e.g. verification.html#status=failed or #figure=kwon-fig02. Vanilla JS, no server. */
(function () {
  "use strict";

  function setup() {
    var table = document.getElementById("dln-verification");
    if (!table) { return; }
    var keys = ["figure", "notebook", "status", "scale"];
    var selects = {};
    keys.forEach(function (k) { selects[k] = document.getElementById("dln-filter-" + k); });
    var shown = document.getElementById("dln-shown");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);

    function fromHash() {
      var h = window.location.hash.replace(/^#/, "");
      if (h.indexOf("=") < 0) { return false; }
      keys.forEach(function (k) { if (selects[k]) { selects[k].value = ""; } });
      h.split("&").forEach(function (kv) {
        var p = kv.split("=");
        var k = decodeURIComponent(p[0]), v = decodeURIComponent(p.slice(1).join("="));
        if (selects[k]) {
          var ok = Array.prototype.some.call(selects[k].options, function (o) { return o.value === v; });
          if (ok) { selects[k].value = v; }
        }
      });
      return true;
    }

    function toHash() {
      var parts = [];
      keys.forEach(function (k) {
        if (selects[k] && selects[k].value) { parts.push(k + "=" + encodeURIComponent(selects[k].value)); }
      });
      var url = window.location.href.split("#")[0] + (parts.length ? "#" + parts.join("&") : "");
      try { window.history.replaceState(null, "", url); } catch (e) { /* some hosts forbid it: the filter still works */ }
    }

    function apply() {
      var n = 0;
      rows.forEach(function (tr) {
        var ok = keys.every(function (k) { return !selects[k] || !selects[k].value || tr.dataset[k] === selects[k].value; });
        tr.hidden = !ok;
        if (ok) { n += 1; }
      });
      if (shown) { shown.textContent = String(n); }
      table.dataset.shown = String(n);
    }

    keys.forEach(function (k) {
      if (selects[k]) { selects[k].addEventListener("change", function () { apply(); toHash(); }); }
    });
    var reset = document.getElementById("dln-filter-reset");
    if (reset) {
      reset.addEventListener("click", function () {
        keys.forEach(function (k) { if (selects[k]) { selects[k].value = ""; } });
        apply(); toHash();
      });
    }
    window.addEventListener("hashchange", function () { if (fromHash()) { apply(); } });
    fromHash();
    apply();
    table.dataset.ready = "1";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
