//! [`analyze`]: from a recording to findings (SPEC §5's table, rule by rule).
//!
//! The pipeline: name the steps and index what every response holds, group the values the
//! requests send (`grouping`), classify each group here, where a value a response issued
//! goes to `issued` and one nothing issued to `unissued`, then name the findings.

use std::cell::RefCell;
use std::collections::HashMap;

use indexmap::IndexMap;
use loadtape_recording::{Exchange, Recording};

use crate::extract;
use crate::filter;
use crate::finding::{
    Analysis, Class, Finding, Gen, MiniProgram, Origin, Place, Platform, StepInfo, Use,
};
use crate::naming::{self, Names};
use crate::origin::{Hit, Index};
use crate::presets;
use crate::rules;
use crate::shape;
use crate::signing::{At, Secret, Signing};
use crate::walk::{self, Kind};

/// What changes the analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep static assets and beacons in the scenario.
    pub keep_static: bool,
    /// A step (by name or recorded exchange id) that is the token step, whatever the rules say.
    pub token_step: Option<String>,
    /// Candidate secrets for the signatures (`--secret-env`): compared with, never written.
    pub secrets: Vec<Secret>,
}

/// A value's class, confidence, reason and origins, before it gets a name.
pub(crate) struct Verdict {
    pub(crate) class: Class,
    pub(crate) confidence: u8,
    pub(crate) reason: String,
    pub(crate) origins: Vec<Origin>,
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
    /// The `--token-step` step, when one is named.
    pub(crate) forced: Option<usize>,
    /// Whether a regex singles out a value in a page, by (step, value): checked once.
    extractable: RefCell<HashMap<(usize, String), bool>>,
    /// The signature fields, with the rules inferred for them.
    signings: Vec<Signing>,
}

/// Finds the tokens of a recording. Fails only when `--token-step` names no step.
pub fn analyze(rec: &Recording, opts: &Options) -> Result<Analysis, String> {
    let exchanges = &rec.exchanges;
    let steps = steps_of(exchanges, opts.keep_static);
    let kept: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].dropped.is_none())
        .collect();
    let forced = forced_step(&steps, opts.token_step.as_deref())?;
    let (index, short) = indexes(exchanges, &kept);
    let cx = Ctx {
        exchanges,
        steps: &steps,
        kept: &kept,
        index,
        short,
        mini: mini_program(exchanges, &kept),
        forced,
        extractable: RefCell::new(HashMap::new()),
        signings: request_signatures(exchanges, &kept, &opts.secrets),
    };
    let mut groups = cx.group_uses();
    // Before the candidates are classified: a short id takes the uses of its prefixed forms
    // out of `groups`.
    let short_ids = rules::short_ids::find(&cx, &mut groups);
    let mut names = Names::for_variables();
    let mut warnings = Vec::new();
    if let Some(tail) = &rec.truncated_tail {
        warnings.push(format!(
            "the recording's last document (line {}) was cut off and is ignored: {}",
            tail.line, tail.reason
        ));
    }
    let mut findings = cx.findings(groups, &mut names, &mut warnings);
    warnings.extend(cx.user_bound_warning());
    for (value, uses, origins) in short_ids {
        findings.push(cx.short_id_finding(value, uses, origins, &mut names));
    }
    let mini_program = cx.mini.clone();
    warnings.extend(cx.signings.iter().filter_map(signing_warning));
    let signings = cx.signings;
    Ok(Analysis {
        name: rec.header.name.clone(),
        steps,
        findings,
        mini_program,
        warnings,
        rows_elsewhere: IndexMap::new(),
        signings,
    })
}

/// The signature fields of the kept exchanges, less wx.getUserInfo's `signature` (login
/// material bound to the user, see `rules::user_bound`: no rule of the request makes it).
fn request_signatures(exchanges: &[Exchange], kept: &[usize], secrets: &[Secret]) -> Vec<Signing> {
    let mut found = crate::signing::infer(exchanges, kept, secrets);
    found.retain(|s| {
        !s.uses.iter().all(|(i, at)| {
            let key = match at {
                At::Query(k) | At::Form(k) | At::Json(k) | At::Xml(k) | At::Header(k) => k,
            };
            rules::user_bound::is_material(&exchanges[*i].request, key)
        })
    });
    found
}

/// What a human must know of a signature field: the secret to set for the run (the rule is
/// listed with the signatures), or that no rule was found.
fn signing_warning(s: &Signing) -> Option<String> {
    match &s.rule {
        Some(r) => r.secret_env.as_ref().map(|e| {
            format!(
                "the signature `{}` of {} is computed with the secret in {e}: set it for the run (the scenario reads it with env(\"{e}\"))",
                s.field, s.endpoint
            )
        }),
        None => Some(format!(
            "signature {}, which the server will reject once the signed values change: write its signing rule as a template (e.g. '{{{{ md5(...) }}}}'), or name the secret with --secret-env NAME",
            s.describe()
        )),
    }
}

/// One step a recorded exchange, named after its URL (ids in it left out) and marked when
/// the filter drops it.
fn steps_of(exchanges: &[Exchange], keep_static: bool) -> Vec<StepInfo> {
    let mut step_names = Names::default();
    let is_id =
        |s: &str| (s.len() >= shape::MIN_LEN && shape::looks_random(s)) || shape::is_uuid(s);
    exchanges
        .iter()
        .map(|e| StepInfo {
            id: e.id,
            name: step_names.unique(&naming::step(
                &e.request.url,
                e.request.body.as_ref().and_then(|b| b.as_text()),
                is_id,
            )),
            dropped: filter::dropped(e, keep_static),
        })
        .collect()
}

/// The step `--token-step` names, by step name or recorded exchange id; the error lists the
/// names, since a typo is the usual reason.
fn forced_step(steps: &[StepInfo], token_step: Option<&str>) -> Result<Option<usize>, String> {
    let Some(s) = token_step else {
        return Ok(None);
    };
    steps
        .iter()
        .position(|st| st.name == s || st.id.to_string() == s)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            format!(
                "--token-step `{s}` names no step (steps: {})",
                names.join(", ")
            )
        })
}

/// The candidate index and the short-id index of the kept exchanges, built in one pass: both
/// need every value sent, so a response that merely echoes a sent value issues nothing.
fn indexes(exchanges: &[Exchange], kept: &[usize]) -> (Index, Index) {
    let mut index = Index::default();
    let mut short = Index::default();
    for &i in kept {
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
    (index, short)
}

/// The mini program the recording is of: from a Referer when one names it, else from the
/// appid a platform token request sends.
fn mini_program(exchanges: &[Exchange], kept: &[usize]) -> Option<MiniProgram> {
    kept.iter()
        .find_map(|&i| presets::mini_program(&exchanges[i]))
        .or_else(|| {
            kept.iter()
                .find_map(|&i| presets::token_request_appid(&exchanges[i]))
        })
}

impl Ctx<'_> {
    /// The findings of the candidate values, each named, with the warnings a human must read;
    /// a token fetched again joins the finding of its first fetch.
    fn findings(
        &self,
        groups: IndexMap<String, Vec<Use>>,
        names: &mut Names,
        warnings: &mut Vec<String>,
    ) -> Vec<Finding> {
        let mut findings: Vec<Finding> = Vec::new();
        for (value, uses) in groups {
            let Some(v) = self.classify(&value, &uses) else {
                continue;
            };
            if let Some(same) = self.same_token(&findings, &v) {
                // The same token fetched again (a re-login, a refresh): one variable, one token
                // step; the later fetch leaves the flow too.
                let f = &mut findings[same];
                f.aliases.push(value);
                f.uses.extend(uses);
                f.origins.extend(v.origins);
                continue;
            }
            let variable = if v.class == Class::AppId {
                "appid".to_string()
            } else {
                names.unique(&self.variable_base(&v, &uses))
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
                evidence: Vec::new(),
            };
            if let Some(w) = self.warning(&f) {
                warnings.push(w);
            }
            findings.push(f);
        }
        findings
    }

    /// The warning for the first kept step that logs in with material bound to the recorded
    /// user: one is enough to say every VU will be that user.
    fn user_bound_warning(&self) -> Option<String> {
        let (i, fields) = self
            .kept
            .iter()
            .map(|&i| (i, rules::user_bound::fields(&self.exchanges[i].request)))
            .find(|(_, f)| !f.is_empty())?;
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        Some(format!(
            "step `{}` logs in with login material bound to the recorded user ({}): loadtape \
             cannot mint it, so every VU will be that one user (carts, orders and per-user limits \
             collide); pass --login-csv FILE for one row per test user (a starter file with the \
             recorded row is written)",
            self.steps[i].name,
            names.join(", ")
        ))
    }

    /// A short id `rules::short_ids` tied to its issuer: correlated, named after the uses.
    fn short_id_finding(
        &self,
        value: String,
        uses: Vec<Use>,
        origins: Vec<Origin>,
        names: &mut Names,
    ) -> Finding {
        let variable = names.unique(&self.variable_base_of(Class::Correlated, &origins, &uses));
        Finding {
            variable,
            class: Class::Correlated,
            value,
            aliases: Vec::new(),
            uses,
            origins,
            confidence: 85,
            reason: "a short id a name or a REST path ties to the response that issued it".into(),
            evidence: Vec::new(),
        }
    }
}

impl Ctx<'_> {
    /// Whether a response hit can be extracted from: a value in a page only when a regex on
    /// a short context singles it out there.
    pub(crate) fn usable(&self, h: &Hit, value: &str) -> bool {
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
    pub(crate) fn origin_of(&self, value: &str, step: usize, key: Option<&str>) -> Option<Origin> {
        self.index
            .origin(value, step, key, &|h, v| self.usable(h, v))
    }

    /// A value's verdict, or `None` when it is no finding. The rules run in the SPEC §5
    /// table's order and the first that answers wins: identity and signing first (they hold
    /// whatever the value's origin), then issued by a response, then what the client makes.
    fn classify(&self, value: &str, uses: &[Use]) -> Option<Verdict> {
        let names: Vec<&str> = uses.iter().filter_map(|u| u.place.key()).collect();
        if self.mini.as_ref().is_some_and(|m| m.appid == value) {
            return Some(Verdict::new(
                Class::AppId,
                95,
                "the mini program's appid, from its Referer",
            ));
        }
        if self.preset_credential(&names, uses) {
            return None;
        }
        if let Some(v) = self.bound_to_recording(uses, &names) {
            return Some(v);
        }
        let first = &uses[0];
        let origins: Vec<Option<Origin>> = uses
            .iter()
            .map(|u| self.origin_of(value, u.step, u.place.key()))
            .collect();
        if let Some(o0) = &origins[0] {
            return self.issued(value, uses, o0, &origins);
        }
        // Sent before any response held it: the client knew it (a device id a response
        // echoes), so nothing issued it.
        let known_before = origins.iter().any(Option::is_some);
        if !known_before && self.index.held_before(value, first.step) {
            return Some(self.held_in_page(value, first.step));
        }
        if let Some(v) = rules::server_session::never_set(&names, uses) {
            return Some(v);
        }
        self.never_issued(value, uses, names, known_before)
    }

    /// Whether the value is a token endpoint's credential: the preset's business (the
    /// `secret` variable), not a finding.
    fn preset_credential(&self, names: &[&str], uses: &[Use]) -> bool {
        names.iter().any(|n| n.eq_ignore_ascii_case("secret"))
            && uses
                .iter()
                .all(|u| presets::token_endpoint(&self.exchanges[u.step]).is_some())
    }

    /// Login material bound to the recorded user, or a signature: neither can be replayed by
    /// correlation, whatever response held the value too.
    fn bound_to_recording(&self, uses: &[Use], names: &[&str]) -> Option<Verdict> {
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
        names.iter().any(|n| shape::is_signature_name(n)).then(|| {
            Verdict::new(
                Class::Generated(Gen::Signature),
                90,
                "a signature parameter: the replay needs its signing rule",
            )
        })
    }

    /// A value an earlier page holds where no usable origin was found: a clock stamp when it
    /// is one, else kept as recorded.
    fn held_in_page(&self, value: &str, step: usize) -> Verdict {
        rules::clock::embedded(value, self.exchanges[step].started).unwrap_or_else(|| {
            Verdict::new(
                Class::Static,
                40,
                "an earlier page holds it, but no short context singles it out there: kept as \
                 recorded (extract it by hand with a regex if the replay needs it)",
            )
        })
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

    /// Whether a field of the signature search covers the value at `place` of `step`.
    fn signs(&self, step: usize, place: &Place) -> bool {
        let same = |at: &At| match (at, place) {
            (At::Query(a), Place::Query(b)) | (At::Form(a), Place::Form(b)) => a == b,
            (At::Header(a), Place::Header(b)) => a.eq_ignore_ascii_case(b),
            (At::Json(a), Place::Json(b)) => format!("${}", walk::key_step(a)) == *b,
            _ => false,
        };
        self.signings
            .iter()
            .any(|s| s.uses.iter().any(|(i, at)| *i == step && same(at)))
    }

    /// What a human must decide about a finding.
    fn warning(&self, f: &Finding) -> Option<String> {
        let step = &self.steps[f.uses[0].step].name;
        let place = &f.uses[0].place;
        match f.class {
            // Said once per field, with the rule or the schemes tried (`signing_warning`).
            Class::Generated(Gen::Signature) if self.signs(f.uses[0].step, place) => None,
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
