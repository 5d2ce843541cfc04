//! Network-facing names that both the configuration and the HTTP layer need: the address blocks
//! allow-lists are made of ([`Cidr`]) and the path the SCIM API is mounted at ([`SCIM_PREFIX`]).
//!
//! This module imports nothing from the crate, on purpose: `config` builds URLs and parses
//! allow-lists, `http` mounts routes and checks addresses, and with these names living here neither
//! of the two has to import the other.

/// Where the SCIM API is mounted (RFC 7644 §3.13 versions the path); `http` mounts its scope here and
/// `config` appends it to the root URL handed to identity providers.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// An address block (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `addr[/prefix]`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    /// Whether `ip` lies in the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)),
                IpAddr::V6(v) => u128::from(v),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.prefix);
        if shift >= 128 {
            return true;
        }
        (bits(self.addr) >> shift) == (bits(ip) >> shift)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_bare_addresses_and_mapped_v4() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let lo = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains(ip("127.1.2.3")));
        assert!(
            lo.contains(ip("::ffff:127.0.0.1")),
            "IPv4-mapped counts as IPv4"
        );
        assert!(!lo.contains(ip("10.0.0.1")));
        assert!(!lo.contains(ip("::1")));
        let one = Cidr::parse("::1").unwrap();
        assert_eq!(one.to_string(), "::1/128");
        assert!(one.contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("192.0.2.7")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("example.com"), None);
    }
}
