//! Debian's nginx in a private prefix: a master and one worker, as in
//! production, listening on 127.0.0.1 in plain HTTP and including
//! `deploy/nginx/chat-proxy.conf` as shipped. Only what the site file adds
//! around that snippet is written here: the `upstream chat_backend` (the
//! test's server instead of port 8000) and a listener without TLS (the
//! site's TLS server is checked by `nginx -t` in `configs`).
//!
//! Every path nginx writes (pid, logs, temporary files) is inside the
//! prefix, so nothing on the machine is touched; dropping an [`Nginx`] stops
//! its master and with it the worker.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::Instant;

pub struct Nginx {
    master: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx in front of `upstream` and waits until it listens.
    pub async fn start(binary: &Path, upstream: SocketAddr) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], crate::tools::free_port()).into();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), addr, upstream)).unwrap();
        let error_log = dir.path().join("error.log");
        let master = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            // Before it reads the config, nginx would open its built-in
            // error log (/var/log/nginx/error.log).
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx { master, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Some(status) = nginx.master.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", nginx.logs());
            }
            assert!(Instant::now() < deadline, "nginx did not listen within 10 s:\n{}", nginx.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    /// nginx's error log and stderr so far, for failure messages.
    pub fn logs(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker, then exits. (A killed
        // master would leave the worker serving.)
        let _ = Command::new("kill").arg("-TERM").arg(self.master.id().to_string()).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.master.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    // The prefix is private to whoever runs the tests (mode 0700), so the
    // worker runs as that user too: for root that takes `user root`
    // (otherwise nginx would switch to `nobody`), for anyone else nginx
    // cannot switch users anyway.
    let user = if std::fs::metadata(dir).unwrap().uid() == 0 { "user root;" } else { "" };
    let dir = dir.display();
    let snippet = crate::deploy_file("nginx/chat-proxy.conf");
    let snippet = snippet.display();
    format!(
        "{user}
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{
    worker_connections 4096;
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream chat_backend {{
        server {upstream};
    }}
    server {{
        listen {listen};
        include {snippet};
    }}
}}
"
    )
}
