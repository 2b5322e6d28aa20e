// Synchronization widget: while a synchronization of this account is queued or running, the page
// shows an indeterminate <progress>, keeps the "Synchronization Now" buttons disabled, and polls
// its status (status.json), saying in the aria-live region what it is doing; once it is done the
// region says how it ended and the page reloads (after a moment, so the result can be read) to
// refresh the details and the history.
(function () {
  "use strict";
  var box = document.getElementById("sync-status");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var progress = document.getElementById("sync-progress");
  var busy = function (status) { return status === "queued" || status === "running"; };
  if (!busy(box.getAttribute("data-status"))) { return; }
  var buttons = document.querySelectorAll("form.sync-now button");
  var say = function (text) { box.textContent = text; };
  var poll = function () {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        if (busy(data.status)) {
          say(box.getAttribute("data-label-" + data.status));
          window.setTimeout(poll, 2000);
          return;
        }
        if (progress) { progress.hidden = true; }
        Array.prototype.forEach.call(buttons, function (button) { button.disabled = false; });
        say(box.getAttribute("data-label-done") + " " + (data.message || ""));
        window.setTimeout(function () { window.location.reload(); }, 1500);
      })
      .catch(function () {
        say(box.getAttribute("data-label-lost"));
        window.setTimeout(poll, 5000);
      });
  };
  window.setTimeout(poll, 1000);
}());
