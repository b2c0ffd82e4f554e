//! The address a limit counts a client under: its IPv4 address, or the /64
//! network of its IPv6 one.
//!
//! One IPv6 subscriber is routinely given a whole /64 (2^64 addresses) and
//! may pick any address in it for each request, so keyed by full address a
//! single client would get unlimited budgets. A /64 is the smallest block a
//! network hands a site, so it is the unit that stands for one client. An
//! IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket
//! reports for an IPv4 peer) counts as that IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

/// Bits of an IPv6 address that name one client's network.
pub const IPV6_CLIENT_PREFIX: u32 = 64;

/// The address `ip` counts under: itself for IPv4, its /64 for IPv6.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX << (128 - IPV6_CLIENT_PREFIX);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// The key a client address counts under in the post buckets and stream
/// caps; unknown addresses share one key.
pub fn ip_key(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "ip:unknown".to_owned(), |ip| format!("ip:{}", client_network(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_ipv4_ones_by_address() {
        assert_eq!(ip_key(Some(ip("2001:db8:1:2:aaaa::1"))), ip_key(Some(ip("2001:db8:1:2:ffff:1:2:3"))));
        assert_eq!(ip_key(Some(ip("2001:db8:1:2::1"))), "ip:2001:db8:1:2::");
        assert_ne!(ip_key(Some(ip("2001:db8:1:2::1"))), ip_key(Some(ip("2001:db8:1:3::1"))));
        assert_eq!(ip_key(Some(ip("::ffff:192.0.2.7"))), ip_key(Some(ip("192.0.2.7"))));
        assert_ne!(ip_key(Some(ip("192.0.2.7"))), ip_key(Some(ip("192.0.2.8"))));
        assert_eq!(ip_key(None), "ip:unknown");
    }
}
