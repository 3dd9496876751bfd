//! Whether an exchange is a login, from what its request sends: a password, or an action
//! named like a login (`ReqLoginAccount`, `action=signin`). Games and RPC-style backends post
//! every call to one path (`/server/protocol`), so the path alone says nothing there.

use crate::finding::Place;
use crate::origin::norm;
use crate::walk::Slot;

/// Why the request looks like a login, if it does.
pub(crate) fn credentials_sent(request: &[Slot]) -> Option<String> {
    if let Some(k) = request
        .iter()
        .filter_map(|s| s.place.key())
        .find(|k| is_password_name(k))
    {
        return Some(format!("its request sends a password (`{k}`)"));
    }
    request.iter().find_map(|s| {
        let named_action = matches!(s.place, Place::Json(_) | Place::Form(_) | Place::Query(_));
        (named_action && names_a_login(&s.value))
            .then(|| format!("its request names a login (`{}`)", s.value))
    })
}

fn is_password_name(name: &str) -> bool {
    let n = norm(name);
    n.contains("password") || matches!(n.as_str(), "pwd" | "passwd" | "pass")
}

/// An identifier (no spaces, short) one of whose words is login, logon or signin:
/// `ReqLoginAccount`, `user.login`, `SignIn`.
fn names_a_login(value: &str) -> bool {
    if value.len() > 48
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b))
    {
        return false;
    }
    let mut words = Vec::new();
    let mut word = String::new();
    for c in value.chars() {
        let boundary = !c.is_ascii_alphanumeric() || c.is_ascii_uppercase();
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
    }
    words.push(word);
    words.windows(2).any(|w| {
        matches!(
            (w[0].as_str(), w[1].as_str()),
            ("sign", "in") | ("log", "in") | ("log", "on")
        )
    }) || words
        .iter()
        .any(|w| matches!(w.as_str(), "login" | "logon" | "signin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        assert!(names_a_login("ReqLoginAccount"));
        assert!(names_a_login("user.login"));
        assert!(names_a_login("SignIn"));
        assert!(!names_a_login("ReqShop"));
        assert!(!names_a_login("blogindex"));
        assert!(is_password_name("loginPassword"));
        assert!(is_password_name("pwd"));
        assert!(!is_password_name("passport"));
    }
}
