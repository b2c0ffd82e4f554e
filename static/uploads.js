// Files on the room page: choosing one (the attach button, dropping it on
// the room, pasting an image), a preview before sending (the image drawn
// small, or the file's name and size) with Cancel, a progress bar while it
// uploads, and the attachments of messages (an image's thumbnail linking to
// the file, any other file as a download link with its name and size), on
// rows the server drew and rows drawn live.
//
// The upload goes through XMLHttpRequest, whose upload reports progress
// (fetch does not), as multipart/form-data with this browser's CSRF token in
// X-CSRF-Token. Names only ever go in with textContent; a preview is drawn
// on a canvas from the file's bytes (createImageBitmap), so no blob: or
// data: URL is needed and the page's Content-Security-Policy stays as it is.
//
// app.js renders rows and sends; it asks this file whether a file is
// waiting (pending) and hands it the text to send with it (send).
"use strict";

window.ChatUploads = (function () {
  // The square a thumbnail fits in, as the server makes it.
  const THUMB = 320;
  // The square a preview fits in.
  const PREVIEW = 120;

  // page: { chat, room, form, box, showError, clearError }
  function setup(page) {
    const { chat, room, form, box } = page;
    const attach = document.getElementById("attach");
    const input = document.getElementById("attach-file");
    const preview = document.getElementById("upload-preview");
    if (!attach || !input || !preview) return inert();
    const canvas = preview.querySelector(".preview-image");
    const nameNode = preview.querySelector(".preview-name");
    const sizeNode = preview.querySelector(".preview-size");
    const progress = preview.querySelector(".upload-progress");
    const csrf = form.querySelector('input[name="csrf"]');
    let file = null; // the file waiting to be sent
    let request = null; // the upload in flight

    attach.hidden = false;
    formatSizes(document);

    input.addEventListener("change", () => {
      if (input.files.length) choose(input.files[0]);
    });

    // Dropping a file anywhere on the room.
    chat.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      chat.classList.add("dropping");
    });
    chat.addEventListener("dragleave", (event) => {
      if (!chat.contains(event.relatedTarget)) chat.classList.remove("dropping");
    });
    chat.addEventListener("drop", (event) => {
      chat.classList.remove("dropping");
      if (!hasFiles(event)) return;
      event.preventDefault();
      choose(event.dataTransfer.files[0]);
    });

    // Pasting an image (a screenshot) into the message box.
    box.addEventListener("paste", (event) => {
      const pasted = [...(event.clipboardData ? event.clipboardData.files : [])];
      const image = pasted.find((f) => f.type.startsWith("image/"));
      if (!image) return;
      event.preventDefault();
      choose(image);
    });

    preview.querySelector(".preview-cancel").addEventListener("click", () => {
      if (request) request.abort();
      clear();
      box.focus();
    });

    function hasFiles(event) {
      return event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    }

    function choose(chosen) {
      if (request) return;
      file = chosen;
      nameNode.textContent = chosen.name || t("pasted_image");
      sizeNode.textContent = formatSize(chosen.size);
      progress.value = 0;
      progress.hidden = true;
      canvas.hidden = true;
      preview.hidden = false;
      // A file may go without words.
      box.required = false;
      page.clearError();
      if (chosen.type.startsWith("image/") && window.createImageBitmap) drawPreview(chosen);
      box.focus();
    }

    async function drawPreview(chosen) {
      try {
        const bitmap = await createImageBitmap(chosen);
        if (file !== chosen) return;
        const scale = Math.min(1, PREVIEW / bitmap.width, PREVIEW / bitmap.height);
        canvas.width = Math.max(1, Math.round(bitmap.width * scale));
        canvas.height = Math.max(1, Math.round(bitmap.height * scale));
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        canvas.hidden = false;
      } catch (e) {
        // Not an image the browser can draw: the name and size say enough.
      }
    }

    function clear() {
      file = null;
      request = null;
      input.value = "";
      preview.hidden = true;
      box.required = true;
    }

    // Sends the waiting file with `body` ({ text, reply_to }); answers the
    // posted message, or null after showing why not.
    function send(body) {
      return new Promise((resolve) => {
        const data = new FormData();
        // The text first: the server checks it before reading the file.
        data.append("text", body.text);
        if (body.reply_to) data.append("reply_to", String(body.reply_to));
        data.append("file", file, file.name || "pasted-image");
        const xhr = new XMLHttpRequest();
        request = xhr;
        xhr.open("POST", "/rooms/" + encodeURIComponent(room) + "/attachments");
        xhr.setRequestHeader("X-CSRF-Token", csrf ? csrf.value : "");
        xhr.setRequestHeader("Accept", "application/json");
        xhr.responseType = "json";
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) progress.value = Math.round((100 * event.loaded) / event.total);
        });
        xhr.addEventListener("load", () => {
          request = null;
          if (xhr.status === 201 && xhr.response) {
            clear();
            return resolve(xhr.response);
          }
          const reason = xhr.response && (xhr.response.message || xhr.response.error);
          page.showError(reason || t("upload_failed", { status: xhr.status }));
          progress.hidden = true;
          resolve(null);
        });
        xhr.addEventListener("error", () => {
          request = null;
          page.showError(t("upload_unreachable"));
          progress.hidden = true;
          resolve(null);
        });
        xhr.addEventListener("abort", () => resolve(null));
        progress.hidden = false;
        xhr.send(data);
      });
    }

    return { pending: () => file !== null && request === null, send, render, strip };
  }

  // Without the page's parts: nothing to choose, rows still drawn.
  function inert() {
    return { pending: () => false, send: async () => null, render, strip };
  }

  // Adds the attachments of `message` to its row.
  function render(li, message) {
    const files = message.attachments || [];
    if (!files.length) return;
    const span = document.createElement("span");
    span.className = "attachments";
    for (const file of files) span.append(file.thumb_url ? imageNode(file) : fileNode(file));
    const reactions = li.querySelector(".reactions");
    if (reactions) reactions.before(span);
    else li.append(span);
  }

  // A deleted message's files are gone.
  function strip(li) {
    for (const span of li.querySelectorAll(".attachments")) span.remove();
  }

  function imageNode(file) {
    const link = document.createElement("a");
    link.className = "attachment image";
    link.href = file.url;
    link.title = file.name;
    const img = document.createElement("img");
    const [width, height] = thumbSize(file.width, file.height);
    img.width = width;
    img.height = height;
    img.alt = file.name;
    img.src = file.thumb_url;
    link.append(img);
    return link;
  }

  function fileNode(file) {
    const link = document.createElement("a");
    link.className = "attachment file";
    link.href = file.url;
    link.download = file.name;
    const name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    const size = document.createElement("span");
    size.className = "file-size";
    size.textContent = formatSize(file.size);
    link.append(name, " ", size);
    return link;
  }

  // The thumbnail's size: fitted into THUMB × THUMB, never enlarged (the
  // server's rooms::thumb_size).
  function thumbSize(width, height) {
    if (width <= THUMB && height <= THUMB) return [Math.max(1, width), Math.max(1, height)];
    const scale = Math.min(THUMB / width, THUMB / height);
    return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  }

  // Sizes the server wrote in bytes, as people read them.
  function formatSizes(root) {
    for (const node of root.querySelectorAll(".file-size[data-bytes]")) {
      node.textContent = formatSize(Number(node.dataset.bytes));
    }
  }

  function formatSize(bytes) {
    return chatI18n.fileSize(bytes);
  }

  return { setup };
})();
