//! What the operating system says about processes: this tool's own CPU time
//! (to tell whether the client saturated), a server's CPU time and resident
//! memory (from `/proc/<pid>/stat` and `/proc/<pid>/status`), and raising
//! the open-file limit so thousands of sockets can be held.

use std::io;
use std::time::Instant;

/// Linux reports `/proc/<pid>/stat` times in USER_HZ ticks, which is 100 on
/// every architecture it exposes to user space.
const USER_HZ: f64 = 100.0;

/// Raises the soft RLIMIT_NOFILE to the hard limit (as far as allowed) and
/// returns the resulting soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// CPU seconds a process has used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    pub user: f64,
    pub sys: f64,
}

impl CpuTime {
    pub fn total(&self) -> f64 {
        self.user + self.sys
    }

    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime { user: self.user - earlier.user, sys: self.sys - earlier.sys }
    }
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// The CPU time of `pid` (or of this process when `None`).
pub fn cpu_time(pid: Option<u32>) -> io::Result<CpuTime> {
    parse_stat(&std::fs::read_to_string(proc_path(pid, "stat"))?)
}

fn parse_stat(stat: &str) -> io::Result<CpuTime> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/<pid>/stat format");
    // The command name (field 2) may hold spaces and parentheses: the
    // fields proper start after its last ')'. Field 3 is then index 0, so
    // utime (field 14) and stime (field 15) are indexes 11 and 12.
    let after = stat.rsplit_once(')').ok_or_else(bad)?.1;
    let fields: Vec<&str> = after.split_ascii_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or_else(bad);
    Ok(CpuTime { user: tick(11)? as f64 / USER_HZ, sys: tick(12)? as f64 / USER_HZ })
}

/// Resident memory figures of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the peak resident size so far.
    pub hwm_kib: u64,
    pub threads: u64,
}

/// Reads `/proc/<pid>/status`.
pub fn memory(pid: u32) -> io::Result<Memory> {
    parse_status(&std::fs::read_to_string(proc_path(Some(pid), "status"))?)
}

fn parse_status(status: &str) -> io::Result<Memory> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    let rss_kib = field("VmRSS").ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))?;
    Ok(Memory { rss_kib, hwm_kib: field("VmHWM").unwrap_or(0), threads: field("Threads").unwrap_or(0) })
}

/// Wall and CPU time of this process (and optionally of the server) from a
/// starting point, for the figures every scenario reports.
pub struct Usage {
    started: Instant,
    own: CpuTime,
    server_pid: Option<u32>,
    server: Option<CpuTime>,
}

/// What [`Usage::finish`] measured.
#[derive(Debug, Clone, Copy)]
pub struct UsageReport {
    pub wall_s: f64,
    pub client: CpuTime,
    pub server: Option<CpuTime>,
    pub server_memory: Option<Memory>,
}

impl Usage {
    pub fn start(server_pid: Option<u32>) -> Self {
        Self {
            started: Instant::now(),
            own: cpu_time(None).unwrap_or_default(),
            server_pid,
            server: server_pid.and_then(|pid| cpu_time(Some(pid)).ok()),
        }
    }

    pub fn finish(&self) -> UsageReport {
        let wall_s = self.started.elapsed().as_secs_f64();
        let client = cpu_time(None).unwrap_or_default().since(self.own);
        let server = match (self.server_pid, self.server) {
            (Some(pid), Some(before)) => cpu_time(Some(pid)).ok().map(|now| now.since(before)),
            _ => None,
        };
        let server_memory = self.server_pid.and_then(|pid| memory(pid).ok());
        UsageReport { wall_s, client, server, server_memory }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_parse() {
        let stat = "4242 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 9 0 1000 2000 300";
        assert_eq!(parse_stat(stat).unwrap(), CpuTime { user: 2.5, sys: 0.75 });
        let status = "Name:\tchat\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n";
        assert_eq!(parse_status(status).unwrap(), Memory { rss_kib: 10240, hwm_kib: 20480, threads: 7 });
        assert!(parse_status("Name: x\n").is_err());
    }

    #[test]
    fn this_process_can_be_read() {
        assert!(cpu_time(None).is_ok());
        assert!(memory(std::process::id()).unwrap().rss_kib > 0);
    }
}
