// Idle timeout: the server logs a session out after IDLE_TIMEOUT seconds without a request;
// this timer shows the logon screen at that moment instead of on the next click.
(function () {
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-timeout") || "0", 10);
  if (seconds > 0) {
    var timer;
    var arm = function () {
      clearTimeout(timer);
      // One second past the server's limit, so the reload lands on the logon screen.
      timer = setTimeout(function () { window.location.reload(); }, (seconds + 1) * 1000);
    };
    arm();  // Only a request to the server counts as activity, so only page loads re-arm.
  }
  // Confirmation for destructive actions: <form data-confirm="Remove this user?">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
