//! Turns finished exchanges into recording documents, off the proxy's path.
//!
//! The proxy hands each finished exchange to one recorder thread through a channel (a send
//! never blocks a connection). The thread decodes compressed bodies, classifies them, appends
//! the documents to the recording (flushed; the exchanges that finished together in one
//! write), and only then prints their lines: a line on the screen means the exchange is on
//! disk. Then it tells the UI's [`Feed`]. Drops from the UI come through the same channel, so
//! a tombstone is written after the exchange it names and in order with everything else.

use std::collections::{BTreeSet, HashSet};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use loadtape_recording::{
    content, Body, Exchange, Headers, RecordingWriter, Request, Response, Tombstone,
};
use loadtape_report::units::bytes;

use crate::capture::{lock, Captured, SharedCapture};
use crate::feed::{Feed, FeedEvent, Row};
use crate::hints;
use crate::testers::Client;

/// A finished exchange as the proxy saw it, before it becomes a document.
pub(crate) struct Draft {
    pub id: u64,
    pub started: DateTime<Utc>,
    pub start: Instant,
    pub end: Instant,
    pub client: Client,
    /// The group the client's latest mark started, when there is one.
    pub group: Option<String>,
    pub method: String,
    pub url: String,
    pub request_version: &'static str,
    pub request_headers: Headers,
    pub request_body: SharedCapture,
    pub response: Option<ResponseHead>,
    pub error: Option<String>,
    /// False for plain-HTTP traffic to hosts outside `--include`: proxied, not recorded.
    pub record: bool,
}

pub(crate) struct ResponseHead {
    pub status: u16,
    pub version: &'static str,
    pub headers: Headers,
    pub body: SharedCapture,
}

/// What the recorder saw over the whole session, printed on exit.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Exchanges written to the recording.
    pub exchanges: u64,
    /// Of those, the ones recorded with an error (upstream unreachable, body interrupted).
    pub errors: u64,
    /// Of those, the ones dropped afterwards (from the UI): tombstoned, left out by readers.
    pub dropped: u64,
    /// Exchanges that could not be written: proxied, but missing from the recording.
    pub write_failures: u64,
    /// The `host[:port]` of every recorded exchange's URL.
    pub hosts: BTreeSet<String>,
    /// Header and query field names that looked like tokens, so the tester knows auth-bearing
    /// calls were captured (the real detection is `loadtape tokens`).
    pub token_names: BTreeSet<String>,
}

enum Msg {
    Draft(Box<Draft>),
    /// Drop an exchange: append its tombstone, then say how that went.
    Drop(u64, tokio::sync::oneshot::Sender<Result<(), String>>),
    /// Everything sent before this is written; then the recording is closed.
    Close,
}

#[derive(Clone)]
pub(crate) struct RecorderHandle {
    tx: mpsc::Sender<Msg>,
}

impl RecorderHandle {
    pub(crate) fn submit(&self, draft: Draft) {
        if !draft.record {
            return;
        }
        // The recorder only goes away after the proxy has stopped; a send can then fail and
        // there is nobody left to tell.
        let _ = self.tx.send(Msg::Draft(Box::new(draft)));
    }

    pub(crate) fn close(&self) {
        let _ = self.tx.send(Msg::Close);
    }

    pub(crate) fn drops(&self) -> Drops {
        Drops {
            tx: self.tx.clone(),
        }
    }
}

/// Drops exchanges from the recording being written: the UI's handle on the recorder.
#[derive(Clone, Debug)]
pub struct Drops {
    tx: mpsc::Sender<Msg>,
}

impl Drops {
    /// Drops exchange `id`: once this returns `Ok`, its tombstone is in the file and every
    /// reader leaves it out. An error says why not (no such exchange, already dropped, the
    /// disk refused).
    pub async fn drop_exchange(&self, id: u64) -> Result<(), String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send(Msg::Drop(id, reply))
            .map_err(|_| "the recording is closed".to_string())?;
        answer
            .await
            .unwrap_or_else(|_| Err("the recording is closed".to_string()))
    }
}

pub(crate) struct Recorder {
    thread: JoinHandle<Summary>,
}

/// How exchange lines are shown: called with one or more whole lines, joined by `\n` (the
/// recorder prints a batch of exchanges at once, in one write), without the last newline.
pub type LinePrinter = Arc<dyn Fn(&str) + Send + Sync>;

impl Recorder {
    pub(crate) fn spawn(
        writer: RecordingWriter,
        max_body: usize,
        print: LinePrinter,
        feed: Arc<Feed>,
    ) -> (Recorder, RecorderHandle) {
        let (tx, rx) = mpsc::channel::<Msg>();
        let thread = std::thread::Builder::new()
            .name("loadtape-recorder".into())
            .spawn(move || run(rx, writer, max_body, print, feed))
            .expect("cannot start the recorder thread");
        (Recorder { thread }, RecorderHandle { tx })
    }

    /// Waits for every exchange submitted before [`RecorderHandle::close`] to be written.
    pub(crate) fn finish(self) -> Summary {
        self.thread.join().unwrap_or_default()
    }
}

/// How long the recorder waits, once woken, for more exchanges to write with the first: a
/// group commit. Under load one write, one print and one wake-up then serve every exchange
/// that finished in that time (woken per exchange, the thread's context switches alone were
/// 7.5 % of the proxy's CPU samples under `hey -c 50`); alone, an exchange reaches the disk
/// and the screen this much later, never the client, which the recorder does not hold up.
const LINGER: Duration = Duration::from_millis(1);
/// At most this many messages in one batch, so that a burst is written in bounded pieces.
const MAX_BATCH: usize = 512;

fn run(
    rx: mpsc::Receiver<Msg>,
    writer: RecordingWriter,
    max_body: usize,
    print: LinePrinter,
    feed: Arc<Feed>,
) -> Summary {
    let mut state = State {
        writer,
        max_body,
        print,
        feed,
        summary: Summary::default(),
        warned_write: false,
        live: HashSet::new(),
        pending: Vec::new(),
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    'run: while let Ok(first) = rx.recv() {
        batch.push(first);
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        if batch.len() < MAX_BATCH {
            std::thread::sleep(LINGER);
            batch.extend(rx.try_iter().take(MAX_BATCH - batch.len()));
        }
        for msg in batch.drain(..) {
            match msg {
                Msg::Draft(draft) => state.pending.push(build(*draft, state.max_body)),
                Msg::Drop(id, reply) => {
                    // In order: the exchanges before the drop are written before its tombstone.
                    state.write_pending();
                    let _ = reply.send(state.drop_one(id));
                }
                Msg::Close => {
                    state.write_pending();
                    break 'run;
                }
            }
        }
        state.write_pending();
    }
    let _ = state.writer.sync();
    state.summary
}

/// The recorder thread's own: the file, what it wrote so far, and the batch being built.
struct State {
    writer: RecordingWriter,
    max_body: usize,
    print: LinePrinter,
    feed: Arc<Feed>,
    summary: Summary,
    warned_write: bool,
    /// The ids written and not dropped: what a drop may name.
    live: HashSet<u64>,
    /// Exchanges of the current batch not yet written.
    pending: Vec<Exchange>,
}

impl State {
    /// Writes the pending exchanges in one go; then (a line on the screen means the exchange
    /// is on disk) prints their lines in one go and hands their rows to the UI.
    fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let written = std::mem::take(&mut self.pending);
        if let Err(e) = self.writer.append_all(&written) {
            self.summary.write_failures += written.len() as u64;
            if !self.warned_write {
                self.warned_write = true;
                let line = format!(
                    "!! cannot write to {}: {e} — exchanges are proxied but NOT recorded until this is fixed",
                    self.writer.path().display()
                );
                (self.print)(&line);
                self.feed.notice(&line);
            }
            return;
        }
        let mut lines = String::new();
        let mut rows = Vec::with_capacity(written.len());
        for exchange in written {
            let tokens = hints::token_names(&exchange.request);
            let summary = &mut self.summary;
            summary.exchanges += 1;
            if exchange.error.is_some() {
                summary.errors += 1;
            }
            if let Some(host) = host_of(&exchange.request.url) {
                summary.hosts.insert(host);
            }
            summary.token_names.extend(tokens.iter().cloned());
            if !lines.is_empty() {
                lines.push('\n');
            }
            lines.push_str(&line(&exchange, &tokens));
            self.live.insert(exchange.id);
            rows.push(row(exchange, tokens));
        }
        (self.print)(&lines);
        for row in rows {
            self.feed.publish(FeedEvent::Exchange(row));
        }
    }

    /// Appends the tombstone of `id` when it names a live exchange.
    fn drop_one(&mut self, id: u64) -> Result<(), String> {
        if !self.live.contains(&id) {
            return Err(format!(
                "no exchange {id} in this recording (it was never written, or is dropped already)"
            ));
        }
        let tombstone = Tombstone {
            dropped: id,
            at: Utc::now(),
        };
        self.writer
            .append_tombstone(&tombstone)
            .map_err(|e| format!("cannot write to {}: {e}", self.writer.path().display()))?;
        self.live.remove(&id);
        self.summary.dropped += 1;
        self.feed.publish(FeedEvent::Dropped(id));
        Ok(())
    }
}

/// The UI's list row of a written exchange.
fn row(e: Exchange, tokens: Vec<String>) -> Row {
    Row {
        id: e.id,
        started: e.started,
        duration_ms: e.duration_ms,
        status: e.response.as_ref().map(|r| r.status),
        size: response_size(&e),
        method: e.request.method,
        url: e.request.url,
        version: e.request.version,
        tester: e.tester,
        group: e.group,
        error: e.error,
        tokens,
    }
}

fn response_size(e: &Exchange) -> u64 {
    e.response
        .as_ref()
        .and_then(|r| r.body.as_ref())
        .map(|b| b.size.unwrap_or(b.to_bytes().len() as u64))
        .unwrap_or(0)
}

fn build(d: Draft, max_body: usize) -> Exchange {
    let duration = d.end.saturating_duration_since(d.start);
    let request_body = body_of(&lock(&d.request_body), &d.request_headers, max_body);
    let mut error = d.error;
    let response = d.response.map(|head| {
        let captured = lock(&head.body).clone();
        if let (Some(why), None) = (&captured.interrupted, &error) {
            error = Some(format!(
                "response body interrupted after {} bytes: {why}",
                captured.total
            ));
        }
        Response {
            status: head.status,
            version: head.version.to_string(),
            body: body_of(&captured, &head.headers, max_body),
            headers: head.headers,
        }
    });
    Exchange {
        id: d.id,
        started: d.started,
        duration_ms: duration.as_secs_f64() * 1000.0,
        client: Some(d.client.ip.to_string()),
        tester: d.client.tester.as_deref().map(str::to_string),
        group: d.group,
        request: Request {
            method: d.method,
            url: d.url,
            version: d.request_version.to_string(),
            headers: d.request_headers,
            body: request_body,
        },
        response,
        error,
    }
}

/// The recorded form of a captured body: decoded when it came compressed, classified, and
/// marked truncated when the proxy kept only part of it.
fn body_of(c: &Captured, headers: &Headers, max_body: usize) -> Option<Body> {
    if c.total == 0 {
        return None;
    }
    let content_type = headers.get("content-type");
    let encoding = headers
        .get("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity");
    if let Some(encoding) = encoding {
        if let Some((decoded, complete)) = content::decode(&encoding, &c.bytes, max_body) {
            let body = if complete && !c.truncated() {
                Body::from_bytes(&decoded, content_type)
            } else {
                Body::truncated(&decoded, c.total, content_type)
            };
            return Some(body.decoded_from(encoding));
        }
    }
    Some(if c.truncated() {
        Body::truncated(&c.bytes, c.total, content_type)
    } else {
        Body::from_bytes(&c.bytes, content_type)
    })
}

fn host_of(url: &str) -> Option<String> {
    let after = url.split_once("://")?.1;
    let authority = after.split(['/', '?', '#']).next()?;
    Some(authority.to_string())
}

/// One line per exchange: time, status, method, URL, duration, size, tokens seen.
fn line(e: &Exchange, tokens: &[String]) -> String {
    let time = e.started.with_timezone(&chrono::Local).format("%H:%M:%S");
    let status = match &e.response {
        Some(r) => r.status.to_string(),
        None => "ERR".to_string(),
    };
    let size = response_size(e);
    let mut line = format!(
        "{time} {status} {} {} {:.0}ms {}",
        e.request.method,
        e.request.url,
        e.duration_ms,
        bytes(size)
    );
    let who: Vec<&str> = [e.tester.as_deref(), e.group.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !who.is_empty() {
        line.push_str(&format!(" [{}]", who.join(" ")));
    }
    if !tokens.is_empty() {
        line.push_str(" tokens: ");
        line.push_str(&tokens.join(", "));
    }
    if let Some(err) = &e.error {
        line.push_str(" — ");
        line.push_str(err);
    }
    line
}
