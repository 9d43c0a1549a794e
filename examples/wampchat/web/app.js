// The wampchat page: rooms are topics (chat.room.<name>), nicknames go through RPC
// (chat.set_nick, chat.nicks, registered by the Go program), and the list of who is online
// comes from the router's session meta API: wamp.session.list and wamp.session.get when the
// page connects, then the events wamp.session.on_join and wamp.session.on_leave.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  session: null,        // the autobahn session while connected
  nick: null,           // our nickname once chat.set_nick accepted it
  room: "lobby",
  roomSub: null,        // the subscription to the current room's topic
  users: new Map(),     // session ID → {authid} of everyone online (anonymous role only)
  nicks: new Map(),     // session ID → nickname
  gone: new Set(),      // session IDs that left (a late wamp.session.get must not bring them back)
  services: new Set(),
  shown: new Set(),     // publication IDs shown in the current room (live or from the history)  // session IDs of the chat service (with -router it joins as anonymous too)
};

function setStatus(text, st) {
  $("status").textContent = text;
  $("status").dataset.state = st;
}

function renderUsers() {
  const entries = [...state.users.keys()].map((id) => ({ id, nick: state.nicks.get(id) }));
  entries.sort((a, b) => (a.nick ?? "\uffff").localeCompare(b.nick ?? "\uffff") || a.id - b.id);
  const items = entries.map((u) => {
    const li = document.createElement("li");
    li.dataset.session = String(u.id);
    li.textContent = u.nick ?? "guest";
    if (!u.nick) li.classList.add("guest");
    if (state.session && u.id === state.session.id) li.classList.add("me");
    return li;
  });
  $("users").replaceChildren(...items);
  $("online-count").textContent = String(entries.length);
}

// A message's list item; at (a Date) is when it was said.
function messageItem({ nick, text, mine = false, system = false, at = new Date() }) {
  const li = document.createElement("li");
  if (system) {
    li.className = "system";
    li.textContent = text;
  } else {
    li.className = mine ? "msg mine" : "msg";
    const who = document.createElement("span");
    who.className = "nick";
    who.textContent = nick;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.append(who, body, time);
  }
  return li;
}

function addMessage(msg) {
  const li = messageItem(msg);
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

function errorText(err) {
  if (err && err.args && err.args.length) return String(err.args[0]);
  if (err && err.error) return err.error;
  return String(err);
}

// A message published on the room's topic. disclose_me gives us the publisher's session ID,
// so the name shown is the one the server knows, whatever the message claims.
function onRoomMessage(args, kwargs, details) {
  if (details.publication != null) state.shown.add(details.publication);
  const publisher = details.publisher;
  const nick = state.nicks.get(publisher) ?? (kwargs && kwargs.nick) ?? "guest";
  addMessage({ nick, text: String(args[0] ?? ""), mine: state.session && publisher === state.session.id });
}

async function enterRoom(room) {
  const session = state.session;
  if (!session || !state.nick) {
    state.room = room;
    showRoom();
    return;
  }
  if (state.roomSub) {
    const old = state.roomSub;
    state.roomSub = null;
    await session.unsubscribe(old).catch(() => {});
  }
  state.room = room;
  showRoom();
  $("messages").replaceChildren();
  state.shown = new Set();
  const topic = "chat.room." + room;
  state.roomSub = await session.subscribe(topic, onRoomMessage);
  addMessage({ system: true, text: `You joined #${room}` });
  await showRecent(session, topic);
}

// Late joiners see what was said before: the room's last messages from the router's event
// history (pawl.topic.get_events), above the ones that arrive live. A message that arrived
// both ways is shown once. A router that keeps no history for the room shows nothing.
async function showRecent(session, topic) {
  let events;
  try {
    events = await session.call("pawl.topic.get_events", [topic], { limit: 50, reverse: true });
  } catch (err) {
    return; // no history here
  }
  if (!Array.isArray(events) || topic !== "chat.room." + state.room) return;
  const items = events.reverse()
    .filter((ev) => !state.shown.has(ev.publication))
    .map((ev) => {
      const li = messageItem({
        nick: (ev.kwargs && ev.kwargs.nick) || state.nicks.get(ev.details && ev.details.publisher) || "guest",
        text: String((ev.args && ev.args[0]) ?? ""),
        mine: state.session && ev.details && ev.details.publisher === state.session.id,
        at: ev.timestamp ? new Date(ev.timestamp) : new Date(),
      });
      li.classList.add("earlier");
      return li;
    });
  if (items.length === 0) return;
  const note = messageItem({ system: true, text: "Earlier messages" });
  $("messages").prepend(note, ...items);
  $("messages").lastElementChild?.scrollIntoView({ block: "end" });
}

function showRoom() {
  $("room-title").textContent = state.room;
  for (const b of document.querySelectorAll("#rooms button")) {
    b.classList.toggle("active", b.dataset.room === state.room);
  }
  if (state.nick) $("text").placeholder = `Message #${state.room}`;
}

// callService calls one of the chat service's procedures. After a router restart the page may
// be back before the service is (both reconnect by themselves): a procedure not registered
// yet is tried again for a while.
async function callService(session, procedure, args) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await session.call(procedure, args);
    } catch (err) {
      if (!err || err.error !== "wamp.error.no_such_procedure" || attempt >= 40 || session !== state.session) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function setNick(nick) {
  const accepted = await callService(state.session, "chat.set_nick", [nick]);
  state.nick = accepted;
  $("me").textContent = accepted;
  $("join").hidden = true;
  $("text").disabled = false;
  $("send").disabled = false;
  await enterRoom(state.room);
  $("text").focus();
}

// The chat service's sessions: the callees of chat.set_nick (registration meta API). With the
// embedded router the service is "trusted" and filtered by role already; on an external
// router it may be anonymous like the pages.
async function serviceSessions(session) {
  try {
    const reg = await session.call("wamp.registration.lookup", ["chat.set_nick"]);
    if (reg == null) return new Set();
    return new Set(await session.call("wamp.registration.list_callees", [reg]));
  } catch (err) {
    return new Set();
  }
}

// Who is online: the meta events first (so nothing is missed), then the current list.
async function loadOnline(session) {
  state.users.clear();
  state.nicks.clear();
  state.gone.clear();
  state.services = await serviceSessions(session);
  await session.subscribe("wamp.session.on_join", ([details]) => {
    if (details.authrole !== "anonymous") return; // the chat service itself is not a user
    state.users.set(details.session, { authid: details.authid });
    renderUsers();
  });
  await session.subscribe("wamp.session.on_leave", ([id]) => {
    const nick = state.nicks.get(id);
    state.gone.add(id);
    state.users.delete(id);
    state.nicks.delete(id);
    if (nick && state.nick) addMessage({ system: true, text: `${nick} left` });
    renderUsers();
  });
  await session.subscribe("chat.on_nick", ([id, nick]) => {
    if (nick == null) { // freed: the session left
      state.nicks.delete(id);
      renderUsers();
      return;
    }
    const before = state.nicks.get(id);
    state.nicks.set(id, nick);
    if (!state.users.has(id) && !state.gone.has(id)) state.users.set(id, {});
    if (state.nick && id !== session.id) {
      addMessage({ system: true, text: before ? `${before} is now ${nick}` : `${nick} is online` });
    }
    renderUsers();
  });
  const ids = await session.call("wamp.session.list", [["anonymous"]]);
  const details = await Promise.all(ids.map((id) => session.call("wamp.session.get", [id]).catch(() => null)));
  for (const d of details) {
    if (d && !state.gone.has(d.session) && !state.services.has(d.session)) state.users.set(d.session, { authid: d.authid });
  }
  for (const [id, nick] of await callService(session, "chat.nicks")) {
    if (!state.gone.has(id)) state.nicks.set(id, nick);
  }
  renderUsers();
}

let connection; // made once the page knows where the router is (config.json)

function connect(config) {
  connection = new autobahn.Connection({
    // The program's own router on /ws, or the one it was started with (-router).
    url: config.url || location.origin.replace(/^http/, "ws") + "/ws",
    realm: config.realm || "realm1",
    max_retries: -1,
    max_retry_delay: 5,
  });
  connection.onopen = onOpen;
  connection.onclose = onClose;
  connection.open();
}

const onOpen = async (session) => {
  state.session = session;
  state.roomSub = null;
  setStatus("connected", "open");
  try {
    await loadOnline(session);
    if (state.nick) {
      await setNick(state.nick); // reconnected: take the nickname back
    } else {
      $("join-button").disabled = false;
      $("nick").focus();
    }
  } catch (err) {
    setStatus("error: " + errorText(err), "closed");
  }
};

const onClose = (reason, details) => {
  state.session = null;
  $("text").disabled = true;
  $("send").disabled = true;
  $("join-button").disabled = true;
  setStatus(details && details.will_retry ? "reconnecting…" : "disconnected (" + reason + ")", "closed");
  return false; // let autobahn retry
};

$("join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const nick = $("nick").value.trim();
  if (!nick || !state.session) return;
  $("join-error").textContent = "";
  try {
    await setNick(nick);
  } catch (err) {
    $("join-error").textContent = errorText(err);
  }
});

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("text");
  const text = input.value.trim();
  if (!text || !state.session || !state.nick) return;
  input.value = "";
  try {
    // exclude_me: false, so our own message comes back through the router like everyone's.
    await state.session.publish("chat.room." + state.room, [text], { nick: state.nick },
      { acknowledge: true, exclude_me: false, disclose_me: true });
  } catch (err) {
    addMessage({ system: true, text: "not sent: " + errorText(err) });
  }
});

$("rooms").addEventListener("click", (e) => {
  const room = e.target.closest("button")?.dataset.room;
  if (room && room !== state.room) {
    enterRoom(room).catch((err) => addMessage({ system: true, text: errorText(err) }));
  }
});

showRoom();
renderUsers();
fetch("config.json")
  .then((r) => (r.ok ? r.json() : {}))
  .catch(() => ({}))
  .then(connect);
