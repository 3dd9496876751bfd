//! Where requests go: each origin a scenario's URLs name, matched by one key
//! (`scheme://host:port`, lower-case, [`loadtape_net::Origin`]'s spelling) and mapped to its
//! `--target`. Its own module so that `plan.rs` holds the compiling and this the one rule.

use http::header::HeaderValue;
use http::uri::{Authority, Scheme};
use http::Uri;
use indexmap::IndexMap;

/// Where requests for one recorded origin go.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `scheme://host:port`, lower-case, port explicit: the key URLs are matched by.
    pub key: String,
    /// How messages name it: where requests really go, then the recorded origin when a
    /// target moved them (`http://127.0.0.1:9090 (recorded as https://api.shop.example:443)`).
    pub label: String,
    /// Where its requests go (the target when one is given): what is dialed, and whose
    /// host the cookie jar files cookies under.
    pub at: loadtape_net::Origin,
    /// The scheme of `at`, ready for an HTTP/2 request's URI.
    pub scheme: Scheme,
    /// `host[:port]` of `at` as written: an HTTP/2 request's authority, and the `host` header.
    pub authority: Authority,
    /// The `host` header HTTP/1.1 requests carry.
    pub host_header: HeaderValue,
}

/// `scheme://host:port` of an absolute URI, lower-case with the port explicit: the origin as
/// [`loadtape_net::Origin`] spells it, so one default-port rule holds everywhere.
pub(crate) fn origin_key(uri: &Uri) -> Option<String> {
    uri.scheme()?;
    loadtape_net::Origin::from_uri(uri).map(|o| o.to_string().to_ascii_lowercase())
}

#[derive(Default)]
pub(super) struct Origins {
    pub(super) list: Vec<Origin>,
}

impl Origins {
    /// Adds a recorded origin (and where it goes); returns its index.
    pub(super) fn add(&mut self, recorded: &str, target: Option<&str>) -> Result<usize, String> {
        let uri: Uri = recorded
            .parse()
            .map_err(|_| format!("`{recorded}` is not an origin"))?;
        let key = origin_key(&uri).ok_or_else(|| format!("`{recorded}` has no host"))?;
        if let Some(i) = self.list.iter().position(|o| o.key == key) {
            return Ok(i);
        }
        let to: Uri = match target {
            Some(t) => t.parse().map_err(|_| format!("`{t}` is not an origin"))?,
            None => uri,
        };
        let at =
            loadtape_net::Origin::from_uri(&to).ok_or_else(|| format!("`{to}` has no host"))?;
        let authority = to
            .authority()
            .cloned()
            .ok_or_else(|| format!("`{to}` has no host"))?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("`{to}` is not a valid host"))?;
        let went = at.to_string().to_ascii_lowercase();
        let label = if went == key {
            key.clone()
        } else {
            format!("{went} (recorded as {key})")
        };
        self.list.push(Origin {
            key,
            label,
            scheme: if at.is_https() {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
            at,
            authority,
            host_header,
        });
        Ok(self.list.len() - 1)
    }
}

pub(super) fn register(
    uri: &Uri,
    origins: &mut Origins,
    targets: &IndexMap<String, String>,
) -> Result<usize, String> {
    let key = origin_key(uri).ok_or_else(|| format!("`{uri}` has no host"))?;
    let recorded = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or("")
    );
    let target = targets.iter().find_map(|(from, to)| {
        let from: Uri = from.parse().ok()?;
        (origin_key(&from)? == key).then_some(to.as_str())
    });
    origins.add(&recorded, target)
}
