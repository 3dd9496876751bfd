//! Undoing a `content-encoding`: what the proxy does to what it captures and the HAR importer
//! to bodies an exporter left encoded.

use std::io::Read as _;

/// Decodes up to `max` bytes of `data` from `encoding` (`gzip`, `x-gzip`, `deflate` — zlib
/// wrapped or, as some servers send it, raw —, `br`, `zstd`); returns the bytes and whether the
/// whole stream was decoded. A stream that fails part way (a truncated capture) keeps what
/// decoded, marked incomplete. `None` when the encoding is unknown or the data is not in it
/// (it is then stored as it is).
pub fn decode(encoding: &str, data: &[u8], max: usize) -> Option<(Vec<u8>, bool)> {
    let reader: Box<dyn std::io::Read + '_> = match encoding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(data)),
        "deflate" if is_zlib(data) => Box::new(flate2::read::ZlibDecoder::new(data)),
        "deflate" => Box::new(flate2::read::DeflateDecoder::new(data)),
        "br" => Box::new(brotli::Decompressor::new(data, 8192)),
        "zstd" => Box::new(zstd::stream::read::Decoder::with_buffer(data).ok()?),
        _ => return None,
    };
    let mut out = Vec::new();
    let mut limited = reader.take((max as u64).saturating_add(1));
    match limited.read_to_end(&mut out) {
        Ok(_) => {
            let complete = out.len() <= max;
            out.truncate(max);
            Some((out, complete))
        }
        Err(_) if !out.is_empty() => {
            out.truncate(max);
            Some((out, false))
        }
        Err(_) => None,
    }
}

/// A zlib header (RFC 1950): deflate method, and the check bits that make the first two bytes
/// a multiple of 31. "deflate" means zlib-wrapped, but some servers send raw deflate.
fn is_zlib(data: &[u8]) -> bool {
    data.len() >= 2
        && u16::from_be_bytes([data[0], data[1]]).is_multiple_of(31)
        && data[0] & 0x0f == 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn decodes_each_encoding() {
        let text = br#"{"token":"abcdefgh12345678","expires_in":7200}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode("gzip", &gz, 1 << 20), Some((text.to_vec(), true)));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text).unwrap();
        assert_eq!(
            decode("deflate", &z.finish().unwrap(), 1 << 20),
            Some((text.to_vec(), true))
        );
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(text).unwrap();
        assert_eq!(
            decode("deflate", &raw.finish().unwrap(), 1 << 20),
            Some((text.to_vec(), true))
        );
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(text)
            .unwrap();
        assert_eq!(decode("br", &br, 1 << 20), Some((text.to_vec(), true)));
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(decode("zstd", &zs, 1 << 20), Some((text.to_vec(), true)));
        // Over the cap: cut, and said so.
        assert_eq!(decode("gzip", &gz, 10), Some((text[..10].to_vec(), false)));
        assert_eq!(decode("gzip", b"not gzip", 100), None);
        assert_eq!(decode("compress", b"x", 100), None);
        // No cap: the whole stream.
        assert_eq!(decode("gzip", &gz, usize::MAX), Some((text.to_vec(), true)));
    }
}
