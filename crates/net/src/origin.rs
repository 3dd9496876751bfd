//! Where a server is: scheme, host and port, with the two rules every part of loadtape needs —
//! a missing port is the scheme's default (80, 443), and an IPv6 host is bracketed in URLs and
//! `Host` headers (`[::1]:8443`) but not when dialed or named in a certificate (`::1`).

use std::fmt;
use std::str::FromStr;

use http::uri::Authority;
use http::Uri;

/// `http` or `https`. Anything else a URL may carry is treated as `http`, as a proxy and a
/// plain HTTP client do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP, port 80 by default.
    Http,
    /// HTTP over TLS, port 443 by default.
    Https,
}

impl Scheme {
    /// `https` (any case) is HTTPS; every other scheme is plain HTTP.
    pub fn of(scheme: Option<&str>) -> Scheme {
        match scheme {
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            _ => Scheme::Http,
        }
    }

    /// The scheme as a URL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Whether a connection to it speaks TLS.
    pub fn is_https(self) -> bool {
        self == Scheme::Https
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        default_port(self.is_https())
    }
}

/// The port a URL without one means: 443 for HTTPS, 80 for HTTP.
pub fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

/// A host as sockets, DNS and certificates take it: `[::1]` → `::1`; other hosts unchanged.
pub fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A server: scheme, host (without IPv6 brackets, case as given) and port (always known).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// How to speak to it.
    pub scheme: Scheme,
    /// The host name or address, IPv6 without brackets.
    pub host: String,
    /// The port, the scheme's default when the URL gave none.
    pub port: u16,
}

impl Origin {
    /// `host` may carry IPv6 brackets; `port` defaults to the scheme's.
    pub fn new(scheme: Scheme, host: &str, port: Option<u16>) -> Origin {
        Origin {
            scheme,
            host: strip_brackets(host).to_string(),
            port: port.unwrap_or(scheme.default_port()),
        }
    }

    /// The origin of an absolute URI; `None` when it names no host.
    pub fn from_uri(uri: &Uri) -> Option<Origin> {
        let host = uri.host().filter(|h| !h.is_empty())?;
        Some(Origin::new(
            Scheme::of(uri.scheme_str()),
            host,
            uri.port_u16(),
        ))
    }

    /// The origin a CONNECT (or a `Host` header) names, for a connection speaking `scheme`.
    pub fn from_authority(scheme: Scheme, authority: &Authority) -> Origin {
        Origin::new(scheme, authority.host(), authority.port_u16())
    }

    /// Whether a connection to it speaks TLS.
    pub fn is_https(&self) -> bool {
        self.scheme.is_https()
    }

    /// Whether its port is the scheme's default (a `Host` header then leaves it out).
    pub fn is_default_port(&self) -> bool {
        self.port == self.scheme.default_port()
    }

    /// The host as URLs and `Host` headers write it: an IPv6 address in brackets.
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `host[:port]` as a `Host` header or a browser's address bar has it: the port only when
    /// it is not the scheme's default.
    pub fn authority(&self) -> String {
        if self.is_default_port() {
            self.url_host()
        } else {
            format!("{}:{}", self.url_host(), self.port)
        }
    }
}

/// `scheme://host:port`, the port always written (`https://[::1]:443`): one spelling per
/// origin, which is what the engine matches URLs by (lower-cased).
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.scheme.as_str(),
            self.url_host(),
            self.port
        )
    }
}

/// Parses `scheme://host[:port]` (a path after it is ignored).
impl FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Origin, String> {
        let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
        if uri.scheme().is_none() {
            return Err(format!("`{text}` has no scheme"));
        }
        Origin::from_uri(&uri).ok_or_else(|| format!("`{text}` has no host"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_brackets() {
        let o: Origin = "https://[::1]/x".parse().unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 443));
        assert_eq!(o.to_string(), "https://[::1]:443");
        assert_eq!(o.authority(), "[::1]");
        let o: Origin = "http://Example.com:8080".parse().unwrap();
        assert_eq!(o.host, "Example.com");
        assert_eq!(o.authority(), "Example.com:8080");
        assert_eq!(o.to_string(), "http://Example.com:8080");
        assert_eq!(Origin::new(Scheme::Http, "a", None).port, 80);
        assert!("/relative".parse::<Origin>().is_err());
        assert_eq!(strip_brackets("[fe80::1]"), "fe80::1");
        assert_eq!(strip_brackets("example.com"), "example.com");
        let a: Authority = "h.example:8443".parse().unwrap();
        let o = Origin::from_authority(Scheme::Https, &a);
        assert_eq!(
            (o.is_default_port(), o.authority()),
            (false, "h.example:8443".into())
        );
    }
}
