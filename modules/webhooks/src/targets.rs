//! Where deliveries may go. Without `webhooks.allow_private_targets`, an endpoint must be
//! `https` on port 443, and the host must resolve only to public addresses: never loopback,
//! private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), CGNAT,
//! multicast, reserved, or IPv4 hidden in IPv6. The check runs when the URL is saved and again
//! at every delivery, through a resolver that hands the HTTP client public addresses only, so
//! a name re-pointed at an internal address afterwards (DNS rebinding) still reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an endpoint URL as it is saved. The error is the reason, for the `url` field.
pub async fn check_url(text: &str, allow_private: bool) -> Result<Url, String> {
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
    match url.host() {
        None => Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => public_ip(IpAddr::V4(ip)).map(|_| url.clone()),
        Some(url::Host::Ipv6(ip)) => public_ip(IpAddr::V6(ip)).map(|_| url.clone()),
        Some(url::Host::Domain(domain)) => {
            let addresses = lookup(domain)
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
    }
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
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "points at {ip}, a loopback, private, link-local or reserved address"
        ))
    }
}

async fn lookup(host: &str) -> std::io::Result<Vec<SocketAddr>> {
    let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out"))??;
    Ok(found.collect())
}

pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
    let embedded = Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32);
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(embedded);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)) // documentation
}

/// The HTTP client's resolver: public addresses only (unless private targets are allowed).
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = lookup(name.as_str()).await?;
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| allow_private || is_public(address.ip()))
                .collect();
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
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        for text in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn hostile_urls_are_refused_when_private_targets_are_not_allowed() {
        for url in [
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://2130706433/hook", // 127.0.0.1 as one number
            "https://0x7f.1/hook",
            "https://10.0.0.5/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://localhost/hook",
            "http://93.184.216.34/hook",
            "https://93.184.216.34:8443/hook",
            "https://user:pw@93.184.216.34/hook",
            "ftp://93.184.216.34/hook",
            "not a url",
        ] {
            assert!(check_url(url, false).await.is_err(), "{url}");
        }
        assert!(check_url("https://93.184.216.34/hook", false).await.is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", true).await.is_ok());
    }
}
