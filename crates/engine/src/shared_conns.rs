//! HTTP/2 connections shared by the VUs of a worker (`run --connections N`): h2load's
//! `-c N -m …` and Gatling's `shareConnections`. By default each VU holds its own connection,
//! as a browser of one user does; a server that sees few clients multiplexing many streams
//! (an API gateway, a mini program's traffic through the super app's own proxies) is tested
//! with this instead.
//!
//! Each origin gets a few slots per worker; a worker's VUs take them in turn. A slot is
//! dialed once for all of its VUs (the others wait for it, so a run opens exactly its slots'
//! connections) and redialed by whichever VU next finds it closed. An origin that answers
//! with HTTP/1.1 (one request at a time per connection) cannot be shared: its VUs keep their
//! own connections, as without the option.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http2::SendRequest;
use loadtape_net::DialTiming;
use tokio::sync::Notify;

use crate::http::{connect, Conn, Failure, Tls};
use crate::plan::Origin;

/// One worker's shared connections.
pub(crate) struct SharedConns {
    /// Slots per origin on this worker.
    per_origin: usize,
    /// Workers of the run: VU `id` is the `id / workers`-th of its worker.
    workers: u64,
    /// `[origin][slot]`.
    slots: RefCell<Vec<Vec<Slot>>>,
    /// Origins found to speak HTTP/1.1: not shared.
    own: RefCell<Vec<bool>>,
}

enum Slot {
    Empty,
    /// A VU is dialing it; the others wait for this.
    Dialing(Rc<Notify>),
    Ready(SendRequest<Full<Bytes>>),
}

/// What [`SharedConns::lend`] found.
pub(crate) enum Lent {
    /// A connection to send on, and how dialing went when this VU opened it.
    Conn(Conn, Option<DialTiming>),
    /// The origin speaks HTTP/1.1: the VU uses a connection of its own.
    Own,
}

impl SharedConns {
    /// `total` connections per origin for the whole run, spread over `workers` workers (at
    /// least one each).
    pub(crate) fn new(total: usize, worker: usize, workers: usize, origins: usize) -> SharedConns {
        let workers = workers.max(1);
        let share = total / workers + usize::from(worker < total % workers);
        let per_origin = share.max(1);
        SharedConns {
            per_origin,
            workers: workers as u64,
            slots: RefCell::new(
                (0..origins)
                    .map(|_| (0..per_origin).map(|_| Slot::Empty).collect())
                    .collect(),
            ),
            own: RefCell::new(vec![false; origins]),
        }
    }

    /// The connection VU `vu` sends its next request to origin `index` on: its slot's, dialed
    /// now when nobody has (or it closed), waited for when another VU is dialing it.
    pub(crate) async fn lend(
        &self,
        index: usize,
        vu: u64,
        tls: &Tls,
        origin: &Origin,
    ) -> Result<Lent, Failure> {
        let k = ((vu / self.workers) % self.per_origin as u64) as usize;
        loop {
            if self.own.borrow()[index] {
                return Ok(Lent::Own);
            }
            // Created before the borrow ends: a `Notified` sees `notify_waiters` from the moment
            // it exists, polled or not, so no wake-up falls between looking and waiting.
            let wait = match &self.slots.borrow()[index][k] {
                Slot::Ready(s) if !s.is_closed() => {
                    return Ok(Lent::Conn(Conn::H2(s.clone()), None));
                }
                Slot::Dialing(n) => Some(n.clone()),
                _ => None,
            };
            if let Some(n) = wait {
                n.notified().await;
                continue;
            }
            return self.dial(index, k, tls, origin).await;
        }
    }

    async fn dial(
        &self,
        index: usize,
        k: usize,
        tls: &Tls,
        origin: &Origin,
    ) -> Result<Lent, Failure> {
        let notify = Rc::new(Notify::new());
        self.slots.borrow_mut()[index][k] = Slot::Dialing(notify.clone());
        // Whatever ends this dial (done, failed, or the VU's future dropped by a timeout or
        // the run's stop) leaves the slot usable and wakes the VUs waiting for it.
        let mut guard = Dialing {
            conns: self,
            index,
            k,
            notify,
            ready: None,
        };
        let (conn, timing) = Box::pin(connect(tls, origin)).await?;
        match conn {
            Conn::H2(s) => {
                guard.ready = Some(s.clone());
                Ok(Lent::Conn(Conn::H2(s), Some(timing)))
            }
            h1 @ Conn::H1(_) => {
                self.own.borrow_mut()[index] = true;
                Ok(Lent::Conn(h1, Some(timing)))
            }
        }
    }
}

/// A slot being dialed; on drop it holds the connection or is empty again.
struct Dialing<'a> {
    conns: &'a SharedConns,
    index: usize,
    k: usize,
    notify: Rc<Notify>,
    ready: Option<SendRequest<Full<Bytes>>>,
}

impl Drop for Dialing<'_> {
    fn drop(&mut self) {
        self.conns.slots.borrow_mut()[self.index][self.k] = match self.ready.take() {
            Some(s) => Slot::Ready(s),
            None => Slot::Empty,
        };
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::SharedConns;

    #[test]
    fn the_run_total_is_spread_over_the_workers_at_least_one_each() {
        let per = |total, workers| -> Vec<usize> {
            (0..workers)
                .map(|w| SharedConns::new(total, w, workers, 1).per_origin)
                .collect()
        };
        assert_eq!(per(10, 2), vec![5, 5]);
        assert_eq!(per(5, 2), vec![3, 2]);
        assert_eq!(per(1, 2), vec![1, 1]);
        assert_eq!(per(7, 3), vec![3, 2, 2]);
    }
}
