//! Where a value came from: an index of every value the responses carried, searched for the
//! latest earlier response holding a value a request sends.

use std::collections::{HashMap, HashSet};

use crate::finding::{Origin, Place};
use crate::shape;
use crate::walk::{decode_component, Slot};

/// Every candidate value of the kept responses, by value. Text bodies (an HTML page, JSONP)
/// are cut into runs of token characters and indexed the same way, so a lookup never scans a
/// body: the index is built in one pass over the recording.
#[derive(Default)]
pub struct Index {
    by_value: HashMap<String, Vec<(usize, Place)>>,
}

/// Characters a token in running text is made of (base64, base64url, hex, percent-encoding).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '+' | '/' | '=' | '%' | '-')
}

impl Index {
    /// Adds the slots of one response (`step` in recording order; call in that order).
    pub fn add(&mut self, step: usize, slots: Vec<Slot>, text: Option<&str>) {
        for slot in slots {
            if slot.value.contains('%') {
                let decoded = decode_component(&slot.value);
                if decoded != slot.value {
                    self.push(decoded, step, slot.place.clone());
                }
            }
            self.push(slot.value, step, slot.place);
        }
        if let Some(t) = text {
            let mut seen = HashSet::new();
            for word in t.split(|c: char| !is_token_char(c)) {
                if shape::is_candidate(word) && seen.insert(word) {
                    self.push(word.to_string(), step, Place::Text);
                }
            }
        }
    }

    fn push(&mut self, value: String, step: usize, place: Place) {
        self.by_value.entry(value).or_default().push((step, place));
    }

    /// The latest response before `before` holding `value`, preferring one where it goes by
    /// the same name as at the use (`key`), then the place easiest to extract from.
    pub fn origin(&self, value: &str, before: usize, key: Option<&str>) -> Option<Origin> {
        let hits: Vec<&(usize, Place)> = self
            .by_value
            .get(value)
            .map(|v| v.iter().filter(|(s, _)| *s < before).collect())
            .unwrap_or_default();
        let same_key = |p: &Place| match (p.key(), key) {
            (Some(a), Some(b)) => norm(a) == norm(b),
            _ => false,
        };
        hits.iter()
            .filter(|(_, p)| same_key(p))
            .max_by_key(|(s, p)| (*s, rank(p)))
            .or_else(|| hits.iter().max_by_key(|(s, p)| (*s, rank(p))))
            .map(|(step, place)| Origin {
                step: *step,
                place: place.clone(),
            })
    }

    /// The steps whose responses hold `value` anywhere, each once.
    pub fn responses_holding(&self, value: &str) -> HashSet<usize> {
        self.by_value
            .get(value)
            .map(|v| v.iter().map(|(s, _)| *s).collect())
            .unwrap_or_default()
    }
}

/// Names compared loosely: `goods_id`, `goodsId` and `Goods-Id` are one name.
pub fn norm(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '_'], "")
}

/// Within one response, which place to extract from: a JSON field is the most stable, then a
/// header or cookie; a value inside a JSON string or a JWT needs a human.
fn rank(p: &Place) -> u8 {
    match p {
        Place::Json(_) => 5,
        Place::Bearer(_) | Place::Header(_) => 4,
        Place::SetCookie(_) => 3,
        Place::JsonInString(..) => 2,
        Place::JwtClaim(..) => 1,
        _ => 0,
    }
}
