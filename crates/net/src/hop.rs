//! Hop-by-hop headers: they describe one connection (RFC 9110 §7.6.1, plus the `Proxy-*` ones
//! and `Keep-Alive`/`Proxy-Connection` of older HTTP/1.x) and never belong to the message, so
//! the proxy drops them between its two sides, the converter keeps them out of scenarios, and
//! the engine never sends them from a scenario (hyper sets what the connection needs).

use http::header::{self, HeaderMap, HeaderName};

/// The hop-by-hop header names, lower-case.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` (any case) is a hop-by-hop header.
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether the headers ask for a protocol upgrade (`Upgrade` plus `Connection: upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes the hop-by-hop headers, including any the `Connection` header names. With
/// `upgrade` (a WebSocket handshake passed on), `Connection` and `Upgrade` stay: the next hop
/// needs them to upgrade too.
pub fn strip(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(upgrade && *n == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        if upgrade && (name == "connection" || name == "upgrade") {
            continue;
        }
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("x-private, upgrade"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        let mut upgrade = h.clone();
        assert!(is_upgrade(&h));
        strip(&mut h, false);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
        strip(&mut upgrade, true);
        let mut kept: Vec<_> = upgrade.keys().map(|k| k.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["connection", "upgrade", "x-kept"]);
        assert!(is_hop_by_hop("Transfer-Encoding") && !is_hop_by_hop("host"));
    }
}
