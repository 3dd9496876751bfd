//! A VU's cookie jar: what `Set-Cookie` answers set, sent back as one `cookie` header.
//!
//! Deliberately small (host-only cookies matched by path prefix; `Max-Age=0` removes one):
//! mini-program clients keep sessions this simply, and a full RFC 6265 store (public suffixes,
//! expiry dates) would cost every VU memory and every request time for nothing a replay needs.

use http::header::{HeaderMap, HeaderValue, SET_COOKIE};

#[derive(Debug, Default)]
pub(crate) struct Jar {
    /// (host, path, `name=value`).
    cookies: Vec<(String, String, String)>,
}

impl Jar {
    /// Keeps the cookies an answer from `host` sets.
    pub(crate) fn store(&mut self, host: &str, headers: &HeaderMap) {
        for line in headers.get_all(SET_COOKIE) {
            let Ok(line) = line.to_str() else { continue };
            let mut parts = line.split(';');
            let Some(pair) = parts.next().map(str::trim) else {
                continue;
            };
            let Some((name, _)) = pair.split_once('=') else {
                continue;
            };
            let mut path = "/".to_string();
            let mut remove = false;
            for attr in parts {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                match k.trim().to_ascii_lowercase().as_str() {
                    "path" if v.trim().starts_with('/') => path = v.trim().to_string(),
                    "max-age" => remove = v.trim().parse::<i64>().is_ok_and(|n| n <= 0),
                    _ => {}
                }
            }
            let prefix = format!("{}=", name.trim());
            self.cookies
                .retain(|(h, p, c)| !(h == host && *p == path && c.starts_with(&prefix)));
            if !remove {
                self.cookies
                    .push((host.to_string(), path, pair.to_string()));
            }
        }
    }

    /// The `cookie` header for a request to `host` and `path`, if any cookie matches.
    pub(crate) fn header(&self, host: &str, path: &str) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut cookie = String::new();
        for (h, p, pair) in &self.cookies {
            if h == host && path.starts_with(p.as_str()) {
                if !cookie.is_empty() {
                    cookie.push_str("; ");
                }
                cookie.push_str(pair);
            }
        }
        if cookie.is_empty() {
            return None;
        }
        HeaderValue::from_str(&cookie).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_replaces_and_removes_by_host_and_path() {
        let mut jar = Jar::default();
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("sid=1; Path=/; HttpOnly"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("lang=zh; Path=/api"));
        jar.store("a.example", &h);
        assert_eq!(jar.header("a.example", "/api/x").unwrap(), "sid=1; lang=zh");
        assert_eq!(jar.header("a.example", "/").unwrap(), "sid=1");
        assert!(jar.header("b.example", "/").is_none());
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("sid=2"));
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("lang=; Path=/api; Max-Age=0"),
        );
        jar.store("a.example", &h);
        assert_eq!(jar.header("a.example", "/api/x").unwrap(), "sid=2");
    }
}
