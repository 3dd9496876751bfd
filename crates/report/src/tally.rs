//! Bounded tallies of why things failed, kept per row of a result: each distinct pair of
//! words once with its count, at most [`CHECK_FAILURES_KEPT`] of them, the rest on one
//! [`OTHER_FAILURES`] entry. A server that answers a fresh value each time (a timestamp, a
//! request id, a port in an error) must not grow a run's memory or its result. One
//! implementation for both tallies a row has: [`CheckFailures`] (a check's rule and what the
//! answer had) and [`ErrorMessages`] (an error kind and what the socket or parser said).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How many distinct pairs a tally keeps; the rest are counted under [`OTHER_FAILURES`].
pub const CHECK_FAILURES_KEPT: usize = 16;

/// The first word of the entry that counts failures beyond [`CHECK_FAILURES_KEPT`] distinct
/// ones (its second word is empty).
pub const OTHER_FAILURES: &str = "(other)";

/// One kind of failed answer: the rule (`$.errno == 0`, `status in [200]`,
/// `extract orderId ($.data.orderId)`), what the answer had (`402`, `missing`, `not JSON`,
/// `nothing found`), and how many answers failed so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckFailure {
    /// The rule that failed, as the scenario means it (`$.errno == 0`, `status == 200`).
    pub check: String,
    /// What the answer had there, JSON-rendered and cut to 60 characters.
    pub got: String,
    /// How many answers failed this way.
    pub count: u64,
}

/// One way requests failed below HTTP: the kind as `errors_by_kind` counts it and what was
/// said (`invalid HTTP version parsed`, `connection error: Connection reset by peer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// `connect`, `tls`, `protocol`, `reset` or `timeout`.
    pub kind: String,
    /// The error with its causes, as the engine's `--debug` prints it.
    pub message: String,
    /// How many requests failed this way.
    pub count: u64,
}

/// An entry of a [`Tally`]: two words and a count.
pub trait Entry: Clone + Serialize + DeserializeOwned {
    /// The entry for `count` failures of `(first, second)`.
    fn new(first: &str, second: &str, count: u64) -> Self;
    /// Its two words.
    fn words(&self) -> (&str, &str);
    /// How many failures it counts.
    fn count(&self) -> u64;
    /// Its count, to add to.
    fn count_mut(&mut self) -> &mut u64;
}

impl Entry for CheckFailure {
    fn new(check: &str, got: &str, count: u64) -> Self {
        CheckFailure {
            check: check.into(),
            got: got.into(),
            count,
        }
    }
    fn words(&self) -> (&str, &str) {
        (&self.check, &self.got)
    }
    fn count(&self) -> u64 {
        self.count
    }
    fn count_mut(&mut self) -> &mut u64 {
        &mut self.count
    }
}

impl Entry for ErrorMessage {
    fn new(kind: &str, message: &str, count: u64) -> Self {
        ErrorMessage {
            kind: kind.into(),
            message: message.into(),
            count,
        }
    }
    fn words(&self) -> (&str, &str) {
        (&self.kind, &self.message)
    }
    fn count(&self) -> u64 {
        self.count
    }
    fn count_mut(&mut self) -> &mut u64 {
        &mut self.count
    }
}

/// A bounded tally of entries, serialised as a plain list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent, bound = "E: Entry")]
pub struct Tally<E>(pub Vec<E>);

/// Why checks failed, per rule and value.
pub type CheckFailures = Tally<CheckFailure>;

/// Why requests failed below HTTP, per kind and message.
pub type ErrorMessages = Tally<ErrorMessage>;

impl<E> Default for Tally<E> {
    fn default() -> Self {
        Tally(Vec::new())
    }
}

impl<E: Entry> Tally<E> {
    /// Whether nothing was counted (then the field is left out of the JSON).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Counts `count` failures of `(first, second)`: on its entry, on a new one while there
    /// is room, else on the [`OTHER_FAILURES`] entry. A linear scan: it runs only on a
    /// failure, over at most [`CHECK_FAILURES_KEPT`] + 1 entries.
    pub fn add(&mut self, first: &str, second: &str, count: u64) {
        if let Some(e) = self.0.iter_mut().find(|e| e.words() == (first, second)) {
            *e.count_mut() += count;
            return;
        }
        let kept = self
            .0
            .iter()
            .filter(|e| e.words().0 != OTHER_FAILURES)
            .count();
        let key = if kept < CHECK_FAILURES_KEPT {
            (first, second)
        } else {
            (OTHER_FAILURES, "")
        };
        match self.0.iter_mut().find(|e| e.words() == key) {
            Some(e) => *e.count_mut() += count,
            None => self.0.push(E::new(key.0, key.1, count)),
        }
    }

    /// Adds another tally (another worker's, another segment's).
    pub fn merge(&mut self, o: &Tally<E>) {
        for e in &o.0 {
            let (a, b) = e.words();
            self.add(a, b, e.count());
        }
    }

    /// Most frequent first (ties by words, so results compare), [`OTHER_FAILURES`] last.
    pub fn sort(&mut self) {
        self.0.sort_by(|x, y| {
            let ((xa, xb), (ya, yb)) = (x.words(), y.words());
            (xa == OTHER_FAILURES)
                .cmp(&(ya == OTHER_FAILURES))
                .then(y.count().cmp(&x.count()))
                .then_with(|| (xa, xb).cmp(&(ya, yb)))
        });
    }

    /// Every failure counted, entries together.
    pub fn total(&self) -> u64 {
        self.0.iter().map(Entry::count).sum()
    }
}
