//! Finding the external tools these tests drive, and the skip-or-fail rule
//! when one is missing (the same rule as the browser tests).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;

/// The binary of `tool` (from Debian's `package`): the path in its
/// variable (`NGINX` for `nginx`, `SYSTEMD_ANALYZE` for `systemd-analyze`),
/// else the first on `PATH` or in `/usr/sbin` (where Debian puts nginx, off
/// a normal user's `PATH`). `None` after saying why once, when the tool is
/// missing and not required; a panic when it is required.
pub fn find(tool: &str, package: &str) -> Option<PathBuf> {
    let variable = tool.to_ascii_uppercase().replace('-', "_");
    let (found, reason) = match std::env::var_os(&variable) {
        Some(path) => {
            let path = PathBuf::from(path);
            let reason = format!("{} (named by {variable}) is missing", path.display());
            (Some(path).filter(|p| p.is_file()), reason)
        }
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]);
            let reason = format!("{tool} is not installed (install Debian's {package}, or set {variable})");
            (dirs.find_map(|dir| Some(dir.join(tool)).filter(|p| p.is_file())), reason)
        }
    };
    if found.is_none() {
        if required() {
            panic!("proxy tests are required here, but {reason}");
        }
        static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut said = SAID.lock().unwrap();
        if !said.contains(&reason) {
            // Straight to stderr: the test harness captures `eprintln!`.
            let _ = writeln!(std::io::stderr(), "skipping proxy tests: {reason}");
            said.push(reason);
        }
    }
    found
}

fn required() -> bool {
    let truthy =
        |name| std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    std::env::var("CHAT_PROXY_TESTS").is_ok_and(|v| v == "require") || truthy("CI")
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
