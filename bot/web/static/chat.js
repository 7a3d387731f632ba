// The public web chat: the conversation lives in this tab (sessionStorage) and under a keyed
// pseudonym on the server; the quick exit erases both and leaves for a neutral page at once.
"use strict";

const STORE = "balansebot-chat"; // sessionStorage: gone when the tab closes; no cookies at all
const ESCAPES_TO_EXIT = 3;
const ESCAPE_WINDOW_MS = 1500;
const $ = (id) => document.getElementById(id);

const chat = {
  api: document.body.dataset.api,
  exitUrl: document.body.dataset.exit,
  texts: JSON.parse($("texts").textContent),
  saved: load(),
  busy: false,
};

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
    if (saved && typeof saved.session === "string" && Array.isArray(saved.log)) return saved;
  } catch (error) {
    // unreadable: start afresh
  }
  return { session: randomId(24), lang: document.body.dataset.lang, log: [], pending: null };
}

function save() {
  try {
    sessionStorage.setItem(STORE, JSON.stringify(chat.saved));
  } catch (error) {
    // storage refused (full, or switched off): the chat goes on, only a reload cannot resume it
  }
}

/** Random hex from the browser's cryptographic generator (never Math.random). */
function randomId(bytes) {
  const values = new Uint8Array(bytes);
  crypto.getRandomValues(values);
  return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
}

function texts() {
  return chat.texts[chat.saved.lang] || chat.texts[document.body.dataset.lang];
}

function labels() {
  const t = texts();
  return { buttons: t.buttons_label, showMore: t.show_more, showLess: t.show_less };
}

/** The page's own words in the conversation's language (it may change with the language button). */
function showTexts() {
  const t = texts();
  document.documentElement.lang = chat.saved.lang;
  document.title = t.title;
  const words = {
    title: t.title, intro: t.intro, exit: t.exit, "exit-hint": t.exit_hint, "message-label": t.message_label,
    send: t.send, "hide-title": t.hide_title, "hide-text": t.hide_text, danger: t.danger,
  };
  for (const [id, text] of Object.entries(words)) $(id).textContent = text;
  $("message").placeholder = t.placeholder;
  $("log").setAttribute("aria-label", t.log_label);
}

// ---- The conversation ----

function showEntry(entry) {
  const log = $("log");
  if (entry.who === "user") {
    const bubble = document.createElement("div");
    bubble.className = "message user";
    const who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = `${texts().you} `;
    bubble.append(who, document.createTextNode(entry.text)); // as typed, never as markup
    log.append(bubble);
    return bubble;
  }
  const article = Bubbles.reply(entry, labels(), press);
  const who = document.createElement("span");
  who.className = "visually-hidden";
  who.textContent = `${texts().bot} `;
  article.prepend(who);
  log.append(article);
  return article;
}

function scrollDown() {
  const log = $("log");
  log.scrollTop = log.scrollHeight;
}

function status(text) {
  $("status").textContent = text;
}

/** Send one message; the turn id is kept until answered, so a resend is the same message. */
async function send(event, typed) {
  if (chat.busy) return;
  const pending = { turn: randomId(16), event, typed };
  if (typed !== undefined) {
    chat.saved.log.push({ who: "user", text: typed });
    showEntry({ who: "user", text: typed });
    scrollDown();
  }
  chat.saved.pending = pending;
  save();
  await deliver(pending);
}

async function deliver(pending) {
  chat.busy = true;
  status("");
  let body;
  try {
    const response = await fetch(`${chat.api}turn`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: chat.saved.session, turn: pending.turn, lang: chat.saved.lang, event: pending.event }),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    body = await response.json();
    if (!response.ok) {
      if (response.status === 429 || response.status === 400) {
        chat.saved.pending = null; // not taken: nothing to resend under this id
        save();
      }
      status(body.error || texts().failed);
      return;
    }
  } catch (error) {
    status(texts().failed); // kept pending: the next Send or a reload sends it again, once
    return;
  } finally {
    chat.busy = false;
  }
  answered(body, pending);
}

function answered(body, pending) {
  if (body.forgot) {
    chat.saved.log = [];
    $("log").replaceChildren();
  }
  if (typeof body.auto_delete_seconds === "number") {
    // The server deletes what it stores then; the page clears itself at the same time.
    chat.saved.deleteAt = body.auto_delete_seconds > 0 ? Date.now() + body.auto_delete_seconds * 1000 : null;
    planAutoDelete();
  }
  chat.saved.pending = null;
  chat.saved.lang = body.lang;
  let first = null;
  for (const reply of body.replies) {
    const entry = { who: "bot", html: reply.html, buttons: reply.buttons };
    chat.saved.log.push(entry);
    const shown = showEntry(entry);
    first = first || shown;
  }
  save();
  showTexts();
  scrollDown();
  // A keyboard user who pressed a button goes on from the new answer's first button.
  if (pending.event.kind === "press" && first) {
    const target = first.querySelector(".key") || first;
    target.focus();
  }
}

function press(callback) {
  send({ kind: "press", value: callback });
}

function submit(event) {
  event.preventDefault();
  const input = $("message");
  const text = input.value;
  if (chat.saved.pending && !chat.busy) {
    deliver(chat.saved.pending); // the last message did not get through: send it (once) first
    return;
  }
  if (!text.trim()) return;
  input.value = "";
  const isCommand = text.trim().startsWith("/") && text.trim().length > 1;
  send({ kind: isCommand ? "command" : "text", value: text }, text);
}

// ---- Deleted by itself, at the time the reader chose ----

let autoDeleteTimer = null;

function planAutoDelete() {
  clearTimeout(autoDeleteTimer);
  const at = chat.saved.deleteAt;
  if (typeof at !== "number") return;
  // setTimeout holds at most about 24 days; the choices are hours.
  autoDeleteTimer = setTimeout(autoDeleteIfDue, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
}

/** When the time has come: the conversation goes from the page and the tab, and a new one begins. */
function autoDeleteIfDue() {
  const at = chat.saved.deleteAt;
  if (typeof at !== "number") return;
  if (Date.now() < at) {
    planAutoDelete(); // woken early (a sleeping laptop, a throttled tab)
    return;
  }
  chat.saved = { session: randomId(24), lang: chat.saved.lang, log: [], pending: null };
  save();
  $("log").replaceChildren();
  status(texts().auto_deleted);
}

// ---- Quick exit ----

function quickExit() {
  const session = chat.saved.session;
  sessionStorage.removeItem(STORE);
  document.body.replaceChildren(); // nothing of the chat stays on screen, even for an instant
  // keepalive: the erase reaches the server even though the page is leaving.
  fetch(`${chat.api}exit`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ session }),
    keepalive: true,
    credentials: "omit",
    referrerPolicy: "no-referrer",
  }).catch(() => {});
  // replace(): the chat's entry in the history is overwritten, so Back does not return to it.
  try {
    window.top.location.replace(chat.exitUrl);
  } catch (error) {
    window.location.replace(chat.exitUrl); // embedded where the top page may not be navigated
  }
}

function escapeCounter() {
  let presses = [];
  return (event) => {
    if (event.key !== "Escape") return;
    const now = Date.now();
    presses = presses.filter((at) => now - at < ESCAPE_WINDOW_MS);
    presses.push(now);
    if (presses.length >= ESCAPES_TO_EXIT) quickExit();
  };
}

// ---- Start ----

document.addEventListener("DOMContentLoaded", () => {
  $("exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", escapeCounter());
  $("compose").addEventListener("submit", submit);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("compose").requestSubmit();
    }
  });
  showTexts();
  autoDeleteIfDue(); // a tab opened again after the chosen time shows nothing of it
  document.addEventListener("visibilitychange", autoDeleteIfDue);
  for (const entry of chat.saved.log) showEntry(entry);
  scrollDown();
  if (chat.saved.pending) {
    deliver(chat.saved.pending); // it may have been answered already: the server answers once
  } else if (!chat.saved.log.length) {
    send({ kind: "command", value: "start" });
  }
  save();
});
