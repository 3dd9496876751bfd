//! gzip for the larger JSON answers: `Accept-Encoding` negotiation and the compressor.
//!
//! Real mini-program backends compress their list responses, and a recorder has to store (and a
//! replay has to cope with) `content-encoding: gzip`, so the testbed does too. Compressing a
//! goods list at the fastest level costs about 10 µs in a release build, nearly all of it
//! clearing the deflate tables (a few hundred KiB). Resetting a kept compressor clears the same
//! tables, so one per thread would save nothing; instead only bodies worth it are compressed
//! (see `handlers::reply`).

use std::io::Write as _;

use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::ACCEPT_ENCODING;
use http::HeaderMap;

/// Whether `Accept-Encoding` (all of its header lines) admits gzip: `gzip` or `x-gzip` listed
/// with a non-zero q-value (or none), or failing an explicit listing, `*` with one. `gzip;q=0`
/// refuses it, as does a q-value that does not parse.
pub(crate) fn accepts(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let items = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut params = item.split(';');
        let coding = params.next().unwrap_or_default().trim();
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding == "*" {
            &mut any
        } else {
            continue;
        };
        let q = params
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map(|(_, v)| v.trim());
        let ok = q.is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0));
        // Listed twice: any acceptable listing wins.
        *slot = Some(slot.unwrap_or(false) || ok);
    }
    gzip.or(any).unwrap_or(false)
}

/// `data` as one gzip member; `None` if it could not be compressed (then send it as is).
pub(crate) fn compress(data: &[u8]) -> Option<Vec<u8>> {
    // JSON shrinks to a third or less; the Vec grows if this is not enough.
    let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), Compression::fast());
    gz.write_all(data).ok()?;
    gz.finish().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn accept(values: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT_ENCODING, v.parse().unwrap());
        }
        accepts(&h)
    }

    #[test]
    fn negotiation() {
        for yes in [
            &["gzip"][..],
            &["gzip, deflate, br"],
            &["br;q=1.0, GZIP;q=0.5"],
            &["deflate", "x-gzip"],
            &["*"],
            &["identity, *;q=0.1"],
            &["gzip ; q=1"],
        ] {
            assert!(accept(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &[""],
            &["deflate, br"],
            &["gzip;q=0"],
            &["gzip;q=0.000, deflate"],
            &["gzip;q=nope"],
            &["*;q=0"],
            &["*, gzip;q=0"],
            &["gzipx"],
        ] {
            assert!(!accept(no), "{no:?}");
        }
    }

    #[test]
    fn round_trips() {
        let json =
            br#"{"errcode":0,"data":[{"id":"g1x0aabbccddee","name":"Classic Tofu","price":1234}]}"#
                .repeat(8);
        let noise: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for data in [&json[..], &noise, &json, b"x"] {
            let z = compress(data).expect("compresses");
            assert_eq!(z[..3], [0x1f, 0x8b, 8]);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
        assert!(compress(&json).unwrap().len() < json.len() / 3);
    }
}
