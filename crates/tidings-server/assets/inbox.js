// Tidings inbox: live updates and small conveniences on top of htmx. Everything here is
// optional; the pages work (for reading, and posting forms) without it.
//
// - Listens to the workspace's live events (app.js's Tidings.live, the page's one stream). The list is
//   refreshed in place: every row shown stays (the "Load more" pages too: the refresh asks for
//   every row down to the last one shown), and scrolled down, what is being read stays where it
//   is on the screen while new conversations wait above behind an "N new" pill. The open thread
//   is refreshed too; a draft being typed is never replaced (only the messages above it are).
//   The thread pane is not a live region: a new customer message is announced on its own.
// - A live refresh of the thread asked for before an action on it (a reply, resolving) answered
//   is dropped, so it can never show the thread as it was before the action.
// - Marks the open conversation in the list after htmx swaps, and the inbox as showing a thread
//   (on a phone the thread then takes the screen, with a link back to the list).
// - Sends the browser's time-zone offset with the snooze form.
// - Reads a chosen CSV file into the import form's text area.
// - Saved replies: "/" and a shortcut in the reply box offer them; Up/Down, Enter or Tab, Escape.
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

  // Thread actions (reply, assign, status) in flight, and how many were ever started: a live
  // refresh of the thread that was asked for before an action answered would show the thread as
  // it was before the action (and could detach the action's form before its answer arrives), so
  // it is dropped; the action's own answer is the fresher thread.
  var actionsInFlight = 0;
  var actionsStarted = 0;
  var actionRequests = typeof WeakSet === "function" ? new WeakSet() : null;

  function trackActions() {
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var elt = event.detail.elt;
      var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
      if (!actionRequests || !verb || verb === "get" || !elt.closest || !elt.closest("#thread-pane")) return;
      actionRequests.add(event.detail.xhr);
      actionsInFlight += 1;
      actionsStarted += 1;
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (actionRequests && actionRequests.has(event.detail.xhr)) {
        actionRequests.delete(event.detail.xhr);
        actionsInFlight = Math.max(0, actionsInFlight - 1);
      }
    });
    // A live refresh of a thread answers late: if another conversation was opened meanwhile
    // (after resolving, say) or an action on it started since, it must not replace the pane.
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
      var refreshed = headers && headers["X-Tidings-Live-Refresh"];
      if (!refreshed) return;
      var stale = refreshed !== openId() || headers["X-Tidings-Actions"] !== String(actionsStarted) || actionsInFlight > 0;
      if (stale) event.detail.shouldSwap = false;
    });
  }

  // Says `text` to screen readers once (the thread pane itself is not a live region, so a
  // refresh does not read the whole thread again).
  function announce(text) {
    var announcer = document.getElementById("live-announcer");
    if (!announcer) return;
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function messageIds() {
    return Array.prototype.map.call(document.querySelectorAll("#thread-messages li[data-message-id]"), function (li) {
      return li.getAttribute("data-message-id");
    });
  }

  // After a refresh of the open thread, announces the customer's messages that were not there.
  function announceNewMessages(before) {
    var known = {};
    before.forEach(function (id) { known[id] = true; });
    document.querySelectorAll("#thread-messages li.inbound[data-message-id]").forEach(function (li) {
      if (known[li.getAttribute("data-message-id")]) return;
      var author = li.querySelector(".meta strong");
      var body = li.querySelector(".body");
      announce("New message" + (author && author.textContent ? " from " + author.textContent : "") + ": " +
        (body ? body.textContent.slice(0, 200) : ""));
    });
  }

  // The element the list scrolls in: its own box on a desktop, the page on a phone.
  function listScroller(list) {
    var ul = list.querySelector("ul.conversations");
    if (ul && ul.scrollHeight > ul.clientHeight && getComputedStyle(ul).overflowY !== "visible") return ul;
    return null;
  }

  function scrollTopOf(scroller) {
    return scroller ? scroller.scrollTop : window.scrollY;
  }

  // The top edge of what is visible of the list.
  function visibleTop(scroller) {
    return scroller ? scroller.getBoundingClientRect().top : 0;
  }

  // The first row the person can see, and where it is on the screen.
  function anchorRow(list, scroller) {
    var top = visibleTop(scroller);
    var rows = list.querySelectorAll("li.conversation");
    for (var i = 0; i < rows.length; i += 1) {
      var rect = rows[i].getBoundingClientRect();
      if (rect.bottom > top) return { id: rows[i].getAttribute("data-conversation-id"), top: rect.top };
    }
    return null;
  }

  // New rows above what is visible: the "N new" pill counts them and scrolls up to them.
  function updatePill(list) {
    var pill = list.querySelector(".new-pill");
    if (!pill) return;
    var scroller = listScroller(list);
    var top = visibleTop(scroller);
    var above = 0;
    list.querySelectorAll("li.conversation.fresh").forEach(function (row) {
      if (row.getBoundingClientRect().bottom <= top + 1) above += 1;
      else row.classList.remove("fresh");
    });
    pill.hidden = above === 0;
    pill.textContent = above === 1 ? "1 new ↑" : above + " new ↑";
  }

  // Refreshes the list in place: every row it shows stays (the "Load more" pages too), rows that
  // changed are updated, new ones are added at the top. Scrolled down, what the person reads
  // stays where it is on the screen and the new rows wait above behind an "N new" pill.
  var listRefreshing = false;
  var listAgain = false;

  function refreshList() {
    var list = document.getElementById("inbox-list");
    if (!list || !list.getAttribute("data-refresh")) return;
    if (listRefreshing) { listAgain = true; return; }
    listRefreshing = true;
    var rows = list.querySelectorAll("li.conversation");
    var url = new URL(list.getAttribute("data-refresh"), window.location.href);
    if (rows.length > 0) {
      url.searchParams.set("through", rows[rows.length - 1].getAttribute("data-key"));
      url.searchParams.set("shown", String(rows.length));
    }
    fetch(url.toString(), {
      credentials: "same-origin",
      headers: { "HX-Request": "true", "HX-Target": "inbox-list" }
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.text();
    }).then(function (html) {
      // The filters may have replaced the list meanwhile; then this answer is for the old one.
      if (document.getElementById("inbox-list") === list) applyList(list, html);
    }).catch(function () {}).then(function () {
      listRefreshing = false;
      if (listAgain) { listAgain = false; refreshList(); }
    });
  }

  function applyList(list, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#inbox-list");
    var ul = list.querySelector("ul.conversations");
    var freshUl = fresh && fresh.querySelector("ul.conversations");
    if (!ul || !freshUl) return;
    var known = {};
    list.querySelectorAll("li.conversation").forEach(function (row) {
      known[row.getAttribute("data-conversation-id")] = row.classList.contains("fresh");
    });
    var scroller = listScroller(list);
    var atTop = scrollTopOf(scroller) <= 0;
    var anchor = atTop ? null : anchorRow(list, scroller);
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#inbox-list li.conversation");
    var focusedId = focused ? focused.getAttribute("data-conversation-id") : null;
    // The views, chips, count and empty-list text come from the answer; the list box stays,
    // and with it its scroll position.
    var pill = list.querySelector(".new-pill");
    Array.prototype.slice.call(list.children).forEach(function (child) {
      if (child !== ul && child !== pill) child.remove();
    });
    Array.prototype.slice.call(fresh.children).forEach(function (child) {
      if (!child.matches("ul.conversations, .new-pill")) list.insertBefore(child, pill || ul);
    });
    list.setAttribute("data-total", fresh.getAttribute("data-total") || "");
    ul.innerHTML = freshUl.innerHTML;
    ul.querySelectorAll("li.conversation").forEach(function (row) {
      var id = row.getAttribute("data-conversation-id");
      if (!(id in known) || known[id]) row.classList.add("fresh");
    });
    if (window.htmx) htmx.process(ul);
    markSelected();
    if (focusedId) {
      var link = ul.querySelector('li[data-conversation-id="' + focusedId + '"] > a');
      if (link) link.focus({ preventScroll: true });
    }
    if (anchor) {
      var row = ul.querySelector('li[data-conversation-id="' + anchor.id + '"]');
      if (row) {
        var moved = row.getBoundingClientRect().top - anchor.top;
        if (scroller) scroller.scrollTop += moved;
        else window.scrollBy(0, moved);
      }
    }
    updatePill(list);
    var added = ul.querySelectorAll("li.conversation.fresh").length;
    if (added > 0 && !atTop) announce(added === 1 ? "1 new conversation" : added + " new conversations");
  }

  function startLive(root) {
    if (!window.EventSource || !window.Tidings || !window.Tidings.live) return;
    var status = document.getElementById("live-status");
    var timer = null;
    var threadChanged = false;

    function setLive(on) {
      root.setAttribute("data-live", on ? "on" : "off");
      if (status) status.classList.toggle("on", on);
    }

    function refresh() {
      timer = null;
      if (!window.htmx) return;
      htmx.trigger(document.body, "inbox-changed");
      var id = openId();
      if (!threadChanged || !id) return;
      // An action on the thread is under way: its answer shows the thread; look again after.
      if (actionsInFlight > 0) {
        timer = setTimeout(refresh, 250);
        return;
      }
      threadChanged = false;
      var draft = document.getElementById("reply-text");
      var typing = draft && (draft.value.trim() !== "" || document.activeElement === draft);
      var headers = { "X-Tidings-Live-Refresh": id, "X-Tidings-Actions": String(actionsStarted) };
      var before = messageIds();
      var target = typing ? "#thread-messages" : "#thread-pane";
      var swap = typing ? "outerHTML" : "innerHTML";
      htmx.ajax("GET", "/inbox/" + encodeURIComponent(id), { target: target, swap: swap, headers: headers })
        .then(function () { if (openId() === id) announceNewMessages(before); });
    }

    function onEvent(event) {
      var data = {};
      try { data = JSON.parse(event.data || "{}"); } catch (e) { data = {}; }
      if (data.conversationId && data.conversationId === openId()) threadChanged = true;
      // Bursts (an import, a busy channel) become one refresh.
      if (!timer) timer = setTimeout(refresh, 250);
    }

    // The page's one stream is app.js's (Tidings.live), shared with the header's bell.
    window.Tidings.live.onState(setLive);
    ["conversation.created", "message.created", "conversation.updated", "resync"].forEach(function (type) {
      window.Tidings.live.on(type, onEvent);
    });
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

  // Saved replies: "/" and a shortcut in the reply box offer the workspace's saved replies
  // (#saved-replies, their variables filled in by the server); Up/Down choose, Enter or Tab
  // inserts, Escape closes. Typed at the start of the box or after a space, so "1/2" is text.
  function savedMenu() {
    return document.getElementById("saved-replies");
  }

  function slashToken(box) {
    var before = box.value.slice(0, box.selectionStart);
    var match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { start: before.length - match[2].length - 1, prefix: match[2].toLowerCase() } : null;
  }

  function closeSaved(box) {
    var menu = savedMenu();
    if (menu) menu.hidden = true;
    box.removeAttribute("aria-activedescendant");
  }

  function shownOptions(menu) {
    return Array.prototype.filter.call(menu.querySelectorAll("li[role=option]"), function (li) { return !li.hidden; });
  }

  function highlight(box, option) {
    var menu = savedMenu();
    menu.querySelectorAll("li[role=option]").forEach(function (li) {
      li.setAttribute("aria-selected", li === option ? "true" : "false");
    });
    if (option) {
      box.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  }

  function updateSaved(box) {
    var menu = savedMenu();
    if (!menu) return;
    var token = slashToken(box);
    if (!token) { closeSaved(box); return; }
    var first = null;
    menu.querySelectorAll("li[role=option]").forEach(function (li) {
      li.hidden = li.getAttribute("data-shortcut").indexOf(token.prefix) !== 0;
      if (!li.hidden && !first) first = li;
    });
    if (!first) { closeSaved(box); return; }
    menu.hidden = false;
    highlight(box, first);
  }

  function insertSaved(box, option) {
    var token = slashToken(box);
    if (!token || !option) return;
    var text = option.getAttribute("data-text");
    var end = box.selectionStart;
    box.value = box.value.slice(0, token.start) + text + box.value.slice(end);
    var caret = token.start + text.length;
    box.setSelectionRange(caret, caret);
    closeSaved(box);
    box.focus();
    announce("Inserted the saved reply /" + option.getAttribute("data-shortcut"));
  }

  // Keys for the open saved-replies menu; true when the key was the menu's.
  function savedKey(event) {
    var box = event.target;
    var menu = savedMenu();
    if (!menu || menu.hidden) return false;
    var options = shownOptions(menu);
    var current = menu.querySelector("li[aria-selected=true]");
    var at = options.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var step = event.key === "ArrowDown" ? 1 : -1;
      highlight(box, options[(at + step + options.length) % options.length]);
    } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
      insertSaved(box, current || options[0]);
    } else if (event.key === "Escape") {
      closeSaved(box);
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  function setUpSavedReplies() {
    document.addEventListener("input", function (event) {
      if (event.target.id === "reply-text") updateSaved(event.target);
    });
    // A pointer chooses too (mousedown, before the box loses the focus).
    document.addEventListener("mousedown", function (event) {
      var option = event.target.closest && event.target.closest("#saved-replies li[role=option]");
      var box = document.getElementById("reply-text");
      if (!option || !box) return;
      event.preventDefault();
      insertSaved(box, option);
    });
    document.addEventListener("focusout", function (event) {
      if (event.target.id === "reply-text") setTimeout(function () { closeSaved(event.target); }, 150);
    });
  }

  function isTyping(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function onKey(event) {
    if (event.target.id === "reply-text" && savedKey(event)) return;
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
      // A review that has its reply: r opens "Edit reply".
      var folded = reply && reply.closest("details");
      if (folded) folded.open = true;
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
      trackActions();
      setUpSavedReplies();
      startLive(root);
      document.body.addEventListener("htmx:afterSwap", markSelected);
      document.body.addEventListener("htmx:afterSwap", openNextAfterResolve);
      // Something changed (an action's answer says so, or a live event): refresh the list in place.
      document.body.addEventListener("inbox-changed", refreshList);
      // The pill scrolls up to the new rows; scrolling there by hand clears it too.
      document.addEventListener("click", function (event) {
        var pill = event.target.closest && event.target.closest("#inbox-list .new-pill");
        if (!pill) return;
        var list = document.getElementById("inbox-list");
        var scroller = listScroller(list);
        if (scroller) scroller.scrollTop = 0;
        else list.scrollIntoView({ block: "start" });
        var first = list.querySelector("li.conversation > a");
        if (first) first.focus({ preventScroll: true });
        updatePill(list);
      });
      var pillTimer = null;
      document.addEventListener("scroll", function () {
        if (pillTimer) return;
        pillTimer = setTimeout(function () {
          pillTimer = null;
          var list = document.getElementById("inbox-list");
          if (list) updatePill(list);
        }, 100);
      }, true);
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
