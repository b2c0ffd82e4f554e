//! The server's behaviour, end to end, against the real app: Rocket's local
//! client for plain routes, real sockets for streams, a real SQLite file in a
//! fresh temporary directory per test.

mod helpers;
mod http;

mod access;
mod activity;
mod backups;
mod bots;
mod bounded;
mod changes;
mod cli;
mod conversations;
mod dashboard;
mod described;
mod devices;
mod feed;
mod floods;
mod formatting;
mod hardening;
mod housekeeping;
mod identity;
mod languages;
mod live;
mod logins;
mod messages;
mod moderation;
mod multi;
mod pages;
mod people;
mod permalinks;
mod persistence;
mod presence;
mod process;
mod profiles;
mod protection;
mod ranks;
mod registrations;
mod search;
mod second_factor;
mod sessions;
mod settings;
mod signals;
mod sockets;
mod stalls;
mod startup;
mod stream;
mod transports;
mod uploads;
