//! Accepting client connections within the process's file descriptors.
//!
//! Each client connection takes a place under a cap ([`ClientCap`], `--max-clients`) derived
//! from `RLIMIT_NOFILE`, so that the descriptors its upstream connections and the recording
//! need are left over; at the cap the proxy stops accepting (new clients wait in the listen
//! backlog until a connection closes) and says so once. An accept that fails anyway (out of
//! descriptors, the kernel's own limits) backs off exponentially and is reported once per
//! kind and burst, with a count when the burst ends, instead of a line per retry.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::recorder::LinePrinter;

/// Descriptors kept for everything that is not a client connection or its upstream: stdio,
/// the listener, the runtime's poller and wakers, the recording and CA files, with a margin.
const RESERVED_DESCRIPTORS: u64 = 32;
/// Connections beyond the cap wait in the listen backlog, in the kernel (they hold no
/// descriptor of the proxy's), until a place frees; past it the kernel drops their SYNs and
/// they retry only after 1 s, then 3 s, 7 s. tokio's default is 128; the kernel caps this at
/// `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 1024;
/// The cap when the descriptor limit cannot be read (not a Unix system).
const FALLBACK_MAX_CLIENTS: usize = 1000;
/// The first pause after a failed accept; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest pause: a descriptor freed by a closing connection is used within a second,
/// and a lasting failure costs one attempt a second, not a busy loop.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Listens on `addr` with [`LISTEN_BACKLOG`] (`SO_REUSEADDR` on, as tokio's own `bind`; an
/// IPv6 address listens dual-stack where the system does by default).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The process's descriptor limit, soft and hard (`RLIMIT_NOFILE`; unlimited as `u64::MAX`).
#[cfg(unix)]
fn descriptor_limit() -> Option<(u64, u64)> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    Some((
        limit.current.unwrap_or(u64::MAX),
        limit.maximum.unwrap_or(u64::MAX),
    ))
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<(u64, u64)> {
    None
}

/// How many client connections the proxy serves at once.
pub(crate) struct ClientCap {
    places: Arc<Semaphore>,
    max: usize,
    /// What to say when the cap is reached: the cap, where it comes from, how to raise it.
    full: String,
}

impl ClientCap {
    /// `explicit` is `--max-clients`; without it, half of the soft descriptor limit after
    /// [`RESERVED_DESCRIPTORS`] (one descriptor for the client, one for its upstream).
    pub(crate) fn new(explicit: Option<usize>) -> ClientCap {
        let limit = descriptor_limit();
        let derived = match limit {
            Some((soft, _)) => {
                usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS) / 2).unwrap_or(usize::MAX)
            }
            None => FALLBACK_MAX_CLIENTS,
        };
        let max = explicit.unwrap_or(derived).clamp(1, Semaphore::MAX_PERMITS);
        let raise = match limit {
            Some((soft, hard)) if hard > soft => format!(
                "the descriptor limit is {soft}: raise it before starting (`ulimit -n {hard}`, the hard limit)"
            ),
            Some((soft, _)) => format!(
                "the descriptor limit is {soft}, also the hard limit: raise it as root (`ulimit -n`, or limits.conf / LimitNOFILE) before starting"
            ),
            None => "the descriptor limit is unknown here".to_string(),
        };
        let full = match explicit {
            Some(_) => format!(
                "!! {max} client connections are open, all that --max-clients {max} allows; new connections wait until one closes ({raise}, then pass a larger --max-clients)"
            ),
            None => format!(
                "!! {max} client connections are open, all this proxy takes (--max-clients {max}: one descriptor for each and one for its upstream); new connections wait until one closes. To take more, {raise}, or pass --max-clients N"
            ),
        };
        ClientCap {
            places: Arc::new(Semaphore::new(max)),
            max,
            full,
        }
    }

    /// The cap.
    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

/// The failed accepts of one burst (failures in a row): each kind is said the first time, and
/// counted when the burst ends.
#[derive(Default)]
pub(crate) struct AcceptErrors {
    seen: Vec<(String, u64)>,
    started: Option<Instant>,
    backoff: Duration,
}

impl AcceptErrors {
    /// A failed accept: the line to print (the first of its kind in this burst, else none), and
    /// how long to pause before the next attempt.
    pub(crate) fn failed(&mut self, e: &io::Error) -> (Option<String>, Duration) {
        let text = e.to_string();
        self.started.get_or_insert_with(Instant::now);
        self.backoff = if self.backoff.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.backoff * 2).min(MAX_BACKOFF)
        };
        let line = match self.seen.iter_mut().find(|(seen, _)| *seen == text) {
            Some((_, count)) => {
                *count += 1;
                None
            }
            None => {
                let line = format!(
                    "!! accept failed: {text}; retrying, with pauses up to {}s (repeats are counted, not printed)",
                    MAX_BACKOFF.as_secs()
                );
                self.seen.push((text, 1));
                Some(line)
            }
        };
        (line, self.backoff)
    }

    /// An accept that worked ends the burst: a line with its counts, when any kind repeated.
    pub(crate) fn succeeded(&mut self) -> Option<String> {
        let started = self.started.take()?;
        self.backoff = Duration::ZERO;
        let seen = std::mem::take(&mut self.seen);
        let total: u64 = seen.iter().map(|(_, count)| count).sum();
        if total == seen.len() as u64 {
            return None;
        }
        let each: Vec<String> = seen
            .iter()
            .map(|(text, count)| format!("{text} ×{count}"))
            .collect();
        Some(format!(
            "!! accepting again after {total} failed accepts in {:.1}s: {}",
            started.elapsed().as_secs_f64(),
            each.join(", ")
        ))
    }
}

/// Accepts until `stop`, each connection handed to `serve` with its place under the cap.
pub(crate) async fn accept_loop<F>(
    listener: TcpListener,
    cap: ClientCap,
    print: LinePrinter,
    mut stop: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, OwnedSemaphorePermit),
{
    let mut errors = AcceptErrors::default();
    let mut said_full = false;
    loop {
        let place = match cap.places.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                if !said_full {
                    said_full = true;
                    print(&cap.full);
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    place = cap.places.clone().acquire_owned() => match place {
                        Ok(place) => place,
                        Err(_) => return,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Some(line) = errors.succeeded() {
                    print(&line);
                }
                serve(stream, peer, place);
            }
            Err(e) => {
                let (line, pause) = errors.failed(&e);
                if let Some(line) = line {
                    print(&line);
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_accept_errors_is_said_once_per_kind_then_counted() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(24);
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        let (first, pause) = errors.failed(&emfile);
        assert!(first.unwrap().contains("Too many open files"));
        assert_eq!(pause, FIRST_BACKOFF);
        let mut pauses = vec![pause];
        for _ in 0..20 {
            let (line, pause) = errors.failed(&emfile);
            assert!(line.is_none());
            pauses.push(pause);
        }
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*pauses.last().unwrap(), MAX_BACKOFF);
        assert!(errors.failed(&aborted).0.is_some(), "a new kind is said");
        let end = errors.succeeded().unwrap();
        assert!(end.contains("after 22 failed accepts"), "{end}");
        assert!(
            end.contains("Too many open files (os error 24) ×21"),
            "{end}"
        );
        assert_eq!(errors.succeeded(), None, "the burst is over");
        let (again, pause) = errors.failed(&emfile);
        assert!(again.is_some(), "a new burst says it again");
        assert_eq!(pause, FIRST_BACKOFF);
        assert_eq!(errors.succeeded(), None, "one failure, already said");
    }

    #[test]
    fn the_cap_says_where_it_comes_from() {
        let derived = ClientCap::new(None);
        assert!(derived.max() >= 1);
        assert!(derived.full.contains("--max-clients"), "{}", derived.full);
        assert!(derived.full.contains("ulimit -n"), "{}", derived.full);
        let explicit = ClientCap::new(Some(7));
        assert_eq!(explicit.max(), 7);
        assert!(
            explicit.full.contains("--max-clients 7"),
            "{}",
            explicit.full
        );
    }
}
