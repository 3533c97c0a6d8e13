//! The client's address, for per-address throttles and limits: the socket's peer, or, when the
//! peer is a configured trusted proxy, the last address in `X-Forwarded-For` that is not one.
//!
//! Every address is canonical (`IpAddr::to_canonical`): on a dual-stack listener an IPv4 client
//! arrives as `::ffff:a.b.c.d`, and without this it would be keyed, and matched against the
//! trusted proxies, as one IPv6 network shared by every IPv4 client. A hop written by a trusted
//! proxy that names no address refuses the request: falling back to the proxy's own address
//! would put every client behind it in one bucket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::{ApiError, ErrorCode};

/// Proxies whose `X-Forwarded-For` is believed: addresses or CIDR networks, canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

/// The prefix of the IPv4-mapped IPv6 range (`::ffff:0:0/96`).
const MAPPED_PREFIX: u8 = 96;

/// A header value that is not text: a hop that names no address.
const UNREADABLE: &str = "";

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `192.0.2.1`, `2001:db8::/32`, …; an IPv4-mapped entry
    /// (`::ffff:10.0.0.0/104`) is taken as the IPv4 network it maps.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (written, prefix) = entry.split_once('/').unwrap_or((entry, ""));
            let written: IpAddr = written
                .parse()
                .map_err(|_| format!("'{entry}' is not an IP address or CIDR network"))?;
            let max = if written.is_ipv4() { 32 } else { 128 };
            let prefix = if prefix.is_empty() {
                max
            } else {
                prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("'{entry}' has an invalid prefix length"))?
            };
            let address = written.to_canonical();
            let prefix = match (written, address) {
                (IpAddr::V6(_), IpAddr::V4(_)) => {
                    prefix.checked_sub(MAPPED_PREFIX).ok_or_else(|| {
                        format!("'{entry}' reaches beyond the IPv4-mapped range ::ffff:0:0/96")
                    })?
                }
                _ => prefix,
            };
            networks.push((address, prefix));
        }
        Ok(TrustedProxies(networks))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|&(network, prefix)| in_network(ip, network, prefix))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values. A trusted proxy that sends
    /// none is itself the client.
    fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> Result<IpAddr, InvalidForwardedFor> {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return Ok(peer);
        }
        // Each proxy appends the address it saw: walk back past the trusted ones. Every hop
        // reached was written by a trusted proxy, so one that names no address is its fault.
        let hops = forwarded_for.iter().flat_map(|value| value.split(','));
        let mut client = peer;
        for hop in hops.rev() {
            client = parse_hop(hop.trim()).ok_or(InvalidForwardedFor)?;
            if !self.contains(client) {
                break;
            }
        }
        Ok(client)
    }
}

/// A hop as proxies write them: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`; canonical.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .or_else(|| {
            let bracketed = hop.strip_prefix('[')?.strip_suffix(']')?;
            bracketed.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// A trusted proxy's `X-Forwarded-For` names no client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InvalidForwardedFor;

impl From<InvalidForwardedFor> for ApiError {
    fn from(_: InvalidForwardedFor) -> Self {
        ApiError::bad_request(
            ErrorCode::InvalidForwardedFor,
            "X-Forwarded-For from a trusted proxy has a hop that is not an IP address \
             (ip, ip:port, [ipv6] or [ipv6]:port).",
        )
    }
}

/// The client's address, canonical (unspecified when the server was not given the peer's). The
/// request frame tells it once per request ([`ClientAddress::of`]) and leaves it in the
/// request's extensions, where this extractor finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The client of a request that reached this server from `parts`' peer.
    pub fn of(parts: &Parts, proxies: &TrustedProxies) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let forwarded_for: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|value| value.to_str().unwrap_or(UNREADABLE))
            .collect();
        match proxies.client(peer, &forwarded_for) {
            Ok(client) => Ok(ClientAddress(client)),
            Err(invalid) => {
                tracing::warn!(
                    %peer,
                    "request refused: the trusted proxy's X-Forwarded-For names no client address"
                );
                Err(invalid.into())
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ClientAddress>()
            .copied()
            .ok_or_else(|| {
                tracing::error!("no client address: the route is not inside the request frame");
                ApiError::internal()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(proxies: &TrustedProxies, peer: &str, header: &[&str]) -> IpAddr {
        proxies.client(ip(peer), header).unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "2001:db8::1".into()]).unwrap();
        let header = ["203.0.113.9, 10.1.2.3"];
        assert_eq!(client(&proxies, "10.9.9.9", &header), ip("203.0.113.9"));
        assert_eq!(
            client(&proxies, "198.51.100.1", &header),
            ip("198.51.100.1")
        );
        assert_eq!(
            client(&proxies, "2001:db8::1", &["192.0.2.5"]),
            ip("192.0.2.5")
        );
        // A client cannot pick its address by prepending to the header.
        let spoofed = ["1.2.3.4, 203.0.113.9"];
        assert_eq!(client(&proxies, "10.0.0.1", &spoofed), ip("203.0.113.9"));
        // Nor by prepending garbage: the walk stops at the first untrusted hop.
        let garbage_first = ["garbage, 203.0.113.9"];
        assert_eq!(
            client(&proxies, "10.0.0.1", &garbage_first),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_sending_no_forwarded_for_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        assert_eq!(client(&proxies, "10.0.0.1", &[]), ip("10.0.0.1"));
    }

    #[test]
    fn a_hop_from_a_trusted_proxy_that_names_no_address_refuses_the_request() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        for header in [
            &["garbage"][..],
            &["unknown"],
            &[""],
            &[UNREADABLE],
            &["203.0.113.9, "],
            &["203.0.113.9, nonsense, 10.0.0.2"],
            &["203.0.113.9:port"],
        ] {
            assert_eq!(
                proxies.client(ip("10.0.0.1"), header),
                Err(InvalidForwardedFor),
                "{header:?}"
            );
        }
        // An untrusted peer's header is never read.
        assert_eq!(client(&proxies, "192.0.2.1", &["garbage"]), ip("192.0.2.1"));
    }

    #[test]
    fn hops_with_ports_and_brackets_name_their_address() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        for (hop, expected) in [
            ("203.0.113.9:4711", "203.0.113.9"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
            ("[::ffff:203.0.113.9]:4711", "203.0.113.9"),
        ] {
            assert_eq!(client(&proxies, "10.0.0.1", &[hop]), ip(expected), "{hop}");
        }
        // A proxy written with its port is still recognised as trusted.
        assert_eq!(
            client(&proxies, "10.0.0.1", &["203.0.113.9, 10.0.0.2:4711"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_canonical_everywhere() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        // A dual-stack listener sees an IPv4 proxy as ::ffff:a.b.c.d.
        assert_eq!(
            client(&proxies, "::ffff:10.0.0.1", &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // And an IPv4 client as one: it is its own IPv4 address.
        assert_eq!(client(&proxies, "::ffff:192.0.2.1", &[]), ip("192.0.2.1"));
        assert_eq!(
            client(
                &proxies,
                "10.0.0.1",
                &["::ffff:203.0.113.9, ::ffff:10.0.0.2"]
            ),
            ip("203.0.113.9")
        );
        // Trusted proxies written mapped are the IPv4 networks they map.
        let mapped = TrustedProxies::parse(&["::ffff:10.0.0.0/104".into()]).unwrap();
        assert_eq!(mapped, proxies);
        let one = TrustedProxies::parse(&["::ffff:10.0.0.1".into()]).unwrap();
        assert_eq!(one, TrustedProxies::parse(&["10.0.0.1".into()]).unwrap());
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in ["10.0.0.0/33", "nonsense", "::1/129", "::ffff:0:0/95"] {
            assert!(TrustedProxies::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
