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
// Accessibility: a table wider than the screen scrolls in its own
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
  // Widths change after this script ran (web fonts, images, a <details> opened): check again.
  window.addEventListener("load", mark);
  document.addEventListener("toggle", mark, true);
  if (window.ResizeObserver) {
    var observer = new ResizeObserver(mark);
    document.querySelectorAll("table.data, .table-wrap, .rp-scroll").forEach(function (box) { observer.observe(box); });
  }
  // The skip link's target takes the focus, so the next Tab continues inside the content.
  var main = document.getElementById("main");
  if (main && !main.hasAttribute("tabindex")) { main.setAttribute("tabindex", "-1"); }
})();
// Progress of long operations. A download control — a link, a submit button (its
// formaction) or a form, marked data-progress-download="<id of a progress box>" — is fetched here
// instead of navigated to: the control is disabled while it runs, the box (templates/includes/
// progress_status.html) shows a <progress> (with the size when the server sends Content-Length)
// and says in its aria-live region that the work started, then the file's name and size or the
// server's error. The file is handed to the browser as a normal download. Without fetch streams
// the control works as a plain link or form. A form marked data-progress-busy="<box id>" (a
// request that runs for a while, e.g. applying a synchronization file) only disables its buttons
// and shows the box while the browser waits for the next page.
(function () {
  "use strict";
  var format = function (template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (_m, key) { return values[key] === undefined ? "" : values[key]; });
  };
  var size = function (bytes) {
    if (bytes < 1024) { return bytes + " B"; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(1) + " KB"; }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  };
  var parts = function (box) {
    return {progress: box.querySelector("progress"), text: box.querySelector(".progress-text"),
            bytes: box.querySelector(".progress-bytes")};
  };
  var start = function (box) {
    var p = parts(box);
    box.classList.remove("failed", "done");
    box.classList.add("running");
    box.setAttribute("aria-busy", "true");
    p.progress.hidden = false;
    p.progress.removeAttribute("value");  // indeterminate until the size is known
    p.text.textContent = box.getAttribute("data-text-working");
    if (p.bytes) { p.bytes.textContent = ""; }
  };
  var finish = function (box, failed, message) {
    var p = parts(box);
    box.classList.remove("running");
    box.classList.add(failed ? "failed" : "done");
    box.removeAttribute("aria-busy");
    p.progress.hidden = true;
    if (p.bytes) { p.bytes.textContent = ""; }
    p.text.setAttribute("role", failed ? "alert" : "status");
    p.text.textContent = message;
  };
  var setBusy = function (control, busy) {
    var controls = control.tagName === "FORM" ? control.querySelectorAll("button, input[type=submit]") : [control];
    Array.prototype.forEach.call(controls, function (c) {
      if (c.tagName === "A") {
        if (busy) { c.setAttribute("aria-disabled", "true"); } else { c.removeAttribute("aria-disabled"); }
      } else {
        c.disabled = busy;
      }
    });
  };
  var fileName = function (disposition) {
    var match = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
    if (match) { return decodeURIComponent(match[1]); }
    match = /filename="?([^";]+)"?/i.exec(disposition || "");
    return match ? match[1] : "download";
  };
  // Why a download failed, in the server's words when it sent some (a form error, a JSON error).
  var reason = function (response, box) {
    var type = response.headers.get("Content-Type") || "";
    return response.text().then(function (body) {
      if (type.indexOf("application/json") === 0) {
        try { return JSON.parse(body).error || response.status + " " + response.statusText; } catch (e) { /* below */ }
      }
      if (type.indexOf("text/html") === 0) {
        var page = new DOMParser().parseFromString(body, "text/html");
        if (response.ok && page.getElementById("id_username")) { return box.getAttribute("data-text-login"); }
        // Each field error with its field's label ("Name: This field is required.").
        var errors = Array.prototype.map.call(page.querySelectorAll(".errorlist li, .message.error"), function (li) {
          var field = li.closest(".form-field, p, li.field");
          var label = field && field.querySelector("label, legend");
          var name = label && label !== li ? label.textContent.replace(/[:*\s]+$/, "").trim() : "";
          return (name ? name + ": " : "") + li.textContent.trim();
        }).filter(Boolean);
        if (errors.length) { return errors.join(" "); }
      }
      return response.status + " " + response.statusText;
    });
  };
  var request = function (control) {
    var form = control.tagName === "FORM" ? control : control.form;
    if (control.tagName === "A") { return {url: control.href, options: {}}; }
    var method = (form.getAttribute("method") || "get").toUpperCase();
    var action = (control !== form && control.getAttribute("formaction")) || form.getAttribute("action") || window.location.href;
    var data = new FormData(form);
    if (method === "GET") {
      var url = new URL(action, window.location.href);
      url.search = new URLSearchParams(data).toString();
      return {url: url.toString(), options: {}};
    }
    return {url: new URL(action, window.location.href).toString(), options: {method: method, body: data}};
  };
  var download = function (control, box) {
    var p = parts(box);
    var call = request(control);
    call.options.credentials = "same-origin";
    setBusy(control, true);
    start(box);
    fetch(call.url, call.options).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      // A page instead of a file: a refused form, or the session ended and this is the logon page.
      if (!response.ok || type.indexOf("text/html") === 0) {
        return reason(response, box).then(function (why) { throw new Error(why); });
      }
      var total = parseInt(response.headers.get("Content-Length") || "0", 10);
      if (total > 0) { p.progress.max = total; p.progress.value = 0; }
      var reader = response.body.getReader();
      var chunks = [], received = 0;
      var pump = function () {
        return reader.read().then(function (step) {
          if (step.done) { return; }
          chunks.push(step.value);
          received += step.value.length;
          if (total > 0) { p.progress.value = Math.min(received, total); }
          if (p.bytes) { p.bytes.textContent = total > 0 ? size(received) + " / " + size(total) : size(received); }
          return pump();
        });
      };
      return pump().then(function () {
        var name = fileName(response.headers.get("Content-Disposition"));
        var link = document.createElement("a");
        link.href = URL.createObjectURL(new Blob(chunks, {type: type}));
        link.download = name;
        link.hidden = true;
        document.body.appendChild(link);
        link.click();
        window.setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 60000);
        finish(box, false, format(box.getAttribute("data-text-done"), {name: name, size: size(received)}));
      });
    }).catch(function (error) {
      finish(box, true, format(box.getAttribute("data-text-failed"), {reason: error.message}));
    }).then(function () { setBusy(control, false); });
  };
  var supported = !!(window.fetch && window.ReadableStream && window.URL && URL.createObjectURL);
  document.addEventListener("click", function (event) {
    var control = event.target.closest ? event.target.closest("a[data-progress-download], button[data-progress-download]") : null;
    if (!control || !supported || event.defaultPrevented) { return; }
    var box = document.getElementById(control.getAttribute("data-progress-download"));
    if (!box) { return; }
    event.preventDefault();
    if (control.getAttribute("aria-disabled") === "true" || box.classList.contains("running")) { return; }
    // A form the server validates (novalidate) goes as it is and the server's error is shown.
    if (control.tagName === "BUTTON" && control.form && !control.form.noValidate && !control.form.reportValidity()) { return; }
    download(control, box);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) { return; }  // a confirmation was refused
    var box;
    if (form.hasAttribute("data-progress-download") && supported) {
      box = document.getElementById(form.getAttribute("data-progress-download"));
      // A submit button of its own already went through the click handler.
      if (box && !(event.submitter && event.submitter.hasAttribute("data-progress-download"))) {
        event.preventDefault();
        if (!box.classList.contains("running")) { download(form, box); }
      }
    } else if (form.hasAttribute("data-progress-busy")) {
      box = document.getElementById(form.getAttribute("data-progress-busy"));
      if (box) {
        start(box);
        // After this event: disabling the buttons now would leave them out of the submission.
        window.setTimeout(function () { setBusy(form, true); }, 0);
      }
    }
  });
})();
// Pop-ups: <button data-dialog-open="id"> opens <dialog id> as a modal (Escape and Close shut it,
// focus goes back to the button); <button data-copy-from="input id"> copies that input's text,
// through the Clipboard API where the page is a secure context, else the selection and execCommand.
(function () {
  document.addEventListener("click", function (event) {
    var opener = event.target.closest ? event.target.closest("[data-dialog-open]") : null;
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal && !dialog.open) {
        dialog.showModal();
        var field = dialog.querySelector("input[readonly]");
        if (field) { field.focus(); field.select(); }
      }
      return;
    }
    var closer = event.target.closest ? event.target.closest("[data-dialog-close]") : null;
    if (closer) {
      var open = closer.closest("dialog");
      if (open) { open.close(); }
      return;
    }
    var copier = event.target.closest ? event.target.closest("[data-copy-from]") : null;
    if (!copier) { return; }
    var source = document.getElementById(copier.getAttribute("data-copy-from"));
    var status = copier.parentNode.querySelector(".lw-copy-status");
    var say = function (ok) {
      if (status) { status.textContent = copier.getAttribute(ok ? "data-copied" : "data-copy-failed"); }
    };
    if (!source) { return; }
    var fallback = function () {
      source.focus();
      source.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      say(ok);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(function () { say(true); }, fallback);
    } else {
      fallback();
    }
  });
})();

// "Available Actions option is only enabled when checkbox(es) is/are checked": the buttons marked
// data-needs-checked in a form stay disabled until a checkbox of that form (form="id") is checked.
(function () {
  var forms = document.querySelectorAll("form[id]");
  Array.prototype.forEach.call(forms, function (form) {
    var buttons = form.querySelectorAll("[data-needs-checked]");
    if (!buttons.length) { return; }
    var boxes = document.querySelectorAll('input[type="checkbox"][form="' + form.id + '"]');
    var update = function () {
      var any = Array.prototype.some.call(boxes, function (box) { return box.checked; });
      Array.prototype.forEach.call(buttons, function (button) { button.disabled = !any; });
    };
    Array.prototype.forEach.call(boxes, function (box) { box.addEventListener("change", update); });
    update();
  });
})();
