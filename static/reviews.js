// Meeting mode: the plain forms of the page, sent in the background so the leader or the
// recorder never leaves the keyboard. Without this script every form still posts normally.
(function () {
  "use strict";
  const status = document.getElementById("meeting-status");

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.className = isError ? "error" : "muted";
    status.setAttribute("role", isError ? "alert" : "status");
  }

  // What happened to one defect, said in its own row: the user's eyes are there.
  function rowNote(row, text, isError) {
    if (!row || !text) return;
    const cell = row.lastElementChild;
    let note = row.querySelector(".row-note");
    if (!note) {
      note = document.createElement("p");
      cell.appendChild(note);
    }
    note.className = "row-note " + (isError ? "error" : "ok");
    note.setAttribute("role", isError ? "alert" : "status");
    note.textContent = text;
  }

  function updateCounts(counts) {
    document.querySelectorAll("[data-count]").forEach(function (el) {
      let value = counts;
      el.dataset.count.split(".").forEach(function (k) { value = value == null ? null : value[k]; });
      if (value != null) el.textContent = value;
    });
  }

  function placeRow(html, number) {
    const body = document.querySelector("#defect-log tbody");
    if (!body) return null;
    const holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    const row = holder.firstElementChild;
    const old = document.getElementById("defect-" + number);
    if (old) old.replaceWith(row); else body.appendChild(row);
    const empty = document.getElementById("no-defects");
    if (empty) empty.remove();
    return row;
  }

  async function send(form) {
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" },
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const message = (data.error && data.error.message) || response.statusText;
      say(message, true);
      throw new Error(message);
    }
    if (data.counts) updateCounts(data.counts);
    say(data.message || "", false);
    return data;
  }

  const defectForm = document.getElementById("defect-form");
  if (defectForm) {
    defectForm.addEventListener("submit", function (event) {
      event.preventDefault();
      send(defectForm).then(function (data) {
        placeRow(data.row, data.number);
        ["chapter", "section", "page", "description"].forEach(function (name) {
          const field = defectForm.elements[name];
          if (field) field.value = "";
        });
        ["severity", "category"].forEach(function (name) {  // back to the defaults
          const field = defectForm.elements[name];
          if (field) Array.from(field.options).forEach(function (o) { o.selected = o.defaultSelected; });
        });
        defectForm.elements.chapter.focus();
      }).catch(function () { defectForm.elements.description.focus(); });
    });
    defectForm.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        defectForm.requestSubmit();
      } else if (event.key === "Escape") {
        document.activeElement.blur();  // back to the page's one-key shortcuts
      }
    });
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.classList || !form.classList.contains("js-defect")) return;
    event.preventDefault();
    const row = form.closest("tr");
    const number = row ? row.dataset.number : null;
    const focusName = document.activeElement && document.activeElement.name;
    send(form).then(function (data) {
      const fresh = placeRow(data.row, number);
      rowNote(fresh, data.message, false);
      const again = fresh && focusName ? fresh.querySelector("[name='" + focusName + "']") : null;
      if (again) again.focus();
    }).catch(function (error) { rowNote(row, error.message, true); });
  });

  document.addEventListener("change", function (event) {
    const box = event.target;
    if (!box.classList || !box.classList.contains("tick")) return;
    const form = box.closest("form");
    form.elements.checked.value = box.checked ? "1" : "0";
    send(form).catch(function () { box.checked = !box.checked; });
  });

  document.addEventListener("keydown", function (event) {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select", "button"].includes(tag) || event.ctrlKey || event.altKey
        || event.metaKey) return;
    const key = event.key.toLowerCase();
    let target = null;
    if (key === "n" && defectForm) target = defectForm.elements.chapter;
    if (key === "c") target = document.querySelector("#checklist input.tick");
    if (key === "l") target = document.querySelector("#defect-log select[name=disposition]");
    if (target) { event.preventDefault(); target.focus(); }
  });
})();
