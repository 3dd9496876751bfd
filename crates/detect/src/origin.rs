//! Where a value came from: an index of every value the responses carried, searched for the
//! latest earlier response that issued a value a request sends.

use std::collections::{HashMap, HashSet};

use crate::finding::{Origin, Place};
use crate::shape;
use crate::text;
use crate::walk::{decode_component, Slot};

/// Every candidate value of the kept responses, by value. Text bodies (an HTML page, JSONP)
/// are cut into runs of token characters (after their entities are decoded, and again at
/// each `=`, so `?a=1&#038;_wpnonce=x` yields `x`) and indexed the same way, so a lookup never
/// scans a body: the index is built in one pass over the recording.
#[derive(Default)]
pub(crate) struct Index {
    by_value: HashMap<String, Vec<Hit>>,
    /// `(step, value)` for every value a request sent: the same value in that step's
    /// response is an echo of the request, not an origin.
    sent: HashSet<(usize, String)>,
}

/// One place a response held a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub step: usize,
    pub place: Place,
    /// When the value is the percent-decoded form of what the response held: what it held
    /// (the extractor takes that, and the request sends `url_decode` of it).
    pub raw: Option<String>,
}

/// Characters a token in running text is made of (base64, base64url, hex, percent-encoding).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '+' | '/' | '=' | '%' | '-')
}

impl Index {
    /// Adds the slots of one response (`step` in recording order; call in that order).
    pub(crate) fn add(&mut self, step: usize, slots: Vec<Slot>, text: Option<&str>) {
        for slot in slots {
            if slot.value.contains('%') {
                let decoded = decode_component(&slot.value);
                if decoded != slot.value {
                    self.push(decoded, step, slot.place.clone(), Some(slot.value.clone()));
                }
            }
            self.push(slot.value, step, slot.place, None);
        }
        if let Some(t) = text {
            let t = text::decode_entities(t);
            let mut seen = HashSet::new();
            for run in t.split(|c: char| !is_token_char(c)) {
                let pieces =
                    std::iter::once(run).chain(run.split('=').filter(|p| p.len() < run.len()));
                for word in pieces {
                    if shape::is_candidate(word) && seen.insert(word.to_string()) {
                        self.push(word.to_string(), step, Place::Text, None);
                    }
                }
            }
        }
    }

    /// Records that the request of `step` sent `value`.
    pub(crate) fn sent(&mut self, step: usize, value: &str) {
        self.sent.insert((step, value.to_string()));
    }

    fn push(&mut self, value: String, step: usize, place: Place, raw: Option<String>) {
        self.by_value
            .entry(value)
            .or_default()
            .push(Hit { step, place, raw });
    }

    /// Whether the response of `step` holding `value` only echoes its own request.
    fn echo(&self, step: usize, value: &str) -> bool {
        self.sent.contains(&(step, value.to_string()))
    }

    /// The latest response before `before` that issued `value` (echoes of a request's own
    /// value skipped), preferring one where it goes by the same name as at the use (`key`),
    /// then the place easiest to extract from. `usable` says whether a hit can be extracted
    /// from (a value no regex singles out in a page cannot).
    pub(crate) fn hit(
        &self,
        value: &str,
        before: usize,
        key: Option<&str>,
        usable: &dyn Fn(&Hit, &str) -> bool,
    ) -> Option<&Hit> {
        let hits = self.hits_before(value, before);
        let same_key = |p: &Place| match (p.key(), key) {
            (Some(a), Some(b)) => norm(a) == norm(b),
            _ => false,
        };
        let best = |only_same: bool| {
            hits.iter()
                .filter(|h| !only_same || same_key(&h.place))
                .filter(|h| usable(h, value))
                .max_by_key(|h| (h.step, rank(&h.place)))
                .copied()
        };
        best(true).or_else(|| best(false))
    }

    /// Every hit of `value` before `before` that is not an echo, in recording order.
    pub(crate) fn hits_before(&self, value: &str, before: usize) -> Vec<&Hit> {
        self.by_value
            .get(value)
            .map(|v| {
                v.iter()
                    .filter(|h| h.step < before && !self.echo(h.step, value))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// [`Index::hit`] as an [`Origin`].
    pub(crate) fn origin(
        &self,
        value: &str,
        before: usize,
        key: Option<&str>,
        usable: &dyn Fn(&Hit, &str) -> bool,
    ) -> Option<Origin> {
        self.hit(value, before, key, usable).map(|h| Origin {
            step: h.step,
            place: h.place.clone(),
        })
    }

    /// Whether any response before `before` holds `value`, echoes included.
    pub(crate) fn held_before(&self, value: &str, before: usize) -> bool {
        self.by_value
            .get(value)
            .is_some_and(|v| v.iter().any(|h| h.step < before))
    }

    /// The steps whose responses hold `value` anywhere, each once.
    pub(crate) fn responses_holding(&self, value: &str) -> HashSet<usize> {
        self.by_value
            .get(value)
            .map(|v| v.iter().map(|h| h.step).collect())
            .unwrap_or_default()
    }
}

/// Names compared loosely: `goods_id`, `goodsId` and `Goods-Id` are one name.
pub(crate) fn norm(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '_'], "")
}

/// Within one response, which place to extract from: a JSON field is the most stable, then a
/// header or cookie, then a named value in a page; a value inside a JSON string or a JWT
/// needs a human.
fn rank(p: &Place) -> u8 {
    match p {
        Place::Json(_) => 6,
        Place::Bearer(_) | Place::Header(_) => 5,
        Place::SetCookie(_) => 4,
        Place::TextField(_) => 3,
        Place::JsonInString(..) => 2,
        Place::JwtClaim(..) => 1,
        _ => 0,
    }
}
