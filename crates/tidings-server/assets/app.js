// Tidings dashboard: what every page shares, in a file rather than inline, so the
// Content-Security-Policy can forbid inline scripts and event handlers.
//
// - Forms with data-confirm ask before submitting.
// - Selects with data-autosubmit submit their form when changed (the workspace switcher).
// - A failed in-page (htmx) request shows a message at the top of the page instead of silently
//   doing nothing: the server's status (429 with its wait, 403, 5xx) or that it was unreachable.
// - Below 900 px the sidebar is a drawer: the Menu button opens it; Escape, a click outside it
//   or the button again closes it. Each table cell is given its column's heading (data-label),
//   which the phone layout shows above the value when a table becomes cards.
// - Buttons with data-copy="ID" copy the text of element ID (a new API key) and say so.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });
  // Where the clipboard is not available (plain http), the key is selected for Ctrl+C instead.
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function setDrawer(open) {
    var toggle = document.querySelector(".menu-toggle");
    if (!toggle) return;
    document.body.classList.toggle("drawer-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = document.querySelector("#sidebar a");
      if (first) first.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var open = document.body.classList.contains("drawer-open");
    if (event.target.closest && event.target.closest(".menu-toggle")) setDrawer(!open);
    else if (open && !(event.target.closest && event.target.closest("#sidebar"))) setDrawer(false);
  });
  function labelCells() {
    document.querySelectorAll("table").forEach(function (table) {
      var headings = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        // A heading only screen readers see (an actions column) labels nothing visibly.
        return th.querySelector(".visually-hidden") ? "" : th.textContent.trim();
      });
      if (headings.length === 0) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (headings[i]) cell.setAttribute("data-label", headings[i]);
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", labelCells);
  else labelCells();
  document.addEventListener("htmx:afterSwap", labelCells);

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      setDrawer(false);
      document.querySelector(".menu-toggle").focus();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) field.form.requestSubmit();
  });

  var hideTimer = null;

  function showProblem(message) {
    var banner = document.getElementById("request-problem");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "request-problem";
      banner.className = "toast error";
      banner.setAttribute("role", "alert");
      var text = document.createElement("span");
      text.className = "toast-text";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link";
      close.textContent = "Dismiss";
      close.addEventListener("click", function () { banner.hidden = true; });
      banner.appendChild(text);
      banner.appendChild(close);
      document.body.appendChild(banner);
    }
    banner.querySelector(".toast-text").textContent = message;
    banner.hidden = false;
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { banner.hidden = true; }, 15000);
  }

  function describe(xhr) {
    var status = xhr ? xhr.status : 0;
    if (status === 429) {
      var wait = xhr.getResponseHeader("Retry-After");
      return "Too many requests for now." + (wait ? " Try again in " + wait + " s." : " Try again shortly.");
    }
    if (status === 401) return "Your session has ended. Reload the page to sign in again.";
    if (status === 403) return "You are not allowed to do this.";
    if (status === 404) return "This item no longer exists. Reload the page.";
    if (status >= 500) return "Something went wrong on our side (" + status + "). Please try again.";
    return "The request failed (" + status + "). Please try again.";
  }

  document.addEventListener("htmx:responseError", function (event) {
    showProblem(describe(event.detail && event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    showProblem("Tidings could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    showProblem("Tidings took too long to answer. Please try again.");
  });
})();

// The workspace's live stream (GET /api/v1/events, server-sent events): one per page, whatever
// listens to it. A second stream would take one more of the browser's six connections to the
// server, and pages left open would run out of them. Scripts subscribe by event type:
//
//   Tidings.live.on("message.created", function (event) { … event.data … });
//   Tidings.live.onState(function (connected) { … });
//
// The stream opens after the first subscription. When the server refuses it (an expired session,
// usually), loading a page renews the session cookie (HEAD /inbox), then it listens again,
// waiting longer each time; other drops the browser retries by itself.
//
// The stream closes when the page is hidden and opens again if the page comes back from the
// back/forward cache. A page left for another is kept in that cache, and Chromium kept its
// stream open there: after six pages in a minute, all six connections the browser allows per
// server were held by pages nobody saw, and the next request (a form's POST) waited about a
// minute for one (found by browser_automations.rs).
window.Tidings = window.Tidings || {};
window.Tidings.live = (function () {
  "use strict";
  var subscriptions = [];
  var stateHandlers = [];
  var source = null;
  var started = false;
  var retry = 1000;
  var hidden = false;

  function setState(connected) {
    stateHandlers.forEach(function (handler) { handler(connected); });
  }

  function connect() {
    if (source || hidden) return;
    var current = new EventSource("/api/v1/events");
    source = current;
    subscriptions.forEach(function (subscription) { current.addEventListener(subscription.type, subscription.handler); });
    current.addEventListener("open", function () { retry = 1000; setState(true); });
    current.addEventListener("error", function () {
      setState(false);
      if (current.readyState !== EventSource.CLOSED || source !== current) return;
      current.close();
      source = null;
      setTimeout(function () {
        fetch("/inbox", { method: "HEAD", credentials: "same-origin" }).catch(function () {}).then(connect);
      }, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  window.addEventListener("pagehide", function () {
    hidden = true;
    if (source) source.close();
    source = null;
  });
  window.addEventListener("pageshow", function (event) {
    hidden = false;
    if (event.persisted && started) connect();
  });

  return {
    on: function (type, handler) {
      if (!window.EventSource) return;
      subscriptions.push({ type: type, handler: handler });
      if (source) source.addEventListener(type, handler);
      if (started) return;
      started = true;
      // Opened once the running script is done, so the page's other scripts can subscribe first;
      // a later subscription joins the open stream.
      setTimeout(connect, 0);
    },
    onState: function (handler) {
      stateHandlers.push(handler);
      // A script that runs after the stream opened still learns that it is connected.
      if (source && source.readyState === EventSource.OPEN) handler(true);
    }
  };
})();

// The header's bell: the live stream says when someone got a notification; the bell then asks for
// the signed-in member's own unread count.
(function () {
  "use strict";
  function listen() {
    if (!document.getElementById("bell")) return;
    window.Tidings.live.on("notification.created", function () {
      if (window.htmx) htmx.trigger(document.body, "notification-arrived");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", listen);
  else listen();
})();
