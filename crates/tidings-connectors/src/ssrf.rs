//! The guard on destination URLs that workspaces type in (Google Chat and Slack webhooks, generic
//! webhooks): Tidings must not become a way to reach its own network (server-side request
//! forgery).
//!
//! **The rules.** Only `https`; `http` only to a loopback address and only when the server runs
//! in development mode. The host's addresses, after DNS resolution, must all be public: loopback
//! (outside development), private (RFC 1918), link-local, shared/CGNAT (100.64.0.0/10), IPv6
//! unique-local (fc00::/7), cloud metadata (169.254.169.254, fd00:ec2::254), unspecified,
//! multicast, broadcast, documentation and other reserved ranges are refused, as are IPv4
//! addresses hidden in IPv6 (`::ffff:10.0.0.1`, NAT64 `64:ff9b::10.0.0.1`, 6to4 `2002:0a00:0001::`). Each refusal is an
//! [`SsrfError`] naming the host, the address and why.
//!
//! **Against DNS rebinding.** Checking a name and then letting the HTTP client resolve it again
//! leaves a gap: a hostile DNS server answers a public address to the check and `127.0.0.1` to
//! the connection. So the check is made *where the connection's addresses come from*:
//! [`guarded_client`] builds a `reqwest::Client` whose DNS resolver is [`GuardedResolver`], which
//! resolves, refuses the whole answer if any address is forbidden, and hands reqwest exactly the
//! addresses it checked; reqwest connects only to those. Nothing is resolved twice, so there is
//! nothing to rebind. The client also follows no redirects (a public URL could redirect to an
//! internal one) and uses no proxy (a proxy would resolve the name itself). A URL whose host is
//! an IP literal never reaches a resolver, so [`Guard::check`] must be called on every URL before
//! it is used (it is cheap for literals), and on saving a destination to report a bad one early.
//! See `docs/adr/0017-ssrf-guard.md`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

/// What kind of forbidden address a host resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 100.64/10, carrier-grade NAT.
    SharedCgnat,
    /// fc00::/7.
    UniqueLocal,
    /// A cloud provider's instance metadata service.
    Metadata,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// Multicast and broadcast.
    Multicast,
    /// Documentation, benchmarking and other reserved ranges no real service uses.
    Reserved,
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::SharedCgnat => "shared (CGNAT)",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast or broadcast",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// Why a destination URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    /// Not a URL.
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    /// A scheme other than https (or http in development).
    #[error("only https URLs are allowed, not {0}")]
    SchemeNotAllowed(String),
    /// http to something other than loopback, or outside development mode.
    #[error("http is allowed only to loopback addresses in development mode; use https")]
    PlainHttp,
    /// Credentials in the URL (`https://user:pass@host`), which would be sent to the host.
    #[error("URLs may not contain a user name or password")]
    CredentialsInUrl,
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The name did not resolve.
    #[error("{host} does not resolve: {message}")]
    Unresolvable {
        /// The host.
        host: String,
        /// The resolver's error.
        message: String,
    },
    /// The host is, or resolves to, a forbidden address.
    #[error("{host} is {address}, a {class} address, which destinations may not use")]
    Forbidden {
        /// The host as written.
        host: String,
        /// The forbidden address.
        address: IpAddr,
        /// Why it is forbidden.
        class: AddressClass,
    },
}

/// The class of a forbidden address, `None` for a public one.
pub fn classify(address: IpAddr) -> Option<AddressClass> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) => {
            AddressClass::Metadata
        }
        _ if ip.is_loopback() => AddressClass::Loopback,
        _ if ip.is_private() => AddressClass::Private,
        _ if ip.is_link_local() => AddressClass::LinkLocal,
        _ if a == 100 && (64..128).contains(&b) => AddressClass::SharedCgnat,
        _ if a == 0 => AddressClass::Unspecified,
        _ if ip.is_multicast() || ip.is_broadcast() => AddressClass::Multicast,
        // 192.0.0/24 (IETF), 192.0.2/24, 198.51.100/24, 203.0.113/24 (documentation),
        // 198.18/15 (benchmarking), 240/4 (reserved).
        _ if (a, b, c) == (192, 0, 0) || ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || a >= 240 => {
            AddressClass::Reserved
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    // IPv4 carried inside IPv6 is judged as the IPv4 address it reaches.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    let embedded = |hi: u16, lo: u16| classify_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the last 32 bits.
        return embedded(segments[6], segments[7]);
    }
    if segments[0] == 0x2002 {
        // 6to4: the 32 bits after the prefix.
        return embedded(segments[1], segments[2]);
    }
    Some(match segments[0] {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => AddressClass::Metadata,
        _ if ip.is_loopback() => AddressClass::Loopback,
        _ if ip.is_unspecified() => AddressClass::Unspecified,
        s if s & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        s if s & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        // fec0::/10, the deprecated site-local range, still routed inside some networks.
        s if s & 0xffc0 == 0xfec0 => AddressClass::Private,
        s if s & 0xff00 == 0xff00 => AddressClass::Multicast,
        // 2001:db8::/32 documentation; ::/96 deprecated IPv4-compatible.
        0x2001 if segments[1] == 0x0db8 => AddressClass::Reserved,
        0 => AddressClass::Reserved,
        _ => return None,
    })
}

/// Resolves host names: the system's resolver, or a stand-in in tests.
pub trait Lookup: Send + Sync {
    /// The addresses of `host`.
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver, through tokio.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// The rules, with the development switch.
#[derive(Clone)]
pub struct Guard {
    development: bool,
    lookup: Arc<dyn Lookup>,
}

impl Guard {
    /// The rules with the system resolver; `development` allows loopback (and http to it).
    pub fn new(development: bool) -> Self {
        Self::with_lookup(development, Arc::new(SystemLookup))
    }

    /// The rules with another resolver.
    pub fn with_lookup(development: bool, lookup: Arc<dyn Lookup>) -> Self {
        Self { development, lookup }
    }

    /// Whether an address may be connected to.
    fn allowed(&self, host: &str, address: IpAddr) -> Result<(), SsrfError> {
        match classify(address) {
            None => Ok(()),
            Some(AddressClass::Loopback) if self.development => Ok(()),
            Some(class) => Err(SsrfError::Forbidden { host: host.to_owned(), address, class }),
        }
    }

    /// Resolves `host` and checks every address; all must be allowed.
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, SsrfError> {
        let addresses = self
            .lookup
            .lookup(host.to_owned())
            .await
            .map_err(|e| SsrfError::Unresolvable { host: host.to_owned(), message: e.to_string() })?;
        if addresses.is_empty() {
            return Err(SsrfError::Unresolvable { host: host.to_owned(), message: "no addresses".into() });
        }
        for address in &addresses {
            self.allowed(host, *address)?;
        }
        Ok(addresses)
    }

    /// Checks a URL: scheme, no credentials, and the host's addresses (resolved now). Returns the
    /// parsed URL.
    pub async fn check(&self, url: &str) -> Result<Url, SsrfError> {
        let parsed = Url::parse(url).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(SsrfError::CredentialsInUrl);
        }
        let name = parsed.host_str().filter(|h| !h.is_empty()).ok_or(SsrfError::NoHost)?;
        // IPv6 literals come bracketed (`[::1]`); a name that parses as an address is one.
        let name = name.trim_start_matches('[').trim_end_matches(']').to_owned();
        let literal = name.parse::<IpAddr>().ok();
        let addresses = match literal {
            Some(address) => {
                self.allowed(&name, address)?;
                vec![address]
            }
            None => self.resolve(&name).await?,
        };
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.development && addresses.iter().all(|a| classify(*a) == Some(AddressClass::Loopback)) => {
                Ok(parsed)
            }
            "http" => Err(SsrfError::PlainHttp),
            other => Err(SsrfError::SchemeNotAllowed(other.to_owned())),
        }
    }
}

/// A reqwest DNS resolver that returns only addresses the [`Guard`] allows (see the module doc).
pub struct GuardedResolver {
    guard: Guard,
}

impl GuardedResolver {
    /// A resolver applying `guard`.
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = guard.resolve(&host).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A client for destinations users typed in: the [`GuardedResolver`], no redirects, no proxy,
/// and a `timeout` for the whole request.
pub fn guarded_client(guard: Guard, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(guard)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("a client with rustls and no custom certificates always builds")
}

/// The [`SsrfError`] behind a failed request, if the guard refused it.
pub fn refusal(error: &(dyn std::error::Error + 'static)) -> Option<SsrfError> {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<SsrfError>() {
            return Some(refused.clone());
        }
        source = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<AddressClass> {
        classify(ip.parse().expect("an address"))
    }

    #[test]
    fn forbidden_ranges_are_classified() {
        assert_eq!(class("127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(class("10.1.2.3"), Some(AddressClass::Private));
        assert_eq!(class("172.16.0.1"), Some(AddressClass::Private));
        assert_eq!(class("192.168.1.1"), Some(AddressClass::Private));
        assert_eq!(class("169.254.1.1"), Some(AddressClass::LinkLocal));
        assert_eq!(class("169.254.169.254"), Some(AddressClass::Metadata));
        assert_eq!(class("100.64.0.1"), Some(AddressClass::SharedCgnat));
        assert_eq!(class("100.127.255.255"), Some(AddressClass::SharedCgnat));
        assert_eq!(class("0.0.0.0"), Some(AddressClass::Unspecified));
        assert_eq!(class("255.255.255.255"), Some(AddressClass::Multicast));
        assert_eq!(class("224.0.0.1"), Some(AddressClass::Multicast));
        assert_eq!(class("192.0.2.10"), Some(AddressClass::Reserved));
        assert_eq!(class("::1"), Some(AddressClass::Loopback));
        assert_eq!(class("::"), Some(AddressClass::Unspecified));
        assert_eq!(class("fd12:3456::1"), Some(AddressClass::UniqueLocal));
        assert_eq!(class("fd00:ec2::254"), Some(AddressClass::Metadata));
        assert_eq!(class("fe80::1"), Some(AddressClass::LinkLocal));
        assert_eq!(class("::ffff:10.0.0.1"), Some(AddressClass::Private), "IPv4-mapped");
        assert_eq!(class("::ffff:169.254.169.254"), Some(AddressClass::Metadata));
        assert_eq!(class("64:ff9b::7f00:1"), Some(AddressClass::Loopback), "NAT64");
        assert_eq!(class("2002:a9fe:a9fe::1"), Some(AddressClass::Metadata), "6to4 of 169.254.169.254");
        assert_eq!(class("fec0::1"), Some(AddressClass::Private), "site-local");
        assert_eq!(class("2001:db8::1"), Some(AddressClass::Reserved));
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "142.250.184.206",
            "100.128.0.1",
            "172.32.0.1",
            "2a00:1450:4001:82b::200e",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }
}
