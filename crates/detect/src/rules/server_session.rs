//! A server's own session cookie (JSESSIONID, PHPSESSID, ...) sent before any response set
//! it: the recording started inside a session some earlier page opened. Not a platform
//! token (nothing mints it but that server) and not correlated (nothing in the recording
//! issued it): kept as recorded, with the reason.

use crate::classify::Verdict;
use crate::finding::{Class, Place, Use};

/// The session cookie names of common server frameworks (Java servlets, PHP, ASP.NET,
/// Express, Laravel, Django, Rails, Spring Session, ColdFusion).
const NAMES: [&str; 11] = [
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "connect.sid",
    "laravel_session",
    "sessionid",
    "_session_id",
    "session",
    "cfid",
    "cftoken",
    "sid",
];

/// A verdict when every use is such a cookie.
pub(crate) fn never_set(names: &[&str], uses: &[Use]) -> Option<Verdict> {
    let cookie = |u: &Use| match &u.place {
        Place::Cookie(n) => {
            let n = n.to_ascii_lowercase();
            NAMES.contains(&n.as_str()) || n.starts_with("aspsessionid")
        }
        _ => false,
    };
    (!names.is_empty() && uses.iter().all(cookie)).then(|| {
        Verdict::new(
            Class::Static,
            40,
            "the server's own session cookie, sent before any response set it (the recording \
             began inside a session): sent as recorded; the server issues a fresh one to a VU \
             whose session it does not know, and the cookie jar takes it",
        )
    })
}
