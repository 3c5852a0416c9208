// SRS progressive enhancement. Every flow works without this file: the forms post and
// the server redirects. With it, user suggestions follow the typing and feedback
// refreshes the recommendations and history in place, with no page load.
(function () {
  "use strict";

  const REFRESHED_SECTIONS = ["messages", "recommendations", "history"];

  function enhanceUserSuggestions() {
    const input = document.getElementById("user-input");
    const options = document.getElementById("user-options");
    if (!input || !options || !input.dataset.suggestUrl) {
      return;
    }
    let timer = 0;
    let lastPrefix = null;
    let controller = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(async function () {
        const prefix = input.value.trim();
        if (prefix === lastPrefix) {
          return;
        }
        lastPrefix = prefix;
        if (controller) {
          controller.abort();
        }
        controller = new AbortController();
        const url = input.dataset.suggestUrl + "?q=" + encodeURIComponent(prefix);
        try {
          const response = await fetch(url, {
            signal: controller.signal,
            headers: { Accept: "application/json" },
          });
          if (!response.ok) {
            return;
          }
          const body = await response.json();
          const fresh = body.users.map(function (user) {
            const option = document.createElement("option");
            option.value = user;
            return option;
          });
          options.replaceChildren(...fresh);
        } catch (error) {
          if (error.name !== "AbortError") {
            lastPrefix = null;
          }
        }
      }, 120);
    });
  }

  function showMessage(text, kind) {
    const box = document.getElementById("messages");
    if (!box) {
      return;
    }
    const paragraph = document.createElement("p");
    paragraph.className = "message message-" + kind;
    paragraph.textContent = text;
    box.replaceChildren(paragraph);
  }

  // Swap in the sections of a server-rendered page; the server already escaped them.
  function swapSections(doc) {
    REFRESHED_SECTIONS.forEach(function (id) {
      const fresh = doc.getElementById(id);
      const current = document.getElementById(id);
      if (fresh && current) {
        current.replaceWith(document.importNode(fresh, true));
      }
    });
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button, select").forEach(function (control) {
      control.disabled = busy;
    });
  }

  async function submitFeedback(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-feedback")) {
      return;
    }
    event.preventDefault();
    const data = new FormData(form);
    const submitter = event.submitter;
    if (submitter && submitter.name) {
      data.set(submitter.name, submitter.value);
    }
    const card = form.closest(".card");
    const dismissing = data.get("event_type") === "not_interested";
    if (card && dismissing) {
      card.hidden = true;
    }
    setBusy(form, true);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(data),
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      if (!response.ok) {
        const reason = doc.querySelector(".error-message");
        showMessage(reason ? reason.textContent : "The feedback was not recorded.", "error");
        if (card) {
          card.hidden = false;
        }
        setBusy(form, false);
        return;
      }
      swapSections(doc);
      const heading = document.getElementById("recommendations-title");
      if (heading) {
        heading.focus({ preventScroll: true });
      }
    } catch (error) {
      showMessage("The server could not be reached; the feedback was not recorded.", "error");
      if (card) {
        card.hidden = false;
      }
      setBusy(form, false);
    }
  }

  document.addEventListener("submit", submitFeedback);
  enhanceUserSuggestions();
})();
