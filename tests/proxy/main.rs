//! The deploy kit (`deploy/`) proven with the real tools: the server binary
//! behind Debian's nginx running the shipped proxy rules verbatim (every
//! transport, resume, client addresses, slow clients shed), and the shipped
//! site, unit and Caddyfile checked by `nginx -t`, `systemd-analyze` and
//! `caddy validate`.
//!
//! These tests need Debian's `nginx`, `openssl`, `systemd` (for
//! `systemd-analyze`) and `caddy`. Without one of them plain `cargo test`
//! prints "skipping proxy tests: <reason>" and passes the tests that need
//! it; with `CHAT_PROXY_TESTS=require`, or `CI` set to a true value, a
//! missing tool fails the run instead (`.ci/run` installs them). `NGINX`,
//! `OPENSSL`, `SYSTEMD_ANALYZE` and `CADDY` name other binaries.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/http.rs"]
mod http;

mod backend;
mod nginx;
mod tools;

mod configs;
mod delivery;
mod edge;
mod shedding;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backend::Backend;
use nginx::Nginx;

/// A file of the deploy kit, as shipped.
pub fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(name)
}

/// Every value of `directive` in the proxy rules, which the tests need in
/// whole seconds (`proxy_read_timeout 75s;`).
pub fn proxy_rule_secs(directive: &str) -> Vec<Duration> {
    let rules = std::fs::read_to_string(deploy_file("nginx/chat-proxy.conf")).unwrap();
    let prefix = format!("{directive} ");
    let values: Vec<Duration> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix(&prefix))
        .map(|value| {
            let seconds = value.strip_suffix("s;").unwrap_or_else(|| panic!("{directive} {value}: whole seconds"));
            Duration::from_secs(seconds.parse().unwrap_or_else(|_| panic!("{directive} {value}: whole seconds")))
        })
        .collect();
    assert!(!values.is_empty(), "the rules set {directive}");
    values
}

/// The server binary and an nginx in front of it, for one test. Dropping it
/// stops both (nginx first).
pub struct Rig {
    pub nginx: Nginx,
    pub backend: Backend,
}

/// The rig, or `None` (after saying why) when nginx is not installed and not
/// required.
pub async fn rig() -> Option<Rig> {
    rig_with(&[]).await
}

/// [`rig`] with more `ROCKET_*` variables for the server.
pub async fn rig_with(env: &[(&str, &str)]) -> Option<Rig> {
    let nginx = tools::find("nginx", "nginx")?;
    let backend = Backend::start(env).await;
    let nginx = Nginx::start(&nginx, backend.addr).await;
    Some(Rig { nginx, backend })
}

impl Rig {
    /// A browser that talks to nginx, as every real client does.
    pub fn browser(&self) -> http::Browser {
        http::Browser::new(self.nginx.addr)
    }

    /// A client on the server's own port, past nginx (what only this
    /// machine can do).
    pub fn direct(&self) -> http::Browser {
        http::Browser::new(self.backend.addr)
    }

    pub fn nginx_addr(&self) -> SocketAddr {
        self.nginx.addr
    }
}
