// Synchronization widget: while a synchronization of this account is queued or running, poll its
// status (status.json) and show it; reload the page once it is done so the details and history refresh.
(function () {
  "use strict";
  var box = document.getElementById("sync-status");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var busy = function (status) { return status === "queued" || status === "running"; };
  if (!busy(box.getAttribute("data-status"))) { return; }
  var poll = function () {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        box.textContent = data.status_label + (data.message ? ": " + data.message : "");
        if (busy(data.status)) { window.setTimeout(poll, 2000); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, 1000);
}());
