//! The web app's drafts: short integer ids, as WordPress's are, each owned by the session that
//! created it.
//!
//! A short sequential id cannot carry a MAC the way goods ids do, so ownership needs a table:
//! one mutex-guarded map, touched once per REST or ajax call (a few microseconds under the
//! lock, far below a request's cost). Entries older than the token lifetime belong to expired
//! sessions and can never be used again, so they are pruned whenever the map has doubled since
//! the last prune: memory follows the live sessions, not the length of the run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A draft: who owns it, its title, and when it was created (ms since the store began).
#[derive(Debug, Clone)]
struct Post {
    owner: u64,
    title: String,
    created_ms: u64,
}

/// Longest title kept, in bytes; longer ones are cut at a character boundary.
const MAX_TITLE: usize = 200;

struct Table {
    posts: HashMap<u64, Post>,
    /// Prune when the map reaches this size.
    prune_at: usize,
}

pub(crate) struct Posts {
    next: AtomicU64,
    ttl_ms: u64,
    epoch: Instant,
    table: Mutex<Table>,
}

impl Posts {
    /// Ids start at `first` (the testbed picks a random 4-digit start, so two runs' ids differ).
    pub(crate) fn new(first: u64, ttl: Duration) -> Posts {
        Posts {
            next: AtomicU64::new(first),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            table: Mutex::new(Table {
                posts: HashMap::new(),
                prune_at: 1024,
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A new draft owned by session `owner`; returns its id.
    pub(crate) fn create(&self, owner: u64, title: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let post = Post {
            owner,
            title: clip(title),
            created_ms: now,
        };
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.posts.insert(id, post);
        if t.posts.len() >= t.prune_at {
            let ttl = self.ttl_ms;
            t.posts
                .retain(|_, p| p.created_ms.saturating_add(ttl) > now);
            t.prune_at = (t.posts.len() * 2).max(1024);
        }
        id
    }

    /// The title of post `id` if session `owner` created it.
    pub(crate) fn title(&self, owner: u64, id: u64) -> Option<String> {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.posts
            .get(&id)
            .filter(|p| p.owner == owner)
            .map(|p| p.title.clone())
    }

    /// Sets the title of post `id` if session `owner` created it; false when it did not.
    pub(crate) fn retitle(&self, owner: u64, id: u64, title: &str) -> bool {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match t.posts.get_mut(&id).filter(|p| p.owner == owner) {
            Some(p) => {
                p.title = clip(title);
                true
            }
            None => false,
        }
    }
}

fn clip(title: &str) -> String {
    let mut end = title.len().min(MAX_TITLE);
    while !title.is_char_boundary(end) {
        end -= 1;
    }
    title[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_belong_to_their_session() {
        let p = Posts::new(1330, Duration::from_secs(60));
        let a = p.create(1, "Hello");
        let b = p.create(2, &"é".repeat(150));
        assert_eq!((a, b), (1330, 1331));
        assert_eq!(p.title(1, a).as_deref(), Some("Hello"));
        assert_eq!(p.title(2, a), None, "another session's post");
        assert_eq!(p.title(1, 999), None);
        assert_eq!(p.title(2, b).map(|t| t.len()), Some(200));
        assert!(p.retitle(1, a, "World"));
        assert!(!p.retitle(2, a, "x"));
        assert_eq!(p.title(1, a).as_deref(), Some("World"));
    }

    #[test]
    fn expired_sessions_posts_are_pruned() {
        let p = Posts::new(1, Duration::ZERO);
        for _ in 0..2000 {
            p.create(1, "");
        }
        let len = p.table.lock().unwrap().posts.len();
        assert!(len < 1024, "{len}");
    }
}
