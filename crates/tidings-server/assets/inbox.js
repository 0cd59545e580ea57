// Tidings inbox: live updates and small conveniences on top of htmx. Everything here is
// optional; the pages work (for reading, and posting forms) without it.
//
// - Listens to the workspace's live events (GET /api/v1/events, server-sent events) and asks
//   htmx to refresh the conversation list ("inbox-changed") and the open thread when it changed.
//   A draft being typed is never replaced: only the messages above it are refreshed then.
// - Marks the open conversation in the list after htmx swaps, and the inbox as showing a thread
//   (on a phone the thread then takes the screen, with a link back to the list).
// - Sends the browser's time-zone offset with the snooze form.
// - Reads a chosen CSV file into the import form's text area.
(function () {
  "use strict";

  function openId() {
    var thread = document.querySelector("#thread-pane [data-conversation-id]");
    return thread ? thread.getAttribute("data-conversation-id") : null;
  }

  function markSelected() {
    var id = openId();
    // On a phone the open thread is the whole screen (see app.css); start it at its top.
    var root = document.getElementById("inbox");
    var hadThread = root.classList.contains("has-thread");
    root.classList.toggle("has-thread", id !== null);
    if (id !== null && !hadThread) window.scrollTo(0, 0);
    document.querySelectorAll("#inbox-list li.conversation").forEach(function (row) {
      var selected = row.getAttribute("data-conversation-id") === id;
      row.classList.toggle("selected", selected);
      var link = row.querySelector("a");
      if (link) {
        if (selected) link.setAttribute("aria-current", "true");
        else link.removeAttribute("aria-current");
      }
    });
  }

  function startLive(root) {
    if (!window.EventSource) return;
    var status = document.getElementById("live-status");
    var timer = null;
    var threadChanged = false;
    var retry = 1000;

    function setLive(on) {
      root.setAttribute("data-live", on ? "on" : "off");
      if (status) status.classList.toggle("on", on);
    }

    function refresh() {
      timer = null;
      if (!window.htmx) return;
      htmx.trigger(document.body, "inbox-changed");
      var id = openId();
      if (threadChanged && id) {
        threadChanged = false;
        var draft = document.getElementById("reply-text");
        var typing = draft && (draft.value.trim() !== "" || document.activeElement === draft);
        if (typing) {
          htmx.ajax("GET", "/inbox/" + encodeURIComponent(id), { target: "#thread-messages", swap: "outerHTML" });
        } else {
          htmx.ajax("GET", "/inbox/" + encodeURIComponent(id), { target: "#thread-pane", swap: "innerHTML" });
        }
      }
    }

    function onEvent(event) {
      var data = {};
      try { data = JSON.parse(event.data || "{}"); } catch (e) { data = {}; }
      if (data.conversationId && data.conversationId === openId()) threadChanged = true;
      // Bursts (an import, a busy channel) become one refresh.
      if (!timer) timer = setTimeout(refresh, 250);
    }

    function connect() {
      var source = new EventSource("/api/v1/events");
      ["conversation.created", "message.created", "conversation.updated", "resync"].forEach(function (type) {
        source.addEventListener(type, onEvent);
      });
      source.addEventListener("open", function () { retry = 1000; setLive(true); });
      source.addEventListener("error", function () {
        if (source.readyState !== EventSource.CLOSED) { setLive(false); return; }
        // Refused (an expired session, usually): loading a page renews the session cookie,
        // then listen again, waiting longer each time.
        setLive(false);
        source.close();
        setTimeout(function () {
          fetch("/inbox", { method: "HEAD", credentials: "same-origin" }).catch(function () {}).then(connect);
        }, retry);
        retry = Math.min(retry * 2, 30000);
      });
    }
    connect();
  }

  function init() {
    var root = document.getElementById("inbox");
    if (root) {
      startLive(root);
      document.body.addEventListener("htmx:afterSwap", markSelected);
    }
    // The snooze time is typed in the browser's zone; tell the server which one.
    document.addEventListener("submit", function (event) {
      var offset = event.target.querySelector && event.target.querySelector("input[name=tz_offset]");
      if (offset) offset.value = String(new Date().getTimezoneOffset());
    }, true);
    // A chosen file fills the text area the form sends.
    document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
      input.addEventListener("change", function () {
        var target = document.getElementById(input.getAttribute("data-fills"));
        var file = input.files && input.files[0];
        if (!target || !file) return;
        file.text().then(function (text) { target.value = text; });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
