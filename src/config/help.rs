//! The settings as `chat serve --help` lists them: every key with its
//! environment variable, its default in code and what it does.
//!
//! Defaults are not written down here: they are read from the same
//! values the server starts with (Rocket's defaults, [`SafeDefaults`],
//! [`Settings::default`]), so the list cannot drift from the code. Only the
//! descriptions are kept here, and a test checks that every setting has
//! one and every description names a setting.

use rocket::figment::Figment;
use rocket::figment::providers::Serialized;
use rocket::figment::value::{Dict, Value};

use super::{SafeDefaults, Settings};

/// What each setting does, by key. Keys whose default is "unset" are
/// listed too (they have no value to read the key from).
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("address", "IP address to listen on"),
    ("port", "port to listen on"),
    ("workers", "threads serving requests (default: one per core)"),
    ("max_blocking", "threads for blocking work at most"),
    ("ident", "the Server header's value; false sends none"),
    ("ip_header", "header naming the client's address, set by a proxy you run (e.g. \"X-Real-IP\"); false trusts none"),
    ("limits", "request body limits by kind; json and form are the message and form posts"),
    ("temp_dir", "where Rocket buffers large bodies"),
    ("keep_alive", "seconds an idle HTTP connection is kept open; 0 turns keep-alive off"),
    ("shutdown", "grace periods on SIGTERM/Ctrl-C (ctrlc, signals, grace, mercy)"),
    ("log_level", "off, critical, normal or debug (also our own log lines)"),
    ("cli_colors", "colour Rocket's startup lines"),
    ("secret_key", "64 random bytes, base64, for private cookies; generated into data_dir when unset"),
    ("data_dir", "where the SQLite file and the generated secret key live"),
    ("database_url", "sqlite://PATH or postgres://...; unset: data_dir/chat.db"),
    ("redis_url", "redis://... to share messages between instances (with PostgreSQL)"),
    ("redis_channel", "the Redis channel the instances share"),
    ("template_dir", "a directory whose *.html.tera replace the built-in templates of the same name"),
    ("static_dir", "a directory whose files replace the built-in /static/ files of the same name"),
    ("allow_guests", "visitors who are not logged in may post as guest-xxxxxx"),
    ("edit_window_secs", "how long after posting its author may edit a message"),
    ("heartbeat_secs", "seconds between SSE heartbeats (1 to 15)"),
    ("sse_retry_ms", "what SSE clients wait before reconnecting (ms)"),
    ("room_queue_capacity", "messages a room's queue holds for a slow subscriber"),
    ("stream_stall_secs", "a stream whose client takes nothing for this long is dropped"),
    ("ws_max_message_bytes", "largest WebSocket message a client may send (bytes); bigger closes with 1009"),
    ("secure_cookies", "Secure cookies and HSTS, for TLS at a proxy (on in release builds)"),
    ("session_idle_secs", "a session unused this long ends"),
    ("session_absolute_secs", "a session ends this long after login"),
    ("session_check_secs", "how often an open stream re-checks its session (1 to 30)"),
    ("session_cache_secs", "how long a session is trusted from memory before it is read again"),
    ("hash_concurrency", "password hashes computed at once; 0 = one per core but one"),
    ("metrics", "serve Prometheus metrics at /metrics (keep it behind the proxy)"),
    ("log_format", "text or json log lines"),
    ("presence_grace_ms", "how long a visitor stays online after their last stream closes"),
    ("message_retention_days", "delete messages older than this many days; 0 keeps them forever"),
    ("housekeeping_secs", "how often retention runs and ended sessions and stale entries are purged"),
    ("files_dir", "where attached files live (shared by every instance); unset: data_dir/files"),
    ("upload_max_bytes", "largest attached file (bytes); bigger is refused with 413 while it streams"),
    ("upload_quota_bytes", "bytes of attached files one account or guest may have at once"),
    ("guest_uploads", "guests may attach files where they may post"),
    ("registration", "open, invite or closed: who may create an account, until an admin picks on /admin"),
    ("moderators_invite", "moderators may create invites too (admins always may)"),
    ("public_origin", "https://HOST people reach the server at: passkeys and TOTP apps name it; unset: localhost"),
    ("rate_limits", "false turns every abuse limit below off"),
    ("login_failures_per_name", "failed logins per username per window"),
    ("login_name_window_secs", "the window of login_failures_per_name"),
    ("login_failures_per_ip", "failed logins per client address per window"),
    ("login_ip_window_secs", "the window of login_failures_per_ip"),
    ("registrations_per_ip", "registration attempts per client address per window"),
    ("registration_window_secs", "the window of registrations_per_ip"),
    ("posts_per_sec", "posts per second per member"),
    ("post_burst", "posts a member may make at once"),
    ("guest_posts_per_sec", "posts per second per guest"),
    ("guest_post_burst", "posts a guest may make at once"),
    ("guest_ip_posts_per_sec", "posts per second of all guests behind one client address"),
    ("guest_ip_post_burst", "posts all guests behind one client address may make at once"),
    ("ip_posts_per_sec", "posts per second per client address"),
    ("ip_post_burst", "posts per client address at once"),
    ("streams_per_session", "open event streams per session or guest"),
    ("streams_per_ip", "open event streams per client address"),
    ("bot_posts_per_sec", "posts per second per bot (bots are held to this alone)"),
    ("bot_post_burst", "posts a bot may make at once"),
    ("hook_posts_per_sec", "posts per second per incoming webhook"),
    ("hook_post_burst", "posts an incoming webhook may make at once"),
];

/// Rocket's keys that only exist in its internals.
const NOT_SETTINGS: &[&str] = &["profile", "__non_exhaustive"];

/// Every setting with its default in code, by key (unset ones absent).
fn defaults() -> Dict {
    let figment = Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(SafeDefaults::default()))
        .merge(Serialized::defaults(Settings::default()));
    let mut dict: Dict = figment.extract().unwrap_or_default();
    dict.retain(|key, _| !NOT_SETTINGS.contains(&key.as_str()));
    dict
}

/// The text `chat serve --help` ends with.
pub fn settings_help() -> String {
    let defaults = defaults();
    let mut text = String::from(
        "Settings: a key in Rocket.toml (or the file ROCKET_CONFIG names), or its environment \
         variable, which wins. Defaults are the built-in ones.\n",
    );
    for (key, description) in DESCRIPTIONS {
        let default = match defaults.get(*key) {
            _ if *key == "secret_key" => "(generated)".to_owned(),
            Some(value) => shown(value),
            None => "(unset)".to_owned(),
        };
        text.push_str(&format!(
            "\n  {key}  [env: ROCKET_{}] [default: {default}]\n      {description}\n",
            key.to_uppercase()
        ));
    }
    text
}

/// A value as it would be written in the environment variable.
fn shown(value: &Value) -> String {
    match value {
        Value::String(_, s) => s.clone(),
        Value::Char(_, c) => c.to_string(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => {
            n.to_u128().map(|n| n.to_string()).or_else(|| n.to_f64().map(|f| f.to_string())).unwrap_or_default()
        }
        Value::Empty(_, _) => "(unset)".to_owned(),
        Value::Dict(_, dict) => {
            let fields: Vec<String> = dict.iter().map(|(k, v)| format!("{k}={}", quoted(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(_, items) => format!("[{}]", items.iter().map(quoted).collect::<Vec<_>>().join(",")),
    }
}

fn quoted(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        other => shown(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_description_and_every_description_a_setting() {
        let defaults = defaults();
        let described: Vec<&str> = DESCRIPTIONS.iter().map(|(key, _)| *key).collect();
        let undescribed: Vec<&String> = defaults.keys().filter(|key| !described.contains(&key.as_str())).collect();
        assert!(undescribed.is_empty(), "settings without a description: {undescribed:?}");
        let settings_keys = serde_json::to_value(Settings::default()).unwrap();
        let settings_keys = settings_keys.as_object().unwrap();
        for key in described {
            let known = defaults.contains_key(key) || settings_keys.contains_key(key) || key == "secret_key";
            assert!(known, "{key} is described but is no setting");
        }
    }

    #[test]
    fn the_help_shows_the_defaults_in_code() {
        let help = settings_help();
        assert!(help.contains("port  [env: ROCKET_PORT] [default: 8000]"), "{help}");
        assert!(help.contains("ip_header  [env: ROCKET_IP_HEADER] [default: false]"), "{help}");
        assert!(help.contains("ident  [env: ROCKET_IDENT] [default: false]"), "{help}");
        assert!(help.contains("json=\"64 KiB\""), "{help}");
        assert!(help.contains("database_url  [env: ROCKET_DATABASE_URL] [default: (unset)]"), "{help}");
        assert!(help.contains("posts_per_sec  [env: ROCKET_POSTS_PER_SEC] [default: 5]"), "{help}");
    }
}
