//! Who sent an exchange, and which flow it belongs to: the tester list (the Mini Program
//! Platform's pilot-testing list: up to 1,000 IDs), each device authenticating to the proxy
//! with its tester ID as the proxy user name, and the group marks a tester sets by opening
//! `http://loadtape.ca/mark/NAME` (or that the terminal sets for everyone).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};

/// At most this many IDs on the list (the platform's limit for an uploaded list).
pub const MAX_TESTERS: usize = 1000;
/// At most this many bytes in a tester file (the platform's limit).
pub const MAX_TESTERS_FILE: usize = 100 * 1024;
/// At most this many IDs typed on the command line (the platform's limit for typed IDs).
pub const MAX_TYPED_TESTERS: usize = 150;

/// The tester list: who may record through the proxy.
#[derive(Debug, Clone, Default)]
pub struct Testers {
    ids: HashSet<String>,
}

impl Testers {
    /// The list from `--tester` IDs and a `--testers` file's text (CSV or TXT: one ID per
    /// line, the first column of a CSV; blank lines and a header named `id`/`tester` skipped).
    /// `file` names the file in errors.
    pub fn new(typed: &[String], file: Option<(&str, &str)>) -> Result<Testers> {
        if typed.len() > MAX_TYPED_TESTERS {
            bail!(
                "--tester is given {} times; at most {MAX_TYPED_TESTERS} IDs are typed in (put more in a file: --testers FILE, up to {MAX_TESTERS})",
                typed.len()
            );
        }
        let mut ids: Vec<String> = Vec::new();
        for id in typed {
            ids.push(check_id(id, "--tester")?);
        }
        if let Some((name, text)) = file {
            if text.len() > MAX_TESTERS_FILE {
                bail!(
                    "{name}: {} bytes; a tester file may hold at most {} KB (split the testers over several recordings)",
                    text.len(),
                    MAX_TESTERS_FILE / 1024
                );
            }
            for (i, line) in text.lines().enumerate() {
                let first = line.split([',', '\t', ';']).next().unwrap_or("");
                let id = first.trim().trim_matches('"');
                if id.is_empty()
                    || (i == 0
                        && matches!(
                            id.to_ascii_lowercase().as_str(),
                            "id" | "tester" | "tester_id"
                        ))
                {
                    continue;
                }
                ids.push(check_id(id, &format!("{name}:{}", i + 1))?);
            }
        }
        let set: HashSet<String> = ids.into_iter().collect();
        if set.len() > MAX_TESTERS {
            bail!(
                "{} tester IDs; at most {MAX_TESTERS} may record at once (the platform's limit)",
                set.len()
            );
        }
        Ok(Testers { ids: set })
    }

    /// No list: every client records, unnamed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many IDs.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether `id` is on the list.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// An ID goes into file names (`--split`) and a CSV: printable, no separators.
fn check_id(id: &str, place: &str) -> Result<String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if !ok {
        bail!("{place}: `{id}` is not a usable tester ID (1 to 64 letters, digits and _ - . @)");
    }
    Ok(id.to_string())
}

/// The user name of a Basic `Proxy-Authorization` value, with its password.
pub(crate) fn basic_user(header: Option<&http::HeaderValue>) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = header?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Who a connection's requests come from: its address, and its tester when there is a list.
#[derive(Debug, Clone)]
pub struct Client {
    /// The device's address.
    pub ip: IpAddr,
    /// Its tester ID, with a tester list.
    pub tester: Option<Arc<str>>,
}

impl Client {
    /// Whose marks its exchanges follow: its tester's, else its device's.
    fn key(&self) -> String {
        match &self.tester {
            Some(t) => format!("tester:{t}"),
            None => format!("ip:{}", self.ip),
        }
    }
}

/// The group marks: each tester's (or device's) latest, and the terminal's for everyone.
#[derive(Debug, Default)]
pub struct Marks {
    by_client: Mutex<HashMap<String, String>>,
    everyone: Mutex<Option<String>>,
}

impl Marks {
    /// `client` starts the group `name`: its exchanges from now on carry it.
    pub fn mark(&self, client: &Client, name: &str) {
        let mut m = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(client.key(), name.to_string());
    }

    /// Everyone starts the group `name` (typed in the proxy's terminal): it replaces every
    /// tester's own mark.
    pub fn mark_everyone(&self, name: &str) {
        self.by_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.everyone.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
    }

    /// The group `client`'s next exchange belongs to.
    pub(crate) fn group_of(&self, client: &Client) -> Option<String> {
        let own = self
            .by_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client.key())
            .cloned();
        own.or_else(|| {
            self.everyone
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }
}

/// A group name as a mark gives it: what `/mark/NAME` or the terminal said, or why not.
pub fn group_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{name}` is not a group name: 1 to 64 letters, digits, _ and - (it names a flow)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tester_files_and_their_limits() {
        let t = Testers::new(
            &["alice".into()],
            Some(("t.csv", "id,name\nbob,Bob\n\ncarol\n")),
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert!(t.contains("bob") && t.contains("carol") && !t.contains("id"));
        let many: String = (0..1001).map(|i| format!("t{i}\n")).collect();
        let e = Testers::new(&[], Some(("t.txt", &many))).unwrap_err();
        assert!(e.to_string().contains("at most 1000"), "{e}");
        let big = "x".repeat(MAX_TESTERS_FILE + 1);
        let e = Testers::new(&[], Some(("t.txt", &big))).unwrap_err();
        assert!(e.to_string().contains("100 KB"), "{e}");
        let typed: Vec<String> = (0..151).map(|i| format!("t{i}")).collect();
        assert!(Testers::new(&typed, None).is_err());
        let e = Testers::new(&[], Some(("t.txt", "ok\nbad id\n"))).unwrap_err();
        assert!(e.to_string().contains("t.txt:2"), "{e}");
    }

    #[test]
    fn marks_follow_the_tester_and_the_terminal_marks_everyone() {
        let m = Marks::default();
        let a = Client {
            ip: "127.0.0.1".parse().unwrap(),
            tester: Some("a".into()),
        };
        let b = Client {
            tester: Some("b".into()),
            ..a.clone()
        };
        assert_eq!(m.group_of(&a), None);
        m.mark(&a, "browse");
        assert_eq!(m.group_of(&a).as_deref(), Some("browse"));
        assert_eq!(m.group_of(&b), None);
        m.mark_everyone("order");
        assert_eq!(m.group_of(&a).as_deref(), Some("order"));
        assert_eq!(m.group_of(&b).as_deref(), Some("order"));
        assert!(group_name("a b").is_err() && group_name("checkout").is_ok());
    }
}
