// Sesame's portal: the only script. It follows a request's status through
// server-sent events (no polling loop) and shows a countdown beside
// deadlines, the guardrail before submission and only the chosen kind's
// fields. Every action works without it: forms post and pages reload.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const follow = document.querySelector("[data-follow]");
  if (follow && "EventSource" in window) {
    const status = document.getElementById("status");
    const events = new EventSource(follow.dataset.follow);
    events.addEventListener("status", (e) => {
      if (status && status.textContent !== e.data) {
        // A settled request offers other actions: show them.
        events.close();
        window.location.reload();
      }
    });
  }
  // The guardrail, before submission: resources named beyond the
  // integration's limit (the server refuses them too).
  const integration = document.getElementById("integration");
  const resources = document.getElementById("resources");
  const guardrail = document.getElementById("guardrail");
  if (integration && resources && guardrail) {
    const check = () => {
      const option = integration.selectedOptions[0];
      const limit = option ? Number(option.dataset.limit || 0) : 0;
      const named = new Set(resources.value.split(/\r?\n/).map((l) => l.trim()).filter((l) => l)).size;
      const over = limit > 0 && named > limit;
      guardrail.hidden = !over;
      guardrail.textContent = over ? `${named} resources are selected by name; ${option.value} allows at most ${limit} in one request: split it, or select by tag.` : "";
    };
    integration.addEventListener("change", check);
    resources.addEventListener("input", check);
    check();
  }
  // One of several kinds (a transport): only the chosen kind's fields show.
  for (const choose of document.querySelectorAll("select[data-variants]")) {
    const show = () => {
      for (const f of document.querySelectorAll("fieldset[data-variant-of]")) {
        if (f.dataset.variantOf === choose.dataset.variants) f.hidden = f.dataset.kind !== choose.value;
      }
    };
    choose.addEventListener("change", show);
    show();
  }
  for (const t of document.querySelectorAll("time[data-countdown]")) {
    const end = Date.parse(t.getAttribute("datetime"));
    if (Number.isNaN(end)) continue;
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      t.textContent = left === 0 ? "ended" : `${h ? h + "h " : ""}${m}m ${s}s left`;
    };
    tick();
    setInterval(tick, 1000);
  }
});
