// Balansebot preview: a chat as on Telegram, the flow chart, the scripts' status and statistics.
// Reply HTML comes sanitized from the server; everything else is put in the page as text.
"use strict";

const page = {
  session: newSessionId(),
  lang: "nb",
  node: null,
  version: null,
  flowShown: null, // "version/lang" of the chart on the page
  zoom: 1, // of the chart's natural size, where its smallest labels are 12 px: readable as it opens
  warningsOpen: null, // the staff member's own choice to open or close the warnings, once made
  turns: Promise.resolve(), // one turn at a time, in order, as Telegram does per chat
};

const $ = (id) => document.getElementById(id);

// The page's own words, in the staff tools' language (bot/staff/preview/words.py puts them in the
// page); the chat's language is page.lang, apart from them.
const WORDS = JSON.parse($("words").textContent);

/** One of the page's words, its {placeholders} filled in. */
function say(name, values = {}) {
  return WORDS[name].replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/** The form of a counted word for `count` (one, or more: nb, nn and en count alike). */
function sayCount(name, count) {
  const [one, more] = WORDS[name];
  return (count === 1 ? one : more).replace("{count}", String(count));
}

/** A random id for this tab's chat; it lives only in this page and is never stored. */
function newSessionId() {
  const bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Queue one turn after the ones already sent. */
function send(event, typed) {
  page.turns = page.turns.then(() => turn(event, typed)).catch((error) => note(String(error), true));
  return page.turns;
}

async function turn(event, typed) {
  if (typed !== undefined) showUserMessage(typed);
  const response = await fetch("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ session: page.session, lang: page.lang, event }),
  });
  const body = await response.json();
  if (!response.ok) {
    note(body.error || say("answered", { status: response.status }), true);
    return;
  }
  if (body.forgot) $("log").replaceChildren();
  let last = null;
  for (const reply of body.replies) last = showReply(reply);
  for (const text of body.notes) note(text, false);
  if (body.lang !== page.lang) setLanguage(body.lang);
  page.node = body.node;
  page.version = body.version;
  await showFlow();
  highlight(page.node);
  // A pressed button may have been replaced by the edit: keep the keyboard user in the chat.
  // (a focused element that leaves the page hands focus to <body>).
  if (event.kind === "press" && last && document.activeElement === document.body) focusReply(last);
}

function focusReply(article) {
  const first = article.querySelector(".key");
  (first || article).focus();
}

function showUserMessage(text) {
  const bubble = document.createElement("div");
  bubble.className = "message user";
  bubble.textContent = text; // what staff type is shown as typed, never as markup
  append(bubble);
}

function note(text, isError) {
  const line = document.createElement("p");
  line.className = isError ? "note error" : "note";
  line.lang = WORDS.lang;
  line.textContent = text;
  append(line);
}

/** When the log shrinks (an error panel opens above it), keep the newest message in sight. */
function keepLogAtBottom() {
  const log = $("log");
  let pinned = true;
  log.addEventListener("scroll", () => {
    pinned = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  });
  new ResizeObserver(() => {
    if (pinned) log.scrollTop = log.scrollHeight;
  }).observe(log);
}

function append(element) {
  const log = $("log");
  log.append(element);
  log.scrollTop = log.scrollHeight;
}

const LABELS = { buttons: say("buttons"), showMore: say("showMore"), showLess: say("showLess") };

/** Draw one bot message (bubbles.js, shared with the web chat), or redraw the one it edits in place. */
function showReply(reply) {
  const article = Bubbles.reply(reply, LABELS, (callback) =>
    send({ kind: "press", value: callback, message: reply.id }),
  );
  article.dataset.id = String(reply.id);
  article.dataset.node = reply.node || "";
  for (const element of article.querySelectorAll(".expand")) element.lang = WORDS.lang;
  const old = reply.replaces ? document.querySelector(`.message.bot[data-id="${reply.replaces}"]`) : null;
  if (old) {
    const mark = document.createElement("span");
    mark.className = "edited";
    mark.lang = WORDS.lang;
    mark.textContent = say("edited");
    article.querySelector(".text").append(mark); // inside the bubble, as Telegram writes it
    old.replaceWith(article);
  } else {
    append(article);
  }
  return article;
}

function setLanguage(lang) {
  page.lang = lang;
  $("language").value = lang;
  document.documentElement.lang = lang;
}

function restart() {
  $("log").replaceChildren();
  return send({ kind: "restart" });
}

// ---- The flow chart: drag to move it, the wheel, two fingers or the buttons zoom it ----

const SVG_POINT_PX = 4 / 3; // Graphviz sizes the chart in points
const ZOOM_MIN = 0.05; // the whole chart fits even a phone
const ZOOM_MAX = 3;
const ZOOM_STEP = 1.25;
const CLICK_SLOP_PX = 6; // a press that moved less than this is a click on a node, not a drag

async function showFlow() {
  const wanted = `${page.version}/${page.lang}`;
  if (page.flowShown === wanted || page.version === null) return;
  const box = $("flow");
  const response = await fetch(`/api/flow.svg?lang=${encodeURIComponent(page.lang)}`);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    box.textContent = say("flowNotDrawn", { reason: body.error || response.status });
    return;
  }
  const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.nodeName !== "svg") {
    box.textContent = say("flowNotRead");
    return;
  }
  const shown = document.importNode(svg, true);
  shown.setAttribute("lang", page.lang); // the node titles are in the chat's language
  // Graphviz gives the size in points; keep it to zoom from.
  shown.dataset.width = String(parseFloat(shown.getAttribute("width")) || 800);
  shown.dataset.height = String(parseFloat(shown.getAttribute("height")) || 600);
  for (const node of shown.querySelectorAll("g.node")) makeOpenable(node);
  box.replaceChildren(shown);
  applyZoom();
  page.flowShown = `${response.headers.get("X-Scripts-Version") || page.version}/${page.lang}`;
}

/** A node of the chart opens in the chat when clicked, or with Enter or Space from the keyboard. */
function makeOpenable(node) {
  const id = node.id.replace(/^node-/, "");
  if (id === node.id) return;
  node.dataset.node = id;
  node.setAttribute("tabindex", "0");
  node.setAttribute("role", "button"); // named by its own words: the title, id and marks shown
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      jumpTo(id);
    }
  });
}

/** The chat jumps to a node, as a button leading there would take it. */
function jumpTo(node) {
  note(say("jumped", { node }), false);
  return send({ kind: "press", value: `n:${node}` }); // a goto button's data (bot/engine/callbacks.py)
}

function clampZoom(zoom) {
  return Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, zoom));
}

/** Zoom so that the point `at` (page coordinates; the chart's middle by default) stays where it is. */
function zoomTo(wanted, at = undefined) {
  const box = $("flow");
  const svg = box.querySelector("svg");
  const zoom = clampZoom(wanted);
  if (!svg) {
    page.zoom = zoom;
    showZoomLevel();
    return;
  }
  const area = box.getBoundingClientRect();
  const anchor = at || { x: area.left + box.clientWidth / 2, y: area.top + box.clientHeight / 2 };
  const before = svg.getBoundingClientRect();
  const within = (share) => Math.min(1, Math.max(0, share)); // a point beside a small chart: its edge
  const spot = {
    x: within((anchor.x - before.left) / before.width),
    y: within((anchor.y - before.top) / before.height),
  };
  page.zoom = zoom;
  applyZoom();
  const after = svg.getBoundingClientRect();
  box.scrollLeft += after.left + spot.x * after.width - anchor.x;
  box.scrollTop += after.top + spot.y * after.height - anchor.y;
}

function zoomBy(steps) {
  zoomTo(page.zoom * ZOOM_STEP ** steps);
}

function zoomToFit() {
  const box = $("flow");
  const svg = box.querySelector("svg");
  if (!svg) return;
  const width = Number(svg.dataset.width) * SVG_POINT_PX;
  const height = Number(svg.dataset.height) * SVG_POINT_PX;
  page.zoom = clampZoom(Math.min(box.clientWidth / width, box.clientHeight / height));
  applyZoom();
  box.scrollLeft = 0;
  box.scrollTop = 0;
}

function applyZoom() {
  showZoomLevel();
  const svg = $("flow").querySelector("svg");
  if (!svg) return;
  svg.setAttribute("width", `${Number(svg.dataset.width) * page.zoom}pt`);
  svg.setAttribute("height", `${Number(svg.dataset.height) * page.zoom}pt`);
}

function showZoomLevel() {
  const level = `${Math.round(page.zoom * 100)}%`;
  $("zoom-level").textContent = level;
  $("zoom-reset").setAttribute("aria-label", say("actualSize", { level }));
  $("flow").dataset.zoom = String(page.zoom);
}

/** One finger or the mouse drags the chart; two fingers pinch it; a click on a node opens it. */
function panAndZoom(box) {
  const pointers = new Map(); // pointerId → its last position
  let gesture = null; // {moved, node, pinch: {distance, zoom, middle} | null}
  const pinchOf = () => {
    const [a, b] = [...pointers.values()];
    return {
      distance: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)),
      middle: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 },
    };
  };
  box.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    const area = box.getBoundingClientRect();
    const onScrollbar =
      event.clientX - area.left - box.clientLeft >= box.clientWidth ||
      event.clientY - area.top - box.clientTop >= box.clientHeight;
    if (onScrollbar) return; // the scrollbars move the chart by themselves
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    box.setPointerCapture(event.pointerId);
    if (pointers.size === 1) {
      const node = event.target.closest ? event.target.closest("g.node[data-node]") : null;
      gesture = { moved: 0, node: node ? node.dataset.node : null, pinch: null };
    } else if (pointers.size === 2 && gesture) {
      gesture.moved = Infinity; // two fingers never click
      gesture.pinch = { ...pinchOf(), zoom: page.zoom };
    }
  });
  box.addEventListener("pointermove", (event) => {
    const last = pointers.get(event.pointerId);
    if (!last || !gesture) return;
    const now = { x: event.clientX, y: event.clientY };
    pointers.set(event.pointerId, now);
    if (gesture.pinch && pointers.size === 2) {
      const { distance, middle } = pinchOf();
      box.scrollLeft -= middle.x - gesture.pinch.middle.x;
      box.scrollTop -= middle.y - gesture.pinch.middle.y;
      gesture.pinch.middle = middle;
      zoomTo((gesture.pinch.zoom * distance) / gesture.pinch.distance, middle);
      return;
    }
    if (pointers.size !== 1) return;
    box.scrollLeft -= now.x - last.x;
    box.scrollTop -= now.y - last.y;
    gesture.moved += Math.abs(now.x - last.x) + Math.abs(now.y - last.y);
    if (gesture.moved >= CLICK_SLOP_PX) box.classList.add("dragging");
  });
  const release = (event) => {
    if (!pointers.delete(event.pointerId) || !gesture) return;
    if (pointers.size === 1) {
      gesture.pinch = null; // the finger left on the chart drags on
      return;
    }
    if (pointers.size > 0) return;
    const clicked = event.type === "pointerup" && gesture.moved < CLICK_SLOP_PX ? gesture.node : null;
    gesture = null;
    box.classList.remove("dragging");
    if (clicked) jumpTo(clicked);
  };
  box.addEventListener("pointerup", release);
  box.addEventListener("pointercancel", release);
  box.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? box.clientHeight : 1;
      // A trackpad's pinch arrives as a wheel with Ctrl held, in much smaller steps than a wheel's.
      const speed = event.ctrlKey ? 0.01 : 0.002;
      zoomTo(page.zoom * Math.exp(-event.deltaY * unit * speed), { x: event.clientX, y: event.clientY });
    },
    { passive: false },
  );
  box.addEventListener("keydown", (event) => {
    const keys = { "+": 1, "=": 1, "-": -1, _: -1 };
    if (event.key in keys) {
      event.preventDefault();
      zoomBy(keys[event.key]);
    } else if (event.key === "0") {
      event.preventDefault();
      zoomTo(1);
    }
  });
}

function highlight(node) {
  const box = $("flow");
  for (const old of box.querySelectorAll("g.current")) {
    old.classList.remove("current");
    old.removeAttribute("aria-current");
  }
  $("current-node").textContent = node || "–";
  if (!node) return;
  const target = box.querySelector(`g[id="node-${CSS.escape(node)}"]`);
  if (!target) return;
  target.classList.add("current");
  target.setAttribute("aria-current", "step");
  // Scroll the chart (not the page) to bring the current node to its middle, unless it is in sight.
  const area = box.getBoundingClientRect();
  const spot = target.getBoundingClientRect();
  const inSight =
    spot.left >= area.left && spot.right <= area.right && spot.top >= area.top && spot.bottom <= area.bottom;
  if (inSight) return;
  box.scrollLeft += spot.left + spot.width / 2 - (area.left + area.width / 2);
  box.scrollTop += spot.top + spot.height / 2 - (area.top + area.height / 2);
}

// ---- The scripts' status, pushed after every save ----

function showStatus(status) {
  const box = $("status");
  const shortVersion = String(status.version).slice(0, 12);
  const when = new Date(status.loaded_at).toLocaleTimeString(WORDS.dateLocale);
  if (status.state === "refused") {
    const panel = element("div", "refused");
    panel.setAttribute("role", "alert");
    const count = status.errors.length;
    panel.append(
      element("h2", "", sayCount("refused", count)),
      element("p", "", say("stillServing", { version: shortVersion, time: when })),
    );
    const list = element("ul");
    for (const problem of status.errors) list.append(problemItem(problem));
    panel.append(list);
    box.replaceChildren(panel);
  } else {
    const panel = element("p", "ok", say("loaded", { version: shortVersion, time: when }));
    box.replaceChildren(panel);
  }
  if (status.warnings.length) {
    // A few warnings are open to read at once; many (a whole file's translations gone stale), or any
    // on a phone, where they would squeeze the chat, are counted until opened. A staff member's own
    // opening or closing is kept across saves.
    const details = element("details", "warnings");
    const roomy = window.matchMedia("(min-width: 640px)").matches;
    details.open = page.warningsOpen ?? (roomy && status.warnings.length <= 3);
    const summary = element("summary", "", sayCount("warnings", status.warnings.length));
    summary.addEventListener("click", () => {
      page.warningsOpen = !details.open;
    });
    details.append(summary);
    const list = element("ul");
    for (const problem of status.warnings) list.append(problemItem(problem));
    details.append(list);
    box.append(details);
  }
  if (status.state === "ok" && page.version !== null && status.version !== page.version) {
    // A new version is served: draw its chart now; the chat shows new texts from the next turn.
    page.version = status.version;
    showFlow().then(() => highlight(page.node));
  }
}

function problemItem(problem) {
  const item = element("li");
  item.append(
    element("span", "where", `${problem.file}:${problem.line}`),
    document.createTextNode(` ${problem.message}`),
    element("span", "hint", say("fix", { hint: problem.hint })),
  );
  return item;
}

function element(tag, className = "", text = undefined) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function listenForStatus() {
  if (window.EventSource) {
    const source = new EventSource("/api/events");
    source.addEventListener("status", (event) => showStatus(JSON.parse(event.data)));
    return;
  }
  const poll = async () => {
    const response = await fetch("/api/status");
    if (response.ok) showStatus(await response.json());
  };
  poll();
  setInterval(poll, 1000);
}

// ---- Statistics ----

async function showStats() {
  const box = $("stats");
  let data;
  try {
    const response = await fetch("/api/stats");
    data = await response.json();
  } catch (error) {
    data = { status: "unavailable", message: say("statsUnreadable"), days: [] };
  }
  if (data.status !== "ok") {
    box.replaceChildren(element("p", "empty", data.message));
    return;
  }
  const most = Math.max(1, ...data.days.map((d) => Math.max(d.reached, d.fallbacks || 0)));
  const table = element("table");
  table.append(element("caption", "", say("statsCaption")));
  const head = element("tr");
  for (const title of [say("day"), say("reached"), say("fellBack")]) {
    const th = element("th", "", title);
    th.scope = "col";
    head.append(th);
  }
  table.append(element("thead"));
  table.tHead.append(head);
  const body = element("tbody");
  for (const day of data.days) {
    const row = element("tr");
    const th = element("th", "", new Date(`${day.day}T12:00:00`).toLocaleDateString(WORDS.dateLocale, { weekday: "short", day: "numeric", month: "short" }));
    th.scope = "row";
    row.append(th, countCell(day.reached, most, "reached", day.hidden), countCell(day.fallbacks, most, "fallbacks", false));
    body.append(row);
  }
  table.append(body);
  box.replaceChildren(table);
}

function countCell(count, most, kind, hidden) {
  const cell = element("td", "count");
  const bar = element("span", `bar ${kind}`);
  bar.setAttribute("aria-hidden", "true");
  bar.style.width = `${Math.round(((count || 0) / most) * 10)}rem`;
  const shown = count === null ? say("fewerThan5") : hidden ? say("aFewHidden", { count }) : String(count);
  cell.append(bar, document.createTextNode(shown));
  return cell;
}

// ---- Start ----

document.addEventListener("DOMContentLoaded", () => {
  $("compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    const isCommand = text.trim().startsWith("/") && text.trim().length > 1;
    send({ kind: isCommand ? "command" : "text", value: text }, text);
  });
  $("restart").addEventListener("click", restart);
  $("zoom-in").addEventListener("click", () => zoomBy(1));
  $("zoom-out").addEventListener("click", () => zoomBy(-1));
  $("zoom-reset").addEventListener("click", () => zoomTo(1));
  $("zoom-fit").addEventListener("click", zoomToFit);
  panAndZoom($("flow"));
  $("language").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    restart();
  });
  setLanguage($("language").value);
  showZoomLevel();
  keepLogAtBottom();
  listenForStatus();
  restart();
  showStats();
});
