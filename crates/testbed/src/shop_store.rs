//! The litemall-shaped shop's users, carts, addresses and orders: short integer ids, as
//! litemall's are, each owned by the user who created it.
//!
//! A short sequential id cannot carry a MAC, so ownership needs a table, as for the drafts
//! (`posts.rs`): one mutex-guarded map, touched once per shop call. A login (the token's
//! serial) is a session of one user, named by an openid: two sessions of one user share that
//! user's cart, addresses and orders, as in litemall, so VUs that all log in as one recorded
//! user collide (one VU's order takes the cart another VU filled). Entries older than the
//! token lifetime belong to expired sessions and are pruned whenever the table has doubled
//! since the last prune; users and their carts stay.

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
    /// Users by openid.
    users: HashMap<String, u64>,
    /// Per session (token serial), its user and when it logged in.
    sessions: HashMap<u64, Owned>,
    /// Per user, the goods in the cart.
    carts: HashMap<u64, u32>,
    addresses: HashMap<u64, Owned>,
    /// Per user, the address saved last.
    latest: HashMap<u64, u64>,
    orders: HashMap<u64, Owned>,
    /// Prune when the table reaches this size.
    prune_at: usize,
}

/// An accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub id: u64,
    /// The goods it took from the cart.
    pub goods: u32,
    /// The address was the user's, but not the one the user saved last: the order reused an
    /// address of an earlier flow, or of another session of the same user.
    pub stale_address: bool,
}

/// Why an order was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The address is not the user's.
    Address,
    /// The user's cart is empty (another session of the user may have ordered it).
    EmptyCart,
}

/// A logged-in session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignedIn {
    /// The user's number.
    pub user: u64,
    /// The first login of this user.
    pub new_user: bool,
}

pub(crate) struct ShopStore {
    next_user: AtomicU64,
    next_address: AtomicU64,
    next_order: AtomicU64,
    ttl_ms: u64,
    epoch: Instant,
    table: Mutex<Table>,
}

impl ShopStore {
    /// Address ids start at `first_address`, order ids at `first_order`.
    pub(crate) fn new(first_address: u64, first_order: u64, ttl: Duration) -> ShopStore {
        ShopStore {
            next_user: AtomicU64::new(1),
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

    /// Session `serial` logs in as the user `openid`.
    pub(crate) fn sign_in(&self, serial: u64, openid: &str) -> SignedIn {
        let now = self.now_ms();
        let mut t = self.lock();
        self.prune(&mut t, now);
        let (user, new_user) = match t.users.get(openid) {
            Some(&u) => (u, false),
            None => {
                let u = self.next_user.fetch_add(1, Ordering::Relaxed);
                t.users.insert(openid.to_string(), u);
                (u, true)
            }
        };
        let session = Owned {
            owner: user,
            created_ms: now,
        };
        t.sessions.insert(serial, session);
        SignedIn { user, new_user }
    }

    /// The user of session `serial`, if it logged in (and was not pruned).
    pub(crate) fn user(&self, serial: u64) -> Option<u64> {
        self.lock().sessions.get(&serial).map(|s| s.owner)
    }

    /// Puts `number` goods in `user`'s cart; returns how many it holds now.
    pub(crate) fn add_to_cart(&self, user: u64, number: u32) -> u32 {
        let mut t = self.lock();
        let n = t.carts.entry(user).or_default();
        *n = n.saturating_add(number);
        *n
    }

    /// The goods in `user`'s cart.
    pub(crate) fn cart(&self, user: u64) -> u32 {
        self.lock().carts.get(&user).copied().unwrap_or(0)
    }

    /// A new address owned by `owner`, now its latest; returns its id.
    pub(crate) fn save_address(&self, owner: u64) -> u64 {
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

    /// Whether address `id` is `owner`'s.
    pub(crate) fn owns_address(&self, owner: u64, id: u64) -> bool {
        self.lock()
            .addresses
            .get(&id)
            .is_some_and(|a| a.owner == owner)
    }

    /// An order of `owner`'s cart to its address `address`, emptying the cart.
    pub(crate) fn place_order(&self, owner: u64, address: u64) -> Result<Placed, Refused> {
        let now = self.now_ms();
        let mut t = self.lock();
        if t.addresses.get(&address).is_none_or(|a| a.owner != owner) {
            return Err(Refused::Address);
        }
        let goods = t.carts.remove(&owner).unwrap_or(0);
        if goods == 0 {
            return Err(Refused::EmptyCart);
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
        Ok(Placed {
            id,
            goods,
            stale_address,
        })
    }

    /// Whether order `id` is `owner`'s.
    pub(crate) fn owns_order(&self, owner: u64, id: u64) -> bool {
        self.lock()
            .orders
            .get(&id)
            .is_some_and(|o| o.owner == owner)
    }

    /// Drops what expired sessions created, once the table has doubled since the last time.
    fn prune(&self, t: &mut Table, now: u64) {
        let size = |t: &Table| t.sessions.len() + t.addresses.len() + t.orders.len();
        if size(t) < t.prune_at {
            return;
        }
        let live = |o: &Owned| now.saturating_sub(o.created_ms) <= self.ttl_ms;
        t.sessions.retain(|_, s| live(s));
        t.addresses.retain(|_, a| live(a));
        t.orders.retain(|_, o| live(o));
        let Table {
            addresses, latest, ..
        } = t;
        latest.retain(|_, id| addresses.contains_key(id));
        t.prune_at = (2 * size(t)).max(1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_belong_to_their_user_and_orders_see_a_reused_address() {
        let s = ShopStore::new(57, 233, Duration::from_secs(60));
        let a1 = s.save_address(1);
        let b = s.save_address(2);
        assert_eq!((a1, b), (57, 58));
        assert!(s.owns_address(1, a1) && !s.owns_address(2, a1) && !s.owns_address(1, 99));
        assert_eq!(s.place_order(1, a1), Err(Refused::EmptyCart));
        s.add_to_cart(1, 1);
        s.add_to_cart(2, 1);
        assert_eq!(s.place_order(2, a1), Err(Refused::Address));
        let o = s.place_order(1, a1).unwrap();
        assert_eq!(
            o,
            Placed {
                id: 233,
                goods: 1,
                stale_address: false
            }
        );
        assert!(s.owns_order(1, o.id) && !s.owns_order(2, o.id));
        let a2 = s.save_address(1);
        s.add_to_cart(1, 1);
        assert!(s.place_order(1, a1).unwrap().stale_address);
        s.add_to_cart(1, 1);
        assert!(!s.place_order(1, a2).unwrap().stale_address);
    }

    #[test]
    fn two_sessions_of_one_user_share_its_cart() {
        let s = ShopStore::new(57, 233, Duration::from_secs(60));
        let first = s.sign_in(100, "oA");
        assert!(first.new_user);
        let again = s.sign_in(101, "oA");
        assert_eq!((again.user, again.new_user), (first.user, false));
        let other = s.sign_in(102, "oB");
        assert_ne!(other.user, first.user);
        assert_eq!(
            (s.user(100), s.user(101)),
            (Some(first.user), Some(first.user))
        );
        assert_eq!(s.user(103), None);

        let u = first.user;
        assert_eq!(s.add_to_cart(u, 1), 1);
        assert_eq!(s.add_to_cart(u, 1), 2);
        let address = s.save_address(u);
        assert_eq!(s.place_order(u, address).unwrap().goods, 2);
        assert_eq!(s.cart(u), 0);
        assert_eq!(s.place_order(u, address), Err(Refused::EmptyCart));
    }
}
