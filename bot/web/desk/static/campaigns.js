// Live progress of campaign runs: polls the desk every few seconds while a run is open.
(function () {
  "use strict";
  var table = document.getElementById("runs");
  if (!table) return;
  function refresh() {
    fetch(table.dataset.poll, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (runs) {
        var open = false;
        runs.forEach(function (run) {
          var row = table.querySelector('tr[data-run="' + run.id + '"]');
          if (!row) return;
          row.querySelector(".run-status").textContent = run.status;
          row.querySelector(".run-progress").textContent =
            run.sent + " / " + run.total + (run.failed ? " (✗ " + run.failed + ")" : "");
          if (run.status === "preparing" || run.status === "running") open = true;
        });
        if (open) setTimeout(refresh, 3000);
      });
  }
  refresh();
})();
