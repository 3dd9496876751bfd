//! `convert --also`: the same flow recorded more than once (two testers, two logins) tells
//! what one recording cannot. The exchanges are aligned (same method and URL shape, in
//! order: a longest common subsequence), then every value the main recording sends is
//! compared with what the others send at the same place: a value that differs is dynamic by
//! evidence (issued, generated, or the user's own), one equal everywhere is static.

use std::collections::HashMap;

use loadtape_recording::{Exchange, Recording};
use serde_json::Value;

use super::{Evidence, Fact};
use crate::finding::{Analysis, Gen, Place};
use crate::shape::{self, TimeUnit};
use crate::walk::{self, Kind};
use crate::{filter, naming, rules};

/// Above this many cells the alignment falls back to matching in order: the table costs
/// `n × m` and a recording can hold tens of thousands of exchanges.
const MAX_TABLE: usize = 4_000_000;

/// Values shorter than this are not made per-user or issued by comparison alone: a `1` that
/// differs is a quantity or a page, and replacing every standalone `1` would be wrong.
const MIN_COMPARED: usize = 3;

/// The facts that `others` (recordings of the flow `a` is of) give about `a`'s values.
pub fn compare_recordings(a: &Recording, an: &Analysis, others: &[Recording]) -> Evidence {
    let kept: Vec<usize> = (0..a.exchanges.len())
        .filter(|&i| an.steps.get(i).is_some_and(|s| s.dropped.is_none()))
        .collect();
    let mut per_value: Vec<(String, Seen)> = Vec::new();
    for (k, b) in others.iter().enumerate() {
        let b_kept: Vec<usize> = (0..b.exchanges.len())
            .filter(|&j| filter::dropped(&b.exchanges[j], false).is_none())
            .collect();
        let pairs = align(&a.exchanges, &kept, &b.exchanges, &b_kept);
        let by_a: HashMap<usize, usize> = pairs.iter().copied().collect();
        for &(i, j) in &pairs {
            let theirs: HashMap<Place, String> =
                walk::request_slots_of(&b.exchanges[j].request, Kind::Any)
                    .into_iter()
                    .map(|s| (s.place, s.value))
                    .collect();
            for slot in walk::request_slots_of(&a.exchanges[i].request, Kind::Any) {
                let Some(other) = theirs.get(&slot.place) else {
                    continue;
                };
                let at = match per_value.iter().position(|(v, _)| *v == slot.value) {
                    Some(at) => at,
                    None => {
                        per_value.push((slot.value.clone(), Seen::new(others.len())));
                        per_value.len() - 1
                    }
                };
                let seen = &mut per_value[at].1;
                if *other != slot.value && seen.others[k].is_none() {
                    seen.others[k] = Some(other.clone());
                    if seen.differs_at.is_none() {
                        seen.differs_at = Some((i, j, k));
                        seen.key = slot.place.key().map(str::to_string);
                    }
                }
            }
        }
        for (value, seen) in per_value.iter_mut() {
            if let Some((i, j, kk)) = seen.differs_at {
                if kk == k && seen.issued.is_none() {
                    let other = seen.others[k].as_deref().unwrap_or_default();
                    seen.issued = issued_at(a, b, &by_a, (i, value), (j, other));
                }
            }
        }
    }
    let mut ev = Evidence::default();
    for (value, seen) in per_value {
        if let Some(fact) = fact_of(a, an, &value, &seen, others.len()) {
            ev.add(fact);
        }
    }
    ev
}

/// What the other recordings send where the main one sends a value.
struct Seen {
    /// The other value in each other recording, where it differs.
    others: Vec<Option<String>>,
    /// The first place it differs: (main exchange, other exchange, which other recording).
    differs_at: Option<(usize, usize, usize)>,
    /// The name it goes by there.
    key: Option<String>,
    /// An earlier answer of the main recording that holds the value at a path where the
    /// other recording's aligned answer holds the other value: (exchange, JSONPath).
    issued: Option<(usize, String)>,
}

impl Seen {
    fn new(others: usize) -> Seen {
        Seen {
            others: vec![None; others],
            differs_at: None,
            key: None,
            issued: None,
        }
    }
}

/// The fact a comparison establishes about `value`, if any.
fn fact_of(a: &Recording, an: &Analysis, value: &str, s: &Seen, n: usize) -> Option<Fact> {
    let names = |k: usize| {
        if n == 1 {
            "the other recording".to_string()
        } else {
            format!("recording {}", k + 2)
        }
    };
    let Some((i, _, k)) = s.differs_at else {
        // Equal everywhere compared: only worth saying about a value the rules made dynamic.
        an.findings.iter().find(|f| f.value == value)?;
        return Some(Fact::Same {
            value: value.to_string(),
            why: format!(
                "every recording of the flow sends `{}` here (compared with {n} other{})",
                clip(value),
                if n == 1 { "" } else { "s" }
            ),
        });
    };
    let other = s.others[k].clone().unwrap_or_default();
    let (shown, other_shown) = (clip(value), clip(&other));
    if value.len() < MIN_COMPARED && an.findings.iter().all(|f| f.value != value) {
        return None;
    }
    let step = an.steps.get(i).map_or("?", |st| st.name.as_str());
    if let Some((from, path)) = &s.issued {
        let issuer = &a.exchanges[*from];
        let from_name = an.steps.get(*from).map_or("?", |st| st.name.as_str());
        return Some(Fact::Issued {
            value: value.to_string(),
            issuer: issuer.id,
            json_path: path.clone(),
            variable: crate::finding::last_key(path).and_then(naming::variable),
            why: format!(
                "issued by `{from_name}` at {path}: `{shown}` here, `{other_shown}` in {} at the same places",
                names(k)
            ),
        });
    }
    // Login material bound to the user (wx.getUserInfo's): an iv looks random, but it goes
    // with its user's encryptedData; the four fields stay one user's row.
    let bound = s
        .key
        .as_deref()
        .is_some_and(|k| rules::user_bound::is_material(&a.exchanges[i].request, k));
    let made = (!bound)
        .then(|| generator(value, &other, a.exchanges[i].started))
        .flatten();
    if let Some(g) = made {
        return Some(Fact::Generated {
            value: value.to_string(),
            generator: g,
            why: format!(
                "step `{step}` sends `{shown}`, {} sends `{other_shown}`, and no answer issued either: the client makes it",
                names(k)
            ),
        });
    }
    Some(Fact::PerUser {
        value: value.to_string(),
        others: s
            .others
            .iter()
            .map(|o| o.clone().unwrap_or_else(|| value.to_string()))
            .collect(),
        why: format!(
            "step `{step}` sends `{shown}`, {} sends `{other_shown}`, and no answer issued it: each user's own (one CSV row per recording)",
            names(k)
        ),
    })
}

/// A value as a message quotes it: long ones cut in the middle.
fn clip(v: &str) -> String {
    if v.chars().count() <= 40 {
        return v.to_string();
    }
    let head: String = v.chars().take(24).collect();
    let tail: String = v.chars().skip(v.chars().count() - 12).collect();
    format!("{head}…{tail}")
}

/// What makes a value that differs between recordings when no answer issued it, when it is
/// made by the client rather than typed by the user.
fn generator(value: &str, other: &str, at: chrono::DateTime<chrono::Utc>) -> Option<Gen> {
    if let Some(unit) = shape::timestamp(value, at) {
        return Some(match unit {
            TimeUnit::Ms => Gen::TimestampMs,
            TimeUnit::S => Gen::TimestampS,
        });
    }
    if shape::is_uuid(value) && shape::is_uuid(other) {
        return Some(Gen::Uuid);
    }
    // All digits that differ are as likely a user's (a phone, a member number) as a serial
    // the client made: two samples cannot tell, and a user's value is the safer reading
    // (a verify round turns a refused serial into a generator).
    let random = |v: &str| {
        (shape::looks_random(v) || shape::is_hex32(v)) && !v.bytes().all(|b| b.is_ascii_digit())
    };
    (random(value) && random(other) && value.len() == other.len()).then_some(Gen::Nonce)
}

/// The earlier answer of `a` (before exchange `i`, which sends `value`) that holds `value`
/// at a JSONPath where the aligned answer of `b` (before `j`, which sends `other`) holds
/// `other`.
fn issued_at(
    a: &Recording,
    b: &Recording,
    by_a: &HashMap<usize, usize>,
    (i, value): (usize, &str),
    (j, other): (usize, &str),
) -> Option<(usize, String)> {
    let value_at = |e: &Exchange, path: &str| -> Option<String> {
        let json = e.response.as_ref()?.body.as_ref()?.as_json()?;
        leaf(json, path)
    };
    for from in (0..i).rev() {
        let Some(&bj) = by_a.get(&from) else {
            continue;
        };
        if bj >= j {
            continue;
        }
        let Some(json) = a.exchanges[from]
            .response
            .as_ref()
            .and_then(|r| r.body.as_ref())
            .and_then(|b| b.as_json())
        else {
            continue;
        };
        let mut leaves = Vec::new();
        walk::json_leaves("$", json, &mut leaves);
        for (path, v) in leaves {
            if v == value && value_at(&b.exchanges[bj], &path).as_deref() == Some(other) {
                return Some((from, path));
            }
        }
    }
    None
}

/// The string form of the leaf at a JSONPath this crate wrote (`$.data.list[0].id`).
fn leaf(root: &Value, path: &str) -> Option<String> {
    let mut leaves = Vec::new();
    walk::json_leaves("$", root, &mut leaves);
    leaves.into_iter().find(|(p, _)| p == path).map(|(_, v)| v)
}

/// Pairs of exchange indexes (main, other) of the same request shape, in order.
fn align(a: &[Exchange], ak: &[usize], b: &[Exchange], bk: &[usize]) -> Vec<(usize, usize)> {
    let key = |e: &Exchange| {
        let form = e.request.body.as_ref().and_then(|b| b.as_text());
        let is_id = |s: &str| {
            (s.len() >= shape::MIN_LEN && shape::looks_random(s))
                || shape::is_uuid(s)
                || s.bytes().all(|c| c.is_ascii_digit())
        };
        (
            e.request.method.clone(),
            naming::step(&e.request.url, form, is_id),
        )
    };
    let ka: Vec<_> = ak.iter().map(|&i| key(&a[i])).collect();
    let kb: Vec<_> = bk.iter().map(|&j| key(&b[j])).collect();
    let (n, m) = (ka.len(), kb.len());
    if n.saturating_mul(m) > MAX_TABLE {
        return in_order(&ka, &kb)
            .into_iter()
            .map(|(x, y)| (ak[x], bk[y]))
            .collect();
    }
    // lcs[x][y]: the longest common subsequence of ka[x..] and kb[y..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for x in (0..n).rev() {
        for y in (0..m).rev() {
            lcs[x][y] = if ka[x] == kb[y] {
                lcs[x + 1][y + 1] + 1
            } else {
                lcs[x + 1][y].max(lcs[x][y + 1])
            };
        }
    }
    let (mut x, mut y, mut out) = (0, 0, Vec::new());
    while x < n && y < m {
        if ka[x] == kb[y] {
            out.push((ak[x], bk[y]));
            x += 1;
            y += 1;
        } else if lcs[x + 1][y] >= lcs[x][y + 1] {
            x += 1;
        } else {
            y += 1;
        }
    }
    out
}

/// Greedy in-order matching, for recordings too long for the table.
fn in_order<K: PartialEq>(ka: &[K], kb: &[K]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut y = 0;
    for (x, k) in ka.iter().enumerate() {
        if let Some(d) = kb[y..].iter().position(|o| o == k) {
            out.push((x, y + d));
            y += d + 1;
        }
    }
    out
}
