// The live activity feed: an EventSource on /api/activity/stream, newest call at the top.
//
// Filters live in the URL query (the same names the admin API takes) and are applied by the
// server, to both the stream and the initial backfill from /api/transactions. Rendering is batched
// once per animation frame and the page keeps at most data-max-rows rows, so a busy proxy (1,000
// calls a minute and more) does not slow the browser down. All data is inserted with textContent.
(function () {
  "use strict";

  var EVENT_TYPES = ["transaction.started", "transaction.activity", "transaction.completed", "policy.switched"];
  var TEXT_FILTERS = ["model", "policy", "event_type", "q"];
  var BACKFILL_LIMIT = 100;
  var RATE_WINDOW_MS = 60000;

  var feed = document.getElementById("feed");
  var body = document.getElementById("feed-body");
  var empty = document.getElementById("feed-empty");
  var maxRows = parseInt(feed.getAttribute("data-max-rows"), 10) || 1000;
  var connection = document.getElementById("connection");
  var pauseButton = document.getElementById("pause");
  var rowCount = document.getElementById("row-count");
  var rateLabel = document.getElementById("rate");

  var rows = new Map();      // transaction id -> row state
  var order = [];            // ids, oldest first
  var dirty = new Set();
  var frameRequested = false;
  var paused = false;
  var pausedCount = 0;
  var source = null;
  var generation = 0;        // bumps on every reconnect, so stale backfills are ignored
  var completions = [];      // timestamps of completed calls, for the rate
  var seenModels = new Set();
  var filters = readFiltersFromUrl();

  // ---- filters <-> URL <-> controls ----

  function readFiltersFromUrl() {
    var params = new URLSearchParams(window.location.search);
    var result = { status: [], blocked: false, shadow: false };
    TEXT_FILTERS.forEach(function (name) { result[name] = params.get(name) || ""; });
    params.getAll("status").forEach(function (value) {
      value.split(",").forEach(function (part) { if (part.trim()) result.status.push(part.trim()); });
    });
    result.blocked = ["true", "1", "yes", "on"].indexOf((params.get("blocked") || "").toLowerCase()) >= 0;
    result.shadow = ["true", "1", "yes", "on"].indexOf((params.get("shadow_disagreed") || "").toLowerCase()) >= 0;
    return result;
  }

  function filterParams() {
    var params = new URLSearchParams();
    TEXT_FILTERS.forEach(function (name) { if (filters[name]) params.set(name, filters[name]); });
    filters.status.forEach(function (status) { params.append("status", status); });
    if (filters.blocked) params.set("blocked", "true");
    if (filters.shadow) params.set("shadow_disagreed", "true");
    return params;
  }

  function writeFiltersToUrl() {
    var query = filterParams().toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function statusBoxes() {
    return document.querySelectorAll("#filters input[data-status]");
  }

  function syncControls() {
    TEXT_FILTERS.forEach(function (name) {
      document.getElementById("filter-" + name).value = filters[name];
    });
    document.getElementById("filter-blocked").checked = filters.blocked;
    document.getElementById("filter-shadow").checked = filters.shadow;
    var boxes = statusBoxes();
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].checked = filters.status.indexOf(boxes[i].getAttribute("data-status")) >= 0;
    }
    renderActiveChips();
  }

  function readControls() {
    TEXT_FILTERS.forEach(function (name) {
      filters[name] = document.getElementById("filter-" + name).value.trim();
    });
    filters.blocked = document.getElementById("filter-blocked").checked;
    filters.shadow = document.getElementById("filter-shadow").checked;
    filters.status = [];
    var boxes = statusBoxes();
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) filters.status.push(boxes[i].getAttribute("data-status"));
    }
  }

  function chip(label, onRemove) {
    var element = document.createElement("span");
    element.className = "chip active-chip";
    var text = document.createElement("span");
    text.textContent = label;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "chip-remove";
    remove.setAttribute("aria-label", "Remove filter " + label);
    remove.textContent = "×";
    remove.addEventListener("click", onRemove);
    element.appendChild(text);
    element.appendChild(remove);
    return element;
  }

  function renderActiveChips() {
    var holder = document.getElementById("active-filters");
    holder.textContent = "";
    TEXT_FILTERS.forEach(function (name) {
      if (!filters[name]) return;
      var label = (name === "q" ? "text" : name.replace("_", " ")) + ": " + filters[name];
      holder.appendChild(chip(label, function () { filters[name] = ""; applyFilters(); }));
    });
    filters.status.forEach(function (status) {
      holder.appendChild(chip("status: " + status.replace("_", " "), function () {
        filters.status = filters.status.filter(function (s) { return s !== status; });
        applyFilters();
      }));
    });
    if (filters.blocked) {
      holder.appendChild(chip("blocked only", function () { filters.blocked = false; applyFilters(); }));
    }
    if (filters.shadow) {
      holder.appendChild(chip("a shadow disagreed", function () { filters.shadow = false; applyFilters(); }));
    }
    holder.hidden = holder.childNodes.length === 0;
  }

  function applyFilters() {
    writeFiltersToUrl();
    syncControls();
    connect();
  }

  // ---- the row model ----

  function ensureRow(id, timestamp, atEnd) {
    var row = rows.get(id);
    if (row) return row;
    row = {
      id: id, time: timestamp, status: "", model: "", policy: "", tools: [], verdicts: [], eventTypes: [],
      duration: null, element: null, older: atEnd, notice: null
    };
    rows.set(id, row);
    if (atEnd) order.unshift(id); else order.push(id);
    while (order.length > maxRows) {
      var dropped = rows.get(order.shift());
      rows.delete(dropped.id);
      dirty.delete(dropped.id);
      if (dropped.element) dropped.element.remove();
    }
    return row;
  }

  function addUnique(list, value) {
    if (value && list.indexOf(value) < 0) list.push(value);
  }

  // The recorder's activity summaries carry `verdict` ("block" or "allow") with the tool and the
  // judge's probability; a judge verdict and the block it causes say the same thing, shown once.
  var VERDICT_LABELS = { block: "blocked", allow: "allowed" };
  var BLOCKED_EVENT = "policy.blocked";
  var DECISION_EVENTS = ["judge.decision", "commands.decision", BLOCKED_EVENT, "policy.error", "policy.repaired"];

  function verdictOf(data) {
    var label = VERDICT_LABELS[data.verdict];
    if (!label) return null;
    var tool = data.tool_name || "";
    var probability = typeof data.probability === "number" ? " " + data.probability.toFixed(2) : "";
    return { text: (tool ? tool + " " : "") + label + probability, tool: tool, blocked: data.verdict === "block" };
  }

  function addVerdict(row, verdict) {
    var same = row.verdicts.some(function (seen) {
      return seen.tool === verdict.tool && seen.blocked === verdict.blocked;
    });
    if (!same) row.verdicts.push(verdict);
  }

  function applySummary(row, data) {
    if (data.model) row.model = data.model;
    if (data.policy) row.policy = data.policy;
    if (typeof data.received_at === "number") row.time = data.received_at;
    if (data.status) row.status = data.status;
    if (typeof data.duration_ms === "number") row.duration = data.duration_ms;
    (data.tool_names || []).forEach(function (name) { addUnique(row.tools, name); });
    (data.event_types || []).forEach(function (type) { addUnique(row.eventTypes, type); });
    if (row.model && !seenModels.has(row.model)) {
      seenModels.add(row.model);
      var option = document.createElement("option");
      option.value = row.model;
      document.getElementById("seen-models").appendChild(option);
    }
  }

  function applyEvent(event) {
    var data = event.data || {};
    if (event.type === "policy.switched") {
      var active = document.getElementById("active-policy");
      if (active && data.policy) active.textContent = data.policy;
      var notice = ensureRow("notice:" + event.id, event.timestamp, false);
      notice.notice = "Active policy switched to " + (data.policy || "?") + " from " +
        (data.previous || "?") + " by " + (data.by || "unknown");
      dirty.add(notice.id);
      return;
    }
    if (!event.transaction_id) return;
    var row = ensureRow(event.transaction_id, event.timestamp, false);
    if (event.type === "transaction.started") {
      applySummary(row, data);
      if (!row.status) row.status = "running";
    } else if (event.type === "transaction.activity") {
      if (data.policy && !row.policy) row.policy = data.policy;
      addUnique(row.tools, data.tool_name);
      var verdict = verdictOf(data);
      if (verdict) addVerdict(row, verdict);
      if (verdict && verdict.blocked && row.status === "running") row.status = "blocked";
    } else if (event.type === "transaction.completed") {
      applySummary(row, data);
      completions.push(Date.now());
    }
    dirty.add(row.id);
  }

  // ---- rendering ----

  function cell(className, text) {
    var span = document.createElement("span");
    span.className = className;
    span.setAttribute("role", "cell");
    span.textContent = text;
    return span;
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined) return "";
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s";
  }

  function formatTime(seconds) {
    var when = new Date(seconds * 1000);
    return when.toLocaleTimeString(undefined, { hour12: false }) + "." + String(when.getMilliseconds()).padStart(3, "0");
  }

  function buildRow(row) {
    if (row.notice !== null) {
      var notice = document.createElement("div");
      notice.className = "feed-row feed-notice";
      notice.setAttribute("role", "row");
      notice.appendChild(cell("time mono", formatTime(row.time)));
      notice.appendChild(cell("notice-text", row.notice));
      return notice;
    }
    var link = document.createElement("a");
    link.className = "feed-row";
    link.setAttribute("role", "row");
    link.href = "/ui/transactions/" + encodeURIComponent(row.id);
    return link;
  }

  function fillRow(row) {
    var element = row.element;
    if (row.notice !== null) return;
    element.textContent = "";
    element.classList.toggle("is-blocked", row.status === "blocked");
    element.appendChild(cell("time mono", formatTime(row.time)));
    var status = cell("status", "");
    var badge = document.createElement("span");
    badge.className = "badge status-" + (row.status || "running");
    badge.textContent = (row.status || "running").replace("_", " ");
    status.appendChild(badge);
    element.appendChild(status);
    var model = cell("model mono", row.model || "—");
    model.title = row.model;
    element.appendChild(model);
    element.appendChild(cell("policy", row.policy || "—"));
    element.appendChild(cell("tools mono", row.tools.join(", ")));
    var verdicts = cell("verdicts", "");
    // A row loaded from history has its summary only: its decision event types stand in for verdicts.
    var shown = row.verdicts.length ? row.verdicts.slice(-3) : row.eventTypes.filter(function (type) {
      return DECISION_EVENTS.indexOf(type) >= 0;
    }).map(function (type) {
      return { text: type, blocked: type === BLOCKED_EVENT, eventType: true };
    });
    shown.forEach(function (verdict) {
      var tag = document.createElement("span");
      tag.className = "verdict" + (verdict.blocked ? " is-blocked" : "") + (verdict.eventType ? " event-type" : "");
      tag.textContent = verdict.text;
      verdicts.appendChild(tag);
    });
    verdicts.title = shown.map(function (verdict) { return verdict.text; }).join(", ");
    element.appendChild(verdicts);
    element.appendChild(cell("num duration", formatDuration(row.duration)));
    element.title = row.id;
  }

  function render() {
    frameRequested = false;
    if (paused) return;
    var top = document.createDocumentFragment();
    var bottom = document.createDocumentFragment();
    var fresh = [];
    dirty.forEach(function (id) {
      var row = rows.get(id);
      if (!row) return;
      if (!row.element) {
        row.element = buildRow(row);
        fresh.push(row);
      }
      fillRow(row);
    });
    dirty.clear();
    // New live rows go on top, newest first; backfilled (older) rows go below, newest first.
    fresh.sort(function (a, b) { return b.time - a.time; });
    fresh.forEach(function (row) { (row.older ? bottom : top).appendChild(row.element); });
    body.insertBefore(top, body.firstChild);
    body.appendChild(bottom);
    empty.hidden = rows.size > 0;
    rowCount.textContent = rows.size + (rows.size === 1 ? " call" : " calls") + (rows.size >= maxRows ? " (newest " + maxRows + " kept)" : "");
    var now = Date.now();
    while (completions.length && completions[0] < now - RATE_WINDOW_MS) completions.shift();
    rateLabel.textContent = completions.length ? completions.length + " completed in the last minute" : "";
  }

  function schedule() {
    if (!frameRequested && !paused) {
      frameRequested = true;
      window.requestAnimationFrame(render);
    }
  }

  // ---- connection ----

  function setConnection(state, text) {
    connection.setAttribute("data-state", state);
    connection.textContent = text;
  }

  function onMessage(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    applyEvent(event);
    if (paused) {
      pausedCount += 1;
      pauseButton.textContent = "Resume (" + pausedCount + " new)";
    } else {
      schedule();
    }
  }

  function backfill(current, query) {
    var params = new URLSearchParams(query);
    params.set("limit", String(BACKFILL_LIMIT));
    window.fetch("/api/transactions?" + params.toString(), { headers: { accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { items: [] }; })
      .then(function (page) {
        if (current !== generation) return;
        page.items.forEach(function (summary) {
          if (rows.has(summary.transaction_id)) return;
          var row = ensureRow(summary.transaction_id, summary.received_at, true);
          applySummary(row, summary);
          dirty.add(row.id);
        });
        schedule();
      })
      .catch(function () { /* the live feed still works without the backfill */ });
  }

  function connect() {
    generation += 1;
    if (source) source.close();
    rows.clear();
    order = [];
    dirty.clear();
    body.textContent = "";
    empty.hidden = false;
    var query = filterParams().toString();
    setConnection("connecting", "connecting…");
    source = new EventSource("/api/activity/stream" + (query ? "?" + query : ""));
    source.addEventListener("open", function () { setConnection("live", "live"); });
    source.addEventListener("error", function () {
      setConnection("down", source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…");
    });
    EVENT_TYPES.forEach(function (type) { source.addEventListener(type, onMessage); });
    backfill(generation, query);
    schedule();
  }

  // ---- controls ----

  pauseButton.addEventListener("click", function () {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
    pauseButton.textContent = paused ? "Resume" : "Pause";
    feed.classList.toggle("is-paused", paused);
    if (!paused) {
      pausedCount = 0;
      schedule();
    }
  });

  document.getElementById("filter-apply").addEventListener("click", function () { readControls(); applyFilters(); });
  document.getElementById("filter-clear").addEventListener("click", function () {
    filters = { model: "", policy: "", event_type: "", q: "", status: [], blocked: false };
    applyFilters();
  });
  TEXT_FILTERS.forEach(function (name) {
    document.getElementById("filter-" + name).addEventListener("keydown", function (event) {
      if (event.key === "Enter") { readControls(); applyFilters(); }
    });
  });
  document.getElementById("filter-blocked").addEventListener("change", function () { readControls(); applyFilters(); });
  document.getElementById("filter-shadow").addEventListener("change", function () { readControls(); applyFilters(); });
  var boxes = statusBoxes();
  for (var i = 0; i < boxes.length; i++) {
    boxes[i].addEventListener("change", function () { readControls(); applyFilters(); });
  }

  syncControls();
  connect();
})();
