//! `chat-load`: the load benchmark client for the chat server, and for the
//! bare Rocket SSE broadcast it is compared with (`examples/bare_sse.rs` in
//! the root package).
//!
//! It talks to a server on this machine only ([`target`] refuses any other
//! URL), over its own lean HTTP/1.1 client ([`http`], on the decoders in
//! [`wire`]) and WebSocket client, so that thousands of event streams,
//! sockets or long polls cost it little; subscribers use any of the
//! server's three transports ([`transport`]). Each scenario ([`scenario`])
//! prints a short human summary and one JSON line ([`report`]), including
//! the tool's own CPU use ([`sys`]) so a reader can tell whether the
//! client saturated. Message texts carry their send time and identity
//! ([`probe`]) to measure latency, losses and duplicates.
//!
//! With `--out DIR` a run also writes its summary, its delivery latency
//! distribution and a per-second series ([`series`]) as files ([`out`]).
//!
//! Two commands are not scenarios: `seed` ([`seed`]) writes a large history
//! straight into the server's database (before the server starts), for the
//! `history` scenario to read; `plot` ([`plot`]) turns `--out` directories
//! into SVG charts.

pub mod http;
pub mod out;
pub mod plot;
pub mod probe;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod series;
pub mod sys;
pub mod target;
pub mod transport;
pub mod wire;

pub use report::Report;
pub use scenario::{
    Common, FanoutArgs, HistoryArgs, IdleArgs, LoginStormArgs, MaxPostArgs, ResumeStormArgs, RoomsArgs, Scenario,
    SearchArgs, SoakArgs, UploadStormArgs, run,
};
pub use seed::SeedArgs;
pub use target::{Kind, Target};
pub use transport::Transport;
