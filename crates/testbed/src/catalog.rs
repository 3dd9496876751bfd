//! The goods catalogue: an endless, stateless list whose ids cannot be guessed.
//!
//! A goods id is `g{page}x{index}{tag}` where `tag` is 10 hex characters of an HMAC over the
//! page and index under a per-process key. The server can verify any id without storing the
//! catalogue, while a client cannot make one up, and an id recorded against another testbed run
//! is unknown here. That forces a replay to take ids from the list response it just received
//! (response-to-request correlation) instead of resending recorded ones — and the
//! `unknown_ids` counter shows when it did not.
//!
//! Names, prices and stock are derived from the same tag, so a product is stable for the life of
//! the process.

use std::fmt::Write as _;

use ring::hmac;
use ring::rand::SystemRandom;
use serde::Serialize;

/// Products per list page.
pub const PAGE_SIZE: u32 = 10;
const TAG_HEX: usize = 10;

const ADJECTIVES: [&str; 8] = [
    "Classic", "Deluxe", "Organic", "Spicy", "Frosted", "Handmade", "Premium", "Mini",
];
const NOUNS: [&str; 8] = [
    "Green Tea",
    "Mooncake",
    "Dumplings",
    "Milk Tea",
    "Red Bean Bun",
    "Noodles",
    "Tofu",
    "Mango",
];

/// One product, as the list and detail endpoints show it.
#[derive(Debug, Serialize)]
pub(crate) struct Goods {
    pub id: String,
    pub name: String,
    /// Price in fen (1/100 yuan), as WeChat Pay amounts are.
    pub price: u32,
    /// Only in the detail response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
}

/// Mints and verifies goods ids.
pub(crate) struct Catalog {
    key: hmac::Key,
}

impl Catalog {
    /// A catalogue with a fresh random key.
    pub(crate) fn new() -> anyhow::Result<Catalog> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("no system randomness for the catalogue key"))?;
        Ok(Catalog { key })
    }

    fn tag(&self, page: u32, index: u32) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&page.to_be_bytes());
        ctx.update(&index.to_be_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn goods(&self, page: u32, index: u32, detail: bool) -> Goods {
        let tag = self.tag(page, index);
        let mut id = String::with_capacity(24);
        // Writing to a String cannot fail.
        let _ = write!(id, "g{page}x{index}");
        for b in &tag[..TAG_HEX / 2] {
            let _ = write!(id, "{b:02x}");
        }
        let name = format!(
            "{} {}",
            ADJECTIVES[usize::from(tag[5] % 8)],
            NOUNS[usize::from(tag[6] % 8)]
        );
        let price = 100 + u32::from(u16::from_be_bytes([tag[7], tag[8]])) % 9900;
        let stock = detail.then(|| u32::from(tag[9]) % 200);
        Goods {
            id,
            name,
            price,
            stock,
        }
    }

    /// The products on `page` (1-based).
    pub(crate) fn page(&self, page: u32) -> Vec<Goods> {
        (0..PAGE_SIZE).map(|i| self.goods(page, i, false)).collect()
    }

    /// The product with this id, if the id is one this process minted.
    pub(crate) fn lookup(&self, id: &str) -> Option<Goods> {
        let (page, index) = self.verify(id)?;
        Some(self.goods(page, index, true))
    }

    /// `(page, index)` of an id this process minted; `None` for anything else.
    pub(crate) fn verify(&self, id: &str) -> Option<(u32, u32)> {
        if !id.is_ascii() || id.len() <= TAG_HEX + 3 {
            return None;
        }
        let (head, tag_hex) = id.split_at(id.len() - TAG_HEX);
        let (page, index) = head.strip_prefix('g')?.split_once('x')?;
        let page = parse_canonical(page)?;
        let index = parse_canonical(index)?;
        if page == 0 || index >= PAGE_SIZE {
            return None;
        }
        // Lower-case hex only: exactly one spelling of each id exists.
        if !tag_hex
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let mut given = [0u8; TAG_HEX / 2];
        for (i, b) in given.iter_mut().enumerate() {
            *b = u8::from_str_radix(tag_hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        crate::tokens::constant_time_eq(&self.tag(page, index)[..TAG_HEX / 2], &given)
            .then_some((page, index))
    }
}

/// Parses plain decimal digits with no sign and no leading zero.
fn parse_canonical(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_ids_verify_and_others_do_not() {
        let c = Catalog::new().unwrap();
        let other = Catalog::new().unwrap();
        let page = c.page(3);
        assert_eq!(page.len(), PAGE_SIZE as usize);
        for (i, g) in page.iter().enumerate() {
            assert!(g.id.len() >= 12, "{}", g.id);
            assert_eq!(c.verify(&g.id), Some((3, i as u32)));
            assert_eq!(other.verify(&g.id), None);
            let d = c.lookup(&g.id).unwrap();
            assert_eq!((d.name.as_str(), d.price), (g.name.as_str(), g.price));
            assert!(d.stock.is_some());
        }
        let id = &page[0].id;
        let upper = id
            .to_ascii_uppercase()
            .replacen('G', "g", 1)
            .replacen('X', "x", 1);
        for bad in [
            "",
            "g",
            "g1x0",
            "g1x00000000000",
            "g0x0aaaaaaaaaa",
            "g1x10aaaaaaaaaa",
            "g01x0aaaaaaaaaa",
            "g+1x0aaaaaaaaaa",
            "ééééééééééééééé",
            &id[..id.len() - 1],
        ] {
            assert_eq!(c.verify(bad), None, "{bad}");
        }
        // (An all-digit tag has no upper-case spelling.)
        if upper != *id {
            assert_eq!(c.verify(&upper), None, "{upper}");
        }
    }
}
