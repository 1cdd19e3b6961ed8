// Localpost's page script: local times, select-all, address autocomplete, frame
// height, live Inbox updates (server-sent events, polling when they fail), the unread
// count in the title, keyboard shortcuts and shift-click ranges of checkboxes.
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

  // The tab title without base.html's "(3) " before it; the Inbox's unread count when
  // the page was drawn or last told.
  const baseTitle = document.title.replace(/^\(\d+\) /, "");
  let inboxUnread = null;

  function setUnread(counts) {
    for (const el of document.querySelectorAll("[data-unread]")) {
      const n = counts[el.dataset.unread] || 0;
      el.textContent = String(n);
      // As base.html: every folder's unread count but Sent's and Trash's.
      el.hidden = !(n > 0 && el.dataset.unread !== "sent" && el.dataset.unread !== "trash");
    }
    const inbox = Number(counts.inbox || 0);
    document.title = (inbox > 0 ? "(" + inbox + ") " : "") + baseTitle;
    if (inboxUnread !== null && inbox > inboxUnread) newMail(inbox);
    inboxUnread = inbox;
  }

  // Said once, politely (base.html's aria-live region), on any page but the
  // Inbox's first, where the new rows themselves appear.
  function newMail(unread) {
    const region = document.getElementById("new-mail");
    const inboxFirstPage = document.querySelector('table.messages[data-folder="inbox"]') && !location.search;
    if (!region || inboxFirstPage) return;
    const notice = document.createElement("p");
    notice.className = "notice";
    notice.append("New mail: " + unread + " unread in ");
    notice.appendChild(link("/mail/inbox", "Inbox"));
    notice.append(".");
    region.replaceChildren(notice);
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
    // A list of conversations shows older messages inside their conversation's row, so
    // only mail newer than every row is added (ids rise with arrival): as a row of its
    // own until the next reload puts it in its conversation.
    if (table.dataset.conversations &&
        Array.from(body.rows).some((r) => Number(r.dataset.id) >= Number(m.id))) return;
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

  // Keyboard shortcuts, as Gmail's and Fastmail's. Never while typing in a field, and
  // never with Ctrl, Alt or Meta (the browser's and the screen reader's own keys).
  const SHORTCUTS = [
    ["j", "Next message (the row below, or the older message)"],
    ["k", "Previous message (the row above, or the newer message)"],
    ["o or Enter", "Open the chosen message"],
    ["c", "Compose"],
    ["r", "Reply"],
    ["a", "Reply all"],
    ["f", "Forward"],
    ["#", "Delete (move to Trash)"],
    ["/", "Search"],
    ["?", "This help"],
  ];

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function rows() {
    return Array.from(document.querySelectorAll("#rows tr[data-id]"));
  }

  function currentRow() {
    return document.querySelector("#rows tr.current");
  }

  function moveRow(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(currentRow());
    const next = all[Math.min(all.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    all.forEach((r) => r.classList.toggle("current", r === next));
    const a = next.querySelector("td.who a");
    if (a) a.focus();
  }

  function follow(selector) {
    const a = document.querySelector(selector);
    if (a) { a.click(); return true; }
    return false;
  }

  function deleteChosen() {
    const single = document.querySelector('form[action$="/trash"]:not([action="/mail/trash/empty"]) button');
    if (single) { single.click(); return; }
    const row = currentRow();
    const trash = document.querySelector('#list-form button[name="action"][value="trash"]');
    if (!trash) return;
    const picked = document.querySelectorAll('#rows input[name="ids"]:checked');
    if (!picked.length && row) row.querySelector('input[name="ids"]').checked = true;
    if (picked.length || row) trash.click();
  }

  function help() {
    let dialog = document.getElementById("shortcuts");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "shortcuts";
      dialog.setAttribute("aria-labelledby", "shortcuts-title");
      const title = document.createElement("h2");
      title.id = "shortcuts-title";
      title.textContent = "Keyboard shortcuts";
      const list = document.createElement("dl");
      for (const [keys, what] of SHORTCUTS) {
        const dt = document.createElement("dt");
        const kbd = document.createElement("kbd");
        kbd.textContent = keys;
        dt.appendChild(kbd);
        const dd = document.createElement("dd");
        dd.textContent = what;
        list.append(dt, dd);
      }
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "Close";
      close.addEventListener("click", () => dialog.close());
      dialog.append(title, list, close);
      document.body.appendChild(dialog);
    }
    // showModal: focus moves in, the rest of the page is inert, Escape closes.
    if (!dialog.open) dialog.showModal();
  }

  function shortcut(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const key = e.key;
    let done = true;
    if (key === "j" || key === "k") {
      if (rows().length) moveRow(key === "j" ? 1 : -1);
      else done = follow(key === "j" ? "a[rel=next].message-nav" : "a[rel=prev].message-nav");
    } else if (key === "o" || (key === "Enter" && currentRow() && e.target === document.body)) {
      const row = currentRow();
      done = row ? follow("#rows tr.current td.who a") : false;
    } else if (key === "c") {
      window.location.href = "/compose";
    } else if (key === "r") {
      done = follow('a[href^="/compose?reply="]');
    } else if (key === "a") {
      done = follow('a[href^="/compose?reply_all="]');
    } else if (key === "f") {
      done = follow('a[href^="/compose?forward="]');
    } else if (key === "#") {
      deleteChosen();
    } else if (key === "/") {
      const q = document.getElementById("q");
      if (q) q.focus(); else done = false;
    } else if (key === "?") {
      help();
    } else {
      done = false;
    }
    if (done) e.preventDefault();
  }

  // Shift-click on a row's box sets every box between it and the last one clicked.
  function checkboxRanges() {
    let last = null;
    document.addEventListener("click", (e) => {
      const box = e.target;
      if (!(box instanceof HTMLInputElement) || box.name !== "ids" || !box.closest("#rows")) return;
      const boxes = Array.from(document.querySelectorAll('#rows input[name="ids"]'));
      if (e.shiftKey && last && boxes.includes(last)) {
        const [from, to] = [boxes.indexOf(last), boxes.indexOf(box)].sort((x, y) => x - y);
        boxes.slice(from, to + 1).forEach((b) => { b.checked = box.checked; });
      }
      last = box;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const drawn = document.querySelector('[data-unread="inbox"]');
    if (drawn) inboxUnread = Number(drawn.textContent) || 0;
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
    if (document.body.dataset.live) {
      document.addEventListener("keydown", shortcut);
      checkboxRanges();
    }
    live();
  });
})();
