//! The litemall-shaped shop's addresses and orders: short integer ids, as litemall's are, each
//! owned by the login session that created it.
//!
//! A short sequential id cannot carry a MAC, so ownership needs a table, as for the drafts
//! (`posts.rs`): one mutex-guarded map, touched once per shop call. A session is one login (the
//! token's serial): a replay that refreshes its token starts a new session, whose ids are its
//! own. Entries older than the token lifetime belong to expired sessions and are pruned
//! whenever the table has doubled since the last prune.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An id and who owns it, with its creation time (ms since the store began).
#[derive(Debug, Clone, Copy)]
struct Owned {
    owner: u64,
    created_ms: u64,
}

#[derive(Default)]
struct Table {
    addresses: HashMap<u64, Owned>,
    /// Per session, the address it saved last.
    latest: HashMap<u64, u64>,
    orders: HashMap<u64, Owned>,
    /// Prune when the table reaches this size.
    prune_at: usize,
}

/// An accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub id: u64,
    /// The address was the session's, but not the one it saved last: the order reused an
    /// address of an earlier flow.
    pub stale_address: bool,
}

pub struct ShopStore {
    next_address: AtomicU64,
    next_order: AtomicU64,
    ttl_ms: u64,
    epoch: Instant,
    table: Mutex<Table>,
}

impl ShopStore {
    /// Address ids start at `first_address`, order ids at `first_order`.
    pub fn new(first_address: u64, first_order: u64, ttl: Duration) -> ShopStore {
        ShopStore {
            next_address: AtomicU64::new(first_address),
            next_order: AtomicU64::new(first_order),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            table: Mutex::new(Table {
                prune_at: 1024,
                ..Table::default()
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic under the lock cannot leave the maps inconsistent beyond one entry.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new address owned by session `owner`, now its latest; returns its id.
    pub fn save_address(&self, owner: u64) -> u64 {
        let id = self.next_address.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let mut t = self.lock();
        self.prune(&mut t, now);
        t.addresses.insert(
            id,
            Owned {
                owner,
                created_ms: now,
            },
        );
        t.latest.insert(owner, id);
        id
    }

    /// Whether address `id` is session `owner`'s.
    pub fn owns_address(&self, owner: u64, id: u64) -> bool {
        self.lock()
            .addresses
            .get(&id)
            .is_some_and(|a| a.owner == owner)
    }

    /// An order of session `owner` to its address `address`; `None` for another's address.
    pub fn place_order(&self, owner: u64, address: u64) -> Option<Placed> {
        let now = self.now_ms();
        let mut t = self.lock();
        if t.addresses.get(&address).is_none_or(|a| a.owner != owner) {
            return None;
        }
        let stale_address = t.latest.get(&owner) != Some(&address);
        let id = self.next_order.fetch_add(1, Ordering::Relaxed);
        self.prune(&mut t, now);
        t.orders.insert(
            id,
            Owned {
                owner,
                created_ms: now,
            },
        );
        Some(Placed { id, stale_address })
    }

    /// Whether order `id` is session `owner`'s.
    pub fn owns_order(&self, owner: u64, id: u64) -> bool {
        self.lock()
            .orders
            .get(&id)
            .is_some_and(|o| o.owner == owner)
    }

    /// Drops what expired sessions created, once the table has doubled since the last time.
    fn prune(&self, t: &mut Table, now: u64) {
        if t.addresses.len() + t.orders.len() < t.prune_at {
            return;
        }
        let live = |o: &Owned| now.saturating_sub(o.created_ms) <= self.ttl_ms;
        t.addresses.retain(|_, a| live(a));
        t.orders.retain(|_, o| live(o));
        let Table {
            addresses, latest, ..
        } = t;
        latest.retain(|_, id| addresses.contains_key(id));
        t.prune_at = (2 * (t.addresses.len() + t.orders.len())).max(1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_belong_to_their_session_and_orders_see_a_reused_address() {
        let s = ShopStore::new(57, 233, Duration::from_secs(60));
        let a1 = s.save_address(1);
        let b = s.save_address(2);
        assert_eq!((a1, b), (57, 58));
        assert!(s.owns_address(1, a1) && !s.owns_address(2, a1) && !s.owns_address(1, 99));
        assert_eq!(s.place_order(2, a1), None);
        let o = s.place_order(1, a1).unwrap();
        assert_eq!(
            o,
            Placed {
                id: 233,
                stale_address: false
            }
        );
        assert!(s.owns_order(1, o.id) && !s.owns_order(2, o.id));
        let a2 = s.save_address(1);
        assert!(s.place_order(1, a1).unwrap().stale_address);
        assert!(!s.place_order(1, a2).unwrap().stale_address);
    }
}
