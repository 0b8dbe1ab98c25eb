/* Stagedesk's little bit of JavaScript: everything works without it (plain form posts);
   with it: CSRF for htmx, keyboard shortcuts with a help overlay, the count of new work in
   the tab title, auto-submitting selects. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRFToken"] = csrf.content; }
  });

  document.addEventListener("change", function (e) {
    if (e.target.matches("select[data-autosubmit]")) { e.target.form.submit(); }
  });

  /* Shortcuts: any element with data-shortcut="r" (and data-shortcut-help="Reply") is
     clicked (links, buttons) or focused (fields) when its key is pressed outside a field. */
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function shortcutElements() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-shortcut]"), function (el) {
      return el.offsetParent !== null || el.type === "hidden";
    });
  }
  function fillHelp() {
    var list = document.getElementById("shortcut-list");
    if (!list || list.dataset.filled) { return; }
    list.dataset.filled = "1";
    var seen = {};
    shortcutElements().forEach(function (el) {
      var key = el.dataset.shortcut;
      if (seen[key]) { return; }
      seen[key] = true;
      var dt = document.createElement("dt"); dt.className = "col-3";
      var kbd = document.createElement("kbd"); kbd.textContent = key; dt.appendChild(kbd);
      var dd = document.createElement("dd"); dd.className = "col-9";
      dd.textContent = el.dataset.shortcutHelp || el.getAttribute("aria-label") || el.textContent.trim();
      list.appendChild(dt); list.appendChild(dd);
    });
  }
  /* j / k: move the focus between the rows of a list ([data-row-focus] links); Enter opens one. */
  function moveRow(step) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row-focus]"));
    if (!rows.length) { return false; }
    var at = rows.indexOf(document.activeElement);
    var next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), rows.length - 1);
    rows[next].focus();
    (rows[next].closest("tr") || rows[next]).scrollIntoView({ block: "nearest" });
    return true;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) { return; }
    if ((e.key === "j" || e.key === "k") && moveRow(e.key === "j" ? 1 : -1)) {
      e.preventDefault();
      return;
    }
    if (e.key === "?") {
      fillHelp();
      var modal = document.getElementById("shortcut-help");
      if (modal && window.bootstrap) { window.bootstrap.Modal.getOrCreateInstance(modal).show(); }
      e.preventDefault();
      return;
    }
    var target = shortcutElements().filter(function (el) { return el.dataset.shortcut === e.key; })[0];
    if (!target) { return; }
    e.preventDefault();
    if (typing(target)) { target.focus(); } else { target.click(); }
  });

  /* New work without reloading: the desk's counter, polled; shown in the nav and the tab title. */
  var counterUrl = document.body.dataset.counterUrl;
  var baseTitle = document.title;
  function poll() {
    fetch(counterUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var badge = document.getElementById("work-count");
        if (badge) { badge.textContent = data.count; badge.hidden = !data.count; }
        document.title = data.count ? "(" + data.count + ") " + baseTitle : baseTitle;
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }
  if (counterUrl) { poll(); window.setInterval(poll, 20000); }
}());
