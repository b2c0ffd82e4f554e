//! The real server binary as nginx's upstream, configured as
//! `deploy/chat.service` configures it: the client address from
//! `X-Real-IP`, on 127.0.0.1. Killed when dropped, so a failing test leaves
//! no server behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::Instant;

pub struct Backend {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    /// The data directory (database, secret key, log), removed last.
    _dir: TempDir,
}

impl Backend {
    /// Starts the server with `env` on top of the unit's settings, and
    /// waits until it listens.
    pub async fn start(env: &[(&str, &str)]) -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::tools::free_port();
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
        command
            // The page templates are read from here until they are built in.
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_IP_HEADER", "X-Real-IP")
            .env("ROCKET_DATA_DIR", dir.path())
            .env("ROCKET_DATABASE_URL", crate::helpers::database_url(dir.path()))
            .env("ROCKET_CLI_COLORS", "false")
            // Every test client is on this machine: one address for all.
            .env("ROCKET_RATE_LIMITS", "false")
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut backend = Backend {
            child: command.spawn().expect("the server binary starts"),
            addr: ([127, 0, 0, 1], port).into(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(backend.addr).await.is_err() {
            if let Some(status) = backend.child.try_wait().unwrap() {
                panic!("the server exited ({status}):\n{}", backend.log());
            }
            assert!(Instant::now() < deadline, "the server did not listen within 20 s:\n{}", backend.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        backend
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
