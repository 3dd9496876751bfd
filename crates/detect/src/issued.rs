//! Values an earlier response issued: correlated, a session token or a platform token, and
//! the common values (a status word every endpoint answers with) that no response issued.

use std::collections::HashSet;

use serde_json::Value;

use crate::classify::{Ctx, Verdict};
use crate::finding::{Class, Origin, Place, Use};
use crate::origin::norm;
use crate::presets;
use crate::rules;
use crate::shape;
use crate::walk;

impl Ctx<'_> {
    /// A value an earlier response issued: correlated, a session token or a platform token.
    /// `None` for a common value: one in many responses (a status word, a version) is not
    /// issued by any of them.
    pub(crate) fn issued(
        &self,
        value: &str,
        uses: &[Use],
        o0: &Origin,
        all: &[Option<Origin>],
    ) -> Option<Verdict> {
        if self.common(value, uses) {
            return None;
        }
        Some(
            self.issued_token(value, uses, o0)
                .unwrap_or_else(|| correlated(value, uses, o0, all)),
        )
    }

    /// Whether the responses before the first use hold `value` so widely that it is a word of
    /// the API rather than something one of them issued.
    fn common(&self, value: &str, uses: &[Use]) -> bool {
        // Counted by endpoint (method and path): the same list fetched twice (pull to refresh)
        // is one holder, so an id it lists does not pass for a status word that every
        // endpoint answers with.
        // Only responses before the first use count: a value the server echoes back in every
        // later response (a REST nonce in a header) was still issued by the first one.
        let first_use = uses.first().map(|u| u.step).unwrap_or(0);
        let endpoint = |s: usize| {
            let url = &self.exchanges[s].request.url;
            let path = url.split(['?', '#']).next().unwrap_or(url);
            (self.exchanges[s].request.method.as_str(), path)
        };
        let holders: HashSet<_> = self
            .index
            .responses_holding(value)
            .into_iter()
            .filter(|&s| s < first_use)
            .map(endpoint)
            .collect();
        let responses: HashSet<_> = self
            .kept
            .iter()
            .filter(|&&s| s < first_use)
            .map(|&s| endpoint(s))
            .collect();
        // Two endpoints suffice for a word (`operation_success`); a machine-made value answered
        // by two (a login and a profile both returning the session) is still issued.
        let many = holders.len() >= 3 || (holders.len() == 2 && !shape::looks_random(value));
        many && holders.len() * 2 >= responses.len()
    }

    /// A token its issuer vouches for: a platform token endpoint's, the `--token-step` step's
    /// or a login's; one origin, the issuing response.
    fn issued_token(&self, value: &str, uses: &[Use], o0: &Origin) -> Option<Verdict> {
        let single = |class, confidence, reason: String| Verdict {
            class,
            confidence,
            reason,
            origins: vec![o0.clone()],
            part: None,
        };
        if let Some(p) = presets::token_endpoint(&self.exchanges[o0.step]) {
            return Some(single(
                Class::PlatformToken,
                95,
                format!("issued by the {p} token endpoint"),
            ));
        }
        if self.forced == Some(o0.step) {
            return Some(single(
                Class::SessionToken,
                95,
                "issued by the --token-step step".into(),
            ));
        }
        let why = self.login_like(value, o0, uses)?;
        Some(single(
            Class::SessionToken,
            90,
            format!("issued by a login: {why}"),
        ))
    }

    /// Why the origin looks like a login, if it does: a login code in its request, a lifetime
    /// beside the value, or a login-like path. The value itself must look like a credential
    /// (an auth-like name where it is issued or used, or a JWT with `exp`): an `openid` a
    /// login also returns is correlated, not a session token.
    fn login_like(&self, value: &str, o: &Origin, uses: &[Use]) -> Option<String> {
        let jwt = shape::jwt_claims(value).is_some_and(|c| c.contains_key("exp"));
        let auth_named = o.place.key().is_some_and(shape::is_auth_name)
            || uses
                .iter()
                .any(|u| u.place.key().is_some_and(shape::is_auth_name));
        if !jwt && !auth_named {
            return None;
        }
        let e = &self.exchanges[o.step];
        let request = walk::request_slots(&e.request);
        if let Some(code) = request
            .iter()
            .filter_map(|s| s.place.key())
            .find(|k| shape::is_login_code_name(k))
        {
            return Some(format!("its request sends `{code}`"));
        }
        if let Some(why) = rules::login::credentials_sent(&request) {
            return Some(why);
        }
        let body = e.response.as_ref().and_then(|r| r.body.as_ref());
        if let Some(sibling) = body
            .and_then(|b| b.as_json())
            .and_then(|j| expiry_sibling(j, value))
        {
            return Some(format!("`{sibling}` beside it"));
        }
        let (path, _) = walk::path_and_query(&e.request.url);
        if shape::is_login_path(path) {
            return Some(format!("a login-like path ({path})"));
        }
        jwt.then(|| "a JWT with `exp`".to_string())
    }
}

/// A value an ordinary response issued: correlated, with every distinct origin of its uses,
/// and a confidence from how unlikely a coincidence is.
fn correlated(value: &str, uses: &[Use], o0: &Origin, all: &[Option<Origin>]) -> Verdict {
    let mut origins: Vec<Origin> = Vec::new();
    for o in all.iter().flatten() {
        if !origins.contains(o) {
            origins.push(o.clone());
        }
    }
    let (confidence, reason) = match &o0.place {
        Place::JsonInString(..) | Place::JwtClaim(..) => (
            50,
            "issued inside a JSON string or JWT: extract it by hand".to_string(),
        ),
        _ if shape::looks_random(value) => (90, "issued by an earlier response".to_string()),
        _ if same_name(value, o0, &uses[0]) => (
            90,
            "issued by an earlier response under the same name".to_string(),
        ),
        _ => (
            55,
            "issued by an earlier response, but word-like: may be a coincidence".to_string(),
        ),
    };
    Verdict {
        class: Class::Correlated,
        confidence,
        reason,
        origins,
        part: None,
    }
}

/// Whether the same name at both ends vouches for a value that is not a plain word (a word
/// under one name in a page and a request is configuration: `user=mitmproxy`); a cookie sent
/// back under the name a response set it by is how cookies work.
fn same_name(value: &str, o0: &Origin, first: &Use) -> bool {
    match (o0.place.key(), first.place.key()) {
        (Some(a), Some(b)) if norm(a) == norm(b) => {
            value.bytes().any(|b| b.is_ascii_digit())
                || matches!(
                    (&o0.place, &first.place),
                    (Place::SetCookie(_), Place::Cookie(_))
                )
        }
        _ => false,
    }
}

/// The name of a lifetime field (or `refresh_token`) beside a string field holding `value`.
fn expiry_sibling(v: &Value, value: &str) -> Option<String> {
    match v {
        Value::Object(map) => {
            if map.values().any(|x| x.as_str() == Some(value)) {
                if let Some(k) = map
                    .keys()
                    .find(|k| shape::is_expiry_name(k) || norm(k) == "refreshtoken")
                {
                    return Some(k.clone());
                }
            }
            map.values().find_map(|x| expiry_sibling(x, value))
        }
        Value::Array(items) => items.iter().find_map(|x| expiry_sibling(x, value)),
        _ => None,
    }
}
