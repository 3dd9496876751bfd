//! Short ids (`1330`, `a7x`): too short to be told from chance by their shape, so correlated
//! only on evidence that ties the use to the response that issued it:
//!
//! - the same id-like name at both ends (`post_ID` in a hidden input and in a form,
//!   `addressId` in a response and a request);
//! - a resource's `id` and a request's `<resource>Id` / `<resource>_id`, the resource named
//!   by the issuing endpoint's path or the object holding the `id` (`address/save` answers
//!   `{"id": 7}`, `order/submit` sends `addressId: 7`);
//! - a REST path segment after a collection (`/posts/1330`) and an earlier `id`, `post_id`
//!   or `post` holding it;
//! - an answer that is nothing but the id (`{"errno": 0, "data": 57}`) as that resource's
//!   `id`;
//! - a prefixed form of an id so found (`post-1330`): the prefix is kept, the id templated.
//!
//! Never a small number without such evidence: `page=2` and `"status": 10` stay as sent.

use indexmap::IndexMap;

use crate::classify::Ctx;
use crate::finding::{Origin, Place, Use};
use crate::origin::{norm, Hit};
use crate::walk::{self, Kind};

/// The short ids found, each with its uses and their origins; uses of prefixed forms are
/// taken out of `groups` (the candidate values) and added to their id.
pub(crate) fn find(
    cx: &Ctx<'_>,
    groups: &mut IndexMap<String, Vec<Use>>,
) -> Vec<(String, Vec<Use>, Vec<Origin>)> {
    let mut found: IndexMap<String, (Vec<Use>, Vec<Origin>)> = IndexMap::new();
    for &i in cx.kept {
        let req = &cx.exchanges[i].request;
        let (path, _) = walk::path_and_query(&req.url);
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(walk::decode_component)
            .collect();
        for slot in walk::request_slots_of(req, Kind::ShortId) {
            let hits = cx.short.hits_before(&slot.value, i);
            let evidence =
                |h: &&&Hit| cx.usable(h, &slot.value) && vouches(cx, &slot.place, &segments, h);
            let Some(hit) = hits.iter().rev().find(evidence) else {
                continue;
            };
            let (uses, origins) = found.entry(slot.value.clone()).or_default();
            uses.push(Use {
                step: i,
                place: slot.place,
                encoding: crate::finding::Encoding::Plain,
            });
            let o = Origin {
                step: hit.step,
                place: hit.place.clone(),
            };
            // One origin per response: the first name found there is extracted.
            if !origins.iter().any(|x: &Origin| x.step == o.step) {
                origins.push(o);
            }
        }
    }
    for (id, (uses, origins)) in found.iter_mut() {
        let prefixed: Vec<String> = groups
            .keys()
            .filter(|k| is_prefixed(k, id))
            .cloned()
            .collect();
        for k in prefixed {
            if let Some(more) = groups.shift_remove(&k) {
                uses.extend(more);
            }
        }
        uses.sort_by_key(|u| u.step);
        origins.sort_by_key(|o| o.step);
    }
    found
        .into_iter()
        .map(|(v, (uses, origins))| (v, uses, origins))
        .collect()
}

/// `post-1330` for id `1330`: letters, one separator, the id.
fn is_prefixed(value: &str, id: &str) -> bool {
    value.strip_suffix(id).is_some_and(|p| {
        p.len() >= 2
            && p[..p.len() - 1].bytes().all(|b| b.is_ascii_alphabetic())
            && matches!(p.as_bytes()[p.len() - 1], b'-' | b'_' | b':')
    })
}

/// Whether the place of a use and the place of an earlier hit name the same resource id.
fn vouches(cx: &Ctx<'_>, at: &Place, segments: &[String], h: &Hit) -> bool {
    // An answer whose whole payload is the id (`{"errno": 0, "data": 57}` from
    // `address/save`) names it as the `id` of the resource its path names.
    let whole_payload = matches!(&h.place, Place::Json(p) if p == "$.data" || p == "$.result");
    let Some(origin_key) = h.place.key().map(|k| {
        if whole_payload {
            "id".to_string()
        } else {
            norm(k)
        }
    }) else {
        return false;
    };
    let origin_resources = || {
        let url = &cx.exchanges[h.step].request.url;
        let mut words = path_words(walk::path_and_query(url).0);
        if let Place::Json(p) = &h.place {
            words.extend(json_parents(p));
        }
        words
    };
    match at {
        Place::PathSegment(n) => {
            let Some(collection) = n.checked_sub(1).and_then(|p| segments.get(p)) else {
                return false;
            };
            if !is_word(collection) {
                return false;
            }
            let c = norm(collection);
            let one = singular(&c);
            origin_key == "id"
                || origin_key == format!("{one}id")
                || origin_key == format!("{c}id")
                || origin_key == one
        }
        _ => {
            let Some(use_key) = at.key().map(norm) else {
                return false;
            };
            if !use_key.ends_with("id") {
                return false;
            }
            if use_key == origin_key {
                return true;
            }
            if origin_key == "id" {
                return origin_resources()
                    .iter()
                    .any(|r| use_key == format!("{r}id"));
            }
            // A generic `id` sent to `/posts/1330` names the post: `post_ID` vouches.
            use_key == "id"
                && segments
                    .iter()
                    .filter(|s| is_word(s))
                    .any(|s| origin_key == format!("{}id", singular(&norm(s))))
        }
    }
}

fn is_word(s: &str) -> bool {
    s.len() >= 3
        && s.bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
}

/// The resource words of a path (`/api/address/save` → `address`, `save`), singular.
fn path_words(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| is_word(s))
        .map(|s| singular(&norm(s)))
        .collect()
}

/// The object keys a JSONPath passes through (`$.data.address.id` → `address`, `data`).
fn json_parents(path: &str) -> Vec<String> {
    let keys: Vec<&str> = path
        .trim_start_matches('$')
        .split(['.', '[', ']'])
        .filter(|k| !k.is_empty())
        .collect();
    keys.iter()
        .rev()
        .skip(1)
        .filter(|k| is_word(k))
        .map(|k| singular(&norm(k)))
        .collect()
}

/// English plural to singular, enough for collection names (`posts`, `addresses`,
/// `categories`).
fn singular(w: &str) -> String {
    if let Some(s) = w.strip_suffix("ies") {
        return format!("{s}y");
    }
    if let Some(s) = w.strip_suffix("sses").or_else(|| w.strip_suffix("shes")) {
        return format!("{s}{}", &w[s.len()..w.len() - 2]);
    }
    if w.ends_with("ss") {
        return w.to_string();
    }
    if let Some(s) = w.strip_suffix("ses") {
        return format!("{s}s");
    }
    w.strip_suffix('s').unwrap_or(w).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(singular("posts"), "post");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("address"), "address");
        assert!(is_prefixed("post-1330", "1330"));
        assert!(!is_prefixed("1330", "1330"));
        assert!(!is_prefixed("p1-1330", "1330"));
        assert_eq!(json_parents("$.data.address.id"), ["address", "data"]);
    }
}
