//! A small server-rendered web app in WordPress's shape, under `/wp/`: form login with a
//! session cookie, an admin page that issues per-session nonces in its HTML, a REST API that
//! wants the nonce in `X-WP-Nonce` (see `wp_rest.rs`), a multipart ajax endpoint and a logout
//! link with its own nonce.
//!
//! | route                          | needs                              | counted as  |
//! |--------------------------------|------------------------------------|-------------|
//! | `GET /wp/login`                | none (the login form)              | `wp_login`  |
//! | `POST /wp/login`               | form `log`, `pwd`                  | `wp_login`  |
//! | `GET /wp/admin`                | cookie                             | `wp_admin`  |
//! | `POST /wp/json/posts`          | cookie + `X-WP-Nonce`              | `wp_rest`   |
//! | `GET/POST /wp/json/posts/{id}` | cookie + `X-WP-Nonce` + own id     | `wp_rest`   |
//! | `POST /wp/ajax`                | cookie + multipart `_wpnonce`, own `post_ID` | `wp_ajax` |
//! | `GET /wp/logout`               | cookie + `?_wpnonce=`              | `wp_logout` |
//!
//! The session cookie is a self-validating token of [`Kind::WebSession`], living the testbed's
//! token TTL (also stated as the cookie's `Max-Age`); without a valid one the pages redirect to
//! the login form and the API answers 401, each counted as an auth failure. Nonces are an HMAC
//! of the session and the action ([`crate::tokens::Tokens::nonce`]): three per session
//! (`wp_rest`, `edit-posts`, `log-out`), so a nonce recorded in one session is refused in the
//! next, as WordPress refuses it.

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};

use super::business::cookie;
use super::reply::{json, read_bytes, with_headers, Resp, TOO_LARGE};
use super::App;
use crate::body::Body;
use crate::form::Form;
use crate::query;
use crate::stats::{Endpoint, Failure, WebEvent};
use crate::tokens::{constant_time_eq, Kind, TokenError};

/// The session cookie's name (WordPress appends a hash of the site URL).
pub(super) const WP_COOKIE: &str = "wordpress_logged_in_testbed";
/// The only user, and its password.
pub(super) const WP_USER: &str = "admin";
pub(super) const WP_PASSWORD: &str = "testbed-password";

/// Nonce actions.
pub(super) const REST_ACTION: &str = "wp_rest";
pub(super) const EDIT_ACTION: &str = "edit-posts";
const LOGOUT_ACTION: &str = "log-out";

const ADMIN_PAGE: &str = include_str!("webapp.html");
const LOGIN_PAGE: &str = include_str!("webapp_login.html");
const TEST_COOKIE: &str = "wordpress_test_cookie=WP%20Cookie%20check; Path=/wp";
const BAD_LOGIN: &str =
    r#"<div id="login_error"><strong>Error:</strong> The password you entered is incorrect.</div>"#;
const LINK_EXPIRED: &str =
    "<!DOCTYPE html>\n<html><body><p>The link you followed has expired.</p></body></html>\n";
const METHOD_NOT_ALLOWED: &[u8] = br#"{"errcode":405,"errmsg":"method not allowed"}"#;
const NOT_FOUND: &[u8] = br#"{"errcode":404,"errmsg":"not found"}"#;

impl App {
    /// Every `/wp/...` request (`path` is the whole path): counts it and answers it.
    pub(super) async fn webapp<B>(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: Option<&str>,
        body: B,
    ) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (endpoint, allowed): (Endpoint, &[&str]) = match path {
            "/wp/login" => (Endpoint::WpLogin, &["GET", "POST"]),
            "/wp/admin" => (Endpoint::WpAdmin, &["GET"]),
            "/wp/ajax" => (Endpoint::WpAjax, &["POST"]),
            "/wp/logout" => (Endpoint::WpLogout, &["GET"]),
            p if p.starts_with("/wp/json/") => (Endpoint::WpRest, &["GET", "POST"]),
            _ => {
                self.counters.request(Endpoint::Other);
                return json(StatusCode::NOT_FOUND, NOT_FOUND);
            }
        };
        if !allowed.contains(&method.as_str()) {
            self.counters.request(Endpoint::Other);
            return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
        }
        self.counters.request(endpoint);
        match endpoint {
            Endpoint::WpLogin if method == Method::GET => login_page(StatusCode::OK, ""),
            Endpoint::WpLogin => match read_bytes(body).await {
                Ok(b) => self.wp_login(&Form::parse(headers, &b)),
                Err(_) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
            },
            Endpoint::WpAdmin => self.wp_admin(headers),
            Endpoint::WpLogout => self.wp_logout(headers, query),
            Endpoint::WpAjax => match read_bytes(body).await {
                Ok(b) => self.wp_ajax(headers, &Form::parse(headers, &b)),
                Err(_) => json(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE),
            },
            _ => {
                let rest = &path["/wp/json/".len()..];
                self.wp_rest(method, rest, headers, body).await
            }
        }
    }

    /// `POST /wp/login`: the right `log` and `pwd` get a 302 to the admin page (or a
    /// `redirect_to` under `/wp/`) with the session cookie; wrong ones the form again.
    fn wp_login(&self, form: &Form) -> Resp {
        let user_ok = form.get("log") == Some(WP_USER);
        let pwd_ok = form
            .get("pwd")
            .is_some_and(|p| constant_time_eq(p.as_bytes(), WP_PASSWORD.as_bytes()));
        if !(user_ok && pwd_ok) {
            self.counters.failure(Failure::BadCredentials);
            return login_page(StatusCode::OK, BAD_LOGIN);
        }
        let token = self.tokens.issue(Kind::WebSession);
        self.counters.web(WebEvent::Login);
        let to = form
            .get("redirect_to")
            .filter(|t| t.starts_with("/wp/") && !t.contains(['\r', '\n']))
            .unwrap_or("/wp/admin");
        let mut resp = redirect(to);
        let session = format!(
            "{WP_COOKIE}={token}; Max-Age={}; Path=/wp; HttpOnly; SameSite=Lax",
            self.expires_in
        );
        let h = resp.headers_mut();
        h.append(SET_COOKIE, HeaderValue::from_static(TEST_COOKIE));
        // Tokens are base64url, always a valid header value.
        if let Ok(v) = HeaderValue::try_from(session) {
            h.append(SET_COOKIE, v);
        }
        resp
    }

    /// `GET /wp/admin`: the editor page with this session's three nonces.
    fn wp_admin(&self, headers: &HeaderMap) -> Resp {
        let serial = match self.wp_session(headers) {
            Ok(s) => s,
            Err(()) => return redirect("/wp/login?redirect_to=%2Fwp%2Fadmin&reauth=1"),
        };
        let page = ADMIN_PAGE
            .replace("{{rest_nonce}}", &self.tokens.nonce(serial, REST_ACTION))
            .replace("{{edit_nonce}}", &self.tokens.nonce(serial, EDIT_ACTION))
            .replace(
                "{{logout_nonce}}",
                &self.tokens.nonce(serial, LOGOUT_ACTION),
            );
        html_owned(StatusCode::OK, page)
    }

    /// `GET /wp/logout?action=logout&_wpnonce=...`: with this session's logout nonce, a 302 to
    /// the login form that clears the cookie; with any other, WordPress's "link expired" 403.
    fn wp_logout(&self, headers: &HeaderMap, query: Option<&str>) -> Resp {
        let serial = match self.wp_session(headers) {
            Ok(s) => s,
            Err(()) => return redirect("/wp/login"),
        };
        let nonce = query::param(query, "_wpnonce");
        if !self.nonce_ok(serial, LOGOUT_ACTION, nonce.as_deref()) {
            return html_owned(StatusCode::FORBIDDEN, LINK_EXPIRED.to_string());
        }
        self.counters.web(WebEvent::Logout);
        let mut resp = redirect("/wp/login?loggedout=true");
        let clear = format!("{WP_COOKIE}=; Max-Age=0; Path=/wp; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::try_from(clear) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
        resp
    }

    /// The session cookie's serial; a missing, expired, forged or revoked cookie is counted as
    /// an auth failure and is `Err`.
    pub(super) fn wp_session(&self, headers: &HeaderMap) -> Result<u64, ()> {
        let failure =
            match cookie(headers, WP_COOKIE).map(|t| self.tokens.verify(t, Kind::WebSession)) {
                Some(Ok(serial)) => return Ok(serial),
                None => Failure::Missing,
                Some(Err(TokenError::Expired)) => Failure::Expired,
                Some(Err(TokenError::Invalid)) => Failure::Invalid,
                Some(Err(TokenError::Revoked)) => Failure::Revoked,
            };
        self.counters.failure(failure);
        Err(())
    }

    /// Whether `sent` is session `serial`'s nonce for `action`; a wrong or missing one is
    /// counted as a nonce failure.
    pub(super) fn nonce_ok(&self, serial: u64, action: &str, sent: Option<&str>) -> bool {
        let expected = self.tokens.nonce(serial, action);
        let ok = sent.is_some_and(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()));
        if !ok {
            self.counters.web(WebEvent::NonceFailure);
        }
        ok
    }
}

fn login_page(status: StatusCode, message: &str) -> Resp {
    html_owned(status, LOGIN_PAGE.replace("{{message}}", message))
}

pub(super) fn html_owned(status: StatusCode, page: String) -> Resp {
    with_headers(status, "text/html; charset=UTF-8", Body::full(page.into()))
}

/// A 302 to `to` (a path under `/wp/`, checked by the caller to hold no line break).
fn redirect(to: &str) -> Resp {
    let mut resp = with_headers(
        StatusCode::FOUND,
        "text/html; charset=UTF-8",
        Body::full(Bytes::new()),
    );
    if let Ok(v) = HeaderValue::try_from(to) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}
