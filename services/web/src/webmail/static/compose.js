// The compose page's script: the draft is saved every few seconds while it changes and
// when the page is left; files are uploaded into the draft as they are chosen (checked
// against the limit first); a warning before leaving with unsaved text. Without it the
// page still works: "Save draft" and Send carry everything (views/drafts.py).
// Everything from the server is inserted as text, never as HTML.
"use strict";

(function () {
  const AUTOSAVE_MS = 5000;
  const form = document.querySelector("form.compose");
  if (!form) return;
  const status = document.getElementById("draft-status");
  const files = document.getElementById("attachments");
  const kept = document.getElementById("kept");
  const maxBytes = () => Number(form.dataset.maxBytes) || Infinity;

  let changes = 0; // edits since the page loaded; saved up to ``savedAt``
  let savedAt = 0;
  let saving = null;
  let ended = false; // the session ended: saving is the form's job now (log in again)
  let leaving = false; // a submit is under way: no warning, no autosave

  const dirty = () => changes !== savedAt;
  const say = (text) => { if (status) status.textContent = text; };

  function sizeText(n) {
    if (n < 1024) return n + " bytes";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function fieldError(text) {
    let p = document.getElementById("attachments-error");
    if (!text) {
      if (p) p.remove();
      files.removeAttribute("aria-invalid");
      files.setAttribute("aria-describedby", "attachments-limit");
      return;
    }
    if (!p) {
      p = document.createElement("p");
      p.className = "field-error";
      p.id = "attachments-error";
      files.insertAdjacentElement("afterend", p);
    }
    p.textContent = text;
    files.setAttribute("aria-invalid", "true");
    files.setAttribute("aria-describedby", "attachments-limit attachments-error");
  }

  function keptBytes() {
    let sum = 0;
    kept.querySelectorAll("input[name=keep]:checked").forEach((box) => {
      sum += Number(box.dataset.size) || 0;
    });
    return sum;
  }

  function showKept(list) {
    kept.replaceChildren();
    list.forEach((a) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "keep";
      box.value = a.ref;
      box.checked = true;
      box.dataset.size = a.size;
      const size = document.createElement("span");
      size.className = "size";
      size.textContent = "(" + sizeText(a.size) + ")";
      label.append(box, " " + a.filename + " ", size);
      li.append(label);
      kept.append(li);
    });
  }

  function body(withFiles) {
    const data = new FormData(form);
    if (!withFiles) data.delete("attachments");
    return data;
  }

  // Save the draft now; the files chosen go with it when ``withFiles``.
  async function save(withFiles, keepalive) {
    if (ended || leaving) return;
    if (saving) await saving;
    const upTo = changes;
    saving = (async () => {
      say(withFiles ? "Uploading…" : "Saving…");
      let response;
      try {
        response = await fetch("/compose/draft", {
          method: "POST",
          body: body(withFiles),
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          // Leaving: the browser completes the request after the page is gone (bodies
          // up to 64 KB; the files were uploaded already).
          keepalive: Boolean(keepalive),
        });
      } catch (e) {
        say("Not saved: no connection. Trying again soon.");
        return;
      }
      if (response.status === 401 || response.status === 403) {
        ended = true;
        say("Not saved: your session or this form expired. Press Save draft to keep what you wrote.");
        return;
      }
      let answer = null;
      try { answer = await response.json(); } catch (e) { answer = null; }
      if (!answer || !answer.draft) {
        say("Not saved. Trying again soon.");
        return;
      }
      form.elements.draft.value = answer.draft;
      showKept(answer.attachments || []);
      if (withFiles) files.value = "";
      fieldError((answer.errors || {}).attachments || "");
      savedAt = upTo;
      const now = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      say("Draft saved at " + now + ".");
    })();
    try { await saving; } finally { saving = null; }
  }

  form.addEventListener("input", (e) => {
    if (e.target !== files) changes += 1;
  });
  kept.addEventListener("change", () => {
    changes += 1;
    save(false);
  });

  files.addEventListener("change", () => {
    let chosen = 0;
    for (const f of files.files) chosen += f.size;
    if (chosen + keptBytes() > maxBytes()) {
      fieldError(
        "Too large: at most " + sizeText(maxBytes()) + " in all, and these files come to " +
        sizeText(chosen + keptBytes()) + ". Choose fewer or smaller files."
      );
      files.value = "";
      return;
    }
    fieldError("");
    if (files.files.length) {
      changes += 1;
      save(true);
    }
  });

  // Each save builds the whole message again, attachments included: with large ones
  // attached, the text is saved less often (18 MB: about every 40 s).
  let lastSaved = Date.now();
  setInterval(() => {
    const wait = AUTOSAVE_MS + (keptBytes() / (1024 * 1024)) * 2000;
    if (dirty() && !saving && Date.now() - lastSaved >= wait) {
      lastSaved = Date.now();
      save(false);
    }
  }, 1000);

  // A submit waits for a save under way (an upload): it then carries the draft's id and
  // the uploaded files as kept ones, and Send deletes that draft.
  form.addEventListener("submit", (e) => {
    if (saving) {
      e.preventDefault();
      const button = e.submitter;
      const again = () => (button ? form.requestSubmit(button) : form.requestSubmit());
      saving.finally(() => setTimeout(again, 0));
      return;
    }
    leaving = true;
  });

  // Leaving the page (closing the tab, following a link, switching away): one last save.
  function lastSave() {
    if (dirty() && !saving) save(false, true);
  }
  window.addEventListener("pagehide", lastSave);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") lastSave();
  });

  window.addEventListener("beforeunload", (e) => {
    if (!dirty() || leaving) return;
    e.preventDefault();
    e.returnValue = "";
  });
})();
