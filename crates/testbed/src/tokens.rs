//! Self-validating tokens: issue and check them without any shared table or lock.
//!
//! A load test hits the business endpoints with thousands of requests a second, each carrying a
//! token. A map of live tokens behind a mutex would make the testbed the bottleneck it must never
//! be, so a token carries its own facts and a MAC over them:
//!
//! ```text
//! payload (25 bytes) = kind (1) | issued-at ms (6) | expiry ms (6) | generation (4) | serial (8)
//! token             = base64url-nopad( mac (12) | payload XOR pad (25) )      -> 50 characters
//! mac               = HMAC-SHA256(key, 0x00 | payload)[..12]
//! pad               = HMAC-SHA256(key, 0x01 | mac)[..25]
//! ```
//!
//! Checking one costs two HMACs over a few dozen bytes and two atomic loads. The payload is
//! masked so that consecutive tokens share no visible prefix and look as random as a real
//! platform's (a recorder's token detector must judge them by entropy, not by a fixed shape).
//! The key is random per process, so a token recorded against one testbed run is "invalid" on
//! the next, exactly like a real token from another environment.
//!
//! Times are milliseconds since this authority was created, read from a monotonic clock, so a
//! wall-clock step cannot revive or kill a token.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

const MAC_LEN: usize = 12;
const PAYLOAD_LEN: usize = 25;
const RAW_LEN: usize = MAC_LEN + PAYLOAD_LEN;
/// Length of every token in characters (base64url without padding of [`RAW_LEN`] bytes).
pub(crate) const TOKEN_LEN: usize = (RAW_LEN * 4).div_ceil(3);

/// Which endpoint a token came from; a token of one kind is "invalid" where the other is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `access_token` from `/cgi-bin/token` or `/cgi-bin/stable_token`, sent as `?access_token=`.
    Platform = 1,
    /// Session token from `/api/login`, sent as `Authorization: Bearer`.
    Session = 2,
    /// The web app's session cookie from `POST /wp/login`.
    WebSession = 3,
    /// Bearer from `POST /api/login2`.
    Session2 = 4,
    /// The `tb_sid` cookie issued beside a [`Kind::Session2`] bearer, sharing its serial.
    Sid = 5,
    /// The litemall-shaped shop's `X-Litemall-Token` from `POST /wx/auth/login_by_weixin`.
    Litemall = 6,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not one of ours: bad encoding, bad MAC (forged, truncated, or from another process), or
    /// the wrong kind.
    Invalid,
    /// Ours, but its lifetime is over.
    Expired,
    /// Ours, but issued before the last `/admin/revoke`.
    Revoked,
}

/// Issues and checks tokens. Shared by reference between all connections; every method takes
/// `&self` and touches only atomics.
pub(crate) struct Tokens {
    key: hmac::Key,
    ttl_ms: u64,
    epoch: Instant,
    generation: AtomicU32,
    serial: AtomicU64,
}

impl Tokens {
    /// A fresh authority with a random key. `ttl` is rounded up to whole milliseconds.
    pub(crate) fn new(ttl: Duration) -> anyhow::Result<Tokens> {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("no system randomness for the token key"))?;
        // Start serials at a random point so two runs' serials do not line up either.
        let mut seed = [0u8; 4];
        rng.fill(&mut seed)
            .map_err(|_| anyhow::anyhow!("no system randomness for the token serial"))?;
        let ttl_ms = u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        Ok(Tokens {
            key,
            ttl_ms,
            epoch: Instant::now(),
            generation: AtomicU32::new(0),
            serial: AtomicU64::new(u64::from(u32::from_be_bytes(seed))),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A new token of `kind`, valid for the configured TTL from now.
    pub(crate) fn issue(&self, kind: Kind) -> String {
        self.issue_serial(kind, self.serial.fetch_add(1, Ordering::Relaxed))
    }

    /// [`Tokens::issue`], with the serial the token carries, for a store keyed by session.
    pub(crate) fn issue_with_serial(&self, kind: Kind) -> (String, u64) {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        (self.issue_serial(kind, serial), serial)
    }

    /// Two tokens of one session: `first` and `second` share a fresh serial, so a checker can
    /// tell that they were issued together (see [`Tokens::verify`]).
    pub(crate) fn issue_pair(&self, first: Kind, second: Kind) -> (String, String) {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        (
            self.issue_serial(first, serial),
            self.issue_serial(second, serial),
        )
    }

    fn issue_serial(&self, kind: Kind, serial: u64) -> String {
        let issued = self.now_ms();
        // 48-bit fields: ~8900 years of milliseconds, so saturating is only a formality.
        let expiry = issued.saturating_add(self.ttl_ms).min(MAX_48);
        let generation = self.generation.load(Ordering::Acquire);

        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = kind as u8;
        payload[1..7].copy_from_slice(&issued.to_be_bytes()[2..]);
        payload[7..13].copy_from_slice(&expiry.to_be_bytes()[2..]);
        payload[13..17].copy_from_slice(&generation.to_be_bytes());
        payload[17..25].copy_from_slice(&serial.to_be_bytes());

        let mac = self.mac(&payload);
        let pad = self.pad(&mac);
        let mut raw = [0u8; RAW_LEN];
        raw[..MAC_LEN].copy_from_slice(&mac);
        for (i, b) in payload.iter().enumerate() {
            raw[MAC_LEN + i] = b ^ pad[i];
        }
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Accepts `token` if it is ours, of `kind`, not revoked and not expired — checked in that
    /// order, so a forged token is always "invalid" whatever its claimed times.
    pub(crate) fn check(&self, token: &str, kind: Kind) -> Result<(), TokenError> {
        self.verify(token, kind).map(drop)
    }

    /// [`Tokens::check`], returning the token's serial: the one fact about a session that
    /// outlives the request (see [`Tokens::openid`]).
    pub(crate) fn verify(&self, token: &str, kind: Kind) -> Result<u64, TokenError> {
        if token.len() != TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let mut raw = [0u8; RAW_LEN];
        match URL_SAFE_NO_PAD.decode_slice(token.as_bytes(), &mut raw) {
            Ok(RAW_LEN) => {}
            _ => return Err(TokenError::Invalid),
        }
        let (mac, masked) = raw.split_at(MAC_LEN);
        let pad = self.pad(mac);
        let mut payload = [0u8; PAYLOAD_LEN];
        for (i, b) in masked.iter().enumerate() {
            payload[i] = b ^ pad[i];
        }
        if !constant_time_eq(&self.mac(&payload), mac) || payload[0] != kind as u8 {
            return Err(TokenError::Invalid);
        }
        let generation = u32::from_be_bytes([payload[13], payload[14], payload[15], payload[16]]);
        if generation < self.generation.load(Ordering::Acquire) {
            return Err(TokenError::Revoked);
        }
        let mut expiry = [0u8; 8];
        expiry[2..].copy_from_slice(&payload[7..13]);
        if self.now_ms() >= u64::from_be_bytes(expiry) {
            return Err(TokenError::Expired);
        }
        let mut serial = [0u8; 8];
        serial.copy_from_slice(&payload[17..25]);
        Ok(u64::from_be_bytes(serial))
    }

    /// The user id of a session: `o` and 16 hex characters of an HMAC over its serial. Stable
    /// for one token, different for every login, and not the serial itself, so consecutive
    /// logins do not show consecutive ids.
    pub(crate) fn openid(&self, serial: u64) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&[0x02]);
        ctx.update(&serial.to_be_bytes());
        let tag = ctx.sign();
        let mut id = String::with_capacity(17);
        id.push('o');
        for b in &tag.as_ref()[..8] {
            id.push(char::from(HEX[usize::from(b >> 4)]));
            id.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        id
    }

    /// A WordPress-style nonce: 10 hex characters of an HMAC over the session's serial and the
    /// action it is for. Bound to that one session, so a nonce recorded in another session (or
    /// another process) is refused; the same for every page of one session, as WordPress's are
    /// within a tick.
    pub(crate) fn nonce(&self, serial: u64, action: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&[0x03]);
        ctx.update(&serial.to_be_bytes());
        ctx.update(action.as_bytes());
        let tag = ctx.sign();
        let mut nonce = String::with_capacity(10);
        for b in &tag.as_ref()[..5] {
            nonce.push(char::from(HEX[usize::from(b >> 4)]));
            nonce.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        nonce
    }

    /// A queue ticket: a five-digit number bound to the session, the kind of short id a
    /// backend hands out (a queue number, a table number) that a request sends back under
    /// another name, so no rule of static detection ties the two.
    pub(crate) fn ticket(&self, serial: u64) -> u32 {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&[0x04]);
        ctx.update(&serial.to_be_bytes());
        let tag = ctx.sign();
        let mut four = [0u8; 4];
        four.copy_from_slice(&tag.as_ref()[..4]);
        10_000 + u32::from_be_bytes(four) % 90_000
    }

    /// Revokes every token issued so far and returns the new generation (tokens from earlier
    /// generations are now refused as "revoked").
    pub(crate) fn revoke(&self) -> u32 {
        self.generation
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1)
    }

    fn mac(&self, payload: &[u8; PAYLOAD_LEN]) -> [u8; MAC_LEN] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&[0x00]);
        ctx.update(payload);
        let tag = ctx.sign();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        out
    }

    fn pad(&self, mac: &[u8]) -> [u8; PAYLOAD_LEN] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&[0x01]);
        ctx.update(mac);
        let tag = ctx.sign();
        let mut out = [0u8; PAYLOAD_LEN];
        out.copy_from_slice(&tag.as_ref()[..PAYLOAD_LEN]);
        out
    }
}

const MAX_48: u64 = (1 << 48) - 1;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares two MACs without an early exit, so timing does not tell a forger how many leading
/// bytes were right. (ring's own helper for this is deprecated for outside use.)
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_check_and_look_random() {
        let t = Tokens::new(Duration::from_secs(60)).unwrap();
        let a = t.issue(Kind::Session);
        let b = t.issue(Kind::Session);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_ne!(a[..8], b[..8], "no shared visible prefix");
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(t.check(&a, Kind::Session), Ok(()));
        assert_eq!(t.check(&a, Kind::Platform), Err(TokenError::Invalid));
    }

    #[test]
    fn openid_follows_the_serial() {
        let t = Tokens::new(Duration::from_secs(60)).unwrap();
        let a = t.verify(&t.issue(Kind::Session), Kind::Session).unwrap();
        let b = t.verify(&t.issue(Kind::Session), Kind::Session).unwrap();
        assert_eq!(b, a + 1);
        let id = t.openid(a);
        assert_eq!(id.len(), 17);
        assert!(id.starts_with('o'));
        assert!(id[1..]
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(t.openid(a), id);
        assert_ne!(t.openid(b), id);
        let other = Tokens::new(Duration::from_secs(60)).unwrap();
        assert_ne!(other.openid(a), id, "keyed per process");
    }

    #[test]
    fn nonces_are_bound_to_session_and_action() {
        let t = Tokens::new(Duration::from_secs(60)).unwrap();
        let n = t.nonce(7, "wp_rest");
        assert_eq!(n.len(), 10);
        assert!(n.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(t.nonce(7, "wp_rest"), n);
        assert_ne!(t.nonce(8, "wp_rest"), n, "another session");
        assert_ne!(t.nonce(7, "log-out"), n, "another action");
        let other = Tokens::new(Duration::from_secs(60)).unwrap();
        assert_ne!(other.nonce(7, "wp_rest"), n, "keyed per process");
    }

    #[test]
    fn tampering_and_foreign_keys_are_invalid() {
        let t = Tokens::new(Duration::from_secs(60)).unwrap();
        let other = Tokens::new(Duration::from_secs(60)).unwrap();
        let tok = t.issue(Kind::Platform);
        assert_eq!(other.check(&tok, Kind::Platform), Err(TokenError::Invalid));
        for i in 0..tok.len() {
            let mut bytes = tok.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            assert_eq!(t.check(&forged, Kind::Platform), Err(TokenError::Invalid));
        }
        for junk in [
            "",
            "x",
            "Bearer",
            &tok[1..],
            &format!("{tok}A"),
            "é".repeat(25).as_str(),
        ] {
            assert_eq!(t.check(junk, Kind::Platform), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn revoke_and_expiry() {
        let t = Tokens::new(Duration::from_millis(30)).unwrap();
        let old = t.issue(Kind::Platform);
        assert_eq!(t.revoke(), 1);
        let new = t.issue(Kind::Platform);
        assert_eq!(t.check(&old, Kind::Platform), Err(TokenError::Revoked));
        assert_eq!(t.check(&new, Kind::Platform), Ok(()));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.check(&new, Kind::Platform), Err(TokenError::Expired));
    }

    #[test]
    fn a_pair_shares_its_serial_and_keeps_its_kinds() {
        let t = Tokens::new(Duration::from_secs(60)).unwrap();
        let (bearer, sid) = t.issue_pair(Kind::Session2, Kind::Sid);
        assert_ne!(bearer, sid);
        let a = t.verify(&bearer, Kind::Session2).unwrap();
        assert_eq!(t.verify(&sid, Kind::Sid), Ok(a));
        assert_eq!(t.check(&sid, Kind::Session2), Err(TokenError::Invalid));
        let (next, _) = t.issue_pair(Kind::Session2, Kind::Sid);
        assert_eq!(t.verify(&next, Kind::Session2), Ok(a + 1));
    }

    #[test]
    fn zero_ttl_is_born_expired() {
        let t = Tokens::new(Duration::ZERO).unwrap();
        let tok = t.issue(Kind::Session);
        assert_eq!(t.check(&tok, Kind::Session), Err(TokenError::Expired));
    }
}
