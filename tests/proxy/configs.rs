//! The shipped files as their own tools read them: the nginx site (with its
//! TLS server) passes `nginx -t`, the unit passes `systemd-analyze verify`
//! and keeps its sandbox, the Caddyfile passes `caddy validate`. Each file
//! is checked as shipped; only paths that name this machine's files (the
//! certificate, the binary) are swapped in a copy.

use std::process::{Command, Output};
use std::time::Duration;

use crate::tools::find;
use crate::{deploy_file, proxy_rule_secs};

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("{command:?} runs: {e}"))
}

fn all_output(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `text` with `placeholder` replaced, which must be there.
fn swap(text: &str, placeholder: &str, with: &str) -> String {
    assert!(text.contains(placeholder), "the file names {placeholder}");
    text.replace(placeholder, with)
}

#[test]
fn the_nginx_site_with_its_tls_server_passes_nginx_t() {
    let (Some(nginx), Some(openssl)) = (find("nginx", "nginx"), find("openssl", "openssl")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("fullchain.pem"), dir.path().join("privkey.pem"));
    let made = run(Command::new(openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(made.status.success(), "{}", all_output(&made));

    // Laid out as in /etc/nginx: the site includes snippets/chat-proxy.conf
    // relative to the main config's directory.
    std::fs::create_dir(dir.path().join("snippets")).unwrap();
    std::fs::copy(deploy_file("nginx/chat-proxy.conf"), dir.path().join("snippets/chat-proxy.conf")).unwrap();
    let site = std::fs::read_to_string(deploy_file("nginx/chat.conf")).unwrap();
    let site = swap(&site, "/etc/letsencrypt/live/chat.example.org/fullchain.pem", &cert.display().to_string());
    let site = swap(&site, "/etc/letsencrypt/live/chat.example.org/privkey.pem", &key.display().to_string());
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    // Around the site, what Debian's nginx.conf sets that meets it (TLS
    // protocols, gzip); the temporary paths stay in the directory.
    let main = format!(
        "pid {d}/nginx.pid;
events {{
    worker_connections 768;
}}
http {{
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log off;
    gzip on;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include site.conf;
}}
"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let checked = run(Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log")));
    let said = all_output(&checked);
    assert!(checked.status.success(), "{said}");
    assert!(said.contains("test is successful"), "{said}");
    assert!(!said.contains("[warn]"), "no warnings either: {said}");
}

#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let Some(analyze) = find("systemd-analyze", "systemd") else { return };
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(deploy_file("chat.service")).unwrap();
    // verify checks that ExecStart names an executable.
    let unit = swap(&unit, "ExecStart=/usr/local/bin/chat ", &format!("ExecStart={} ", env!("CARGO_BIN_EXE_chat")));
    let path = dir.path().join("chat.service");
    std::fs::write(&path, unit).unwrap();
    let verified = run(Command::new(analyze).arg("verify").arg(&path));
    let said = all_output(&verified);
    assert!(verified.status.success(), "{said}");
    assert_eq!(said, "", "no warnings (an unknown or misspelt key is only a warning)");
}

#[test]
fn the_unit_keeps_its_sandbox() {
    let Some(analyze) = find("systemd-analyze", "systemd") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(deploy_file("chat.service"), dir.path().join("chat.service")).unwrap();
    // systemd's own exposure score, shown from 0.0 (tight) to 10.0 (no
    // sandbox) and thresholded in tenths: the unit scores 1.2, and losing
    // any one of its sandboxing directives raises that.
    let scored = run(Command::new(analyze)
        .args(["security", "--offline=true", "--threshold=12"])
        .arg(dir.path().join("chat.service")));
    let said = all_output(&scored);
    assert!(scored.status.success(), "{said}");
    let unit = std::fs::read_to_string(deploy_file("chat.service")).unwrap();
    for setting in [
        "User=chat",
        "StateDirectory=chat",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "LimitNOFILE=65536",
        "Environment=ROCKET_ADDRESS=127.0.0.1",
        "Environment=ROCKET_IP_HEADER=X-Real-IP",
        "Environment=ROCKET_DATA_DIR=/var/lib/chat",
    ] {
        assert!(unit.contains(setting), "the unit sets {setting:?}");
    }
    assert!(!unit.contains("ReadWritePaths"), "the data directory is the only writable place");
}

#[test]
fn the_caddyfile_passes_caddy_validate_and_is_formatted() {
    let Some(caddy) = find("caddy", "caddy") else { return };
    let home = tempfile::tempdir().unwrap();
    let validated = run(Command::new(caddy)
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(deploy_file("Caddyfile"))
        // Caddy keeps state under $HOME; none of it is needed here.
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path()));
    let said = all_output(&validated);
    assert!(validated.status.success(), "{said}");
    assert!(said.contains("Valid configuration"), "{said}");
    assert!(!said.contains(r#""level":"warn""#), "no warnings (an unformatted file is one): {said}");
}

#[test]
fn nginx_waits_for_the_server_longer_than_its_longest_silence() {
    // A long poll answers after at most MAX_WAIT_SECS, an idle stream hears
    // a heartbeat at least every 15 s (heartbeat_secs is capped there).
    let longest_silence = Duration::from_secs(chat::messages::MAX_WAIT_SECS.max(15));
    for read in proxy_rule_secs("proxy_read_timeout") {
        assert!(read > longest_silence + Duration::from_secs(10), "proxy_read_timeout {read:?}");
    }
}
