// Localpost's page script: local times, select-all, address autocomplete, frame
// height, and live Inbox updates (server-sent events, polling when they fail).
// Everything from the server is inserted as text, never as HTML.
"use strict";

(function () {
  const POLL_MS = 30000;

  // The account's time zone (settings), else the browser's. A name the server's zoneinfo
  // knows but this browser's Intl does not would throw: the browser's own then.
  const TIME_ZONE = (function () {
    const zone = document.body.dataset.tz;
    if (!zone) return undefined;
    try {
      new Intl.DateTimeFormat([], { timeZone: zone });
      return zone;
    } catch (e) {
      return undefined;
    }
  })();

  function localTime(el) {
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    const zone = { timeZone: TIME_ZONE };
    const day = (d) => d.toLocaleDateString("en-CA", zone);
    if (el.dataset.style === "full") {
      el.textContent = when.toLocaleString([], { ...zone, dateStyle: "medium", timeStyle: "short" });
    } else if (day(when) === day(new Date())) {
      el.textContent = when.toLocaleTimeString([], { ...zone, hour: "2-digit", minute: "2-digit" });
    } else {
      el.textContent = when.toLocaleDateString([], zone);
    }
    el.title = when.toLocaleString([], { ...zone, timeZoneName: "short" });
  }

  function setUnread(counts) {
    for (const el of document.querySelectorAll("[data-unread]")) {
      const n = counts[el.dataset.unread] || 0;
      el.textContent = String(n);
      // As base.html: every folder's unread count but Sent's and Trash's.
      el.hidden = !(n > 0 && el.dataset.unread !== "sent" && el.dataset.unread !== "trash");
    }
  }

  function cell(cls, child) {
    const td = document.createElement("td");
    td.className = cls;
    if (child) td.appendChild(child);
    return td;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  // A mark before a row's text, the same as the server-rendered rows (templates/folder.html).
  function mark(className, title, label, text) {
    const span = document.createElement("span");
    span.className = className;
    span.title = title;
    span.setAttribute("aria-label", label);
    span.textContent = text;
    return span;
  }

  function addRow(m) {
    const table = document.querySelector('table.messages[data-folder="inbox"]');
    if (!table || m.folder !== "inbox" || new URLSearchParams(location.search).has("cursor")) return;
    const body = table.tBodies[0];
    if (body.querySelector('tr[data-id="' + Number(m.id) + '"]')) return;
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    const tr = document.createElement("tr");
    tr.dataset.id = String(Number(m.id));
    if (m.unread) tr.className = "unread";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "ids";
    box.value = String(Number(m.id));
    box.setAttribute("aria-label", "Select message " + (body.rows.length + 1));
    const pick = document.createElement("label");
    pick.className = "pick";
    pick.appendChild(box);
    const selCell = cell("sel", pick);
    // The star toggle of templates/folder.html: a submit button of the list form.
    const star = document.createElement("button");
    star.className = "star" + (m.starred ? " on" : "");
    star.name = m.starred ? "unstar" : "star";
    star.value = String(Number(m.id));
    star.title = "Star";
    star.setAttribute("aria-pressed", m.starred ? "true" : "false");
    star.setAttribute("aria-label", "Star message " + (body.rows.length + 1));
    star.textContent = m.starred ? "\u2605" : "\u2606";
    selCell.append(star);
    tr.appendChild(selCell);
    const who = link(m.url, m.from || "(unknown sender)");
    who.dir = "auto";
    if (m.forged) {
      who.prepend(mark("forged", "Not sent by the account it claims to be from", "Unverified sender", "\u26A0 "));
    }
    tr.appendChild(cell("who", who));
    const what = link(m.url, "");
    const subject = document.createElement("span");
    subject.className = "subject";
    subject.dir = "auto";
    subject.textContent = m.subject || "(no subject)";
    const preview = document.createElement("span");
    preview.className = "preview";
    preview.dir = "auto";
    preview.textContent = m.preview || "";
    what.append(subject, " ", preview);
    const whatCell = cell("what", null);
    if (m.has_attachments) {
      whatCell.appendChild(mark("clip", "Has attachments", "Has attachments", "\u{1F4CE} "));
    }
    whatCell.appendChild(what);
    tr.appendChild(whatCell);
    const time = document.createElement("time");
    time.setAttribute("datetime", m.date || "");
    localTime(time);
    tr.appendChild(cell("when", time));
    body.insertBefore(tr, body.firstChild);
  }

  function poll() {
    fetch("/live/state", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((state) => {
        if (!state) return;
        setUnread(state.unread);
        state.inbox.slice().reverse().forEach(addRow);
      })
      .catch(() => {});
  }

  function live() {
    if (!document.body.dataset.live) return;
    let timer = null;
    const startPolling = () => { if (!timer) timer = setInterval(poll, POLL_MS); };
    const stopPolling = () => { if (timer) { clearInterval(timer); timer = null; } };
    if (!window.EventSource) { startPolling(); return; }
    const source = new EventSource("/live/events");
    const showState = (e) => {
      const state = JSON.parse(e.data);
      setUnread(state.unread);
      (state.inbox || []).slice().reverse().forEach(addRow);
    };
    // The first event, when the stream opens, also carries the newest Inbox rows:
    // mail stored between rendering the list and connecting shows up then.
    source.addEventListener("counts", showState);
    source.addEventListener("stored", (e) => {
      const data = JSON.parse(e.data);
      setUnread(data.unread);
      if (data.message) addRow(data.message);
    });
    source.addEventListener("open", stopPolling);
    // The stream is open but the server's broker connection is not: no events will
    // come until "up", which carries what was missed meanwhile.
    source.addEventListener("down", () => { startPolling(); poll(); });
    source.addEventListener("up", (e) => { stopPolling(); showState(e); });
    // The browser retries on its own; meanwhile (or for good, when blocked) we poll.
    source.addEventListener("error", () => { startPolling(); poll(); });
  }

  function autocomplete(input) {
    const list = document.getElementById("directory");
    let pending = null;
    input.addEventListener("input", () => {
      const parts = input.value.split(",");
      const prefix = parts[parts.length - 1].trim();
      clearTimeout(pending);
      // The server suggests nothing for fewer characters (views/compose.py).
      if (prefix.length < 3) return;
      pending = setTimeout(() => {
        fetch("/directory?prefix=" + encodeURIComponent(prefix), { credentials: "same-origin" })
          .then((r) => (r.ok ? r.json() : { accounts: [] }))
          .then((data) => {
            list.replaceChildren();
            const head = parts.slice(0, -1).map((p) => p.trim()).filter(Boolean);
            for (const a of data.accounts) {
              const option = document.createElement("option");
              option.value = head.concat([a.address]).join(", ");
              option.label = a.name ? a.name + " <" + a.address + ">" : a.address;
              list.appendChild(option);
            }
          })
          .catch(() => {});
      }, 150);
    });
  }

  function fitFrame(frame) {
    const fit = () => {
      try {
        const doc = frame.contentDocument;
        if (doc && doc.body) frame.style.height = doc.documentElement.scrollHeight + 16 + "px";
      } catch (e) { /* not same-origin: keep the default height */ }
    };
    frame.addEventListener("load", fit);
  }

  // The plain-text font toggle (templates/message.html): the same form, sent in the
  // background so that the page switches in place; without script it reloads the page.
  function textFont(form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const button = form.querySelector("button");
      const text = document.querySelector(".body-text");
      const data = new FormData(form);
      data.set("font", button.value);
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
        .catch(() => {});
      const fixed = button.value === "fixed";
      text.classList.toggle("fixed", fixed);
      button.setAttribute("aria-pressed", fixed ? "true" : "false");
      button.value = fixed ? "proportional" : "fixed";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("time[datetime]").forEach(localTime);
    const all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", () => {
        document.querySelectorAll('input[name="ids"]').forEach((b) => { b.checked = all.checked; });
      });
    }
    document.querySelectorAll("input[data-autocomplete]").forEach(autocomplete);
    document.querySelectorAll("iframe.body-frame").forEach(fitFrame);
    document.querySelectorAll("form.text-font").forEach(textFont);
    live();
  });
})();
