//! Where deliveries may go. Without `webhooks.allow_private_targets`, an endpoint must be
//! `https` on port 443, and the host must resolve only to public addresses: never loopback,
//! private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), CGNAT,
//! multicast, reserved or documentation space, nor an IPv6 address that carries such an IPv4
//! address (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64, 6to4, ISATAP; Teredo is
//! refused outright). The check runs when the URL is saved and again at every delivery,
//! through a resolver that hands the HTTP client public addresses only, so a name re-pointed
//! at an internal address afterwards (DNS rebinding) still reaches nothing.
//!
//! The address tables are written out here, from the IANA IPv4 and IPv6 Special-Purpose
//! Address Registries (and, where named, the IANA IPv6 Address Space and IPv4 Multicast
//! Address Space registries). No crate was taken for them: `ipnet` and `iprange` only do CIDR
//! arithmetic and sets, with no registry in them; `ip_network`'s `is_global` checks only a
//! handful of IPv6 blocks (an IPv4-mapped loopback passes it); copies of the standard
//! library's unstable `is_global` (`nex-core`, `netdev`, `ipext`) refuse 6to4 and IPv4-mapped
//! space wholesale and look at no embedded IPv4 address, which is the point here.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an endpoint URL as it is saved. The error is the reason, for the `url` field.
pub async fn check_url(text: &str, allow_private: bool) -> Result<Url, String> {
    check_url_resolving(
        text,
        allow_private,
        |host| async move { lookup(&host).await },
    )
    .await
}

/// [`check_url`] with the name lookup passed in: the tests' seam, so that they never use DNS.
async fn check_url_resolving<F, Fut>(
    text: &str,
    allow_private: bool,
    resolve: F,
) -> Result<Url, String>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let url = Url::parse(text).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    match (url.scheme(), allow_private) {
        ("https", _) | ("http", true) => {}
        _ => return Err("must use https".into()),
    }
    if allow_private {
        return url
            .host()
            .map(|_| url.clone())
            .ok_or_else(|| "must name a host".into());
    }
    if url.port_or_known_default() != Some(443) {
        return Err("must use port 443".into());
    }
    let domain = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => return public_ip(IpAddr::V4(ip)).map(|_| url.clone()),
        Some(url::Host::Ipv6(ip)) => return public_ip(IpAddr::V6(ip)).map(|_| url.clone()),
        Some(url::Host::Domain(domain)) => domain.to_string(),
    };
    let addresses = resolve(domain)
        .await
        .map_err(|_| "does not resolve".to_string())?;
    if addresses.is_empty() {
        return Err("does not resolve".into());
    }
    for address in addresses {
        public_ip(address.ip())?;
    }
    Ok(url)
}

/// At delivery: a literal IP host must still be public (the resolver below never sees it).
pub fn check_literal_host(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => public_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => public_ip(IpAddr::V6(ip)),
        _ => Ok(()),
    }
}

fn public_ip(ip: IpAddr) -> Result<(), String> {
    match refusal(ip) {
        None => Ok(()),
        Some(why) => Err(format!("points at {ip}, {why}")),
    }
}

async fn lookup(host: &str) -> std::io::Result<Vec<SocketAddr>> {
    let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out"))??;
    Ok(found.collect())
}

pub fn is_public(ip: IpAddr) -> bool {
    refusal(ip).is_none()
}

/// Why an address is not public: the registry block it falls in, and for an IPv6 address
/// that carries an IPv4 one, how it carries it and which IPv4 address that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    block: &'static str,
    carried: Option<(&'static str, Ipv4Addr)>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((form, v4)) = self.carried {
            write!(f, "{form} that carries {v4}, ")?;
        }
        write!(f, "which is not a public address ({})", self.block)
    }
}

fn refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(ip) => refusal_v4(ip).map(|block| Refusal {
            block,
            carried: None,
        }),
        IpAddr::V6(ip) => refusal_v6(ip),
    }
}

/// IPv4 blocks that are never a target: every block of the IANA IPv4 Special-Purpose Address
/// Registry whose "Globally Reachable" is False, plus multicast (IANA IPv4 Multicast Address
/// Space registry). Stricter than the registry in one place: all of 192.0.0.0/24 is refused,
/// although its 192.0.0.9/32 (PCP anycast) and 192.0.0.10/32 (TURN anycast) are globally
/// reachable, since neither is ever a webhook receiver. 192.88.99.0/24, the deprecated 6to4
/// relay anycast (RFC 7526), is refused for the same reason.
const V4_NOT_PUBLIC: &[(Ipv4Addr, u32, &str)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "0.0.0.0/8, \"this network\", RFC 791",
    ),
    (
        Ipv4Addr::new(10, 0, 0, 0),
        8,
        "10.0.0.0/8, private-use, RFC 1918",
    ),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "100.64.0.0/10, shared address space (CGNAT), RFC 6598",
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        8,
        "127.0.0.0/8, loopback, RFC 1122",
    ),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "169.254.0.0/16, link-local (cloud metadata), RFC 3927",
    ),
    (
        Ipv4Addr::new(172, 16, 0, 0),
        12,
        "172.16.0.0/12, private-use, RFC 1918",
    ),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "192.0.0.0/24, IETF protocol assignments, RFC 6890",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "192.0.2.0/24, documentation (TEST-NET-1), RFC 5737",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "192.88.99.0/24, deprecated 6to4 relay anycast, RFC 7526",
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        "192.168.0.0/16, private-use, RFC 1918",
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "198.18.0.0/15, benchmarking, RFC 2544",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "198.51.100.0/24, documentation (TEST-NET-2), RFC 5737",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "203.0.113.0/24, documentation (TEST-NET-3), RFC 5737",
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        4,
        "224.0.0.0/4, multicast, RFC 5771",
    ),
    (
        Ipv4Addr::new(255, 255, 255, 255),
        32,
        "255.255.255.255/32, limited broadcast, RFC 919",
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "240.0.0.0/4, reserved, RFC 1112",
    ),
];

/// IPv6 blocks that are never a target, whatever they carry: the blocks of the IANA IPv6
/// Special-Purpose Address Registry whose "Globally Reachable" is False (except the
/// IPv4-mapped block, which is judged by the IPv4 address it carries, like the other
/// embeddings in [`carried_v4`]), plus multicast, link-local and the deprecated site-local
/// block. Stricter than the registry: all of 2001::/23 is refused, with the few globally
/// reachable anycast, AMT, AS112 and ORCHIDv2 blocks inside it, none of which is ever a
/// webhook receiver. Anything outside 2000::/3 that no rule here accepts is refused too (see
/// [`refusal_v6`]), so the unique-local, link-local, site-local and multicast rows only name
/// the reason.
const V6_NOT_PUBLIC: &[(Ipv6Addr, u32, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "::/128, unspecified, RFC 4291"),
    (Ipv6Addr::LOCALHOST, 128, "::1/128, loopback, RFC 4291"),
    // RFC 6052 lets a local-use NAT64 prefix be /48, /56, /64 or /96 long, and the IPv4
    // address sits at a different place in each: it cannot be read back reliably. The block
    // is not globally reachable anyway, and a translator on it is by definition inside some
    // operator's network, perhaps ours: refused whatever it carries.
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "64:ff9b:1::/48, local-use IPv4/IPv6 translation, RFC 8215",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "100::/64, discard-only, RFC 6666",
    ),
    // Teredo is refused outright rather than by the two IPv4 addresses it carries (the
    // server's in bits 32..64, the client's NAT mapping, inverted, in the last 32 bits): the
    // client part is only what the client claims its NAT maps, the packets are relayed over
    // UDP by whichever Teredo relay is nearest (ours, if the host runs one), and the mechanism
    // is obsolete, so no genuine receiver is lost while a second pair of checks is avoided.
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        "2001::/32, Teredo, RFC 4380",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "2001::/23, IETF protocol assignments, RFC 2928",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "2001:db8::/32, documentation, RFC 3849",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "3fff::/20, documentation, RFC 9637",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "5f00::/16, SRv6 SIDs, RFC 9602",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "fc00::/7, unique-local, RFC 4193",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "fe80::/10, link-local unicast, RFC 4291",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "fec0::/10, site-local (deprecated), RFC 3879",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "ff00::/8, multicast, RFC 4291",
    ),
];

fn in_block_v4(ip: Ipv4Addr, start: Ipv4Addr, prefix: u32) -> bool {
    let shift = 32 - prefix;
    ip.to_bits().checked_shr(shift).unwrap_or(0) == start.to_bits().checked_shr(shift).unwrap_or(0)
}

fn in_block_v6(ip: Ipv6Addr, start: Ipv6Addr, prefix: u32) -> bool {
    let shift = 128 - prefix;
    ip.to_bits().checked_shr(shift).unwrap_or(0) == start.to_bits().checked_shr(shift).unwrap_or(0)
}

/// The registry block that makes `ip` not public, if any.
fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_NOT_PUBLIC
        .iter()
        .find(|(start, prefix, _)| in_block_v4(ip, *start, *prefix))
        .map(|(_, _, name)| *name)
}

/// How an IPv6 address carries an IPv4 address that a host or a translator on the path may
/// end up sending to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    /// The whole IPv6 address stands for the IPv4 one: it is public exactly when that is.
    Whole(&'static str, Ipv4Addr),
    /// The IPv4 address is part of a routing prefix or interface identifier: a non-public
    /// one refuses the address, a public one leaves it to the IPv6 rules.
    Part(&'static str, Ipv4Addr),
}

/// The IPv4 addresses that `ip` carries (at most two: a 6to4 prefix and an ISATAP interface
/// identifier). Teredo and local-use NAT64 never get here: [`V6_NOT_PUBLIC`] refuses them.
fn carried_v4(ip: Ipv6Addr) -> [Option<Carried>; 2] {
    let s = ip.segments();
    let low = Ipv4Addr::from_bits((u32::from(s[6]) << 16) | u32::from(s[7]));
    let whole = match s[..6] {
        // ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2); in the IANA registry, not globally
        // reachable as IPv6, but it is how a dual-stack socket names an IPv4 peer.
        [0, 0, 0, 0, 0, 0xffff] => Some("an IPv4-mapped address"),
        // ::ffff:0:0:0/96, IPv4-translated (SIIT, RFC 2765 §2.1; dropped from RFC 6145).
        [0, 0, 0, 0, 0xffff, 0] => Some("an IPv4-translated (SIIT) address"),
        // ::/96, IPv4-compatible (RFC 4291 §2.5.5.1, deprecated; ::/128 and ::1/128 are
        // refused by the table before this); a stack or tunnel that still honours them
        // sends to the IPv4 address.
        [0, 0, 0, 0, 0, 0] => Some("an IPv4-compatible address"),
        // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052); IANA: globally reachable,
        // and RFC 6052 §3.1 forbids it to carry a non-global IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0] => Some("a NAT64 (64:ff9b::/96) address"),
        _ => None,
    };
    if let Some(form) = whole {
        return [Some(Carried::Whole(form, low)), None];
    }
    // 2002::/16, 6to4 (RFC 3056): the IPv4 address of the site's 6to4 router in
    // bits 16..48.
    let six_to_four = (s[0] == 0x2002).then(|| {
        let v4 = Ipv4Addr::from_bits((u32::from(s[1]) << 16) | u32::from(s[2]));
        Carried::Part("a 6to4 address", v4)
    });
    // ISATAP interface identifier (RFC 5214 §6.1): 0000:5efe or 0200:5efe (u/g bits may be
    // set) and the IPv4 address, under any prefix; an ISATAP host tunnels straight to it.
    let isatap =
        (s[4] & 0xfcff == 0 && s[5] == 0x5efe).then_some(Carried::Part("an ISATAP address", low));
    [six_to_four, isatap]
}

fn refusal_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if let Some((_, _, block)) = V6_NOT_PUBLIC
        .iter()
        .find(|(start, prefix, _)| in_block_v6(ip, *start, *prefix))
    {
        return Some(Refusal {
            block,
            carried: None,
        });
    }
    for carried in carried_v4(ip).into_iter().flatten() {
        let (Carried::Whole(form, v4) | Carried::Part(form, v4)) = carried;
        let refused = refusal_v4(v4).map(|block| Refusal {
            block,
            carried: Some((form, v4)),
        });
        match carried {
            Carried::Whole(..) => return refused,
            Carried::Part(..) if refused.is_some() => return refused,
            Carried::Part(..) => {}
        }
    }
    // IANA IPv6 Address Space: only 2000::/3 is global unicast; the rest is reserved by the
    // IETF, unique-local, link-local or multicast (the embeddings above were judged already).
    // A deployment behind a network-specific NAT64 prefix inside 2000::/3 would need that
    // prefix added here: the IPv4 address it carries cannot be recognised without it.
    if ip.segments()[0] & 0xe000 != 0x2000 {
        return Some(Refusal {
            block: "outside 2000::/3, the global unicast space",
            carried: None,
        });
    }
    None
}

/// Of the addresses a name resolved to, those a delivery may use.
fn usable_addresses(
    found: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
) -> Vec<SocketAddr> {
    found
        .into_iter()
        .filter(|address| allow_private || is_public(address.ip()))
        .collect()
}

/// The HTTP client's resolver: public addresses only (unless private targets are allowed).
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let usable = usable_addresses(lookup(name.as_str()).await?, allow_private);
            if usable.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            let addresses: Addrs = Box::new(usable.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};

    use super::*;

    /// Addresses that must never be a target: IPv4 special-purpose space, IPv6 special-purpose
    /// space, and every IPv6 form that carries a loopback, private, CGNAT or metadata IPv4
    /// address, compressed, uncompressed and in upper case.
    const HOSTILE_ADDRESSES: &[&str] = &[
        // IPv4
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "192.0.0.1",
        "192.0.0.9",
        "192.0.0.170",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.7",
        "198.18.0.1",
        "198.19.255.255",
        "192.88.99.1",
        // IPv6
        "::",
        "::1",
        "0:0:0:0:0:0:0:1",
        "0000:0000:0000:0000:0000:0000:0000:0001",
        "fc00::1",
        "fd00:ec2::254",
        "FD12:3456:789A::1",
        "fe80::1",
        "febf:ffff::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "5f00::1",
        "2001:2::1",
        "2001:10::1",
        "4000::1",
        "1::1",
        // IPv4-mapped, ::ffff:0:0/96
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::FFFF:7F00:1",
        "0:0:0:0:0:ffff:7f00:1",
        "0000:0000:0000:0000:0000:ffff:7f00:0001",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "::ffff:10.0.0.1",
        "::ffff:0.0.0.0",
        "::ffff:100.64.0.1",
        // IPv4-translated (SIIT), ::ffff:0:0:0/96
        "::ffff:0:7f00:1",
        "::ffff:0:127.0.0.1",
        "::ffff:0:a9fe:a9fe",
        "::FFFF:0:A00:1",
        "0:0:0:0:ffff:0:c0a8:101",
        // IPv4-compatible, ::/96
        "::127.0.0.1",
        "::7f00:1",
        "::a9fe:a9fe",
        "::10.0.0.1",
        "::0.0.0.2",
        "0:0:0:0:0:0:c0a8:101",
        // NAT64, 64:ff9b::/96
        "64:ff9b::127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:FF9B::A00:1",
        "0064:ff9b:0000:0000:0000:0000:c0a8:0101",
        "64:ff9b::6440:1",
        // local-use NAT64, 64:ff9b:1::/48: refused whatever it carries
        "64:ff9b:1::7f00:1",
        "64:ff9b:1:7f00:0:100::",
        "64:ff9b:1::808:808",
        // beyond the NAT64 /96 (reserved space)
        "64:ff9b:0:0:1::7f00:1",
        // 6to4, 2002::/16
        "2002:7f00:1::",
        "2002:7f00:0001:0000:0000:0000:0000:0000",
        "2002:7F00:1::1",
        "2002:a9fe:a9fe::1",
        "2002:a00:1::",
        "2002:c0a8:101:1::1",
        "2002:6440:1::",
        "2002::1",
        "2002:e000:1::",
        // Teredo, 2001::/32: server 127.0.0.1; client 127.0.0.1 (inverted); both public
        "2001:0:7f00:1::",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "2001:0:808:808::f7f7:f7f7",
        // ISATAP interface identifiers carrying loopback / metadata
        "2001:4860:1::5efe:7f00:1",
        "2a00:1450:4001::200:5efe:a9fe:a9fe",
        "2002:808:808::5efe:a00:1",
    ];

    /// Public addresses, as data only: nothing in these tests is ever sent anywhere.
    const PUBLIC_ADDRESSES: &[&str] = &[
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "192.0.1.1",
        "198.20.0.1",
        "100.128.0.1",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2620:4f:8000::1",
        "::ffff:8.8.8.8",
        "::ffff:0:808:808",
        "::8.8.8.8",
        "64:ff9b::8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2002:0808:0808:0000:0000:0000:0000:0001",
        "2a00:1450:4001::200:5efe:808:808",
    ];

    /// Endpoint URLs that must be refused. Literal hosts in every spelling the URL parser
    /// turns into a non-public address (a spelling it refuses is fine too), userinfo and
    /// fragment tricks, and made-up names that [`fake_dns`] maps to loopback addresses.
    const HOSTILE_URLS: &[&str] = &[
        "https://127.0.0.1/hook",
        "https://127.1/hook",
        "https://127.0.1/hook",
        "https://0x7f.1/hook",
        "https://0x7f000001/hook",
        "https://0X7F.0X0.0X0.0X1/hook",
        "https://2130706433/hook",
        "https://017700000001/hook",
        "https://0177.0.0.1/hook",
        "https://0177.0000.0000.0001/hook",
        "https://127.0.0.1./hook",
        "https://0/hook",
        "https://0x0/hook",
        "https://10.1/hook",
        "https://192.168.1/hook",
        "https://169.254.43518/latest/meta-data/",
        "https://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",
        "https://0251.0376.0251.0376/latest/meta-data/",
        "https://2852039166/latest/meta-data/",
        "https://100.64.1/hook",
        "https://\u{2460}\u{2461}\u{2466}.0.0.1/hook",
        "https://127\u{3002}0\u{3002}0\u{3002}1/hook",
        "https://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/hook",
        "https://127.0.0.\t1/hook",
        " https://127.0.0.1/hook ",
        "HTTPS://127.0.0.1/hook",
        "https://127.0.0.1:443/hook",
        "https://127.0.0.1\\@93.184.216.34/hook",
        "https://127.0.0.1#@93.184.216.34/hook",
        "https://evil@127.0.0.1/hook",
        "https://93.184.216.34@127.0.0.1/hook",
        "https://user:pw@[::1]/hook",
        "https://:@127.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[0:0:0:0:0:0:0:1]:443/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:7f00:1]:443/hook",
        "https://[::FFFF:7F00:1]/hook",
        "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "https://[::ffff:0:7f00:1]/hook",
        "https://[::ffff:0:127.0.0.1]/hook",
        "https://[::127.0.0.1]/hook",
        "https://[::169.254.169.254]/latest/meta-data/",
        "https://[2002:7f00:1::]/hook",
        "https://[2002:7F00:0001:0000:0000:0000:0000:0000]:443/hook",
        "https://[2002:a9fe:a9fe::]/latest/meta-data/",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[64:ff9b::169.254.169.254]/latest/meta-data/",
        "https://[64:ff9b:1::a00:1]/hook",
        "https://[2001:0:7f00:1::]/hook",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
        "https://[2001:4860:1::5efe:7f00:1]/hook",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[fe80::1]/hook",
        "https://[fe80::1%25eth0]/hook",
        "https://[fe80::1%eth0]/hook",
        "https://[::1%25lo]/hook",
        "https://[::ffff:127.0.0.1]:8443/hook",
        "http://[2002:808:808::1]/hook",
        "https://localhost/hook",
        "https://rebind.hooks.test/hook",
        "https://v6.hooks.test/hook",
        "https://mapped.hooks.test/hook",
        "https://siit.hooks.test/hook",
        "https://sixtofour.hooks.test/hook",
        "https://mixed.hooks.test/hook",
        "https://empty.hooks.test/hook",
        "https://unknown.hooks.test/hook",
    ];

    /// URLs that must stay accepted (public addresses as data; the one name is made up).
    const PUBLIC_URLS: &[&str] = &[
        "https://93.184.216.34/hook",
        "https://8.8.8.8:443/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://[2001:4860:4860::8888]:443/hook",
        "https://[::ffff:8.8.8.8]/hook",
        "https://[2002:808:808::1]/hook",
        "https://[64:ff9b::808:808]/hook",
        "https://[64:ff9b::8.8.8.8]/hook",
        "https://receiver.hooks.test/hook",
    ];

    /// The tests' only name lookup: made-up names, most of them mapped to loopback in one
    /// spelling or another. Never real DNS.
    fn fake_dns(name: String) -> Ready<std::io::Result<Vec<SocketAddr>>> {
        let addresses: &[&str] = match name.as_str() {
            "localhost" => &["127.0.0.1", "::1"],
            "rebind.hooks.test" => &["127.0.0.1"],
            "v6.hooks.test" => &["::1"],
            "mapped.hooks.test" => &["::ffff:127.0.0.1"],
            "siit.hooks.test" => &["::ffff:0:7f00:1"],
            "sixtofour.hooks.test" => &["2002:7f00:1::"],
            "mixed.hooks.test" => &["93.184.216.34", "127.0.0.1"],
            "receiver.hooks.test" => &["93.184.216.34", "2606:4700:4700::1111"],
            "empty.hooks.test" => &[],
            _ => return ready(Err(std::io::ErrorKind::NotFound.into())),
        };
        ready(Ok(addresses
            .iter()
            .map(|text| SocketAddr::new(text.parse().unwrap(), 0))
            .collect()))
    }

    #[test]
    fn hostile_addresses_are_not_public() {
        assert!(HOSTILE_ADDRESSES.len() >= 50);
        for text in HOSTILE_ADDRESSES {
            let ip: IpAddr = text.parse().unwrap_or_else(|_| panic!("{text} parses"));
            assert!(!is_public(ip), "{text} was taken for public");
        }
    }

    #[test]
    fn public_addresses_stay_public() {
        for text in PUBLIC_ADDRESSES {
            let ip: IpAddr = text.parse().unwrap_or_else(|_| panic!("{text} parses"));
            assert_eq!(refusal(ip), None, "{text}");
        }
    }

    #[test]
    fn the_reason_names_the_carried_ipv4_address() {
        for (text, carried) in [
            (
                "::ffff:0:7f00:1",
                "IPv4-translated (SIIT) address that carries 127.0.0.1",
            ),
            ("2002:7f00:1::", "6to4 address that carries 127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "address that carries 169.254.169.254"),
        ] {
            let reason = public_ip(text.parse().unwrap()).unwrap_err();
            assert!(reason.contains(carried), "{reason}");
            assert!(reason.contains("not a public address"), "{reason}");
        }
        let reason = public_ip("2001:0:808:808::f7f7:f7f7".parse().unwrap()).unwrap_err();
        assert!(reason.contains("Teredo"), "{reason}");
    }

    #[test]
    fn the_tables_hold_proper_blocks() {
        for (start, prefix, name) in V4_NOT_PUBLIC {
            assert!((1..=32).contains(prefix), "{name}");
            let host_bits = u32::MAX.checked_shr(*prefix).unwrap_or(0);
            assert_eq!(start.to_bits() & host_bits, 0, "{name}");
            assert!(name.starts_with(&format!("{start}/{prefix},")), "{name}");
        }
        for (start, prefix, name) in V6_NOT_PUBLIC {
            assert!((1..=128).contains(prefix), "{name}");
            let host_bits = u128::MAX.checked_shr(*prefix).unwrap_or(0);
            assert_eq!(start.to_bits() & host_bits, 0, "{name}");
            assert!(name.starts_with(&format!("{start}/{prefix},")), "{name}");
        }
    }

    #[tokio::test]
    async fn hostile_urls_are_refused_when_private_targets_are_not_allowed() {
        assert!(HOSTILE_URLS.len() >= 50);
        for text in HOSTILE_URLS {
            let checked = check_url_resolving(text, false, fake_dns).await;
            assert!(checked.is_err(), "{text} was accepted as {checked:?}");
            // Were it stored anyway, a literal-address https URL is refused again at delivery
            // (names go through the resolver, tested below).
            if let Ok(url) = Url::parse(text)
                && url.scheme() == "https"
                && matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
            {
                assert!(check_literal_host(&url, false).is_err(), "{text}");
            }
        }
    }

    #[tokio::test]
    async fn public_urls_stay_accepted() {
        for text in PUBLIC_URLS {
            let checked = check_url_resolving(text, false, fake_dns).await;
            assert!(checked.is_ok(), "{text}: {checked:?}");
            let url = checked.unwrap();
            assert!(check_literal_host(&url, false).is_ok(), "{text}");
        }
    }

    #[tokio::test]
    async fn anything_goes_when_private_targets_are_allowed() {
        for text in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]:9000/hook",
            "http://[2002:7f00:1::]:9000/hook",
            "http://localhost:9000/hook",
        ] {
            let checked = check_url_resolving(text, true, fake_dns).await;
            assert!(checked.is_ok(), "{text}: {checked:?}");
            assert!(
                check_literal_host(&checked.unwrap(), true).is_ok(),
                "{text}"
            );
        }
        assert!(
            check_url_resolving("ftp://127.0.0.1/x", true, fake_dns)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_resolver_hands_over_public_addresses_only() {
        let found: Vec<SocketAddr> = [
            "127.0.0.1",
            "::1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "64:ff9b::7f00:1",
            "93.184.216.34",
        ]
        .iter()
        .map(|text| SocketAddr::new(text.parse().unwrap(), 443))
        .collect();
        let public: Vec<String> = usable_addresses(found.clone(), false)
            .iter()
            .map(|address| address.ip().to_string())
            .collect();
        assert_eq!(public, vec!["93.184.216.34"]);
        assert_eq!(usable_addresses(found.clone(), true), found);
        assert!(usable_addresses(found[..5].to_vec(), false).is_empty());
    }
}
