//! The `chat-load` binary: parses the command line, raises the open-file
//! limit, runs one scenario (or `seed`) on a multi-threaded runtime, prints
//! its report and, with `--out`, writes it to files; or plots such files
//! (`plot`, no runtime needed). Everything else is in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use chat_load::plot::PlotArgs;
use chat_load::{Common, Kind, Scenario, SeedArgs, Target};

const AFTER_HELP: &str = "\
Servers (loopback only; the chat server with rate limits off):
  ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR=$(mktemp -d) ROCKET_PORT=8200 \\
      ROCKET_LOG_LEVEL=off target/release/chat &
  (with ROCKET_METRICS=true as well, resume-storm also reports the server's replay reads)
  ROCKET_PORT=8300 ROCKET_LOG_LEVEL=off cargo run --release --example bare_sse &

Examples:
  chat-load --url http://127.0.0.1:8200 fanout -s 1000 -r 20 -d 10
  chat-load --url http://127.0.0.1:8200 fanout --transport ws -s 1000 -r 20 -d 10
  chat-load --url http://127.0.0.1:8200 --server-pid $PID idle -n 10000 --hold 10
  chat-load --url http://127.0.0.1:8200 --server-pid $PID idle --transport poll -n 2000 --hold 10
  chat-load --url http://127.0.0.1:8300 --target bare maxpost -p 4 -d 10
  chat-load --url http://127.0.0.1:8200 login-storm -s 1000 -r 20 -d 10 --logins 50
  chat-load --url http://127.0.0.1:8200 --server-pid $PID search --seed 1000000 --rounds 50
  chat-load --url http://127.0.0.1:8200 upload-storm -s 1000 -r 20 -d 10 --uploads 4
  chat-load --url http://127.0.0.1:8200 --server-pid $PID idle -n 19000 --hold 60 --post 5
  chat-load --url http://127.0.0.1:8200 --server-pid $PID rooms --rooms 4950 -s 19800 -p 16 -r 4950 -d 10
  chat-load --url http://127.0.0.1:8200 --server-pid $PID soak -s 1000 -r 20 -d 3600 --reconnects 100
  chat-load --url http://127.0.0.1:8200 --server-pid $PID resume-storm --streams 5000 --behind 100

  chat-load seed --sqlite-data-dir /tmp/hist    # then start the server on it:
  chat-load --url http://127.0.0.1:8200 history --rounds 200

  chat-load --url http://127.0.0.1:8200 --out runs/chat fanout -s 1000 -r 50 -d 30
  chat-load --url http://127.0.0.1:8300 --target bare --out runs/bare fanout -s 1000 -r 50 -d 30
  chat-load plot runs/chat runs/bare --to runs    # latency.svg, deliveries.svg

Several instances (one database and bus): --also-url for each further
instance; several load processes: --source 127.0.0.N each, one shared
--run, `idle --expect K --ready-file F` on all but the one that posts.

Each run prints a short summary, then one JSON line with every figure.
With --out DIR it also writes them to DIR/summary.txt and summary.json,
the delivery latency by percentile to latency.csv (percentile,latency_ms,
count) and one row per second to series.csv (second,deliveries,posts,
p50_ms,p99_ms).
After a --transport poll run the server may hold the abandoned long polls
for up to 30 s: wait that long before the next run.";

/// Load benchmark for the chat server (and the bare Rocket SSE server).
#[derive(Debug, Parser)]
#[command(name = "chat-load", version, after_help = AFTER_HELP)]
struct Cli {
    /// The server's base URL: 127.0.0.0/8, localhost or [::1] only.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Another instance of the same service (same database and bus); repeat
    /// for more. Subscribers and posters are dealt over all in turn.
    #[arg(long, global = true)]
    also_url: Vec<String>,
    /// Bind this client's sockets to this loopback address (e.g. 127.0.0.2),
    /// so several load processes each have a source port range of their own.
    #[arg(long, global = true)]
    source: Option<std::net::IpAddr>,
    /// Tag messages with this run id (8 hex digits) instead of a fresh one,
    /// so several load processes count each other's posts.
    #[arg(long, global = true)]
    run: Option<String>,
    /// Which kind of server is at --url.
    #[arg(long, global = true, value_enum, default_value_t = Kind::Chat)]
    target: Kind,
    /// The room to use (default: a fresh `load-<run>` room).
    #[arg(long, global = true)]
    room: Option<String>,
    /// The server's process id: its CPU and memory are reported (idle needs it).
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Sockets connecting at once [default: 256; resume-storm reconnects
    /// all its streams at once unless this is given].
    #[arg(long, global = true)]
    connect_concurrency: Option<usize>,
    /// Seconds any one connect or request may take.
    #[arg(long, global = true, default_value_t = 30.0)]
    timeout: f64,
    /// Hard overall deadline in seconds (default: the scenario's length + 120).
    #[arg(long, global = true)]
    deadline: Option<f64>,
    /// Tokio worker threads (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Also write the run's summary, latency distribution (latency.csv) and
    /// per-second series (series.csv) into this directory, for `plot`.
    #[arg(long, global = true)]
    out: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(Scenario),
    /// Write a large history (10,000,000 messages over 1,000 rooms by
    /// default) straight into a database, before the server starts on it:
    /// the server's schema, texts of the search corpus; for `history`.
    Seed(SeedArgs),
    /// Draw run directories written with --out (ours, then the floor's) as
    /// SVG charts: latency by percentile, and deliveries per second.
    Plot(PlotArgs),
}

fn seconds(what: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("{what} must be a number of seconds, not {value}"))
}

fn common(cli: &Cli) -> anyhow::Result<Common> {
    let target = |url: &str| -> anyhow::Result<Target> {
        let target = Target::parse(url, cli.target)?;
        Ok(match cli.source {
            Some(source) => target.from_source(source)?,
            None => target,
        })
    };
    let mut common = Common::new(target(&cli.url)?);
    common.also = cli.also_url.iter().map(|url| target(url)).collect::<anyhow::Result<_>>()?;
    if let Some(run) = &cli.run {
        common.run = u32::from_str_radix(run, 16)
            .map_err(|_| anyhow::anyhow!("--run must be 8 hex digits, like the run printed by another chat-load"))?;
        common.room = format!("load-{:08x}", common.run);
    }
    if let Some(room) = &cli.room {
        common.room = room.clone();
    }
    common.server_pid = cli.server_pid;
    if let Some(concurrency) = cli.connect_concurrency {
        common.connect_concurrency = concurrency;
        common.connect_concurrency_given = true;
    }
    common.timeout = seconds("--timeout", cli.timeout).map_err(anyhow::Error::msg)?;
    common.deadline = cli.deadline.map(|d| seconds("--deadline", d)).transpose().map_err(anyhow::Error::msg)?;
    common.record_series = cli.out.is_some();
    if let Some(dir) = &cli.out {
        chat_load::out::prepare(dir)?;
    }
    Ok(common)
}

/// `plot`: no server and no runtime.
fn plot(args: &PlotArgs) -> ExitCode {
    match chat_load::plot::run(args) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chat-load plot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Plot(args) = &cli.command {
        return plot(args);
    }
    let common = match common(&cli) {
        Ok(common) => common,
        Err(e) => {
            eprintln!("chat-load: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = chat_load::sys::raise_nofile_limit() {
        eprintln!("chat-load: cannot raise the open-file limit: {e}");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chat-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Scenario(scenario) => chat_load::run(&common, scenario).await,
            Command::Seed(args) => chat_load::seed::run(args).await,
            Command::Plot(_) => unreachable!("plotted above, without a runtime"),
        }
    });
    // Anything still running (it should not be) is dropped, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(report) => {
            print!("{}", report.render());
            let Some(dir) = &cli.out else { return ExitCode::SUCCESS };
            match chat_load::out::write(dir, &report) {
                Ok(files) => {
                    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                    eprintln!("chat-load: wrote {}", names.join(", "));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("chat-load: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("chat-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}
