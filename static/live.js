// How the page hears about new messages: one event stream per browser,
// shared by all its tabs; or, per tab, a WebSocket or long polling.
//
// Browsers open at most six HTTP/1.1 connections per origin, so a tab each
// with its own EventSource would stall the seventh tab. Instead the tabs elect
// one leader with a Web Lock (released by the browser when the tab goes); the
// leader opens GET /events?rooms=<every tab's room> and relays each event over
// a BroadcastChannel. The stream's event id is a cursor over all its rooms, so
// a reconnect, or a new leader after the old one closed, resumes every room
// with no gap. Where Web Locks or BroadcastChannel are missing (e.g. a page
// served over plain HTTP from another host), each tab opens its own stream.
//
// A browser without EventSource long-polls GET /rooms/<room>/messages
// instead. `?transport=ws|sse|poll` in the page's address forces one
// transport (to get through a proxy that breaks one of them, or to test
// them); a forced WebSocket or long poll belongs to its tab alone.
//
// This file only moves events; app.js decides what the page shows.
"use strict";

window.ChatLive = (function () {
  const CHANNEL = "chat-live";
  const LEADER_LOCK = "chat-live-leader";
  // Coalesces the tabs' announcements before (re)opening the stream.
  const SETTLE_MS = 40;

  // Retry delays of the per-tab transports.
  const FIRST_RETRY_MS = 1000;
  const LAST_RETRY_MS = 30000;
  // How long one long poll waits: under the server's 30 s limit, and under
  // the idle timeout of most proxies.
  const POLL_WAIT_SECS = 25;
  // Most messages one poll fetches (the server's limit).
  const POLL_LIMIT = 200;

  // subscriber: { room, me, after() -> the page's position in the room's
  //               sequence, onEvent(kind, data), onState(state), onRole(role) }
  // onEvent kinds: the room's sequence, each with its number ("message",
  // whose id is its number; "edit", "reaction", "delete", each with "seq"),
  // and "presence", "typing", "read", "reset" ({room}). onRole: "leader",
  // "follower" or "solo" on the event stream, else the transport ("ws",
  // "poll").
  function connect(subscriber) {
    const transport = pickTransport();
    if (transport === "ws") return openSocket(subscriber);
    if (transport === "poll") return longPoll(subscriber);
    shareStream(subscriber);
  }

  // The transport asked for in the address, else the event stream where
  // the browser has one.
  function pickTransport() {
    const asked = new URLSearchParams(location.search).get("transport");
    if (asked === "ws" && window.WebSocket) return "ws";
    if (asked === "poll" || !window.EventSource) return "poll";
    return "sse";
  }

  // --- the shared event stream --------------------------------------------
  function shareStream(subscriber) {
    const shared = "BroadcastChannel" in window && navigator.locks && navigator.locks.request;
    if (!shared) {
      subscriber.onRole("solo");
      const leader = new Leader(subscriber, null);
      leader.want("self", subscriber.room, subscriber.after(), subscriber.me);
      return;
    }
    const tab = Math.random().toString(36).slice(2);
    const channel = new BroadcastChannel(CHANNEL);
    let leader = null;
    // The stream's last cursor, so this tab can resume it if it takes over.
    let cursor = "";
    const announce = () =>
      channel.postMessage({ type: "want", tab, room: subscriber.room, after: subscriber.after(), me: subscriber.me });

    channel.addEventListener("message", (event) => {
      const note = event.data;
      if (note.type === "event") {
        if (note.cursor) cursor = note.cursor;
        deliver(subscriber, note);
      }
      else if (note.type === "state") subscriber.onState(note.state);
      else if (note.type === "who") announce();
      else if (leader && note.type === "want") leader.want(note.tab, note.room, note.after, note.me);
      else if (leader && note.type === "bye") leader.bye(note.tab);
    });
    subscriber.onRole("follower");
    announce();
    window.addEventListener("pagehide", () => channel.postMessage({ type: "bye", tab }));

    // Held until the tab closes: the promise never settles.
    navigator.locks.request(LEADER_LOCK, () => {
      subscriber.onRole("leader");
      leader = new Leader(subscriber, channel);
      leader.resume(cursor);
      leader.want(tab, subscriber.room, subscriber.after(), subscriber.me);
      channel.postMessage({ type: "who" });
      return new Promise(() => {});
    });
  }

  // The kinds of the room's sequence: each moves the position a stream
  // resumes from.
  const SEQUENCE = ["message", "edit", "reaction", "delete"];
  // Events that are not part of the sequence (never replayed).
  const PASSING = ["typing", "read"];
  const numberOf = (kind, data) => (kind === "message" ? data.id : data.seq);

  // Hands an event to the page if it is about the page's room, or is the
  // account's read position anywhere (the sidebar's badges follow it).
  function deliver(subscriber, note) {
    if (note.room === subscriber.room || note.kind === "read") subscriber.onEvent(note.kind, note.data);
  }

  // The tab that holds the stream.
  class Leader {
    constructor(self, channel) {
      this.self = self;
      this.channel = channel;
      this.wants = new Map(); // tab -> { room, after }
      this.cursor = new Map(); // room -> last id relayed
      this.presence = new Map(); // room -> last presence JSON
      this.me = self.me;
      this.rooms = "";
      this.source = null;
      this.state = "connecting";
      this.timer = 0;
      this.backoff = 1000;
    }

    want(tab, room, after, me) {
      const known = this.rooms.split(",").includes(room);
      this.wants.set(tab, { room, after });
      // A page loaded after a login or logout knows the browser's identity
      // better than the stream opened before it.
      if (me !== this.me) {
        this.me = me;
        this.rooms = "";
      }
      this.send({ type: "state", state: this.state });
      if (known && this.presence.has(room)) this.relay("presence", room, this.presence.get(room));
      this.settle();
    }

    // Takes over the position of a stream another tab held.
    resume(cursor) {
      for (const pair of cursor.split(",")) {
        const [room, id] = pair.split(":");
        if (room) this.cursor.set(room, Number(id));
      }
    }

    bye(tab) {
      this.wants.delete(tab);
      this.settle();
    }

    settle() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), SETTLE_MS);
    }

    // (Re)opens the stream when the set of rooms changed, resuming each room
    // from what was relayed, or from what the tab that wants it shows.
    open(force) {
      const after = new Map();
      for (const { room, after: id } of this.wants.values()) {
        after.set(room, Math.min(id, after.has(room) ? after.get(room) : id));
      }
      const rooms = [...after.keys()].sort().join(",");
      if (!force && rooms === this.rooms && this.source) return;
      if (this.source) this.source.close();
      this.source = null;
      this.rooms = rooms;
      if (!rooms) return;
      for (const room of this.cursor.keys()) if (!after.has(room)) this.cursor.delete(room);
      for (const room of this.presence.keys()) if (!after.has(room)) this.presence.delete(room);
      for (const [room, id] of after) if (!this.cursor.has(room)) this.cursor.set(room, id);
      const cursor = [...this.cursor].map(([room, id]) => room + ":" + id).join(",");
      const source = new EventSource("/events?rooms=" + rooms + "&last_event_id=" + cursor);
      this.source = source;
      source.addEventListener("open", () => {
        this.backoff = 1000;
        this.setState("connected");
      });
      source.addEventListener("error", () => {
        if (source !== this.source) return;
        if (source.readyState !== EventSource.CLOSED) return this.setState("reconnecting");
        // Refused (too many streams, an ended session, the server away):
        // EventSource gives up, so try again later.
        this.setState("offline");
        setTimeout(() => source === this.source && this.open(true), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 30000);
      });
      for (const kind of SEQUENCE) {
        source.addEventListener(kind, (event) => {
          const data = JSON.parse(event.data);
          this.resume(event.lastEventId);
          this.relay(kind, data.room, data, event.lastEventId);
        });
      }
      for (const kind of PASSING) {
        source.addEventListener(kind, (event) => {
          const data = JSON.parse(event.data);
          this.relay(kind, data.room, data);
        });
      }
      source.addEventListener("presence", (event) => {
        const presence = JSON.parse(event.data);
        this.presence.set(presence.room, presence);
        this.relay("presence", presence.room, presence);
      });
      source.addEventListener("reset", (event) => {
        const { room } = JSON.parse(event.data);
        this.cursor.delete(room);
        this.relay("reset", room, { room });
      });
    }

    setState(state) {
      this.state = state;
      this.self.onState(state);
      this.send({ type: "state", state });
    }

    relay(kind, room, data, cursor) {
      const note = { type: "event", kind, room, data, cursor };
      deliver(this.self, note);
      this.send(note);
    }

    send(note) {
      if (this.channel) this.channel.postMessage(note);
    }
  }

  // --- per tab: a WebSocket ------------------------------------------------
  // Server frames: the room's sequence (a message's JSON plus
  // "type":"message"; "edit", "reaction", "delete"), "presence", "typing",
  // "read", "reset", and "ack"/"error" answers to frames this page never
  // sends (it posts over HTTP). The server closes for good with 4403 (kicked,
  // banned, no access) or 4401 (session ended): like EventSource after a 204
  // or 401, the page then stops. Any other close is retried.
  function openSocket(subscriber) {
    subscriber.onRole("ws");
    const retry = new Retry(subscriber);
    // The newest id this socket delivered: resuming from what the page shows
    // could skip a message from someone else that arrived before the page's
    // own post.
    let after = subscriber.after();
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const room = encodeURIComponent(subscriber.room);
      const socket = new WebSocket(scheme + "://" + location.host + "/rooms/" + room + "/ws?after=" + after);
      socket.addEventListener("open", () => retry.succeeded());
      socket.addEventListener("message", (event) => {
        const { type, ...data } = JSON.parse(event.data);
        if (SEQUENCE.includes(type)) {
          after = Math.max(after, numberOf(type, data));
          subscriber.onEvent(type, data);
        } else if (type === "reset" || type === "presence" || PASSING.includes(type)) {
          // After a reset the latest messages follow: resume from those.
          if (type === "reset") after = 0;
          subscriber.onEvent(type, data);
        }
      });
      // A refused handshake or a dropped connection: both end here.
      socket.addEventListener("close", (event) => {
        if (event.code === 4403 || event.code === 4401) return subscriber.onState("offline");
        retry.failed(open);
      });
    };
    open();
  }

  // --- per tab: long polling ---------------------------------------------
  // Each request returns at once with the room's sequence after `after`
  // (new messages, edits, reactions, deletions, each tagged with its
  // "type"), or waits up to POLL_WAIT_SECS for the next, or for a "typing"
  // or "read" signal (not part of the sequence: `after` stays). Long
  // polling carries no presence.
  function longPoll(subscriber) {
    subscriber.onRole("poll");
    const retry = new Retry(subscriber);
    const room = encodeURIComponent(subscriber.room);
    // The newest id a poll returned (see openSocket for why not the page's).
    let after = subscriber.after();
    // The first request does not wait, so the page says "connected" at once.
    let wait = 0;
    const poll = async () => {
      let entries;
      try {
        const query = "?after=" + after + "&wait=" + wait + "&limit=" + POLL_LIMIT;
        const response = await fetch("/rooms/" + room + "/messages" + query, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error("poll answered " + response.status);
        entries = await response.json();
      } catch (e) {
        return retry.failed(poll);
      }
      retry.succeeded();
      for (const { type, ...data } of entries) {
        const kind = type || "message";
        if (SEQUENCE.includes(kind)) after = Math.max(after, numberOf(kind, data));
        subscriber.onEvent(kind, data);
      }
      wait = POLL_WAIT_SECS;
      poll();
    };
    poll();
  }

  // Reconnecting for the per-tab transports: 1 s, doubling to 30 s, back to
  // 1 s after a success. The first failure says "reconnecting"; a failed
  // retry, or a browser that knows it has no network, says "offline".
  class Retry {
    constructor(subscriber) {
      this.subscriber = subscriber;
      this.delay = FIRST_RETRY_MS;
      this.failures = 0;
      this.pending = null;
      // Back on the network: try now rather than at the end of the wait.
      window.addEventListener("online", () => {
        if (!this.pending) return;
        clearTimeout(this.pending.timer);
        this.pending.again();
      });
    }

    succeeded() {
      this.delay = FIRST_RETRY_MS;
      this.failures = 0;
      this.subscriber.onState("connected");
    }

    failed(again) {
      this.failures += 1;
      const offline = navigator.onLine === false || this.failures > 1;
      this.subscriber.onState(offline ? "offline" : "reconnecting");
      const run = () => {
        this.pending = null;
        again();
      };
      this.pending = { again: run, timer: setTimeout(run, this.delay) };
      this.delay = Math.min(this.delay * 2, LAST_RETRY_MS);
    }
  }

  return { connect };
})();
