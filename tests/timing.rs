//! No timing oracle at login: an unknown user costs the same argon2 work as
//! a wrong password. Its own test binary, so no other test competes for
//! the CPU while it measures.

use std::time::{Duration, Instant};

use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;

const TRIALS: usize = 200;

#[rocket::async_test]
async fn unknown_users_and_wrong_passwords_take_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let figment = chat::figment()
        .merge(("data_dir", dir.path()))
        .merge(("log_level", "off"))
        // Throttling raised out of the way: 400 failures from one client.
        .merge(("rate_limits", false));
    let client = Client::tracked(chat::build(figment).unwrap()).await.unwrap();
    client.get("/register").dispatch().await;
    let token = client.cookies().get_private("csrf").unwrap().value().to_owned();
    let form = |name: &str, password: &str| format!("username={name}&password={password}&csrf={token}");
    let registered = client
        .post("/register")
        .header(ContentType::Form)
        .body(form("alice", "correct+horse+battery"))
        .dispatch()
        .await;
    assert_eq!(registered.status(), Status::SeeOther);
    let token = client.cookies().get_private("csrf").unwrap().value().to_owned();
    let form = |name: &str| format!("username={name}&password=wrong+password&csrf={token}");

    let mut wrong = Vec::with_capacity(TRIALS);
    let mut unknown = Vec::with_capacity(TRIALS);
    // Interleaved, and in alternating order, so drift in machine load and
    // any first-of-a-pair effect touch both series alike.
    for i in 0..TRIALS {
        let unknown_name = format!("nobody{i}");
        let mut pair = [("alice", &mut wrong), (unknown_name.as_str(), &mut unknown)];
        if i % 2 == 1 {
            pair.reverse();
        }
        for (name, series) in pair {
            let started = Instant::now();
            let response = client.post("/login").header(ContentType::Form).body(form(name)).dispatch().await;
            series.push(started.elapsed());
            assert_eq!(response.status(), Status::Unauthorized);
        }
    }
    let (wrong, unknown) = (median(wrong), median(unknown));
    let ratio = wrong.as_secs_f64() / unknown.as_secs_f64();
    println!("median wrong password {wrong:?}, unknown user {unknown:?}, ratio {ratio:.3}");
    assert!((1.0 / 1.2..=1.2).contains(&ratio), "medians differ by more than 20%: {wrong:?} vs {unknown:?}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
