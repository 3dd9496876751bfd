//! [`analyze`]: from a recording to findings (SPEC §5's table, rule by rule).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use loadtape_recording::{Exchange, Recording};
use serde_json::Value;

use crate::extract;
use crate::filter;
use crate::finding::{
    Analysis, Class, Finding, Gen, MiniProgram, Origin, Place, Platform, StepInfo, Use,
};
use crate::naming::{self, Names};
use crate::origin::{norm, Hit, Index};
use crate::presets;
use crate::rules;
use crate::shape::{self, TimeUnit};
use crate::walk::{self, Kind};

/// What changes the analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep static assets and beacons in the scenario.
    pub keep_static: bool,
    /// A step (by name or recorded exchange id) that is the token step, whatever the rules say.
    pub token_step: Option<String>,
}

/// A value's class, confidence, reason and origins, before it gets a name.
pub(crate) struct Verdict {
    class: Class,
    confidence: u8,
    reason: String,
    origins: Vec<Origin>,
    /// The part of the value the class is about (the clock in `1698345365:10`), when not all.
    pub(crate) part: Option<String>,
}

impl Verdict {
    pub(crate) fn new(class: Class, confidence: u8, reason: impl Into<String>) -> Verdict {
        Verdict {
            class,
            confidence,
            reason: reason.into(),
            origins: Vec::new(),
            part: None,
        }
    }
}

/// Everything classification looks at.
pub(crate) struct Ctx<'a> {
    pub exchanges: &'a [Exchange],
    pub steps: &'a [StepInfo],
    pub kept: &'a [usize],
    pub index: Index,
    /// Short ids (see `rules::short_ids`), indexed apart: never matched without a name.
    pub short: Index,
    mini: Option<MiniProgram>,
    forced: Option<usize>,
    /// Whether a regex singles out a value in a page, by (step, value): checked once.
    extractable: RefCell<HashMap<(usize, String), bool>>,
}

/// Finds the tokens of a recording. Fails only when `--token-step` names no step.
pub fn analyze(rec: &Recording, opts: &Options) -> Result<Analysis, String> {
    let exchanges = &rec.exchanges;
    let mut step_names = Names::default();
    let is_id =
        |s: &str| (s.len() >= shape::MIN_LEN && shape::looks_random(s)) || shape::is_uuid(s);
    let steps: Vec<StepInfo> = exchanges
        .iter()
        .map(|e| StepInfo {
            id: e.id,
            name: step_names.unique(&naming::step(
                &e.request.url,
                e.request.body.as_ref().and_then(|b| b.as_text()),
                is_id,
            )),
            dropped: filter::dropped(e, opts.keep_static),
        })
        .collect();
    let kept: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].dropped.is_none())
        .collect();
    let forced = match &opts.token_step {
        None => None,
        Some(s) => Some(
            steps
                .iter()
                .position(|st| st.name == *s || st.id.to_string() == *s)
                .ok_or_else(|| {
                    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
                    format!(
                        "--token-step `{s}` names no step (steps: {})",
                        names.join(", ")
                    )
                })?,
        ),
    };
    let mut index = Index::default();
    let mut short = Index::default();
    for &i in &kept {
        let req = &exchanges[i].request;
        for kind in [Kind::Candidate, Kind::ShortId] {
            for slot in walk::request_slots_of(req, kind) {
                index.sent(i, &slot.value);
                short.sent(i, &slot.value);
            }
        }
        if let Some(resp) = &exchanges[i].response {
            index.add(i, walk::response_slots(resp), walk::text_body(resp));
            short.add(i, walk::response_slots_of(resp, Kind::ShortId), None);
        }
    }
    let mini = kept
        .iter()
        .find_map(|&i| presets::mini_program(&exchanges[i]))
        .or_else(|| {
            kept.iter()
                .find_map(|&i| presets::token_request_appid(&exchanges[i]))
        });
    let cx = Ctx {
        exchanges,
        steps: &steps,
        kept: &kept,
        index,
        short,
        mini,
        forced,
        extractable: RefCell::new(HashMap::new()),
    };
    let mut groups = cx.group_uses();
    let short_ids = rules::short_ids::find(&cx, &mut groups);
    let mut names = Names::for_variables();
    let mut findings = Vec::new();
    let mut warnings = Vec::new();
    if let Some(tail) = &rec.truncated_tail {
        warnings.push(format!(
            "the recording's last document (line {}) was cut off and is ignored: {}",
            tail.line, tail.reason
        ));
    }
    for (value, uses) in groups {
        let Some(v) = cx.classify(&value, &uses) else {
            continue;
        };
        if let Some(same) = cx.same_token(&findings, &v) {
            // The same token fetched again (a re-login, a refresh): one variable, one token
            // step; the later fetch leaves the flow too.
            let f: &mut Finding = &mut findings[same];
            f.aliases.push(value);
            f.uses.extend(uses);
            f.origins.extend(v.origins);
            continue;
        }
        let variable = if v.class == Class::AppId {
            "appid".to_string()
        } else {
            names.unique(&cx.variable_base(&v, &uses))
        };
        let f = Finding {
            variable,
            class: v.class,
            value: v.part.unwrap_or(value),
            aliases: Vec::new(),
            uses,
            origins: v.origins,
            confidence: v.confidence,
            reason: v.reason,
        };
        if let Some(w) = cx.warning(&f) {
            warnings.push(w);
        }
        findings.push(f);
    }
    if let Some((i, fields)) = kept
        .iter()
        .map(|&i| (i, rules::user_bound::fields(&exchanges[i].request)))
        .find(|(_, f)| !f.is_empty())
    {
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        warnings.push(format!(
            "step `{}` logs in with login material bound to the recorded user ({}): loadtape \
             cannot mint it, so every VU will be that one user (carts, orders and per-user limits \
             collide); pass --login-csv FILE for one row per test user (a starter file with the \
             recorded row is written)",
            steps[i].name,
            names.join(", ")
        ));
    }
    for (value, uses, origins) in short_ids {
        let variable = names.unique(&cx.variable_base_of(Class::Correlated, &origins, &uses));
        findings.push(Finding {
            variable,
            class: Class::Correlated,
            value,
            aliases: Vec::new(),
            uses,
            origins,
            confidence: 85,
            reason: "a short id a name or a REST path ties to the response that issued it".into(),
        });
    }
    let mini_program = cx.mini.clone();
    drop(cx);
    Ok(Analysis {
        name: rec.header.name.clone(),
        steps,
        findings,
        mini_program,
        warnings,
    })
}

impl Ctx<'_> {
    /// Whether a response hit can be extracted from: a value in a page only when a regex on
    /// a short context singles it out there.
    pub fn usable(&self, h: &Hit, value: &str) -> bool {
        if !matches!(h.place, Place::Text | Place::TextField(_)) {
            return true;
        }
        let held = h.raw.as_deref().unwrap_or(value);
        let key = (h.step, held.to_string());
        if let Some(&ok) = self.extractable.borrow().get(&key) {
            return ok;
        }
        let ok = self.exchanges[h.step]
            .response
            .as_ref()
            .and_then(walk::text_body)
            .is_some_and(|t| extract::text_regex(t, held, h.place.key()).is_some());
        self.extractable.borrow_mut().insert(key, ok);
        ok
    }

    /// The origin of a value used at `step`, from the candidate index.
    pub fn origin_of(&self, value: &str, step: usize, key: Option<&str>) -> Option<Origin> {
        self.index
            .origin(value, step, key, &|h, v| self.usable(h, v))
    }

    fn classify(&self, value: &str, uses: &[Use]) -> Option<Verdict> {
        let names: Vec<&str> = uses.iter().filter_map(|u| u.place.key()).collect();
        let any_name = |f: fn(&str) -> bool| names.iter().any(|n| f(n));
        if self.mini.as_ref().is_some_and(|m| m.appid == value) {
            return Some(Verdict::new(
                Class::AppId,
                95,
                "the mini program's appid, from its Referer",
            ));
        }
        // A token endpoint's credentials are the preset's business (the `secret` variable).
        if names.iter().any(|n| n.eq_ignore_ascii_case("secret"))
            && uses
                .iter()
                .all(|u| presets::token_endpoint(&self.exchanges[u.step]).is_some())
        {
            return None;
        }
        let user_bound = uses.iter().any(|u| {
            u.place
                .key()
                .is_some_and(|k| rules::user_bound::is_material(&self.exchanges[u.step].request, k))
        });
        if user_bound {
            return Some(Verdict::new(
                Class::Static,
                40,
                "login material that ties the session to the recorded user (wx.getUserInfo / \
                 getPhoneNumber): loadtape cannot mint it; --login-csv FILE gives each VU its own",
            ));
        }
        if any_name(shape::is_signature_name) {
            return Some(Verdict::new(
                Class::Generated(Gen::Signature),
                90,
                "a signature parameter: the replay needs its signing rule",
            ));
        }
        let first = &uses[0];
        let origins: Vec<Option<Origin>> = uses
            .iter()
            .map(|u| self.origin_of(value, u.step, u.place.key()))
            .collect();
        let mut known_before = false;
        if let Some(o0) = &origins[0] {
            return self.issued(value, uses, o0, &origins);
        } else if origins.iter().any(Option::is_some) {
            // Sent before any response held it: the client knew it (a device id a response
            // echoes), so nothing issued it.
            known_before = true;
        }
        if !known_before && self.index.held_before(value, first.step) {
            if let Some(v) = rules::clock::embedded(value, self.exchanges[first.step].started) {
                return Some(v);
            }
            return Some(Verdict::new(
                Class::Static,
                40,
                "an earlier page holds it, but no short context singles it out there: kept as \
                 recorded (extract it by hand with a regex if the replay needs it)",
            ));
        }
        if let Some(v) = rules::server_session::never_set(&names, uses) {
            return Some(v);
        }
        let at = self.exchanges[first.step].started;
        let steps_using = {
            let mut s: Vec<usize> = uses.iter().map(|u| u.step).collect();
            s.dedup();
            s.len()
        };
        if any_name(shape::is_login_code_name) && !known_before {
            return Some(Verdict::new(
                Class::Generated(Gen::LoginCode),
                85,
                "a login code (wx.login / my.getAuthCode): single-use, never issued by a response",
            ));
        }
        if let Some(unit) = shape::timestamp(value, at) {
            let (gen, what) = match unit {
                TimeUnit::Ms => (Gen::TimestampMs, "milliseconds"),
                TimeUnit::S => (Gen::TimestampS, "seconds"),
            };
            let confidence = if any_name(shape::is_time_name) {
                95
            } else {
                80
            };
            return Some(Verdict::new(
                Class::Generated(gen),
                confidence,
                format!("a Unix time in {what} within a day of the capture"),
            ));
        }
        if let Some(v) = rules::clock::embedded(value, at) {
            return Some(v);
        }
        let everywhere = self.kept.len() >= 3 && steps_using * 5 >= self.kept.len() * 4;
        if any_name(shape::is_nonce_name) && shape::looks_random(value) && steps_using == 1 {
            return Some(Verdict::new(
                Class::Generated(Gen::Nonce),
                90,
                "a nonce parameter with a random value",
            ));
        }
        if shape::is_uuid(value) {
            if steps_using == 1 {
                return Some(Verdict::new(
                    Class::Generated(Gen::Uuid),
                    85,
                    "a UUID sent once: a fresh one per request",
                ));
            }
            if !everywhere {
                return Some(Verdict::new(
                    Class::Static,
                    40,
                    format!("the same UUID in {steps_using} requests: a device or trace id? kept"),
                ));
            }
        }
        let auth_named = any_name(shape::is_auth_name);
        let jwt = shape::jwt_claims(value).is_some();
        if (auth_named || jwt) && !known_before {
            let mut v = Verdict::new(
                Class::PlatformToken,
                85,
                if jwt {
                    "a JWT used but never issued in the recording"
                } else {
                    "an auth-named value used but never issued in the recording"
                },
            );
            if let Some(o) = self.forced_origin(&names) {
                v.reason = "taken from the --token-step step".into();
                v.origins.push(o);
            }
            return Some(v);
        }
        if everywhere || known_before {
            return None;
        }
        shape::is_high_entropy(value).then(|| {
            Verdict::new(
                Class::Static,
                40,
                "high-entropy but never issued and not auth-named: a token? kept as recorded",
            )
        })
    }

    /// A value an earlier response issued: correlated, a session token or a platform token.
    /// `None` for a common value: one in many responses (a status word, a version) is not
    /// issued by any of them.
    fn issued(
        &self,
        value: &str,
        uses: &[Use],
        o0: &Origin,
        all: &[Option<Origin>],
    ) -> Option<Verdict> {
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
        if many && holders.len() * 2 >= responses.len() {
            return None;
        }
        let origin_ex = &self.exchanges[o0.step];
        let single = |class, confidence, reason: String| Verdict {
            class,
            confidence,
            reason,
            origins: vec![o0.clone()],
            part: None,
        };
        if let Some(p) = presets::token_endpoint(origin_ex) {
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
        if let Some(why) = self.login_like(value, o0, uses) {
            return Some(single(
                Class::SessionToken,
                90,
                format!("issued by a login: {why}"),
            ));
        }
        let mut origins: Vec<Origin> = Vec::new();
        for o in all.iter().flatten() {
            if !origins.contains(o) {
                origins.push(o.clone());
            }
        }
        // The same name at both ends vouches for a value that is not a plain word (a word
        // under one name in a page and a request is configuration: `user=mitmproxy`); a
        // cookie sent back under the name a response set it by is how cookies work.
        let same_name = match (o0.place.key(), uses[0].place.key()) {
            (Some(a), Some(b)) if norm(a) == norm(b) => {
                value.bytes().any(|b| b.is_ascii_digit())
                    || matches!(
                        (&o0.place, &uses[0].place),
                        (Place::SetCookie(_), Place::Cookie(_))
                    )
            }
            _ => false,
        };
        let (confidence, reason) = match &o0.place {
            Place::JsonInString(..) | Place::JwtClaim(..) => (
                50,
                "issued inside a JSON string or JWT: extract it by hand".to_string(),
            ),
            _ if shape::looks_random(value) => (90, "issued by an earlier response".to_string()),
            _ if same_name => (
                90,
                "issued by an earlier response under the same name".to_string(),
            ),
            _ => (
                55,
                "issued by an earlier response, but word-like: may be a coincidence".to_string(),
            ),
        };
        Some(Verdict {
            class: Class::Correlated,
            confidence,
            reason,
            origins,
            part: None,
        })
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

    /// An earlier token finding issued by the same endpoint at the same place as `v`.
    fn same_token(&self, findings: &[Finding], v: &Verdict) -> Option<usize> {
        let tokenish = |c: Class| matches!(c, Class::SessionToken | Class::PlatformToken);
        let o = v.origins.first().filter(|_| tokenish(v.class))?;
        let endpoint = |step: usize| {
            let r = &self.exchanges[step].request;
            (r.method.clone(), walk::path_and_query(&r.url).0.to_string())
        };
        findings.iter().position(|f| {
            f.class == v.class
                && f.origins
                    .first()
                    .is_some_and(|fo| fo.place == o.place && endpoint(fo.step) == endpoint(o.step))
        })
    }

    /// For a never-issued token under `--token-step`: the forced step's response field going
    /// by one of the use's names.
    fn forced_origin(&self, names: &[&str]) -> Option<Origin> {
        let step = self.forced?;
        let resp = self.exchanges[step].response.as_ref()?;
        let slots = walk::response_slots(resp);
        let wanted: Vec<String> = names.iter().map(|n| norm(n)).collect();
        slots
            .iter()
            .find(|s| s.place.key().is_some_and(|k| wanted.contains(&norm(k))))
            .or_else(|| {
                slots
                    .iter()
                    .find(|s| s.place.key().is_some_and(shape::is_auth_name))
            })
            .map(|s| Origin {
                step,
                place: s.place.clone(),
            })
    }

    /// The name a finding's variable starts from.
    fn variable_base(&self, v: &Verdict, uses: &[Use]) -> String {
        self.variable_base_of(v.class, &v.origins, uses)
    }

    pub(crate) fn variable_base_of(
        &self,
        class: Class,
        origins: &[Origin],
        uses: &[Use],
    ) -> String {
        let use_key = uses.iter().find_map(|u| u.place.key());
        let origin_key = origins.first().and_then(|o| o.place.key());
        let tokenish = matches!(class, Class::SessionToken | Class::PlatformToken);
        let ordered = if tokenish {
            [origin_key, use_key]
        } else {
            [use_key, origin_key]
        };
        if let Some(n) = ordered
            .into_iter()
            .flatten()
            .filter(|k| !naming::is_generic(k))
            .find_map(naming::variable)
        {
            return n;
        }
        let key = origin_key.or(use_key).and_then(naming::variable);
        match (origins.first(), key) {
            (Some(o), Some(k)) => format!("{}_{k}", self.steps[o.step].name),
            (None, Some(k)) => k,
            (Some(o), None) => format!("{}_value", self.steps[o.step].name),
            (None, None) => if tokenish { "token" } else { "value" }.to_string(),
        }
    }

    /// What a human must decide about a finding.
    fn warning(&self, f: &Finding) -> Option<String> {
        let step = &self.steps[f.uses[0].step].name;
        let place = &f.uses[0].place;
        match f.class {
            Class::Generated(Gen::Signature) => Some(format!(
                "`{}` ({place} of step `{step}`) is a signature: the replay needs its signing rule \
                 (write it as a template, e.g. '{{{{ md5(...) }}}}'); it is sent as recorded, which \
                 the server will reject once the signed values change",
                f.variable
            )),
            Class::Generated(Gen::LoginCode) => Some(format!(
                "`{}` ({place} of step `{step}`) is a login code the super app mints once per login; \
                 loadtape cannot mint one, so it becomes '{{{{ uuid() }}}}', which works only against \
                 a backend (or test login endpoint) that accepts any code; otherwise pass \
                 pre-fetched tokens with --token-csv FILE",
                f.variable
            )),
            Class::PlatformToken if f.origins.is_empty() && f.applied() => {
                let how = match self.mini.as_ref().map(|m| m.platform) {
                    Some(Platform::WeChat) => {
                        "a WeChat stable_token step is generated (set WX_SECRET)"
                    }
                    _ => "the recorded value is kept as a variable until it expires",
                };
                Some(format!(
                    "`{}` ({place} of step `{step}`) is a platform token the recording never fetched: \
                     {how}; pass --token-csv FILE for pre-fetched tokens, or --token-step STEP for \
                     the step that issues it",
                    f.variable
                ))
            }
            _ => None,
        }
    }
}

/// The name of a lifetime field (or `refresh_token`) beside a string field holding `value`.
pub(crate) fn expiry_sibling(v: &Value, value: &str) -> Option<String> {
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
