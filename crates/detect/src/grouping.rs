//! Grouping what the requests send by the value a response issued: a value sent inside a
//! layer (base64 of it, its percent- or form-encoding, its decoding) is a use of the issued
//! value, with the layer on the use, so the template re-encodes what it extracts.

use indexmap::IndexMap;

use crate::classify::Ctx;
use crate::finding::{Encoding, Place, Use};
use crate::origin::Hit;
use crate::shape;
use crate::walk::{self, Slot};

impl Ctx<'_> {
    /// Every candidate value a kept request sends, with its uses in order. A value sent in a
    /// layer (base64 of, percent-encoding of, or decoding of what a response issued) counts
    /// as a use of the issued value, with the layer on the use.
    pub(crate) fn group_uses(&self) -> IndexMap<String, Vec<Use>> {
        let mut groups: IndexMap<String, Vec<Use>> = IndexMap::new();
        for &i in self.kept {
            for Slot { place, value } in walk::request_slots(&self.exchanges[i].request) {
                if matches!(place, Place::JwtClaim(..)) {
                    continue;
                }
                let (value, encoding) = self.layered(value, i, place.key());
                let uses = groups.entry(value).or_default();
                let u = Use {
                    step: i,
                    place,
                    encoding,
                };
                if !uses.contains(&u) {
                    uses.push(u);
                }
            }
        }
        groups
    }

    /// The issued value a request value stands for, and the layer between them.
    fn layered(&self, value: String, step: usize, key: Option<&str>) -> (String, Encoding) {
        let usable = |h: &Hit, v: &str| self.usable(h, v);
        if let Some(h) = self.index.hit(&value, step, key, &usable) {
            return match &h.raw {
                // The response held it percent-encoded; the request sends it decoded.
                Some(raw) => (raw.clone(), Encoding::UrlDecoded),
                None => (value, Encoding::Plain),
            };
        }
        if let Some(text) = shape::base64_text(&value) {
            if self.index.hit(&text, step, None, &usable).is_some() {
                return (text, Encoding::Base64);
            }
        }
        let decoded = walk::decode_component(&value);
        if decoded != value && self.index.hit(&decoded, step, key, &usable).is_some() {
            if loadtape_scenario::template::form_encode(&decoded) == value {
                return (decoded, Encoding::FormEncoded);
            }
            if loadtape_scenario::template::url_encode(&decoded) == value {
                return (decoded, Encoding::UrlEncoded);
            }
        }
        (value, Encoding::Plain)
    }
}
