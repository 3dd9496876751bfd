//! The server's own counts, so a test or the demo can check a replay against what the server saw
//! rather than against what the load generator believes it sent.
//!
//! Counting happens on every request, so the live counters are plain `AtomicU64`s bumped with
//! `Relaxed` ordering (no lock, no ordering fence); [`Stats`] is the serde shape of a snapshot,
//! served by `GET /stats` and returned by [`crate::Testbed::stats`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// A snapshot of the testbed's counters; the exact JSON of `GET /stats`.
///
/// `/stats` requests themselves are not counted, so reading the counters never changes them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Tokens handed out: a test compares them with the token lifetime to see that a replay
    /// fetched a token once per lifetime (shared, or per VU), not once per request.
    pub tokens_issued: TokensIssued,
    /// Requests per endpoint: a test checks that every request the replay counted reached the
    /// server, and nothing else did.
    pub requests: Requests,
    /// Refused credentials by reason, on every route that checks one: a replay that carries and
    /// refreshes its tokens correctly keeps them all at 0.
    pub auth_failures: AuthFailures,
    /// Goods ids that this process never minted (detail lookups and orders).
    pub unknown_ids: u64,
    /// Orders accepted.
    pub orders: u64,
    /// The WordPress-shaped web app under `/wp/`.
    pub webapp: Webapp,
    /// The v2 session shape: `/api/login2` and `/api/v2/...`.
    pub v2: V2,
    /// The litemall-shaped shop under `/wx/`.
    pub shop: Shop,
    /// The signed endpoints (`/pay/...`, `/api/signed/...`).
    #[serde(default)]
    pub signed: Signed,
}

impl Stats {
    /// All refused credentials together: what a replay that handles tokens correctly keeps at 0.
    pub fn auth_failures_total(&self) -> u64 {
        let a = &self.auth_failures;
        a.missing + a.expired + a.invalid + a.revoked + a.bad_credentials
    }

    /// Every request counted in [`Requests`] together. The v2 and `/wx/` calls are not in it:
    /// they are counted in [`V2::calls`] and [`Shop::calls`].
    pub fn requests_total(&self) -> u64 {
        let r = &self.requests;
        r.token
            + r.stable_token
            + r.login
            + r.goods_list
            + r.goods_detail
            + r.profile
            + r.order
            + r.revoke
            + r.stall
            + r.blob
            + r.slow
            + r.page
            + r.wp_login
            + r.wp_admin
            + r.wp_rest
            + r.wp_ajax
            + r.wp_logout
            + r.other
    }
}

/// What the `/wp/` web app saw beyond its requests. Its refused cookies (missing, expired,
/// forged) and refused passwords are counted in [`AuthFailures`] with the rest.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Webapp {
    /// Successful `POST /wp/login`s: session cookies issued.
    pub logins: u64,
    /// Drafts created by `POST /wp/json/posts`.
    pub posts_created: u64,
    /// A valid session sent a nonce that is missing, forged, of another action or of another
    /// session (`X-WP-Nonce`, the ajax `_wpnonce`, the logout `_wpnonce`).
    pub nonce_failures: u64,
    /// A post id that this session did not create (REST path, ajax `post_ID`).
    pub unknown_post_ids: u64,
    /// Logouts whose nonce checked.
    pub logouts: u64,
}

/// What the v2 session shape (`POST /api/login2`, `/api/v2/...`) saw. Its refused
/// credentials are counted in [`AuthFailures`] with the rest.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct V2 {
    /// Successful `POST /api/login2`s: a bearer and a `tb_sid` cookie issued.
    pub logins: u64,
    /// Every `POST /api/login2` and `GET /api/v2/{profile,feed,search}`, whatever its outcome
    /// (other paths and methods under `/api/v2/` are counted as [`Requests::other`]).
    pub calls: u64,
    /// Calls answered HTTP 200 `{"errcode":42001}`: the bearer or the cookie had expired.
    pub expired_answers: u64,
    /// `GET /api/v2/search`es answered 40099: `q` missing, not JSON, or holding a cursor this
    /// session's feed did not issue.
    pub invalid_cursors: u64,
}

/// What the signed endpoints saw: a replay that signs what it sends keeps every refusal at 0.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Signed {
    /// Every request to them with a valid session, whatever its signature.
    pub calls: u64,
    /// Signature right, nonce new, timestamp fresh: answered `errcode 0`.
    pub accepted: u64,
    /// Signature missing or wrong (`errcode 40090`): signed values changed under a recorded
    /// signature, or the rule is wrong.
    pub bad_signs: u64,
    /// A timestamp more than 5 minutes off the server's clock (`errcode 40091`): a recorded one.
    pub stale: u64,
    /// A nonce seen before (`errcode 40163`), signature right: a recorded request sent again.
    pub replayed: u64,
}

/// What the litemall-shaped shop (`/wx/...`) saw. Every answer is HTTP 200 with an `errno`;
/// its refused tokens (errno 501) are also counted in [`AuthFailures`] with the rest.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Shop {
    /// Every `/wx/...` call, whatever its outcome.
    pub calls: u64,
    /// `GET /sns/jscode2session` answers with a session key (the platform's side).
    pub sessions: u64,
    /// Successful `POST /wx/auth/login_by_weixin`s: tokens issued.
    pub logins: u64,
    /// Distinct users (openids) that logged in.
    pub users: u64,
    /// Logins refused for their `wx.getUserInfo` material (signature, decryption, watermark).
    pub bad_logins: u64,
    /// `POST /wx/cart/add`s answered errno 0.
    pub cart_adds: u64,
    /// Addresses saved.
    pub addresses: u64,
    /// Checkouts answered errno 0.
    pub checkouts: u64,
    /// Orders accepted.
    pub orders: u64,
    /// Orders refused because the user's cart was empty: another session of the same user
    /// ordered what this one put in it.
    pub empty_carts: u64,
    /// Accepted orders whose address was the user's but not the one it saved last (an
    /// address of an earlier flow, or of another session of the user, reused).
    pub stale_addresses: u64,
    /// Prepays answered errno 0.
    pub prepaid: u64,
    /// Answers with an errno other than 0, all codes together.
    pub errno_nonzero: u64,
    /// The same, by code.
    pub errno: ShopErrno,
}

/// [`Shop`]'s answers by nonzero errno (litemall's codes).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ShopErrno {
    /// 错误: litemall's `fail()`, here a login whose `wx.getUserInfo` material did not check
    /// (the same logins as [`Shop::bad_logins`]).
    #[serde(rename = "-1")]
    pub fail: u64,
    /// 参数不对: a body or parameter missing or of the wrong type.
    #[serde(rename = "401")]
    pub bad_argument: u64,
    /// 参数值不对: an address or order id that is not this user's, or an order of an empty cart.
    #[serde(rename = "402")]
    pub bad_value: u64,
    /// An unknown `/wx/` path or method.
    #[serde(rename = "404")]
    pub not_found: u64,
    /// 请登录: the token is missing, expired, forged or revoked.
    #[serde(rename = "501")]
    pub unlogin: u64,
}

/// Tokens handed out, by kind.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct TokensIssued {
    /// `access_token`s from `/cgi-bin/token` and `/cgi-bin/stable_token`.
    pub platform: u64,
    /// Session tokens from `/api/login`. The v2, web app and shop logins are counted in their
    /// own `logins` ([`V2`], [`Webapp`], [`Shop`]).
    pub session: u64,
}

/// Requests received, by endpoint, whatever their outcome. The v2 and `/wx/` calls are counted
/// in [`V2`] and [`Shop`] instead.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Requests {
    /// `GET /cgi-bin/token`: WeChat's client-credentials grant for a platform `access_token`.
    pub token: u64,
    /// `POST /cgi-bin/stable_token`: WeChat's stable-token form of the same grant, JSON body.
    pub stable_token: u64,
    /// `POST /api/login`: the mini program trades its `wx.login` code for a session token.
    pub login: u64,
    /// `GET /api/goods?page=N`: the list whose ids a replay must take for the detail calls.
    pub goods_list: u64,
    /// `GET /api/goods/{id}`: a product by an id from a list ([`Stats::unknown_ids`] counts the
    /// ids no list gave).
    pub goods_detail: u64,
    /// `GET /api/profile`, by bearer or by `tb_session` cookie.
    pub profile: u64,
    /// `POST /api/order?access_token=...`: the call that needs a platform token.
    pub order: u64,
    /// `POST /admin/revoke`: the test hook that invalidates every token issued so far.
    pub revoke: u64,
    /// `POST /admin/stall`.
    pub stall: u64,
    /// `GET /blob`, the streamed download.
    pub blob: u64,
    /// `GET /slow`, the deliberately late answer.
    pub slow: u64,
    /// `GET /`, the HTML shop page.
    pub page: u64,
    /// `/wp/login`, the web app's form login: `GET` the form and `POST` it.
    pub wp_login: u64,
    /// `GET /wp/admin`, the page that issues the nonces.
    pub wp_admin: u64,
    /// Every `/wp/json/...` call (REST API).
    pub wp_rest: u64,
    /// `POST /wp/ajax` (multipart).
    pub wp_ajax: u64,
    /// `GET /wp/logout`.
    pub wp_logout: u64,
    /// Unknown paths, and known paths with the wrong method (under `/wx/` those are errno 404,
    /// counted in [`Shop`]).
    pub other: u64,
}

/// Refused credentials, by reason, from every route that checks one: bearers, `access_token`s,
/// session cookies and `X-Litemall-Token`s, the token grants and the `/wp/login` password.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthFailures {
    /// No credential at all: no bearer, `access_token`, session cookie or `X-Litemall-Token`
    /// (for `/api/v2/...`, the bearer or the `tb_sid` cookie missing).
    pub missing: u64,
    /// Past its lifetime: what a replay that does not refresh its tokens runs into.
    pub expired: u64,
    /// Forged, garbled, from another process, or of the wrong kind (for `/api/v2/...`, also a
    /// bearer and a cookie of two different logins).
    pub invalid: u64,
    /// Issued before the last `/admin/revoke`.
    pub revoked: u64,
    /// `/cgi-bin/token` or `/cgi-bin/stable_token` refused (bad appid, secret or grant_type, or
    /// a `stable_token` body that is not the JSON grant), or a wrong `/wp/login` user or
    /// password.
    pub bad_credentials: u64,
}

/// The endpoints counted in [`Requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    StableToken,
    Login,
    GoodsList,
    GoodsDetail,
    Profile,
    Order,
    Revoke,
    Stall,
    Blob,
    Slow,
    Page,
    WpLogin,
    WpAdmin,
    WpRest,
    WpAjax,
    WpLogout,
    // Keep last: it sizes the counter array.
    Other,
}

/// Events counted in [`Webapp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebEvent {
    Login,
    PostCreated,
    NonceFailure,
    UnknownPostId,
    // Keep last: it sizes the counter array.
    Logout,
}

/// Events counted in [`V2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum V2Event {
    Login,
    Call,
    ExpiredAnswer,
    // Keep last: it sizes the counter array.
    InvalidCursor,
}

/// Events counted in [`Shop`] (the errno counts have [`Counters::shop_errno`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShopEvent {
    Call,
    Session,
    Login,
    NewUser,
    BadLogin,
    CartAdd,
    Address,
    Checkout,
    Order,
    EmptyCart,
    StaleAddress,
    // Keep last: it sizes the counter array.
    Prepaid,
}

/// The nonzero errnos counted in [`ShopErrno`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errno {
    Fail = -1,
    BadArgument = 401,
    BadValue = 402,
    NotFound = 404,
    Unlogin = 501,
}

impl Errno {
    fn slot(self) -> usize {
        match self {
            Errno::BadArgument => 0,
            Errno::BadValue => 1,
            Errno::NotFound => 2,
            Errno::Unlogin => 3,
            Errno::Fail => 4,
        }
    }
}

/// Events counted in [`Signed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignedEvent {
    Call,
    Accepted,
    BadSign,
    Stale,
    // Keep last: it sizes the counter array.
    Replayed,
}

/// Reasons counted in [`AuthFailures`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Missing,
    Expired,
    Invalid,
    Revoked,
    // Keep last: it sizes the counter array.
    BadCredentials,
}

const ENDPOINTS: usize = Endpoint::Other as usize + 1;
const FAILURES: usize = Failure::BadCredentials as usize + 1;
const WEB_EVENTS: usize = WebEvent::Logout as usize + 1;
const V2_EVENTS: usize = V2Event::InvalidCursor as usize + 1;
const SHOP_EVENTS: usize = ShopEvent::Prepaid as usize + 1;
const SIGNED_EVENTS: usize = SignedEvent::Replayed as usize + 1;

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct Counters {
    platform_tokens: AtomicU64,
    session_tokens: AtomicU64,
    requests: [AtomicU64; ENDPOINTS],
    failures: [AtomicU64; FAILURES],
    unknown_ids: AtomicU64,
    orders: AtomicU64,
    web: [AtomicU64; WEB_EVENTS],
    v2: [AtomicU64; V2_EVENTS],
    shop: [AtomicU64; SHOP_EVENTS],
    shop_errno: [AtomicU64; 5],
    signed: [AtomicU64; SIGNED_EVENTS],
    /// TCP connections accepted: not in [`Stats`], which counts what was asked, whatever the
    /// connections it came on; see [`crate::Testbed::connections`].
    connections: AtomicU64,
}

impl Counters {
    /// Counts an accepted TCP connection.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// TCP connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    pub(crate) fn request(&self, e: Endpoint) {
        self.requests[e as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn failure(&self, f: Failure) {
        self.failures[f as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn platform_token(&self) {
        self.platform_tokens.fetch_add(1, Relaxed);
    }

    pub(crate) fn session_token(&self) {
        self.session_tokens.fetch_add(1, Relaxed);
    }

    pub(crate) fn web(&self, e: WebEvent) {
        self.web[e as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn v2(&self, e: V2Event) {
        self.v2[e as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn signed(&self, e: SignedEvent) {
        self.signed[e as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn shop(&self, e: ShopEvent) {
        self.shop[e as usize].fetch_add(1, Relaxed);
    }

    /// Counts a shop answer with a nonzero errno.
    pub(crate) fn shop_errno(&self, e: Errno) {
        self.shop_errno[e.slot()].fetch_add(1, Relaxed);
    }

    fn shop_snapshot(&self) -> Shop {
        let s = |x: ShopEvent| self.shop[x as usize].load(Relaxed);
        let e = |x: Errno| self.shop_errno[x.slot()].load(Relaxed);
        let errno = ShopErrno {
            fail: e(Errno::Fail),
            bad_argument: e(Errno::BadArgument),
            bad_value: e(Errno::BadValue),
            not_found: e(Errno::NotFound),
            unlogin: e(Errno::Unlogin),
        };
        Shop {
            calls: s(ShopEvent::Call),
            sessions: s(ShopEvent::Session),
            logins: s(ShopEvent::Login),
            users: s(ShopEvent::NewUser),
            bad_logins: s(ShopEvent::BadLogin),
            cart_adds: s(ShopEvent::CartAdd),
            addresses: s(ShopEvent::Address),
            checkouts: s(ShopEvent::Checkout),
            orders: s(ShopEvent::Order),
            empty_carts: s(ShopEvent::EmptyCart),
            stale_addresses: s(ShopEvent::StaleAddress),
            prepaid: s(ShopEvent::Prepaid),
            errno_nonzero: errno.fail
                + errno.bad_argument
                + errno.bad_value
                + errno.not_found
                + errno.unlogin,
            errno,
        }
    }

    pub(crate) fn unknown_id(&self) {
        self.unknown_ids.fetch_add(1, Relaxed);
    }

    /// Counts an accepted order and returns its sequence number (from 1).
    pub(crate) fn order(&self) -> u64 {
        self.orders.fetch_add(1, Relaxed) + 1
    }

    /// Reads every counter. Not atomic as a whole: under load the fields may be from slightly
    /// different instants, which is fine for counts read after the load has stopped.
    pub(crate) fn snapshot(&self) -> Stats {
        let r = |e: Endpoint| self.requests[e as usize].load(Relaxed);
        let f = |x: Failure| self.failures[x as usize].load(Relaxed);
        let w = |x: WebEvent| self.web[x as usize].load(Relaxed);
        let v = |x: V2Event| self.v2[x as usize].load(Relaxed);
        Stats {
            tokens_issued: TokensIssued {
                platform: self.platform_tokens.load(Relaxed),
                session: self.session_tokens.load(Relaxed),
            },
            requests: Requests {
                token: r(Endpoint::Token),
                stable_token: r(Endpoint::StableToken),
                login: r(Endpoint::Login),
                goods_list: r(Endpoint::GoodsList),
                goods_detail: r(Endpoint::GoodsDetail),
                profile: r(Endpoint::Profile),
                order: r(Endpoint::Order),
                revoke: r(Endpoint::Revoke),
                stall: r(Endpoint::Stall),
                blob: r(Endpoint::Blob),
                slow: r(Endpoint::Slow),
                page: r(Endpoint::Page),
                wp_login: r(Endpoint::WpLogin),
                wp_admin: r(Endpoint::WpAdmin),
                wp_rest: r(Endpoint::WpRest),
                wp_ajax: r(Endpoint::WpAjax),
                wp_logout: r(Endpoint::WpLogout),
                other: r(Endpoint::Other),
            },
            auth_failures: AuthFailures {
                missing: f(Failure::Missing),
                expired: f(Failure::Expired),
                invalid: f(Failure::Invalid),
                revoked: f(Failure::Revoked),
                bad_credentials: f(Failure::BadCredentials),
            },
            unknown_ids: self.unknown_ids.load(Relaxed),
            orders: self.orders.load(Relaxed),
            webapp: Webapp {
                logins: w(WebEvent::Login),
                posts_created: w(WebEvent::PostCreated),
                nonce_failures: w(WebEvent::NonceFailure),
                unknown_post_ids: w(WebEvent::UnknownPostId),
                logouts: w(WebEvent::Logout),
            },
            v2: V2 {
                logins: v(V2Event::Login),
                calls: v(V2Event::Call),
                expired_answers: v(V2Event::ExpiredAnswer),
                invalid_cursors: v(V2Event::InvalidCursor),
            },
            shop: self.shop_snapshot(),
            signed: {
                let s = |x: SignedEvent| self.signed[x as usize].load(Relaxed);
                Signed {
                    calls: s(SignedEvent::Call),
                    accepted: s(SignedEvent::Accepted),
                    bad_signs: s(SignedEvent::BadSign),
                    stale: s(SignedEvent::Stale),
                    replayed: s(SignedEvent::Replayed),
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_json_has_the_documented_shape() {
        let c = Counters::default();
        c.request(Endpoint::Other);
        c.request(Endpoint::Page);
        c.request(Endpoint::Blob);
        c.request(Endpoint::Slow);
        c.failure(Failure::BadCredentials);
        c.platform_token();
        c.web(WebEvent::Logout);
        c.v2(V2Event::InvalidCursor);
        c.shop(ShopEvent::Prepaid);
        c.shop_errno(Errno::BadValue);
        c.shop_errno(Errno::Unlogin);
        assert_eq!(c.order(), 1);
        let s = c.snapshot();
        assert_eq!(s.auth_failures_total(), 1);
        assert_eq!(s.requests_total(), 4);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"tokens_issued":{"platform":1,"session":0},"requests":{"token":0,"stable_token":0,"login":0,"goods_list":0,"goods_detail":0,"profile":0,"order":0,"revoke":0,"stall":0,"blob":1,"slow":1,"page":1,"wp_login":0,"wp_admin":0,"wp_rest":0,"wp_ajax":0,"wp_logout":0,"other":1},"auth_failures":{"missing":0,"expired":0,"invalid":0,"revoked":0,"bad_credentials":1},"unknown_ids":0,"orders":1,"webapp":{"logins":0,"posts_created":0,"nonce_failures":0,"unknown_post_ids":0,"logouts":1},"v2":{"logins":0,"calls":0,"expired_answers":0,"invalid_cursors":1},"shop":{"calls":0,"sessions":0,"logins":0,"users":0,"bad_logins":0,"cart_adds":0,"addresses":0,"checkouts":0,"orders":0,"empty_carts":0,"stale_addresses":0,"prepaid":1,"errno_nonzero":2,"errno":{"-1":0,"401":0,"402":1,"404":0,"501":1}},"signed":{"calls":0,"accepted":0,"bad_signs":0,"stale":0,"replayed":0}}"#
        );
        assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), s);
    }

    #[test]
    fn every_endpoint_has_its_own_field_and_is_in_the_total() {
        use Endpoint::*;
        let all = [
            Token,
            StableToken,
            Login,
            GoodsList,
            GoodsDetail,
            Profile,
            Order,
            Revoke,
            Stall,
            Blob,
            Slow,
            Page,
            WpLogin,
            WpAdmin,
            WpRest,
            WpAjax,
            WpLogout,
            Other,
        ];
        assert_eq!(all.len(), ENDPOINTS);
        let mut fields = std::collections::BTreeSet::new();
        for e in all {
            let c = Counters::default();
            c.request(e);
            let s = c.snapshot();
            assert_eq!(s.requests_total(), 1, "{e:?}");
            let json = serde_json::to_value(&s.requests).unwrap();
            let hit: Vec<_> = json
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| **v == 1)
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(hit.len(), 1, "{e:?}");
            fields.insert(hit[0].clone());
        }
        assert_eq!(fields.len(), ENDPOINTS);
    }
}
