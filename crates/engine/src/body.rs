//! How much of a response body a VU holds: the first [`KEPT`] bytes, the rest read (so the
//! connection stays usable and the time and bytes count) and dropped. Without a bound, an
//! answer that never ends (a close-delimited stream, a download, a hostile server) grows one
//! VU's buffer until the machine runs out of memory; with it, a run's memory is bounded by
//! its VUs, not by what servers send. A step whose checks or extractors read the body fails
//! on a cut one (`response::whole`) rather than judging half an answer.

use bytes::{Bytes, BytesMut};

/// The most of one response body kept: far above an API's JSON, well under what a thousand
/// VUs may hold at once.
pub(crate) const KEPT: usize = 16 << 20;

/// A body as it arrives: up to [`KEPT`] bytes kept, every byte counted.
#[derive(Default)]
pub(crate) struct Collected {
    /// The first piece, kept without a copy while it is the only one (most answers).
    first: Option<Bytes>,
    more: Option<BytesMut>,
    size: u64,
}

impl Collected {
    /// Adds the next piece of the body.
    pub(crate) fn push(&mut self, data: Bytes) {
        self.size += data.len() as u64;
        if data.is_empty() {
            return;
        }
        if let Some(m) = &mut self.more {
            let room = KEPT - m.len();
            m.extend_from_slice(&data[..data.len().min(room)]);
            return;
        }
        match self.first.take() {
            None if data.len() <= KEPT => self.first = Some(data),
            None => self.first = Some(data.slice(..KEPT)),
            Some(f) if f.len() >= KEPT => self.first = Some(f),
            Some(f) => {
                let room = KEPT - f.len();
                let mut m = BytesMut::with_capacity(f.len() + data.len().min(room));
                m.extend_from_slice(&f);
                m.extend_from_slice(&data[..data.len().min(room)]);
                self.more = Some(m);
            }
        }
    }

    /// Adds the next piece from a slice (a chunk inside a read buffer).
    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        if data.is_empty() {
            return;
        }
        let m = self.more.get_or_insert_with(|| {
            let mut m = BytesMut::new();
            if let Some(f) = self.first.take() {
                m.extend_from_slice(&f);
            }
            m
        });
        let room = KEPT - m.len();
        m.extend_from_slice(&data[..data.len().min(room)]);
    }

    /// The kept bytes and the size of the whole body.
    pub(crate) fn finish(self) -> (Bytes, u64) {
        let kept = match (self.more, self.first) {
            (Some(m), _) => m.freeze(),
            (None, Some(f)) => f,
            (None, None) => Bytes::new(),
        };
        (kept, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_piece_is_kept_without_a_copy() {
        let data = Bytes::from_static(b"{\"ok\":true}");
        let mut c = Collected::default();
        c.push(data.clone());
        c.push(Bytes::new());
        let (kept, size) = c.finish();
        assert_eq!(
            kept.as_ptr(),
            data.as_ptr(),
            "an empty last read costs no copy"
        );
        assert_eq!(size, data.len() as u64);
    }

    #[test]
    fn pieces_join_in_order_and_stop_at_the_bound() {
        let mut c = Collected::default();
        c.push(Bytes::from(vec![b'a'; KEPT - 3]));
        c.push(Bytes::from_static(b"bcdef"));
        c.push_slice(b"ghi");
        let (kept, size) = c.finish();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(&kept[KEPT - 4..], b"abcd");
        assert_eq!(size, KEPT as u64 + 5);
    }

    #[test]
    fn a_first_piece_over_the_bound_is_cut() {
        let mut c = Collected::default();
        c.push(Bytes::from(vec![b'x'; KEPT + 10]));
        c.push_slice(b"more");
        let (kept, size) = c.finish();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(size, KEPT as u64 + 14);
    }

    #[test]
    fn slices_alone_are_collected() {
        let mut c = Collected::default();
        c.push_slice(b"ab");
        c.push_slice(b"cd");
        assert_eq!(c.finish(), (Bytes::from_static(b"abcd"), 4));
    }
}
