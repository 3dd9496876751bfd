//! Who may use the proxy and which hosts it opens up.

use std::net::IpAddr;

use anyhow::{Context as _, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ipnet::{IpNet, Ipv4Net};

/// Which CONNECTed hosts are intercepted and recorded; the rest are tunnelled blind.
#[derive(Debug, Clone)]
pub struct HostRules {
    include: Option<GlobSet>,
    passthrough: GlobSet,
}

impl HostRules {
    /// `include`: if any are given, only matching hosts are intercepted. `passthrough`: never
    /// intercepted (apps that pin their certificates). Globs are case-insensitive, `*` matches
    /// any run of characters (`*.example.com` matches `api.example.com`).
    pub fn new(include: &[String], passthrough: &[String]) -> Result<HostRules> {
        Ok(HostRules {
            include: if include.is_empty() {
                None
            } else {
                Some(glob_set(include, "--include")?)
            },
            passthrough: glob_set(passthrough, "--passthrough")?,
        })
    }

    /// Whether `host` (case and a trailing dot ignored) is intercepted: it matches no
    /// passthrough glob, and an include glob when there are any.
    pub fn intercepts(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.passthrough.is_match(&host) {
            return false;
        }
        self.include.as_ref().is_none_or(|set| set.is_match(&host))
    }
}

fn glob_set(patterns: &[String], flag: &str) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(&p.to_ascii_lowercase())
            .case_insensitive(true)
            .build()
            .with_context(|| format!("{flag} {p}: not a valid host glob"))?;
        builder.add(glob);
    }
    builder
        .build()
        .with_context(|| format!("{flag}: cannot compile the globs"))
}

/// The client addresses allowed to use the proxy. By default: loopback and the private
/// ranges a phone on the same Wi-Fi has, so a proxy on `0.0.0.0` is not an open proxy.
#[derive(Debug, Clone)]
pub struct ClientRules {
    allowed: Vec<IpNet>,
}

/// The ranges allowed when `--allow-client` names none: loopback, the private IPv4 ranges,
/// carrier-grade NAT, link-local, and IPv6 unique-local and link-local.
pub const DEFAULT_ALLOWED: [&str; 9] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

impl ClientRules {
    /// `cidrs` replaces the default list when not empty; a bare address is a /32 or /128. An
    /// IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is taken as the IPv4 range it maps.
    pub fn new(cidrs: &[String]) -> Result<ClientRules> {
        let source: Vec<String> = if cidrs.is_empty() {
            DEFAULT_ALLOWED.iter().map(|s| s.to_string()).collect()
        } else {
            cidrs.to_vec()
        };
        let allowed = source
            .iter()
            .map(|c| {
                c.parse::<IpNet>()
                    .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                    .map(canonical_net)
                    .with_context(|| format!("--allow-client {c}: not an address or CIDR range (e.g. 192.168.1.0/24)"))
            })
            .collect::<Result<_>>()?;
        Ok(ClientRules { allowed })
    }

    /// Whether a client at `ip` may use the proxy; an IPv4-mapped IPv6 address (how an IPv4
    /// client reaches a dual-stack `[::]` listener) is judged as the IPv4 address it maps.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed.iter().any(|net| net.contains(&ip))
    }
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) is `a.b.c.d/(n - 96)`: the form the addresses it is matched
/// against take (see [`ClientRules::allows`]).
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(|n| IpNet::V4(n.trunc()))
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

/// `--auth USER:PASS`: the `Proxy-Authorization: Basic ...` value a client must send.
#[derive(Debug, Clone)]
pub struct ProxyAuth {
    expected: String,
}

impl ProxyAuth {
    /// From `USER:PASS` as `--auth` takes it; fails when there is no colon.
    pub fn new(user_pass: &str) -> Result<ProxyAuth> {
        use base64::Engine as _;
        anyhow::ensure!(
            user_pass.contains(':'),
            "--auth takes USER:PASS (a colon between the two)"
        );
        Ok(ProxyAuth {
            expected: base64::engine::general_purpose::STANDARD.encode(user_pass),
        })
    }

    /// Whether a `Proxy-Authorization` value carries these credentials as Basic auth (the
    /// scheme in any case); a missing header is refused.
    pub fn accepts(&self, header: Option<&http::HeaderValue>) -> bool {
        let Some(value) = header.and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let mut parts = value.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let credentials = parts.next().unwrap_or("").trim();
        scheme.eq_ignore_ascii_case("basic")
            && constant_time_eq(credentials.as_bytes(), self.expected.as_bytes())
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// credential was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_globs() {
        let r = HostRules::new(
            &["*.example.com".into(), "api.test".into()],
            &["pinned.example.com".into()],
        )
        .unwrap();
        assert!(r.intercepts("api.example.com"));
        assert!(r.intercepts("A.B.Example.COM."));
        assert!(r.intercepts("api.test"));
        assert!(!r.intercepts("example.com"));
        assert!(!r.intercepts("pinned.example.com"));
        assert!(!r.intercepts("other.org"));
        let all = HostRules::new(&[], &["*.apple.com".into()]).unwrap();
        assert!(all.intercepts("anything.org"));
        assert!(!all.intercepts("gs.apple.com"));
    }

    #[test]
    fn client_ranges() {
        let r = ClientRules::new(&[]).unwrap();
        for ok in [
            "127.0.0.1",
            "::1",
            "192.168.1.23",
            "10.1.2.3",
            "172.20.0.1",
            "::ffff:192.168.0.9",
            "fd00::1",
        ] {
            assert!(r.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:1.2.3.4"] {
            assert!(!r.allows(no.parse().unwrap()), "{no}");
        }
        let mapped =
            ClientRules::new(&["::ffff:10.1.0.0/112".into(), "::ffff:127.0.0.1".into()]).unwrap();
        assert_eq!(
            mapped.allowed,
            vec![
                "10.1.0.0/16".parse::<IpNet>().unwrap(),
                "127.0.0.1/32".parse().unwrap()
            ],
            "IPv4-mapped ranges are kept as the IPv4 ranges they map"
        );
        assert!(mapped.allows("10.1.2.3".parse().unwrap()));
        assert!(mapped.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!mapped.allows("10.2.0.1".parse().unwrap()));
        let v4 = ClientRules::new(&["203.0.113.2/32".into()]).unwrap();
        assert!(
            v4.allows("::ffff:203.0.113.2".parse().unwrap()),
            "a client of a [::] listener is matched as IPv4"
        );
        let only = ClientRules::new(&["127.0.0.2".into(), "10.0.0.0/24".into()]).unwrap();
        assert!(only.allows("127.0.0.2".parse().unwrap()));
        assert!(!only.allows("127.0.0.1".parse().unwrap()));
        assert!(ClientRules::new(&["nope".into()]).is_err());
    }

    #[test]
    fn basic_auth() {
        let a = ProxyAuth::new("tester:s3cret").unwrap();
        let good = http::HeaderValue::from_static("Basic dGVzdGVyOnMzY3JldA==");
        assert!(a.accepts(Some(&good)));
        assert!(!a.accepts(Some(&http::HeaderValue::from_static(
            "Basic dGVzdGVyOndyb25n"
        ))));
        assert!(!a.accepts(None));
        assert!(ProxyAuth::new("nocolon").is_err());
    }
}
