//! Token state. A shared token lives in one [`SharedToken`] for the whole run, read by every
//! worker thread: VUs keep an `Arc` of the current value and compare its generation with one
//! atomic per iteration, so the common case takes no lock. Refreshing is single flight: the
//! first VU to find the token due marks it in flight (under a short mutex) and fetches; the
//! others keep using the old value while it is still valid, or wait on a `watch` channel for
//! the new generation. A failed fetch is retried with exponential backoff, and each failure is
//! counted as a `token` error — never a silent stall — and after [`TOKEN_ATTEMPTS`] failures
//! in a row a VU gives up on its iteration (the run ends when the token never succeeded).
//!
//! The cell also keeps, for per-VU tokens too, what the run learned: whether the token step
//! ever succeeded, and, when no lifetime is stated (no `expires_in`, no JWT `exp`), the
//! lifetime learned from the age at which `refresh_on` first rejected it ([`SharedToken::learn`]).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::sync::watch;

/// A fetched token: its extracted values and when to refresh it.
#[derive(Debug)]
pub struct TokenValue {
    /// In the token step's `extract` order.
    pub values: Vec<String>,
    /// Which values are typed JSON (a number or object a `json` extractor took).
    pub typed: Vec<bool>,
    /// 1 for the first fetch, then +1 per refresh.
    pub generation: u64,
    /// Refresh from this moment (others may still use it until `expires_at`).
    pub refresh_at: Option<Instant>,
    /// `None` when no lifetime is known (a learned one only schedules `refresh_at`).
    pub expires_at: Option<Instant>,
    /// When its request was sent: the start of its age.
    pub fetched_at: Instant,
}

impl TokenValue {
    /// Time to refresh: whoever sees this first fetches a new value (the old one may still
    /// be used until it expires).
    pub fn due(&self, now: Instant) -> bool {
        self.refresh_at.is_some_and(|t| now >= t)
    }

    /// Past its known lifetime: [`SharedToken::next`] no longer hands it out, not even while
    /// a refresh is in flight.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// What a VU should do about a shared token.
pub enum Next {
    /// Use this value.
    Use(Arc<TokenValue>),
    /// Fetch it: this VU won the flight. Publish with [`SharedToken::publish`] or
    /// [`SharedToken::failed`].
    Fetch,
    /// Someone else is fetching (or a retry is backing off): wait for the change.
    Wait(watch::Receiver<u64>, Option<Instant>),
}

#[derive(Default)]
struct State {
    value: Option<Arc<TokenValue>>,
    in_flight: bool,
    failures: u32,
    retry_at: Option<Instant>,
    /// Why the last fetch failed (for the VUs that give up waiting).
    last_failure: Option<String>,
}

/// How many failures in a row a VU takes before it gives up on the token for this iteration.
pub const TOKEN_ATTEMPTS: u32 = 5;

/// One token step's cell for the whole run, shared by every worker thread: the current value
/// of a shared token with its single-flight refresh, and for every token step what the run
/// learned (success ever, learned lifetime).
pub struct SharedToken {
    state: Mutex<State>,
    generation: AtomicU64,
    changed: watch::Sender<u64>,
    /// Fetches that failed, ever (a VU gives up after [`TOKEN_ATTEMPTS`] more than it saw).
    failed_total: AtomicU64,
    /// Some fetch of this token step succeeded, on any VU.
    ever: AtomicBool,
    /// The learned lifetime in ms; 0 while none is.
    learned_ms: AtomicU64,
}

impl Default for SharedToken {
    fn default() -> Self {
        SharedToken {
            state: Mutex::new(State::default()),
            generation: AtomicU64::new(0),
            changed: watch::channel(0).0,
            failed_total: AtomicU64::new(0),
            ever: AtomicBool::new(false),
            learned_ms: AtomicU64::new(0),
        }
    }
}

impl SharedToken {
    /// The current generation (0: never fetched).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Decides, under the lock, whether the caller uses the current value, fetches, or waits.
    /// `stale` is a generation the caller saw rejected (`refresh_on`): if it is still the
    /// current one, the token is refreshed now.
    pub fn next(&self, now: Instant, stale: Option<u64>) -> Next {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let usable = st
            .value
            .as_ref()
            .filter(|v| !v.expired(now) && stale != Some(v.generation));
        let fresh = usable.filter(|v| !v.due(now));
        if let Some(v) = fresh {
            return Next::Use(v.clone());
        }
        let backing_off = st.retry_at.is_some_and(|t| now < t);
        if st.in_flight || backing_off {
            if let Some(v) = usable {
                return Next::Use(v.clone());
            }
            return Next::Wait(
                self.changed.subscribe(),
                st.retry_at.filter(|_| !st.in_flight),
            );
        }
        st.in_flight = true;
        Next::Fetch
    }

    /// A fetch succeeded: the new value becomes current for everyone. `generation` is
    /// replaced by the next one.
    pub fn publish(&self, fetched: TokenValue) -> Arc<TokenValue> {
        self.succeeded();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let generation = st.value.as_ref().map_or(0, |v| v.generation) + 1;
        let v = Arc::new(TokenValue {
            generation,
            ..fetched
        });
        st.value = Some(v.clone());
        st.in_flight = false;
        st.failures = 0;
        st.retry_at = None;
        self.generation.store(generation, Ordering::Release);
        drop(st);
        self.changed.send_replace(generation);
        v
    }

    /// A fetch failed (`why`, for messages): the next attempt waits for the backoff.
    pub fn failed(&self, now: Instant, why: String) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.in_flight = false;
        st.failures += 1;
        st.retry_at = Some(now + backoff(st.failures));
        st.last_failure = Some(why);
        self.failed_total.fetch_add(1, Ordering::AcqRel);
        drop(st);
        self.changed.send_modify(|_| {});
    }

    /// Failed fetches of the shared token so far.
    pub fn failures(&self) -> u64 {
        self.failed_total.load(Ordering::Acquire)
    }

    /// Why the last fetch of the shared token failed.
    pub fn last_failure(&self) -> Option<String> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.last_failure.clone()
    }

    /// Some fetch of this token step succeeded (any VU's, for a per-VU token).
    pub fn succeeded(&self) {
        self.ever.store(true, Ordering::Release);
    }

    /// Some fetch of this token step has succeeded: a token step that never did ends the
    /// run when a VU gives up on it, one that did only abandons that iteration.
    pub fn ever(&self) -> bool {
        self.ever.load(Ordering::Acquire)
    }

    /// `refresh_on` rejected a token of unknown lifetime at `age`: the first such age becomes
    /// the lifetime; a later rejection of a younger token lowers it (the first age was an
    /// overestimate: requests came too seldom to see the token die). True the first time.
    pub fn learn(&self, age: Duration) -> bool {
        let ms = (age.as_millis() as u64).max(1);
        let before = self
            .learned_ms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old == 0 || ms < old).then_some(ms)
            });
        before == Ok(0)
    }

    /// The learned lifetime, once `refresh_on` has rejected a token of unknown lifetime.
    pub fn learned(&self) -> Option<Duration> {
        match self.learned_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// Per-VU tokens' failures in a row on one worker, per token step: the backoff before a VU's
/// next attempt. Counted for all the worker's VUs together, not per VU: VUs that find one
/// endpoint failing back off as one, each failure lengthening everyone's wait.
#[derive(Default)]
pub struct OwnRetries {
    failures: RefCell<Vec<u32>>,
}

impl OwnRetries {
    /// A per-VU token of step `t` was fetched: the backoff starts over.
    pub fn succeeded(&self, t: usize) {
        if let Some(f) = self.failures.borrow_mut().get_mut(t) {
            *f = 0;
        }
    }

    /// A fetch of token step `t` failed: how long to wait before the next attempt.
    pub fn failed(&self, t: usize) -> Duration {
        let mut f = self.failures.borrow_mut();
        if f.len() <= t {
            f.resize(t + 1, 0);
        }
        f[t] = (f[t] + 1).min(16);
        backoff(f[t])
    }
}

/// When a token of learned lifetime is refreshed, after it was fetched: at 85 % of the
/// learned age for a shared token (`spread` 0.5), between 80 and 90 % for a per-VU one.
pub fn learned_refresh_after(learned: Duration, spread: f64) -> Duration {
    learned.mul_f64(0.9 - 0.1 * spread.clamp(0.0, 1.0))
}

/// 100 ms, doubling, at most 5 s.
pub fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_millis(ms.min(5000))
}

/// How long after it was fetched a token is refreshed: `before` ahead of its expiry, and for
/// a per-VU token a further `spread` (0 to 1) of `before` earlier. VUs that started together
/// log in together; without the spread they would all log in again in the same instant, every
/// lifetime, for the whole run — a burst no real user base makes. A shared token has one
/// fetch for everyone and is refreshed at `life - before` exactly (`spread` 0). The spread
/// never takes more than half of what is left, so a token is always used for a while.
pub fn refresh_after(life: Duration, before: Duration, spread: f64) -> Duration {
    let due = life.saturating_sub(before);
    let early = before.mul_f64(spread.clamp(0.0, 1.0)).min(due / 2);
    due - early
}

/// When no `refresh_before` is given: a tenth of the lifetime, at most a minute.
pub fn default_refresh_before(life: Duration) -> Duration {
    (life / 10).min(Duration::from_secs(60))
}

/// The lifetime a JWT's `exp` claim gives, from now.
pub fn jwt_lifetime(token: &str) -> Option<Duration> {
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(Duration::from_secs_f64((exp - now).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_flight_and_refresh_on_generations() {
        let t = SharedToken::default();
        let now = Instant::now();
        assert!(matches!(t.next(now, None), Next::Fetch));
        // Everyone else waits: there is no value yet.
        assert!(matches!(t.next(now, None), Next::Wait(..)));
        let v = t.publish(value(
            "a",
            Some(now + Duration::from_secs(5)),
            Some(now + Duration::from_secs(6)),
        ));
        assert_eq!(v.generation, 1);
        assert!(matches!(t.next(now, None), Next::Use(v) if v.generation == 1));
        // Due: one refreshes, the others keep the still-valid value.
        let later = now + Duration::from_millis(5500);
        assert!(matches!(t.next(later, None), Next::Fetch));
        assert!(matches!(t.next(later, None), Next::Use(_)));
        t.publish(value("b", None, None));
        // A rejection of generation 1 after generation 2 exists refreshes nothing.
        assert!(matches!(t.next(later, Some(1)), Next::Use(v) if v.generation == 2));
        assert!(matches!(t.next(later, Some(2)), Next::Fetch));
        t.failed(later, "HTTP 500".into());
        assert!(matches!(t.next(later, Some(2)), Next::Wait(_, Some(_))));
        assert_eq!(t.generation(), 2);
        assert_eq!(
            (t.failures(), t.last_failure()),
            (1, Some("HTTP 500".into()))
        );
        assert!(t.ever());
    }

    fn value(v: &str, refresh_at: Option<Instant>, expires_at: Option<Instant>) -> TokenValue {
        TokenValue {
            values: vec![v.into()],
            typed: vec![false],
            generation: 0,
            refresh_at,
            expires_at,
            fetched_at: Instant::now(),
        }
    }

    #[test]
    fn a_lifetime_is_learned_from_the_first_rejection_and_only_lowered() {
        let t = SharedToken::default();
        assert_eq!(t.learned(), None);
        assert!(t.learn(Duration::from_millis(2050)));
        assert!(!t.learn(Duration::from_secs(3)));
        assert_eq!(t.learned(), Some(Duration::from_millis(2050)));
        assert!(!t.learn(Duration::from_millis(1900)));
        assert_eq!(t.learned(), Some(Duration::from_millis(1900)));
        let ten = Duration::from_secs(10);
        assert_eq!(learned_refresh_after(ten, 0.5), Duration::from_millis(8500));
        assert_eq!(learned_refresh_after(ten, 0.0), Duration::from_secs(9));
        assert_eq!(learned_refresh_after(ten, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn jwt_exp_and_backoff() {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 100;
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        let life = jwt_lifetime(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")).unwrap();
        assert!(life > Duration::from_secs(95) && life <= Duration::from_secs(100));
        assert!(jwt_lifetime("not-a-jwt").is_none());
        assert_eq!(backoff(1), Duration::from_millis(100));
        // The refresh point: `before` ahead of expiry, a per-VU spread up to `before` more.
        let (life, before) = (Duration::from_secs(10), Duration::from_secs(1));
        assert_eq!(refresh_after(life, before, 0.0), Duration::from_secs(9));
        assert_eq!(refresh_after(life, before, 1.0), Duration::from_secs(8));
        assert_eq!(
            refresh_after(life, before, 0.5),
            Duration::from_millis(8500)
        );
        assert_eq!(
            refresh_after(life, life / 2, 1.0),
            Duration::from_millis(2500)
        );
        assert_eq!(backoff(20), Duration::from_secs(5));
    }
}
