//! The feed as a plain type, without HTTP: replay, live, and catch-up.

use std::sync::Arc;

use chat::auth::GuestName;
use chat::auth::Visitor;
use chat::rooms::{MessageText, RoomName};
use chat::store::{NewMessage, Store};
use chat::stream::{FeedItem, Hub, Start};

async fn open(capacity: usize) -> (Store, Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(capacity);
    let url = crate::helpers::database_url(dir.path());
    let store = Store::open(&url, Arc::new(hub.clone())).await.unwrap();
    (store, hub, dir)
}

fn message(room: &RoomName, text: &str) -> NewMessage {
    let author = Visitor::Guest { name: GuestName::generate() }.author();
    let html = chat::rooms::format::render(text);
    NewMessage {
        room: room.clone(),
        author,
        text: MessageText::parse(text).unwrap(),
        html,
        reply_to: None,
        attachments: Vec::new(),
    }
}

async fn next_id(feed: &mut chat::stream::Feed) -> i64 {
    match feed.next().await.unwrap().unwrap() {
        FeedItem::Message(delivery) => delivery.seq(),
        FeedItem::Reset => panic!("unexpected reset"),
    }
}

#[tokio::test]
async fn a_subscriber_that_lags_far_behind_its_queue_still_gets_every_id_in_order() {
    // A queue of 2 while 300 messages are committed unread: the receiver
    // lags many times over and must be caught up from the store.
    let (store, hub, _dir) = open(2).await;
    let room = RoomName::parse("lag").unwrap();
    let mut feed = chat::stream::Feed::open(store.clone(), &hub, room.clone(), Start::Latest).await.unwrap();
    for i in 0..300 {
        store.append(message(&room, &format!("m{i}"))).await.unwrap();
    }
    for expected in 1..=300 {
        assert_eq!(next_id(&mut feed).await, expected);
    }
}

#[tokio::test]
async fn a_resume_replays_exactly_the_messages_after_the_cursor_then_goes_live() {
    let (store, hub, _dir) = open(64).await;
    let room = RoomName::parse("resume").unwrap();
    for i in 0..10 {
        store.append(message(&room, &format!("m{i}"))).await.unwrap();
    }
    let mut feed = chat::stream::Feed::open(store.clone(), &hub, room.clone(), Start::After(7)).await.unwrap();
    store.append(message(&room, "live")).await.unwrap();
    let seen = [next_id(&mut feed).await, next_id(&mut feed).await, next_id(&mut feed).await];
    assert_eq!(seen, [8, 9, 10]);
    assert_eq!(next_id(&mut feed).await, 11);
}

#[tokio::test]
async fn messages_committed_while_a_feed_opens_appear_once() {
    let (store, hub, _dir) = open(1024).await;
    let room = RoomName::parse("seam").unwrap();
    let writer = {
        let (store, room) = (store.clone(), room.clone());
        tokio::spawn(async move {
            for i in 0..200 {
                store.append(message(&room, &format!("m{i}"))).await.unwrap();
            }
        })
    };
    let mut feeds = Vec::new();
    for _ in 0..20 {
        feeds.push(chat::stream::Feed::open(store.clone(), &hub, room.clone(), Start::After(0)).await.unwrap());
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    for feed in &mut feeds {
        for expected in 1..=200 {
            assert_eq!(next_id(feed).await, expected);
        }
    }
}

#[tokio::test]
async fn a_long_replay_is_read_from_the_store_a_page_at_a_time() {
    let (store, hub, dir) = open(16).await;
    crate::helpers::seed_messages(dir.path(), &["paged"], 1000, 1).await;
    let room = RoomName::parse("paged").unwrap();
    let mut feed = chat::stream::Feed::open(store.clone(), &hub, room.clone(), Start::After(0)).await.unwrap();
    let page = chat::stream::REPLAY_PAGE as usize;
    assert!(feed.buffered() <= page, "{} messages held at open", feed.buffered());
    store.append(message(&room, "live")).await.unwrap();
    for id in 1..=1001 {
        assert!(feed.buffered() <= page, "{} messages held at {id}", feed.buffered());
        assert_eq!(next_id(&mut feed).await, id, "every id in order, the replay then live");
    }
}
