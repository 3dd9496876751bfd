//! The one response body type: either a buffer already in memory (every JSON and HTML answer) or
//! the `/blob` download, produced a chunk at a time.
//!
//! An enum rather than a boxed trait object keeps the common path free of an allocation and a
//! virtual call, and lets the response builder look at a finished JSON body (for gzip) before it
//! is sent.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// Size of each `/blob` data frame.
pub(crate) const BLOB_CHUNK: usize = 64 * 1024;
/// `/blob` byte `i` is `(i % BLOB_PERIOD) as u8`: a prime period, so the pattern never lines up
/// with chunk, page or TLS record boundaries and a misplaced or repeated chunk shows.
pub(crate) const BLOB_PERIOD: usize = 251;

/// One chunk's worth of the pattern plus a period of slack, so that every chunk is a window of
/// this one static array — whatever its offset — and costs neither an allocation nor a copy.
/// 64 KiB of pattern is all the memory a download of any size uses.
static PATTERN: [u8; BLOB_CHUNK + BLOB_PERIOD] = pattern();

const fn pattern() -> [u8; BLOB_CHUNK + BLOB_PERIOD] {
    let mut out = [0u8; BLOB_CHUNK + BLOB_PERIOD];
    let mut i = 0;
    while i < out.len() {
        out[i] = (i % BLOB_PERIOD) as u8;
        i += 1;
    }
    out
}

/// A response body.
#[derive(Debug)]
pub(crate) enum Body {
    /// A whole body, sent as one frame (`None` once sent).
    Full(Option<Bytes>),
    /// The `/blob` pattern, generated as it is sent.
    Blob(Blob),
}

impl Body {
    pub(crate) fn full(bytes: Bytes) -> Body {
        Body::Full(Some(bytes))
    }

    /// The whole body, when it is one buffer not yet sent.
    pub(crate) fn as_full(&self) -> Option<&Bytes> {
        match self {
            Body::Full(b) => b.as_ref(),
            Body::Blob(_) => None,
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        // Never pending: both kinds are ready whenever the connection can take more.
        Poll::Ready(match self.get_mut() {
            Body::Full(b) => b
                .take()
                .filter(|b| !b.is_empty())
                .map(|b| Ok(Frame::data(b))),
            Body::Blob(blob) => blob.next_chunk().map(|b| Ok(Frame::data(b))),
        })
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            Body::Blob(blob) => blob.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(match self {
            Body::Full(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Body::Blob(blob) => blob.remaining,
        })
    }
}

/// `remaining` more bytes of the pattern, starting at byte `offset` of the download.
#[derive(Debug)]
pub(crate) struct Blob {
    offset: u64,
    remaining: u64,
}

impl Blob {
    pub(crate) fn new(len: u64) -> Blob {
        Blob {
            offset: 0,
            remaining: len,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        // Both fit in usize: the first is below BLOB_CHUNK, the second below BLOB_PERIOD.
        let len = self.remaining.min(BLOB_CHUNK as u64) as usize;
        let start = (self.offset % BLOB_PERIOD as u64) as usize;
        self.offset += len as u64;
        self.remaining -= len as u64;
        Some(Bytes::from_static(&PATTERN[start..start + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn blob_streams_the_pattern_in_64k_frames() {
        for len in [0u64, 1, 250, 251, 65_536, 65_537, 3 * 65_536 + 1000] {
            let mut body = Body::Blob(Blob::new(len));
            assert_eq!(http_body::Body::size_hint(&body).exact(), Some(len));
            let mut seen = 0u64;
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap();
                assert!(!data.is_empty() && data.len() <= BLOB_CHUNK, "{len}");
                // Every frame but the last is a full chunk.
                if seen + (data.len() as u64) < len {
                    assert_eq!(data.len(), BLOB_CHUNK);
                }
                for (i, &b) in data.iter().enumerate() {
                    assert_eq!(
                        u64::from(b),
                        (seen + i as u64) % 251,
                        "byte {}",
                        seen + i as u64
                    );
                }
                seen += data.len() as u64;
                assert_eq!(http_body::Body::size_hint(&body).exact(), Some(len - seen));
            }
            assert_eq!(seen, len);
            assert!(http_body::Body::is_end_stream(&body));
        }
    }

    #[tokio::test]
    async fn full_is_one_frame() {
        let mut body = Body::full(Bytes::from_static(b"{}"));
        assert_eq!(body.as_full().map(|b| b.len()), Some(2));
        assert_eq!(
            body.frame().await.unwrap().unwrap().into_data().unwrap(),
            "{}"
        );
        assert!(body.frame().await.is_none());
        assert!(http_body::Body::is_end_stream(&body));
        assert!(http_body::Body::is_end_stream(&Body::full(Bytes::new())));
    }
}
