/* Attachments: paste a screenshot, drop files, take a screenshot in one click.

   Works on every [data-attach] block rendered by the attach_field macro (_macros.html), which
   holds a plain <input type="file" multiple> that works without this script.  With it:
   - pasting image data anywhere on the page (Ctrl+V) adds it to the nearest [data-attach]
     input as a PNG named screenshot-YYYYMMDD-HHMMSS.png, keeping the files already chosen;
   - files dropped on the block are added the same way;
   - the chosen files are listed, each with a remove button;
   - the "Screenshot" button (shown only where navigator.mediaDevices.getDisplayMedia exists)
     captures one frame of the screen, window or tab the person picks, as a PNG.
   Every text shown comes from the block's data-label-* attributes (translated server-side). */
(function () {
  "use strict";
  if (window.stagedeskAttachments) { return; }  // the macro includes this script once per field

  function canEditFiles() {
    try { return typeof DataTransfer === "function" && !!new DataTransfer().items; } catch (e) { return false; }
  }
  var EDITABLE = canEditFiles();

  function label(block, key, name) {
    var text = block.getAttribute("data-label-" + key) || "";
    return name === undefined ? text : text.split("{name}").join(name);
  }
  function inputOf(block) { return block.querySelector('input[type="file"]'); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function stamp(d) {
    return d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate()) + "-" +
      pad(d.getHours()) + pad(d.getMinutes()) + pad(d.getSeconds());
  }
  function takenNames(input) {
    var names = {};
    Array.prototype.forEach.call(input.files || [], function (f) { names[f.name] = true; });
    return names;
  }
  function screenshotName(input) {
    var base = "screenshot-" + stamp(new Date());
    var taken = takenNames(input);
    var name = base + ".png";
    for (var i = 2; taken[name]; i++) { name = base + "-" + i + ".png"; }
    return name;
  }
  function humanSize(bytes) {
    var lang = document.documentElement.lang || undefined;
    var units = ["byte", "kilobyte", "megabyte", "gigabyte"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    try {
      return new Intl.NumberFormat(lang, { style: "unit", unit: units[i], unitDisplay: "short",
                                           maximumFractionDigits: i ? 1 : 0 }).format(bytes);
    } catch (e) { return String(Math.round(bytes)); }
  }
  function announce(block, text) {
    var status = block.querySelector("[data-attach-status]");
    if (status) { status.textContent = ""; window.setTimeout(function () { status.textContent = text; }, 50); }
  }
  function showError(block, text) {
    var box = block.querySelector("[data-attach-error]");
    if (!box) { return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  /* The input's files with ``add`` appended and the file at ``drop`` left out. */
  function setFiles(input, add, drop) {
    var dt = new DataTransfer();
    Array.prototype.forEach.call(input.files || [], function (f, i) { if (i !== drop) { dt.items.add(f); } });
    (add || []).forEach(function (f) { dt.items.add(f); });
    input.files = dt.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function render(block) {
    var input = inputOf(block);
    var list = block.querySelector("[data-attach-list]");
    if (!input || !list) { return; }
    list.textContent = "";
    var files = input.files || [];
    list.hidden = !files.length || !EDITABLE;
    Array.prototype.forEach.call(files, function (file, index) {
      var li = document.createElement("li");
      li.className = "d-flex align-items-center gap-2 py-1";
      var icon = document.createElement("i");
      icon.className = "bi " + (/^image\//.test(file.type) ? "bi-file-earmark-image" : "bi-file-earmark");
      icon.setAttribute("aria-hidden", "true");
      var name = document.createElement("span");
      name.className = "text-break";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "text-body-secondary";
      size.textContent = humanSize(file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-sm btn-link p-0";
      remove.textContent = label(block, "remove");
      remove.setAttribute("aria-label", label(block, "remove-file", file.name));
      remove.addEventListener("click", function () {
        setFiles(input, [], index);
        announce(block, label(block, "removed", file.name));
        input.focus();
      });
      li.appendChild(icon); li.appendChild(name); li.appendChild(size); li.appendChild(remove);
      list.appendChild(li);
    });
  }

  function add(block, files) {
    var input = inputOf(block);
    if (!input || !files.length) { return; }
    setFiles(input, files);
    showError(block, "");
    announce(block, files.map(function (f) { return label(block, "added", f.name); }).join(". "));
  }

  /* Any image blob as a PNG File (pasted images usually are PNG already). */
  function asPng(blob, name) {
    if (blob.type === "image/png") {
      return Promise.resolve(new File([blob], name, { type: "image/png", lastModified: Date.now() }));
    }
    return createImageBitmap(blob).then(function (bitmap) {
      var canvas = document.createElement("canvas");
      canvas.width = bitmap.width; canvas.height = bitmap.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      return toPngFile(canvas, name);
    });
  }
  function toPngFile(canvas, name) {
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (png) {
        if (png) { resolve(new File([png], name, { type: "image/png", lastModified: Date.now() })); }
        else { reject(new Error("toBlob")); }
      }, "image/png");
    });
  }

  /* The [data-attach] block a paste or drop at ``target`` belongs to. */
  function blockFor(target) {
    var el = target && target.closest ? target : null;
    var own = el && el.closest("[data-attach]");
    if (own) { return own; }
    var form = el && el.closest("form");
    var inForm = form && form.querySelector("[data-attach]");
    if (inForm) { return inForm; }
    return document.querySelector("[data-attach]");
  }

  function onPaste(e) {
    var data = e.clipboardData;
    if (!data || !data.items) { return; }
    var images = [];
    var others = [];
    Array.prototype.forEach.call(data.items, function (item) {
      if (item.kind !== "file") { return; }
      var file = item.getAsFile();
      if (!file) { return; }
      (/^image\//.test(file.type) ? images : others).push(file);
    });
    if (!images.length && !others.length) { return; }
    var block = blockFor(e.target);
    if (!block || !inputOf(block)) { return; }
    var hasText = Array.prototype.some.call(data.types || [], function (t) { return t === "text/plain"; });
    if (!hasText) { e.preventDefault(); }  // text pastes as usual; the image goes to the files
    var input = inputOf(block);
    Promise.all(images.map(function (img) { return asPng(img, screenshotName(input)); }))
      .then(function (pngs) {
        // distinct names when several images arrive in the same second
        var seen = takenNames(input);
        pngs = pngs.map(function (f) {
          var name = f.name;
          var base = name.replace(/\.png$/, "");
          for (var n = 2; seen[name]; n++) { name = base + "-" + n + ".png"; }
          seen[name] = true;
          return name === f.name ? f : new File([f], name, { type: "image/png", lastModified: f.lastModified });
        });
        add(block, pngs.concat(others));
      })
      .catch(function () { add(block, others); });
  }

  function grabFrame(stream) {
    return new Promise(function (resolve, reject) {
      var video = document.createElement("video");
      var done = false;
      var timer = window.setTimeout(function () { finish(null, new Error("timeout")); }, 15000);
      function finish(blob, err) {
        if (done) { return; }
        done = true;
        window.clearTimeout(timer);
        video.pause();
        video.srcObject = null;
        if (err) { reject(err); } else { resolve(blob); }
      }
      function draw() {
        if (done || !video.videoWidth || !video.videoHeight) { return; }
        var canvas = document.createElement("canvas");
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (png) { finish(png, png ? null : new Error("toBlob")); }, "image/png");
      }
      video.muted = true;
      video.playsInline = true;
      video.addEventListener("loadeddata", function () { window.setTimeout(draw, 0); });
      video.addEventListener("playing", function () { window.setTimeout(draw, 0); });
      video.addEventListener("resize", draw);
      video.srcObject = stream;
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function (err) { finish(null, err); }); }
    });
  }

  function stopTracks(stream) {
    stream.getTracks().forEach(function (track) { track.stop(); });
  }

  function capture(block, button) {
    var input = inputOf(block);
    button.disabled = true;
    showError(block, "");
    navigator.mediaDevices.getDisplayMedia({ video: true })
      .then(function (stream) {
        return grabFrame(stream).then(
          function (blob) { stopTracks(stream); return blob; },
          function (err) { stopTracks(stream); throw err; });
      })
      .then(function (blob) {
        add(block, [new File([blob], screenshotName(input), { type: "image/png", lastModified: Date.now() })]);
      })
      .catch(function () { showError(block, label(block, "capture-failed")); })
      .then(function () { button.disabled = false; });
  }

  function init(block) {
    if (block.dataset.attachReady) { return; }
    var input = inputOf(block);
    if (!input) { return; }
    block.dataset.attachReady = "1";
    input.addEventListener("change", function () { render(block); });
    render(block);
    if (!EDITABLE) { return; }  // the plain file input is all this browser gets
    var hint = block.querySelector("[data-attach-paste-hint]");
    if (hint) { hint.hidden = false; }
    var button = block.querySelector("[data-attach-capture]");
    if (button && navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === "function") {
      button.hidden = false;
      button.addEventListener("click", function () { capture(block, button); });
    }
    block.addEventListener("dragover", function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0) {
        e.preventDefault();
        block.classList.add("border", "border-primary", "rounded");
      }
    });
    var DROP = ["border", "border-primary", "rounded"];
    block.addEventListener("dragleave", function () { DROP.forEach(function (c) { block.classList.remove(c); }); });
    block.addEventListener("drop", function (e) {
      DROP.forEach(function (c) { block.classList.remove(c); });
      if (!e.dataTransfer || !e.dataTransfer.files || !e.dataTransfer.files.length) { return; }
      if (e.target === input) { return; }  // the input takes dropped files itself (and replaces them)
      e.preventDefault();
      add(block, Array.prototype.slice.call(e.dataTransfer.files));
    });
  }

  function initAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-attach]")) { init(scope); }
    Array.prototype.forEach.call(scope.querySelectorAll("[data-attach]"), init);
  }

  window.stagedeskAttachments = { init: initAll };
  if (EDITABLE) { document.addEventListener("paste", onPaste); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  } else {
    initAll(document);
  }
  document.addEventListener("htmx:load", function (e) { initAll(e.detail && e.detail.elt); });
}());
