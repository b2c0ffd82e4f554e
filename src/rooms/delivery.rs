//! One entry of a room's ordered sequence, serialized once and shared by
//! every subscriber that delivers it: a new message, or a change to one (an
//! edit, a deletion, a reaction).
//!
//! Every entry takes the next number of its room's counter, its `seq`; a new
//! message's id is its `seq`, so ids strictly increase, and one resume point
//! (`Last-Event-ID`, the multi-room cursor, a WebSocket's or a long poll's
//! `after`) covers changes as well as messages. A change carries the message
//! as it is after the change; replayed later from the store it carries the
//! message as it is then, so a client that was away ends up showing what an
//! always-connected one shows, and never sees text deleted in the meantime.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Message, Reaction, RoomName};

/// What an entry of a room's sequence is; also its SSE event name and its
/// WebSocket `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A new message: the data is the message.
    Message,
    /// An edit: the data is the whole updated message, with `seq`.
    Edit,
    /// A deletion: `{"room", "id", "seq"}`.
    Delete,
    /// A reaction added or taken back: `{"room", "id", "reactions", "seq"}`.
    Reaction,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
            Kind::Reaction => "reaction",
        }
    }

    /// How the `changes` table names it; `None` for a new message (which is
    /// a row of `messages`, not of `changes`).
    pub fn parse_change(stored: &str) -> Option<Self> {
        match stored {
            "edit" => Some(Kind::Edit),
            "delete" => Some(Kind::Delete),
            "reaction" => Some(Kind::Reaction),
            _ => None,
        }
    }
}

/// An entry of a room's sequence, with its JSON made once.
#[derive(Debug)]
pub struct Delivery {
    pub kind: Kind,
    /// Its place in the room's sequence (a new message's id).
    pub seq: i64,
    /// The message concerned, as it is after this entry.
    pub message: Message,
    /// The event's data as clients read it, made once when it was committed
    /// (or, for a message, as received from the bus).
    pub json: Arc<str>,
    /// Its Server-Sent Events frame, made by the first stream that sends it.
    sse: OnceLock<Bytes>,
    /// Its tagged JSON (WebSocket frames, long-poll answers), made once.
    tagged: OnceLock<Arc<str>>,
}

#[derive(Serialize)]
struct EditData<'a> {
    #[serde(flatten)]
    message: &'a Message,
    seq: i64,
}

#[derive(Serialize)]
struct DeleteData<'a> {
    room: &'a RoomName,
    id: i64,
    seq: i64,
}

#[derive(Serialize)]
struct ReactionData<'a> {
    room: &'a RoomName,
    id: i64,
    reactions: &'a [Reaction],
    seq: i64,
}

/// How a change travels between instances: the kind and seq beside the
/// message, from which the receiver makes the event's data.
#[derive(Serialize, Deserialize)]
struct BusChange {
    change: Kind,
    seq: i64,
    message: Message,
}

/// Every change on the bus starts with these bytes (serde writes fields in
/// declaration order); a message never does, as it starts with its id.
const BUS_CHANGE_PREFIX: &str = "{\"change\":";

impl Delivery {
    /// A new message.
    pub fn new(message: Message) -> Arc<Self> {
        let json = serde_json::to_string(&message).expect("a message always serializes");
        Arc::new(Self::with_json(Kind::Message, message.id, message, json.into()))
    }

    /// A change to `message` (as it is after the change), numbered `seq`.
    pub fn change(kind: Kind, seq: i64, message: Message) -> Arc<Self> {
        let (room, id) = (&message.room, message.id);
        let json = match kind {
            Kind::Message => serde_json::to_string(&message),
            Kind::Edit => serde_json::to_string(&EditData { message: &message, seq }),
            Kind::Delete => serde_json::to_string(&DeleteData { room, id, seq }),
            Kind::Reaction => serde_json::to_string(&ReactionData { room, id, reactions: &message.reactions, seq }),
        }
        .expect("an event always serializes");
        Arc::new(Self::with_json(kind, seq, message, json.into()))
    }

    fn with_json(kind: Kind, seq: i64, message: Message, json: Arc<str>) -> Self {
        Self { kind, seq, message, json, sse: OnceLock::new(), tagged: OnceLock::new() }
    }

    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// The event's Server-Sent Events frame: made by `make` the first time
    /// any stream asks, then shared by every other. The web layer decides
    /// its bytes; this only keeps them with the event.
    pub fn sse_frame(&self, make: impl FnOnce(&Self) -> Bytes) -> Bytes {
        self.sse.get_or_init(|| make(self)).clone()
    }

    /// `{"type": <kind>, ...data}`: the event as a WebSocket frame or an
    /// element of a long poll's answer, made once so that a room of
    /// sockets costs one copy, not one each.
    pub fn ws_frame(&self) -> Arc<str> {
        self.tagged
            .get_or_init(|| {
                // The data is a JSON object with at least one field.
                format!("{{\"type\":\"{}\",{}", self.kind.as_str(), &self.json[1..]).into()
            })
            .clone()
    }

    /// What goes on the bus: a message's JSON as clients read it (made
    /// once, at the posting instance), or a change with its kind and seq.
    pub fn bus_json(&self) -> std::borrow::Cow<'_, str> {
        match self.kind {
            Kind::Message => std::borrow::Cow::Borrowed(&self.json),
            kind => {
                let change = BusChange { change: kind, seq: self.seq, message: self.message.clone() };
                std::borrow::Cow::Owned(serde_json::to_string(&change).expect("a change always serializes"))
            }
        }
    }

    /// Reads what another instance put on the bus. A message keeps its JSON
    /// as is (it is not serialized again, so fields this instance does not
    /// know yet still reach clients). `None` for anything malformed,
    /// including an invalid room name or time.
    pub fn from_bus(json: &str) -> Option<Arc<Self>> {
        if json.starts_with(BUS_CHANGE_PREFIX) {
            let BusChange { change, seq, message } = serde_json::from_str(json).ok()?;
            return Some(Self::change(change, seq, message));
        }
        let message: Message = serde_json::from_str(json).ok()?;
        Some(Arc::new(Self::with_json(Kind::Message, message.id, message, json.into())))
    }
}

/// `{"type": kind, ...body's fields}`: how a stream that multiplexes kinds
/// of objects (the WebSocket) tags each one. `body` must serialize as a map
/// or struct.
#[derive(Serialize)]
struct Tagged<'a, T: ?Sized> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// `body`'s JSON object with `"type": kind` in front.
///
/// Panics if `body` is not a map or struct: that is a bug at the call site,
/// not a condition to handle.
pub fn tagged_json<T: Serialize + ?Sized>(kind: &str, body: &T) -> String {
    serde_json::to_string(&Tagged { kind, body }).expect("a tagged object always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::{Author, MessageText, Quote, Tombstone, from_millis};

    fn alice_says(text: &str) -> Message {
        let alice =
            Author { name: "alice".into(), display: "Alice".into(), guest: false, user_id: Some(1), bot: false };
        let html = crate::rooms::format::render(text);
        Message::committed(
            7,
            RoomName::lobby(),
            &alice,
            &MessageText::parse(text).unwrap(),
            &html,
            None,
            from_millis(0),
        )
    }

    /// The bytes clients and other instances already read: pinned.
    const ALICE_JSON: &str = r#"{"id":7,"room":"lobby","user":"alice","display":"Alice","guest":false,"bot":false,"text":"a\n\"b\"","html":"<p>a<br>\n\"b\"</p>","at":"1970-01-01T00:00:00.000Z"}"#;

    #[test]
    fn a_message_round_trips_through_json() {
        let delivery = Delivery::new(alice_says("a\n\"b\""));
        assert_eq!(&*delivery.json, ALICE_JSON);
        assert_eq!(Delivery::from_bus(ALICE_JSON).unwrap().message, delivery.message);
        let mut message = alice_says("hi");
        message.deleted = Some(Tombstone { by: "mod".into(), at: from_millis(1_795_000_000_123) });
        let json = serde_json::to_string(&message).unwrap();
        assert!(json.ends_with(r#","deleted":{"by":"mod","at":"2026-11-18T11:06:40.123Z"}}"#), "{json}");
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
    }

    #[test]
    fn the_bus_keeps_the_received_bytes_and_reads_old_payloads() {
        // No `deleted`, an unknown field from a newer instance, and a time
        // in another offset and precision: all accepted, the bytes kept.
        let json = r#"{"id":7,"room":"lobby","user":"alice","guest":false,"text":"hi","html":"<p>hi</p>","at":"1970-01-01T01:00:00+01:00","new":1}"#;
        let delivery = Delivery::from_bus(json).unwrap();
        assert_eq!(&*delivery.json, json);
        // From an instance that predates display names: none (the page
        // then shows `user`).
        assert_eq!(delivery.message, Message { display: String::new(), ..alice_says("hi") });
        // From an instance that predates `html`: read as empty (the page
        // then shows the text), not rendered again here.
        let old = r#"{"id":7,"room":"lobby","user":"alice","guest":false,"text":"hi","at":"1970-01-01T00:00:00Z"}"#;
        let expected = Message { html: String::new(), display: String::new(), ..alice_says("hi") };
        assert_eq!(Delivery::from_bus(old).unwrap().message, expected);
    }

    #[test]
    fn the_bus_refuses_a_bad_room_or_time() {
        let with = |room: &str, at: &str| {
            format!(r#"{{"id":1,"room":"{room}","user":"a","guest":true,"text":"t","at":"{at}"}}"#)
        };
        assert!(Delivery::from_bus(&with("lobby", "1970-01-01T00:00:00.000Z")).is_some());
        assert!(Delivery::from_bus(&with("Bad Room", "1970-01-01T00:00:00.000Z")).is_none());
        assert!(Delivery::from_bus(&with("lobby", "x")).is_none());
        let bad_tombstone = r#"{"id":1,"room":"lobby","user":"a","guest":true,"text":"","at":"1970-01-01T00:00:00Z","deleted":{"by":"m","at":"never"}}"#;
        assert!(Delivery::from_bus(bad_tombstone).is_none());
    }

    #[test]
    fn the_frames_are_made_once_per_message() {
        let delivery = Delivery::new(alice_says("hi"));
        let first = delivery.ws_frame();
        let second = delivery.ws_frame();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(&*first, format!(r#"{{"type":"message",{}"#, &delivery.json[1..]));
    }

    #[test]
    fn a_tagged_object_has_its_type_first() {
        #[derive(Serialize)]
        struct Nothing {
            #[serde(skip_serializing_if = "Option::is_none")]
            gone: Option<i64>,
        }
        assert_eq!(tagged_json("x", &Nothing { gone: None }), r#"{"type":"x"}"#);
        assert_eq!(tagged_json("x", &serde_json::json!({})), r#"{"type":"x"}"#);
        assert_eq!(tagged_json("reset", &serde_json::json!({ "room": "a" })), r#"{"type":"reset","room":"a"}"#);
    }

    #[test]
    fn changes_carry_their_seq_and_travel_the_bus_as_changes() {
        let mut edited = alice_says("fixed");
        edited.edited_at = Some(from_millis(9));
        let edit = Delivery::change(Kind::Edit, 12, edited.clone());
        assert_eq!((edit.seq(), edit.message.id), (12, 7));
        assert!(edit.json.ends_with(r#""edited_at":"1970-01-01T00:00:00.009Z","seq":12}"#), "{}", edit.json);
        assert!(edit.ws_frame().starts_with(r#"{"type":"edit","id":7,"#));
        let heard = Delivery::from_bus(&edit.bus_json()).unwrap();
        assert_eq!((heard.kind, heard.seq, &heard.json), (Kind::Edit, 12, &edit.json));
        assert!(edit.json.contains(r#""html":"<p>fixed</p>""#), "the edit carries its HTML: {}", edit.json);
        assert_eq!(heard.message.html, "<p>fixed</p>", "another instance reads it, rendering nothing");

        edited.reactions = vec![Reaction { emoji: "👍".into(), count: 1, users: vec!["bob".into()] }];
        let reaction = Delivery::change(Kind::Reaction, 13, edited);
        assert_eq!(
            &*reaction.json,
            r#"{"room":"lobby","id":7,"reactions":[{"emoji":"👍","count":1,"users":["bob"]}],"seq":13}"#
        );
        let delete = Delivery::change(Kind::Delete, 14, alice_says("x"));
        assert_eq!(&*delete.json, r#"{"room":"lobby","id":7,"seq":14}"#);
        assert_eq!(Delivery::from_bus(&delete.bus_json()).unwrap().kind, Kind::Delete);
    }

    #[test]
    fn a_reply_carries_its_quote() {
        let mut reply = alice_says("yes");
        reply.reply_to = Some(Quote::of(3, "bob".into(), Some(&"x".repeat(300))));
        let json = serde_json::to_string(&reply).unwrap();
        assert!(json.contains(&format!(r#""reply_to":{{"id":3,"user":"bob","text":"{}"}}"#, "x".repeat(200))));
        reply.reply_to = Some(Quote::of(3, "bob".into(), None));
        assert!(serde_json::to_string(&reply).unwrap().ends_with(r#""reply_to":{"id":3,"user":"bob","text":null}}"#));
    }
}
