// The account page's picture form: the image goes to POST /account/avatar
// as multipart with this browser's CSRF token in the X-CSRF-Token header
// (a plain form cannot send it), and the picture shown is replaced by the
// new one; a refusal shows the server's reason, as text.
"use strict";

(function () {
  const form = document.getElementById("avatar-form");
  if (!form) return;
  const shown = document.getElementById("avatar-now");
  const error = form.querySelector(".error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch("/account/avatar", {
        method: "POST",
        headers: { "X-CSRF-Token": form.querySelector("input[name=csrf]").value, Accept: "application/json" },
        body,
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        shown.src = answer.avatar;
        error.hidden = true;
        form.reset();
      } else {
        error.textContent = answer.message || answer.error || t("upload_failed", { status: response.status });
        error.hidden = false;
      }
    } catch (e) {
      error.textContent = t("upload_unreachable");
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
