//! Token steps: where session and platform tokens come from, how long they live, and when
//! they must be fetched again.

use std::time::Duration;

use indexmap::IndexMap;
use loadtape_scenario::template::Expr;
use loadtape_scenario::Template;
use loadtape_scenario::{
    BodyTemplate, Expiry, Extractor, JsonRule, JsonTemplate, JsonTest, RefreshOn, RequestTemplate,
    Scope, TokenStep,
};
use serde_json::Value;

use super::{json_path as path, Builder};
use crate::finding::{Class, Finding, Platform};
use crate::presets;
use crate::rules::lifetime;
use crate::shape;
use crate::substitute::Subs;

impl Builder<'_> {
    /// Session- and platform-token origins become token steps; a platform token never
    /// fetched gets WeChat's stable_token step or stays a recorded variable.
    pub(super) fn token_steps(&mut self) {
        let a = self.a;
        let mut by_origin: IndexMap<usize, Vec<&Finding>> = IndexMap::new();
        for f in a.applied().filter(|f| Self::is_token(f)) {
            if self.is_csv(f) {
                // The exchange that fetched it leaves the flow too: the CSV replaces it.
                self.csv_origins.extend(f.origins.iter().map(|o| o.step));
                continue;
            }
            match f.origins.first() {
                Some(o) => by_origin.entry(o.step).or_default().push(f),
                None => self.unfetched_token(f),
            }
            // Fetching it again is the token step's job, not the flow's.
            for again in f.origins.iter().skip(1) {
                self.refetches.insert(again.step);
            }
        }
        // A token request that sends a value an earlier exchange issued (a game's login
        // sends the openId its `wx.login` exchange answered) needs that exchange first: it
        // becomes a per-VU token step of its own, ahead of the one that sends the value.
        let mut prerequisites: Vec<usize> = Vec::new();
        for f in a.applied().filter(|f| f.class == Class::Correlated) {
            for u in f.uses.iter().filter(|u| by_origin.contains_key(&u.step)) {
                let Some(o) = f.origins.iter().rev().find(|o| o.step < u.step) else {
                    continue;
                };
                if !by_origin.contains_key(&o.step) && !prerequisites.contains(&o.step) {
                    prerequisites.push(o.step);
                }
            }
        }
        for p in prerequisites {
            by_origin.entry(p).or_default();
        }
        by_origin.sort_keys();
        self.token_origins.extend(by_origin.keys().copied());
        for (step, findings) in by_origin {
            self.token_step(step, &findings);
        }
    }

    fn is_csv(&self, f: &Finding) -> bool {
        matches!(self.exprs.get(f.variable.as_str()), Some(Expr::Var(v)) if v.starts_with("tokens."))
    }

    fn unfetched_token(&mut self, f: &Finding) {
        let wechat = self.a.mini_program.as_ref().map(|m| m.platform) == Some(Platform::WeChat);
        if !wechat {
            self.variables
                .insert(f.variable.clone(), Template::literal(f.value.clone()));
            let expiry = shape::jwt_claims(&f.value)
                .and_then(|c| c.get("exp").and_then(Value::as_i64))
                .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
                .map(|t| format!(" It expires at {}.", t.to_rfc3339()))
                .unwrap_or_default();
            self.comments.add(
                format!("variables.{}", f.variable),
                format!(
                    "A platform token the recording used but never fetched: the recorded value.{expiry}\n\
                     Use --token-csv FILE for pre-fetched ones, or --token-step STEP for the step issuing it."
                ),
            );
            return;
        }
        self.variables.insert(
            "secret".into(),
            Template::parse("{{ env(\"WX_SECRET\") }}").unwrap_or_default(),
        );
        self.comments.add(
            "variables.secret",
            "The mini program's AppSecret, from the environment: never commit it.",
        );
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": "{{ appid }}",
            "secret": "{{ secret }}",
        });
        let body = JsonTemplate::from_value(&body);
        let body = reparse(body);
        let i = self.tokens.len();
        self.tokens.push(TokenStep {
            name: "stable_token".into(),
            recorded: None,
            scope: Scope::Shared,
            vars: IndexMap::new(),
            request: RequestTemplate {
                method: http::Method::POST,
                url: Template::literal(presets::WECHAT_STABLE_TOKEN_URL),
                headers: vec![("content-type".into(), Template::literal("application/json"))],
                body: Some(BodyTemplate::Json(body)),
            },
            extract: IndexMap::from([
                (f.variable.clone(), json_extractor("$.access_token")),
                ("expires_in".into(), json_extractor("$.expires_in")),
            ]),
            expires_in: Template::parse("{{ expires_in }}s")
                .ok()
                .map(Expiry::Template),
            refresh_before: Some(Duration::from_secs(60)),
            refresh_on: Some(self.refresh_on(Some(Platform::WeChat))),
        });
        self.comments.add(
            format!("tokens[{i}]"),
            format!(
                "`{}` was used but never fetched in the recording: WeChat's stable_token issues it\n\
                 (cgi-bin/token would invalidate the token your production backend holds).\n\
                 PTS method 1: point this at your own token endpoint if you have one.",
                f.variable
            ),
        );
    }

    /// The token step fetching what exchange `step` issues: `findings` are its tokens (none
    /// for a prerequisite exchange), with the lifetime the recording shows when it shows one.
    fn token_step(&mut self, step: usize, findings: &[&Finding]) {
        let e = &self.ex[step];
        let endpoint = presets::token_endpoint(e);
        let shared = findings.iter().all(|f| f.class == Class::PlatformToken)
            && endpoint != Some(Platform::Alipay);
        let mut extract = self.token_extractors(step, findings);
        let Some(first) = findings.first() else {
            return self.prerequisite_step(step, extract);
        };
        let found = self.lifetime(step, findings);
        let expires_in = found.as_ref().and_then(|l| expiry(l, &mut extract));
        let lifetime = found.as_ref().and_then(|l| l.recorded);
        // Short-lived tokens need a margin that fits: a fifth of the lifetime, at most 60 s.
        let refresh_before = lifetime.map(|l| (l / 5).min(Duration::from_secs(60)));
        let platform = endpoint.or(self.a.mini_program.as_ref().map(|m| m.platform));
        let i = self.tokens.len();
        let request = self.request(step, true);
        let vars = self.take_vars(&format!("tokens[{i}]"));
        self.tokens.push(TokenStep {
            name: self.a.steps[step].name.clone(),
            recorded: Some(self.ex[step].id),
            scope: if shared { Scope::Shared } else { Scope::PerVu },
            vars,
            request,
            extract,
            expires_in,
            refresh_before,
            refresh_on: Some(self.refresh_on(platform)),
        });
        self.step_comments(&format!("tokens[{i}]"), step);
        let vars: Vec<&str> = findings.iter().map(|f| f.variable.as_str()).collect();
        self.comments.add(
            format!("tokens[{i}]"),
            format!(
                "Recorded exchange {} ({}): {}.",
                e.id,
                vars.join(", "),
                first.reason
            ),
        );
        self.lifetime_comments(i, found.as_ref());
    }

    /// The extractors of a token step: its tokens, and the correlated values its exchange
    /// issues (the exchange leaves the flow, so nothing else extracts them).
    fn token_extractors(&self, step: usize, findings: &[&Finding]) -> IndexMap<String, Extractor> {
        let mut extract = IndexMap::new();
        for f in findings {
            if let Some(x) = f
                .origins
                .first()
                .and_then(|o| self.extractor(o.step, &o.place, &f.value))
            {
                extract.insert(f.variable.clone(), x);
            }
        }
        for f in self.a.applied().filter(|f| f.class == Class::Correlated) {
            if let Some(o) = f.origins.iter().find(|o| o.step == step) {
                if let Some(x) = self.extractor(o.step, &o.place, &f.value) {
                    extract.insert(f.variable.clone(), x);
                }
            }
        }
        extract
    }

    /// The lifetime exchange `step`'s response states. Every value this exchange issues can
    /// carry it (a login answering a cookie and a token states it beside the token), the
    /// tokens' own first.
    fn lifetime(&self, step: usize, findings: &[&Finding]) -> Option<lifetime::Lifetime> {
        let mut values: Vec<&str> = findings.iter().map(|f| f.value.as_str()).collect();
        for f in self.a.applied() {
            if f.origins.iter().any(|o| o.step == step) && !values.contains(&f.value.as_str()) {
                values.push(&f.value);
            }
        }
        lifetime::find(&self.ex[step], &values)
    }

    /// Where token step `i`'s lifetime came from, or that none did: the reader must know
    /// whether `expires_in` is the recording's guess.
    fn lifetime_comments(&mut self, i: usize, found: Option<&lifetime::Lifetime>) {
        match found {
            Some(l) if l.relative_path.is_none() && !l.jwt => {
                self.comments.add(
                    format!("tokens[{i}].expires_in"),
                    format!("The lifetime the recording shows, from {}.", l.how),
                );
            }
            Some(_) => {}
            None => {
                self.comments.add(
                    format!("tokens[{i}].refresh_on"),
                    "No lifetime was recorded: the token is refreshed only when a response says it is stale.",
                );
            }
        }
    }

    /// An exchange whose values a token request sends: fetched once per VU before it.
    fn prerequisite_step(&mut self, step: usize, extract: IndexMap<String, Extractor>) {
        let i = self.tokens.len();
        let request = self.request(step, true);
        let vars: Vec<&str> = extract.keys().map(String::as_str).collect();
        self.comments.add(
            format!("tokens[{i}]"),
            format!(
                "Recorded exchange {}: issues {}, which the next token step sends.",
                self.ex[step].id,
                vars.join(", ")
            ),
        );
        let vars = self.take_vars(&format!("tokens[{i}]"));
        self.tokens.push(TokenStep {
            name: self.a.steps[step].name.clone(),
            recorded: Some(self.ex[step].id),
            scope: Scope::PerVu,
            vars,
            request,
            extract,
            expires_in: None,
            refresh_before: None,
            refresh_on: None,
        });
        self.step_comments(&format!("tokens[{i}]"), step);
    }

    fn refresh_on(&self, platform: Option<Platform>) -> RefreshOn {
        let mut json = Vec::new();
        if self.errcodes || platform == Some(Platform::WeChat) {
            json.push(JsonRule {
                path: path("$.errcode"),
                test: JsonTest::In(
                    presets::WECHAT_REFRESH_ERRCODES
                        .iter()
                        .map(|&c| c.into())
                        .collect(),
                ),
            });
        }
        // The recording's own business status fields, with the codes that mean "log in again".
        for field in self.business.numeric_paths() {
            if field == "$.errcode" && !json.is_empty() {
                continue;
            }
            json.push(JsonRule {
                path: path(&field),
                test: JsonTest::In(
                    crate::rules::business::AUTH_CODES
                        .iter()
                        .map(|&c| c.into())
                        .collect(),
                ),
            });
        }
        if platform == Some(Platform::Alipay) {
            json.push(JsonRule {
                path: path("$..sub_code"),
                test: JsonTest::In(
                    presets::ALIPAY_REFRESH_SUB_CODES
                        .iter()
                        .map(|&c| c.into())
                        .collect(),
                ),
            });
        }
        RefreshOn {
            status: vec![401],
            json,
        }
    }

    /// A WeChat token request's `secret` becomes the `secret` variable, so it lives in one
    /// place (and can be moved to the environment).
    pub(super) fn secret(&mut self, step: usize, subs: &mut Subs) {
        let e = &self.ex[step];
        if presets::token_endpoint(e) != Some(Platform::WeChat) {
            return;
        }
        let (_, query) = crate::walk::path_and_query(&e.request.url);
        let mut found = crate::walk::pairs(query.unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v);
        if let Some(Value::String(s)) = e
            .request
            .body
            .as_ref()
            .and_then(|b| b.as_json())
            .and_then(|j| j.get("secret"))
        {
            found = Some(s.clone());
        }
        let Some(secret) = found.filter(|s| !s.is_empty()) else {
            return;
        };
        if !self.variables.contains_key("secret") {
            self.variables
                .insert("secret".into(), Template::literal(secret.clone()));
            self.comments.add(
                "variables.secret",
                "The AppSecret as recorded: better '{{ env(\"WX_SECRET\") }}', so it is never committed.",
            );
        }
        subs.add(&secret, Expr::Var("secret".into()));
    }
}

fn json_extractor(p: &str) -> Extractor {
    Extractor::Json(path(p))
}

/// A JSON template whose strings are parsed as templates (what `from_value` leaves literal).
fn reparse(t: JsonTemplate) -> JsonTemplate {
    match t {
        JsonTemplate::String(s) => {
            let text = s.as_literal().unwrap_or_default().to_string();
            JsonTemplate::String(Template::parse(&text).unwrap_or(s))
        }
        JsonTemplate::Array(items) => JsonTemplate::Array(items.into_iter().map(reparse).collect()),
        JsonTemplate::Object(fields) => {
            JsonTemplate::Object(fields.into_iter().map(|(k, v)| (k, reparse(v))).collect())
        }
        other => other,
    }
}

/// A token step's `expires_in` from a found lifetime: extracted at every fetch when the
/// response carries it (adding the `expires_in` extractor), none for a JWT (the engine reads
/// each token's `exp`), else the recorded duration.
fn expiry(l: &lifetime::Lifetime, extract: &mut IndexMap<String, Extractor>) -> Option<Expiry> {
    match &l.relative_path {
        Some(path) => {
            extract.insert("expires_in".into(), json_extractor(path));
            Template::parse("{{ expires_in }}s")
                .ok()
                .map(Expiry::Template)
        }
        None if l.jwt => None,
        None => l.recorded.map(Expiry::Fixed),
    }
}
