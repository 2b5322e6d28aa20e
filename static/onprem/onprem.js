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
// Content-Security-Policy (onprem/security_headers.py) forbids inline style and script, so values
// that come from the server travel in data- attributes and are applied here, through the CSSOM.
(function () {
  // The Settings widget's banner colours (validated #rrggbb on the server).
  document.querySelectorAll(".site-banner[data-text-color]").forEach(function (banner) {
    banner.style.color = banner.getAttribute("data-text-color");
    banner.style.background = banner.getAttribute("data-background-color");
  });
  // Meter bars (system health): <span data-width="42.0">.
  document.querySelectorAll(".bar > span[data-width]").forEach(function (bar) {
    var width = parseFloat(bar.getAttribute("data-width"));
    if (!isNaN(width)) { bar.style.width = Math.max(0, Math.min(100, width)) + "%"; }
  });
  // <select data-autosubmit>: submit its form on change.
  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-autosubmit") && event.target.form) {
      event.target.form.submit();
    }
  });
})();
// Browser tests and accessibility (issue #10): a table wider than the screen scrolls in its own
// box; keyboard users must be able to reach that box to scroll it, so it becomes focusable then.
(function () {
  var mark = function () {
    document.querySelectorAll("table.data, .table-wrap, .rp-scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
      } else if (!scrolls && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  };
  mark();
  window.addEventListener("resize", mark);
  // The skip link's target takes the focus, so the next Tab continues inside the content.
  var main = document.getElementById("main");
  if (main && !main.hasAttribute("tabindex")) { main.setAttribute("tabindex", "-1"); }
})();
