//! Slow-header clients ("slowloris"): each sends part of a request and then
//! nothing. Rocket 0.5 waits for the rest forever; nginx drops them after
//! `client_header_timeout` and serves everyone else meanwhile.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::{proxy_rule_secs, rig};

const SLOW_CLIENTS: usize = 500;
/// Slow clients sent straight to the server, for comparison.
const SLOW_CLIENTS_DIRECT: usize = 20;
/// How long a normal request may take while the slow clients are connected.
const SERVED_WITHIN: Duration = Duration::from_secs(1);

/// A connection that has sent a request line and one header, and stops.
async fn slow_client(to: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(to).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.example.org\r\n").await.unwrap();
    stream
}

/// Whether the other side still holds the connection (nothing to read, no
/// end of stream).
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Waits until the other side closes: end of stream or a reset. Whatever
/// comes first is discarded (nginx sends no answer to a timed-out header).
async fn closed_by_the_other_side(stream: &mut TcpStream) {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("reading a slow client's connection: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_sheds_500_slow_header_clients_the_server_alone_would_keep_and_serves_others_meanwhile() {
    let Some(rig) = rig().await else { return };
    let [timeout] = proxy_rule_secs("client_header_timeout")[..] else { panic!("one client_header_timeout") };
    assert!(timeout <= Duration::from_secs(10), "a slow client holds a connection at most 10 s, not {timeout:?}");

    let opened = Instant::now();
    let mut shed = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        shed.push(slow_client(rig.nginx_addr()).await);
    }
    let mut kept = Vec::new();
    for _ in 0..SLOW_CLIENTS_DIRECT {
        kept.push(slow_client(rig.backend.addr).await);
    }

    let started = Instant::now();
    let normal = rig.browser().get("/healthz").await;
    let took = started.elapsed();
    assert_eq!(normal.status, 200, "{}", normal.body);
    assert!(took < SERVED_WITHIN, "a normal request took {took:?} beside {SLOW_CLIENTS} slow clients");
    let open = shed.iter().filter(|s| still_open(s)).count();
    assert_eq!(open, SLOW_CLIENTS, "every slow client was still connected while the normal one was served");

    // Every one dropped within the timeout (counted from the last opened,
    // the first already waited longer) and a margin for a loaded machine.
    let deadline = started + timeout + Duration::from_secs(5);
    for stream in &mut shed {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, closed_by_the_other_side(stream))
            .await
            .unwrap_or_else(|_| panic!("a slow client was still connected {:?} after it came", opened.elapsed()));
    }
    let shed_after = opened.elapsed();
    assert!(shed_after >= timeout, "dropped by the header timeout, not before ({shed_after:?})");
    let open = kept.iter().filter(|s| still_open(s)).count();
    assert_eq!(open, SLOW_CLIENTS_DIRECT, "the server itself keeps slow clients after {shed_after:?}");
}
