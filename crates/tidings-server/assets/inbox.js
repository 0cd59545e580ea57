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
// - Keyboard triage: j/k move through the list, Enter opens (the link's own behaviour), r goes to
//   the reply box, a to the assignee, e resolves (closes) the open conversation and then opens the
//   next one in the list, ? shows the shortcuts; Ctrl/Cmd+Enter in the reply box sends it. Keys
//   typed into a field are the field's, not shortcuts.
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
        var live = { "X-Tidings-Live-Refresh": id };
        if (typing) {
          htmx.ajax("GET", "/inbox/" + encodeURIComponent(id), { target: "#thread-messages", swap: "outerHTML", headers: live });
        } else {
          htmx.ajax("GET", "/inbox/" + encodeURIComponent(id), { target: "#thread-pane", swap: "innerHTML", headers: live });
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

  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-list li.conversation > a"));
  }

  // Moves the focus `step` rows down (or up) the list, from the focused row, else the open one.
  function move(step) {
    var links = rowLinks();
    if (links.length === 0) return;
    var at = links.indexOf(document.activeElement);
    if (at === -1) at = links.indexOf(document.querySelector("#inbox-list a[aria-current=true]"));
    var next = at === -1 ? (step > 0 ? 0 : links.length - 1) : Math.min(Math.max(at + step, 0), links.length - 1);
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }

  // The conversation to open once the one being resolved is closed (its id: the list may be
  // refreshed in between).
  var nextAfterResolve = null;

  // The open conversation is the one in the thread pane, not the row marked current: a live
  // refresh of the list may be under way and the mark not set yet.
  function resolveAndMoveOn(resolve) {
    var thread = document.querySelector("#thread-pane [data-conversation-id]");
    var current = thread ? thread.getAttribute("data-conversation-id") : null;
    var ids = Array.prototype.map.call(document.querySelectorAll("#inbox-list li[data-conversation-id]"), function (row) {
      return row.getAttribute("data-conversation-id");
    });
    var at = ids.indexOf(current);
    var next = at === -1 ? ids.filter(function (id) { return id !== current; })[0] : ids[at + 1];
    nextAfterResolve = next || null;
    resolve.click();
  }

  function openNextAfterResolve() {
    var thread = document.querySelector("#thread-pane [data-conversation-id]");
    if (!nextAfterResolve || !thread || thread.getAttribute("data-status") !== "closed") return;
    var link = document.querySelector('#inbox-list li[data-conversation-id="' + nextAfterResolve + '"] > a');
    nextAfterResolve = null;
    if (link) {
      link.focus();
      link.click();
    }
  }

  function isTyping(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function onKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "reply-text") {
      event.preventDefault();
      event.target.form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    var help = document.getElementById("shortcuts-help");
    if (help && help.open) return;
    var handled = true;
    if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "r") {
      var reply = document.getElementById("reply-text");
      if (reply) reply.focus(); else handled = false;
    } else if (event.key === "e") {
      var resolve = document.querySelector("#status-form button[name=status][value=closed]");
      if (resolve) resolveAndMoveOn(resolve); else handled = false;
    } else if (event.key === "a") {
      var assignee = document.getElementById("assign-select");
      if (assignee) assignee.focus(); else handled = false;
    } else if (event.key === "?" && help) help.showModal();
    else handled = false;
    if (handled) event.preventDefault();
  }

  function init() {
    var root = document.getElementById("inbox");
    if (root) {
      // On a phone the filters start folded, so that the list is on the first screen.
      var filters = root.querySelector("details.filter-panel");
      if (filters && window.matchMedia("(max-width: 899px)").matches) filters.open = false;
      startLive(root);
      document.body.addEventListener("htmx:afterSwap", markSelected);
      document.body.addEventListener("htmx:afterSwap", openNextAfterResolve);
      // A live refresh of a thread answers late: if another conversation was opened meanwhile
      // (after resolving, say), the refreshed thread must not replace it.
      document.body.addEventListener("htmx:beforeSwap", function (event) {
        var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
        var refreshed = headers && headers["X-Tidings-Live-Refresh"];
        if (refreshed && refreshed !== openId()) event.detail.shouldSwap = false;
      });
      document.addEventListener("keydown", onKey);
      var help = document.getElementById("shortcuts-help");
      document.querySelectorAll("[aria-controls=shortcuts-help]").forEach(function (button) {
        button.addEventListener("click", function () { help.showModal(); });
      });
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
