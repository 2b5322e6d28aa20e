// Support Center: follow the selected log live (polls the tail endpoint), filter, wrap, pause.
(function () {
  const view = document.getElementById("log-live");
  if (!view) return;
  const pause = document.getElementById("log-pause");
  const wrap = document.getElementById("log-wrap");
  const filter = document.getElementById("log-filter");
  let offset = view.dataset.offset;
  wrap.addEventListener("change", () => view.classList.toggle("wrap", wrap.checked));
  async function poll() {
    if (!pause.checked) {
      const url = new URL(view.dataset.tailUrl, window.location.href);
      url.searchParams.set("offset", offset);
      if (filter.value) url.searchParams.set("filter", filter.value);
      try {
        const response = await fetch(url, {credentials: "same-origin"});
        const body = await response.json();
        if (response.ok) {
          offset = body.offset;
          if (body.lines.length) {
            const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
            view.append(body.lines.join("\n") + "\n");
            if (atBottom) view.scrollTop = view.scrollHeight;
          }
          filter.setCustomValidity("");
        } else {
          filter.setCustomValidity(body.error || "");
          filter.reportValidity();
        }
      } catch (error) { /* the next poll tries again */ }
    }
    window.setTimeout(poll, 2000);
  }
  view.scrollTop = view.scrollHeight;
  window.setTimeout(poll, 2000);
})();
