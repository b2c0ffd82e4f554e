//! The server under test: which kind it is (`chat` or `bare`) and where it
//! listens. This module owns the loopback-only rule: a URL whose host is not
//! in 127.0.0.0/8, `localhost` or `[::1]` is refused before any socket is
//! opened, so the tool can never be pointed at someone else's server.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::{Result, bail};

/// Which server is being measured. Both speak the same message and event
/// paths; only `chat` has accounts (so only it can take a login storm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The chat server (`target/release/chat`).
    Chat,
    /// The bare Rocket SSE broadcast (`cargo run --release --example bare_sse`).
    Bare,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Chat => "chat",
            Kind::Bare => "bare",
        })
    }
}

/// A server on this machine.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub addr: SocketAddr,
    /// The `Host` header to send (as written in the URL).
    pub host: String,
    /// The loopback address this client's sockets are bound to, if not the
    /// kernel's choice: one client process can only hold as many
    /// connections to one server port as it has source ports, so runs with
    /// several load processes give each its own 127.x.y.z.
    pub source: Option<IpAddr>,
}

impl Target {
    /// Parses `http://HOST[:PORT][/]`, refusing every host that is not a
    /// loopback address.
    pub fn parse(url: &str, kind: Kind) -> Result<Self> {
        let (addr, host) = parse_loopback_url(url)?;
        Ok(Self { kind, addr, host, source: None })
    }

    /// The target at a known loopback socket address.
    pub fn at(addr: SocketAddr, kind: Kind) -> Result<Self> {
        // For IPv6 only ::1 is a loopback address.
        if !addr.ip().is_loopback() {
            bail!("refusing {addr}: chat-load only talks to loopback servers (127.0.0.0/8, localhost, [::1])");
        }
        Ok(Self { kind, addr, host: addr.to_string(), source: None })
    }

    /// The same target, reached from the loopback address `source`.
    pub fn from_source(mut self, source: IpAddr) -> Result<Self> {
        if !source.is_loopback() {
            bail!("refusing source address {source}: it must be a loopback address (127.0.0.0/8 or ::1)");
        }
        if source.is_ipv4() != self.addr.is_ipv4() {
            bail!("source address {source} and server {} are not the same IP version", self.addr);
        }
        self.source = Some(source);
        Ok(self)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// Splits a base URL into the socket address to connect to and the `Host`
/// header, or explains why it is refused.
pub fn parse_loopback_url(url: &str) -> Result<(SocketAddr, String)> {
    let refuse = |why: &str| -> Result<(SocketAddr, String)> {
        bail!(
            "refusing URL {url:?}: {why}; chat-load only talks to loopback servers \
             (http://127.0.0.0/8, http://localhost or http://[::1])"
        )
    };
    let Some(rest) = url.strip_prefix("http://") else {
        return refuse("only plain http:// URLs are accepted");
    };
    let authority = match rest.split_once('/') {
        None => rest,
        Some((authority, "")) => authority,
        Some(_) => return refuse("give the server's base URL, without a path"),
    };
    if authority.contains('@') || authority.contains('?') || authority.contains('#') {
        return refuse("user names, queries and fragments are not accepted");
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((ip, after)) = inner.split_once(']') else {
            return refuse("unbalanced brackets");
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return refuse("garbage after the IPv6 address"),
            },
        };
        (ip, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => match p.parse() {
            Ok(p) if p != 0 => p,
            _ => return refuse("the port is not a number from 1 to 65535"),
        },
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else if authority.starts_with('[') {
        match host.parse::<Ipv6Addr>() {
            Ok(ip) if ip == Ipv6Addr::LOCALHOST => IpAddr::V6(ip),
            _ => return refuse("the only IPv6 address accepted is [::1]"),
        }
    } else {
        match host.parse::<Ipv4Addr>() {
            Ok(ip) if ip.is_loopback() => IpAddr::V4(ip),
            Ok(_) => return refuse("the address is not in 127.0.0.0/8"),
            Err(_) => return refuse("the host is neither localhost nor a loopback IP address"),
        }
    };
    Ok((SocketAddr::new(ip, port), authority.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        let ok = |url: &str| parse_loopback_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(ok("http://127.0.0.1:8000").0, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(ok("http://127.0.0.1:8000/").1, "127.0.0.1:8000");
        assert_eq!(ok("http://127.4.5.6:9").0, "127.4.5.6:9".parse().unwrap());
        assert_eq!(ok("http://localhost:8200").0, "127.0.0.1:8200".parse().unwrap());
        assert_eq!(ok("http://LOCALHOST").0, "127.0.0.1:80".parse().unwrap());
        assert_eq!(ok("http://[::1]:8000").0, "[::1]:8000".parse().unwrap());
    }

    #[test]
    fn everything_else_is_refused() {
        for url in [
            "http://10.0.0.1:8000",
            "http://0.0.0.0:8000",
            "http://192.168.1.2",
            "http://example.com:8000",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1@example.com",
            "http://[::ffff:127.0.0.1]:80",
            "http://[2001:db8::1]:80",
            "http://[::]:80",
            "https://127.0.0.1:8000",
            "127.0.0.1:8000",
            "http://2130706433",
            "http://127.0.0.1:0",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:8000/rooms",
        ] {
            let error = parse_loopback_url(url).expect_err(url).to_string();
            assert!(error.contains("refusing"), "{url}: {error}");
        }
    }

    #[test]
    fn socket_addresses_are_checked_too() {
        assert!(Target::at("127.0.0.1:1".parse().unwrap(), Kind::Chat).is_ok());
        assert!(Target::at("[::1]:1".parse().unwrap(), Kind::Bare).is_ok());
        assert!(Target::at("10.1.2.3:1".parse().unwrap(), Kind::Chat).is_err());
    }
}
