/* What every page shares, as progressive enhancement (the pages work without it):
   - the main menu folds behind a button on a narrow screen;
   - forms marked data-confirm ask before they are sent;
   - <select multiple data-picker> becomes a searchable, keyboard-driven list with the
     chosen people as removable chips. The <select> stays in the form (hidden), so what is
     posted is exactly what the plain form posts. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function menuToggle() {
    var nav = document.querySelector(".mainnav");
    var button = document.getElementById("menu-toggle");
    if (!nav || !button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = document.body.classList.toggle("menu-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var pickers = 0;

  function picker(select) {
    var id = "picker-" + (++pickers);
    var wrap = el("div", { "class": "picker" });
    var chips = el("ul", { "class": "picker-chips", "aria-live": "polite" });
    var input = el("input", {
      type: "text", "class": "picker-filter", role: "combobox", autocomplete: "off",
      "aria-expanded": "true", "aria-controls": id + "-list", "aria-autocomplete": "list",
      placeholder: select.getAttribute("data-picker-filter") || "",
      "aria-label": select.getAttribute("data-picker-filter") || ""
    });
    var list = el("ul", { "class": "picker-list", role: "listbox", id: id + "-list",
                          "aria-multiselectable": "true" });
    var message = el("p", { "class": "picker-error", role: "alert", hidden: "" });
    var options = Array.prototype.slice.call(select.options);
    var rows = [];
    var active = -1;

    options.forEach(function (option, i) {
      var row = el("li", { role: "option", id: id + "-opt-" + i, "data-value": option.value });
      var box = el("input", { type: "checkbox", tabindex: "-1", "aria-hidden": "true" });
      row.appendChild(box);
      row.appendChild(document.createTextNode(" " + option.text));
      row.addEventListener("mousedown", function (e) { e.preventDefault(); });
      row.addEventListener("click", function () { toggle(i); setActive(i); input.focus(); });
      list.appendChild(row);
      rows.push({ row: row, box: box, option: option });
    });

    function visible() {
      return rows.map(function (r, i) { return i; }).filter(function (i) { return !rows[i].row.hidden; });
    }

    function setActive(i) {
      if (active >= 0) rows[active].row.classList.remove("active");
      active = i;
      if (i >= 0) {
        rows[i].row.classList.add("active");
        input.setAttribute("aria-activedescendant", rows[i].row.id);
        rows[i].row.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function render() {
      chips.textContent = "";
      rows.forEach(function (r, i) {
        var on = r.option.selected;
        r.box.checked = on;
        r.row.setAttribute("aria-selected", on ? "true" : "false");
        if (!on) return;
        var chip = el("li", { "class": "chip", "data-value": r.option.value }, r.option.text + " ");
        var remove = el("button", { type: "button", "class": "chip-remove",
          "aria-label": (select.getAttribute("data-picker-remove") || "Remove") + " " + r.option.text }, "×");
        remove.addEventListener("click", function () { toggle(i); input.focus(); });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
      if (select.selectedOptions.length) message.hidden = true;
    }

    function toggle(i) {
      rows[i].option.selected = !rows[i].option.selected;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function filter() {
      var words = input.value.trim().toLowerCase();
      rows.forEach(function (r) {
        r.row.hidden = words !== "" && r.option.text.toLowerCase().indexOf(words) < 0 &&
          r.option.value.toLowerCase().indexOf(words) < 0;
      });
      var shown = visible();
      setActive(shown.length ? shown[0] : -1);
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", function (e) {
      var shown = visible();
      var at = shown.indexOf(active);
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (shown.length) setActive(shown[Math.min(at + 1, shown.length - 1)]);
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        if (shown.length) setActive(shown[Math.max(at - 1, 0)]);
      } else if (e.key === "Enter" || e.key === " ") {
        // Enter or Space chooses (or un-chooses) the highlighted person; never submits
        e.preventDefault();
        if (active >= 0) toggle(active);
        if (e.key === "Enter" && input.value) { input.value = ""; filter(); }
      } else if (e.key === "Backspace" && input.value === "") {
        var chosen = rows.filter(function (r) { return r.option.selected; });
        if (chosen.length) toggle(rows.indexOf(chosen[chosen.length - 1]));
      } else if (e.key === "Escape") {
        input.value = ""; filter();
      }
    });

    // the hidden <select> cannot show the browser's own "required" message: we do
    select.required = false;
    select.form && select.form.addEventListener("submit", function (e) {
      if (!select.selectedOptions.length) {
        e.preventDefault();
        message.textContent = select.getAttribute("data-picker-none") || "";
        message.hidden = false;
        input.focus();
      }
    });

    // out of sight but in the form (and in the layout, so scripts that fill forms still can)
    select.classList.add("picker-native");
    select.setAttribute("aria-hidden", "true");
    select.addEventListener("change", render);
    select.tabIndex = -1;
    var label = select.closest("label");
    if (label) {
      // the label names the filter box now (clicks on the label reach it)
      label.parentNode.insertBefore(wrap, label.nextSibling);
      var caption = el("span", { "class": "picker-label", id: id + "-label" });
      caption.textContent = label.firstChild && label.firstChild.nodeType === 3 ? label.firstChild.textContent : "";
      wrap.appendChild(caption);
      input.setAttribute("aria-labelledby", id + "-label");
      wrap.appendChild(select);
      label.parentNode.removeChild(label);
    } else {
      select.parentNode.insertBefore(wrap, select);
      wrap.appendChild(select);
    }
    wrap.appendChild(chips);
    wrap.appendChild(input);
    wrap.appendChild(list);
    wrap.appendChild(message);
    render();
    filter();
  }

  document.addEventListener("DOMContentLoaded", function () {
    menuToggle();
    confirmations();
    document.querySelectorAll("select[multiple][data-picker]").forEach(picker);
  });
})();
