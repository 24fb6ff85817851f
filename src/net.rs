//! Client addresses: read the same way everywhere (an IPv4 client seen on a dual-stack socket is
//! IPv4) and cut to a network prefix. The fingerprint's network trait and the server's trusted
//! proxies both use these.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 address seen on a dual-stack socket (`::ffff:a.b.c.d`) as IPv4; others as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `ip`'s first `bits` bits (at most 32 for IPv4, 128 for IPv6), the rest zero.
pub fn prefix(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits.min(32))).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits.min(128))).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_alike_and_cut_to_their_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(canonical(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(prefix(ip("203.0.113.77"), 24), ip("203.0.113.0"));
        assert_eq!(prefix(ip("203.0.113.77"), 0), ip("0.0.0.0"));
        assert_eq!(prefix(ip("203.0.113.77"), 99), ip("203.0.113.77"));
        assert_eq!(prefix(ip("2001:db8:1:2::7"), 48), ip("2001:db8:1::"));
    }
}
