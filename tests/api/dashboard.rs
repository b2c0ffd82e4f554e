//! The Grafana dashboard, `deploy/grafana/chat.json`, asks only for what the
//! server exports: every metric name that each panel's PromQL (and the
//! `instance` variable's query) selects is listed by a live `/metrics`
//! after a little activity (a login, a post on an open stream). Names are
//! compared as the text exposition spells them, so a histogram is queried
//! by its `_bucket`, `_sum` or `_count` series, as Prometheus stores it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::spawn_server_with;

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/chat.json");

/// PromQL words that can stand where a name would and are not one.
const KEYWORDS: [&str; 11] =
    ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"];

/// Keywords followed by a list of label names, not metric names.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD).expect("the dashboard is in the repository");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// The metric names a PromQL expression selects: what is left once quoted
/// strings, label matchers (`{...}`), ranges (`[5m]`), grouping lists
/// (`by (le)`), numbers, keywords and function calls are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Past the next `end` that is not inside a quoted string.
    let skip_to = |from: usize, end: char| {
        let mut j = from;
        while j < chars.len() && chars[j] != end {
            j = if matches!(chars[j], '"' | '\'' | '`') { past_string(&chars, j) } else { j + 1 };
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = past_string(&chars, i);
        } else if c == '{' {
            i = skip_to(i, '}');
        } else if c == '[' {
            i = skip_to(i, ']');
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // A number or a duration: 0.99, 1e-3, 5m.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            // `sum by (le) (...)`: an aggregation, whose grouping comes first.
            let rest: String = chars[next..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
            let grouped = rest == "by" || rest == "without";
            if LABEL_LISTS.contains(&word.as_str()) && called {
                i = skip_to(next, ')');
            } else if !called && !grouped && !KEYWORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index just past the string that starts at `start` (escapes kept).
fn past_string(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() && chars[j] != chars[start] {
        j += if chars[j] == '\\' { 2 } else { 1 };
    }
    j + 1
}

/// Every name the dashboard queries, by panel title (and the variable's).
fn queried(dashboard: &Value) -> Vec<(String, BTreeSet<String>)> {
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title").to_owned();
        let mut names = BTreeSet::new();
        for target in panel["targets"].as_array().expect("targets") {
            names.extend(metric_names(target["expr"].as_str().expect("a PromQL expr")));
        }
        found.push((title, names));
    }
    for variable in dashboard["templating"]["list"].as_array().expect("variables") {
        let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).unwrap_or_default();
        // label_values(metric, label): the metric, as an expression.
        if let Some(args) = query.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')) {
            let metric = args.rsplit_once(',').map_or(args, |(metric, _)| metric);
            found.push((format!("${}", variable["name"].as_str().unwrap_or("?")), metric_names(metric)));
        }
    }
    found
}

/// The series names a text exposition lists (`_bucket`, `_sum` and
/// `_count` of a histogram each by itself).
fn exported(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// What the dashboard queries that `exposition` does not list, as
/// "panel: name".
fn unexported(queried: &[(String, BTreeSet<String>)], exposition: &str) -> Vec<String> {
    let exported = exported(exposition);
    queried
        .iter()
        .flat_map(|(panel, names)| {
            names.iter().filter(|n| !exported.contains(*n)).map(move |n| format!("{panel}: {n}"))
        })
        .collect()
}

#[test]
fn the_extractor_keeps_metric_names_and_drops_functions_labels_and_numbers() {
    let expr = r#"histogram_quantile(0.99, sum by (le, path) (rate(chat_delivery_seconds_bucket{instance=~"$instance", path!="a{b}"}[5m])))
        / on (instance) group_left () max without (job) (chat_bus_up offset 5m) * 1e-3 > bool 0.5 or vector(0)"#;
    let names: Vec<String> = metric_names(expr).into_iter().collect();
    assert_eq!(names, ["chat_bus_up", "chat_delivery_seconds_bucket"]);
    assert_eq!(metric_names("sum(rate(x:recorded:rate5m[1m])) / .5"), BTreeSet::from(["x:recorded:rate5m".to_owned()]));
}

#[test]
fn a_queried_name_the_exposition_lacks_is_reported_by_panel() {
    let exposition = "# HELP chat_bus_up up\n# TYPE chat_bus_up gauge\nchat_bus_up 1\n\
                      chat_request_seconds_bucket{le=\"0.1\"} 3\nchat_request_seconds_count 3\n";
    let mut queried = vec![("Bus".to_owned(), metric_names("chat_bus_up"))];
    queried.push(("Latency".to_owned(), metric_names("rate(chat_request_seconds_bucket[5m])")));
    assert!(unexported(&queried, exposition).is_empty());
    queried.push(("Typo".to_owned(), metric_names("sum(rate(chat_requests_seconds_bucket[5m]))")));
    queried.push(("Help only".to_owned(), metric_names("chat_request_seconds")));
    assert_eq!(
        unexported(&queried, exposition),
        ["Typo: chat_requests_seconds_bucket", "Help only: chat_request_seconds"]
    );
}

#[test]
fn the_dashboard_imports_with_a_chosen_prometheus_and_an_instance_variable() {
    let dashboard = dashboard();
    let input = &dashboard["__inputs"][0];
    assert_eq!((input["name"].as_str(), input["pluginId"].as_str()), (Some("DS_PROMETHEUS"), Some("prometheus")));
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_i64().expect("an id")), "panel ids are unique");
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", panel["title"]);
            assert!(target["expr"].as_str().unwrap().contains(r#"instance=~"$instance""#), "{}", target["expr"]);
        }
    }
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["name"] == "instance" && v["includeAll"] == true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_is_exported_by_a_live_server() {
    let queried = queried(&dashboard());
    for (panel, names) in &queried {
        assert!(!names.is_empty(), "{panel} queries no metric");
    }
    let all: BTreeSet<&String> = queried.iter().flat_map(|(_, names)| names).collect();
    assert!(all.len() >= 16, "the dashboard queries only {} names: {all:?}", all.len());

    let app = spawn_server_with(|f| f.merge(("metrics", true))).await;
    let mut alice = app.member("alice").await;
    let mut again = app.browser();
    let login = again.post_form("/login", &[("username", "alice"), ("password", "correct horse battery")]).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let mut stream = again.events("/rooms/lobby/events", &[]).await;
    assert_eq!(stream.status, 200);
    let id = alice.say("lobby", "hello, dashboard").await;
    stream.messages_until(id, Duration::from_secs(5)).await;

    let exposition = app.browser().get("/metrics").await.body;
    assert!(exposition.contains(r#"chat_delivery_seconds_count{path="local"} 1"#), "{exposition}");
    let missing = unexported(&queried, &exposition);
    assert!(missing.is_empty(), "queried but not exported: {missing:?}\n{exposition}");
    println!("{} metric names queried by the dashboard, all exported", all.len());
}
