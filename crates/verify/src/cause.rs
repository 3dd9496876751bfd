//! Why the first diverging step diverged. Each rule looks for evidence in what was sent and
//! answered, in the order a cause explains the most: a token step that failed; a value this
//! request sent as recorded that an earlier recorded answer issued and whose live
//! counterpart differs (an extractor is missing); a value that looks generated (a clock, a
//! nonce); a result field that says the token expired; a signature.

use std::collections::HashMap;

use loadtape_detect::shape::{is_hex32, is_uuid, timestamp, TimeUnit};
use loadtape_detect::{Fact, Gen};
use loadtape_engine::Observed;
use loadtape_recording::Exchange;
use loadtape_scenario::Scenario;

use crate::compare::{live_json, RESULT_FIELDS};
use crate::report::StepResult;
use crate::values::{self, Sent};

/// Result codes that say a token was refused (WeChat's and the common 401).
const TOKEN_CODES: &[(&str, &str)] = &[
    ("42001", "the access token expired"),
    ("40001", "the access token is invalid or was revoked"),
    ("40014", "the access token is not one the server issued"),
    ("41001", "the access token is missing"),
];

/// The likely cause of a divergence, with the evidence and the fix when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The step that diverged first.
    pub step: String,
    /// The cause in one line.
    pub summary: String,
    /// What shows it: values and where they are.
    pub evidence: Vec<String>,
    /// The scenario edit that fixes it, when one is known.
    pub fix: Option<Fix>,
    /// What to do when there is no [`Fix`].
    pub advice: Option<String>,
}

/// A scenario edit that fixes a divergence.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Take `value`'s live counterpart from `step`'s answer and send that instead.
    AddExtractor {
        /// The step whose answer issues the value.
        step: String,
        /// That step's recorded exchange.
        issuer: Option<u64>,
        /// The new variable.
        variable: String,
        /// Where the value is in that answer.
        json_path: String,
        /// The recorded value the later step sends verbatim.
        value: String,
    },
    /// Send a fresh value each time instead of the recorded one.
    Generate {
        /// The recorded value.
        value: String,
        /// The template that makes a fresh one (`{{ now_ms() }}`).
        template: String,
        /// What that template is, as `convert` knows generators.
        generator: Gen,
    },
}

impl Fix {
    /// The edit, as a person applies it.
    pub fn edit(&self, diverged: &str) -> String {
        match self {
            Fix::AddExtractor {
                step,
                variable,
                json_path,
                value,
                ..
            } => format!(
                "add extractor `{variable}` on step `{step}`: {{json: '{json_path}'}}, and in step `{diverged}` replace `{value}` with '{{{{ {variable} }}}}'"
            ),
            Fix::Generate {
                value, template, ..
            } => {
                format!("in step `{diverged}` replace `{value}` with '{template}'")
            }
        }
    }
}

impl Cause {
    /// The fix as evidence `convert` can apply (`convert --verify`), when there is one.
    pub fn fact(&self) -> Option<Fact> {
        let why = format!("verify: {}", self.summary);
        match self.fix.as_ref()? {
            Fix::AddExtractor {
                issuer,
                variable,
                json_path,
                value,
                ..
            } => Some(Fact::Issued {
                value: value.clone(),
                issuer: (*issuer)?,
                json_path: json_path.clone(),
                variable: Some(variable.clone()),
                why: format!("{why} (the live answer held another value at {json_path})"),
            }),
            Fix::Generate {
                value, generator, ..
            } => Some(Fact::Generated {
                value: value.clone(),
                generator: *generator,
                why,
            }),
        }
    }
}

/// What the analysis reads.
pub(crate) struct Context<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) by_id: &'a HashMap<u64, &'a Exchange>,
    pub(crate) live: &'a HashMap<&'a str, &'a Observed>,
    pub(crate) steps: &'a [StepResult],
}

pub(crate) fn analyse(ctx: &Context<'_>, at: usize) -> Cause {
    let step = &ctx.steps[at];
    let mut cause = Cause {
        step: step.name.clone(),
        summary: String::new(),
        evidence: step.reasons.clone(),
        fix: None,
        advice: None,
    };
    if step.token {
        cause.summary = format!("token step `{}` failed", step.name);
        if let Some(text) = live_text(ctx, &step.name) {
            cause.evidence.push(format!("live answer: {text}"));
        }
        cause.advice = Some(
            "check the token step's credentials (appid, secret, login code) against the target"
                .into(),
        );
        return cause;
    }
    let (Some(live), Some(rec)) = (
        ctx.live.get(step.name.as_str()),
        step.recorded.and_then(|id| ctx.by_id.get(&id)),
    ) else {
        cause.summary = format!("step `{}` answered differently", step.name);
        return cause;
    };
    let recorded = values::recorded_request(&rec.request);
    let verbatim: Vec<Sent> = values::live_request(live)
        .into_iter()
        .filter(|s| recorded.contains(s))
        .collect();
    if let Some(c) = issued(ctx, rec, &verbatim, &step.name) {
        return c;
    }
    if let Some(c) = generated(rec, &verbatim, &step.name) {
        return c;
    }
    if let Some(c) = named_by_answer(ctx, &verbatim, &step.name) {
        return c;
    }
    token_code(ctx, &mut cause);
    if cause.summary.is_empty() {
        signature(&verbatim, &mut cause);
    }
    if cause.summary.is_empty() {
        cause.summary = format!("step `{}` answered differently; no cause found", step.name);
    }
    cause
}

/// The first 200 characters of a step's live answer.
fn live_text(ctx: &Context<'_>, step: &str) -> Option<String> {
    let o = ctx.live.get(step)?;
    let a = o.outcome.as_ref().ok()?;
    let body = crate::compare::live_body(a);
    let text = String::from_utf8_lossy(&body);
    Some(text.chars().take(200).collect())
}

/// A value sent as recorded that an earlier recorded answer issued, at a place where the
/// live answer of that same step has another value.
fn issued(ctx: &Context<'_>, rec: &Exchange, verbatim: &[Sent], diverged: &str) -> Option<Cause> {
    for earlier in ctx.steps {
        if earlier.name == diverged {
            break;
        }
        let Some(e) = earlier.recorded.and_then(|id| ctx.by_id.get(&id)) else {
            continue;
        };
        let (Some(rec_json), Some(live)) = (
            e.response
                .as_ref()
                .and_then(|r| r.body.as_ref())
                .and_then(|b| b.as_json()),
            ctx.live.get(earlier.name.as_str()),
        ) else {
            continue;
        };
        let Some(live_json) = live.outcome.as_ref().ok().and_then(live_json) else {
            continue;
        };
        for (path, value) in values::leaves(rec_json) {
            let Some(sent) = verbatim
                .iter()
                .find(|s| s.value == value && value.len() >= 2)
            else {
                continue;
            };
            let now = values::at(&live_json, &path);
            if now.as_deref() == Some(value.as_str()) || now.is_none() {
                continue;
            }
            let mut variable = values::variable_for(&path, &sent.key);
            if variable == "id" {
                variable = format!("{}_id", earlier.name);
            }
            let live_value = now.unwrap_or_default();
            let _ = rec;
            return Some(Cause {
                step: diverged.to_string(),
                summary: format!(
                    "`{value}` is sent as recorded, but `{}` issues a new value each session",
                    earlier.name
                ),
                evidence: vec![
                    format!(
                        "recorded: step `{}` answered {path} = {value}",
                        earlier.name
                    ),
                    format!(
                        "live: step `{}` answered {path} = {live_value}",
                        earlier.name
                    ),
                    format!("step `{diverged}` sent the recorded {value} ({})", sent.key),
                ],
                fix: Some(Fix::AddExtractor {
                    step: earlier.name.clone(),
                    issuer: earlier.recorded,
                    variable,
                    json_path: path,
                    value,
                }),
                advice: None,
            });
        }
    }
    None
}

/// A value sent as recorded that looks made by the client: a clock reading or a nonce.
fn generated(rec: &Exchange, verbatim: &[Sent], diverged: &str) -> Option<Cause> {
    for s in verbatim {
        let (what, template, generator) = if let Some(unit) = timestamp(&s.value, rec.started) {
            let (f, g) = match unit {
                TimeUnit::Ms => ("now_ms", Gen::TimestampMs),
                TimeUnit::S => ("now_s", Gen::TimestampS),
            };
            ("a clock reading", format!("{{{{ {f}() }}}}"), g)
        } else if is_uuid(&s.value) {
            ("a nonce (a UUID)", "{{ uuid() }}".to_string(), Gen::Uuid)
        } else if is_hex32(&s.value) {
            ("a nonce", "{{ md5(uuid()) }}".to_string(), Gen::Nonce)
        } else if s.key.contains("nonce") {
            ("a nonce", "{{ uuid() }}".to_string(), Gen::Nonce)
        } else {
            continue;
        };
        return Some(Cause {
            step: diverged.to_string(),
            summary: format!(
                "`{}` ({}) looks like {what}, sent as recorded",
                s.value, s.key
            ),
            evidence: vec![format!(
                "recorded at {}: {} = {}",
                rec.started.to_rfc3339(),
                s.key,
                s.value
            )],
            fix: Some(Fix::Generate {
                value: s.value.clone(),
                template,
                generator,
            }),
            advice: None,
        });
    }
    None
}

/// The fields an answer explains a refusal in.
const MESSAGE_FIELDS: &[&str] = &[
    "errmsg",
    "msg",
    "message",
    "err_code_des",
    "error",
    "errMsg",
];

/// A value sent as recorded whose name the live answer's message names (`out_trade_no has
/// been used`): the server refuses that very value. When it looks made by the client (all
/// digits: an order or request serial; random letters and digits: a nonce), the fix is a
/// fresh one per request.
fn named_by_answer(ctx: &Context<'_>, verbatim: &[Sent], diverged: &str) -> Option<Cause> {
    let json = ctx
        .live
        .get(diverged)
        .and_then(|o| o.outcome.as_ref().ok())
        .and_then(live_json)?;
    let message: Vec<String> = MESSAGE_FIELDS
        .iter()
        .filter_map(|f| json.get(*f).and_then(|v| v.as_str()))
        .map(str::to_string)
        .collect();
    let said = message.join("; ");
    let s = verbatim
        .iter()
        .find(|s| s.key.len() >= 3 && said.to_ascii_lowercase().contains(&s.key))?;
    let mut cause = Cause {
        step: diverged.to_string(),
        summary: format!(
            "the answer names `{}`, which is sent as recorded ({})",
            s.key, s.value
        ),
        evidence: vec![format!("live answer: {said}")],
        fix: None,
        advice: None,
    };
    let digits = s.value.bytes().all(|b| b.is_ascii_digit());
    let random = s.value.len() >= 8 && s.value.bytes().all(|b| b.is_ascii_alphanumeric());
    let template = if digits {
        loadtape_detect::serial_template(&s.value).map(|t| (t, Gen::Serial))
    } else if random {
        Some(("{{ uuid() }}".to_string(), Gen::Nonce))
    } else {
        None
    };
    match template {
        Some((template, generator)) => {
            cause.fix = Some(Fix::Generate {
                value: s.value.clone(),
                template,
                generator,
            });
        }
        None => {
            cause.advice = Some(format!(
                "the server refuses the recorded `{}`: make it fresh per request (a data file or a generator)",
                s.key
            ));
        }
    }
    Some(cause)
}

/// A result field that now says the token was refused.
fn token_code(ctx: &Context<'_>, cause: &mut Cause) {
    let Some(json) = ctx
        .live
        .get(cause.step.as_str())
        .and_then(|o| o.outcome.as_ref().ok())
        .and_then(live_json)
    else {
        return;
    };
    for field in RESULT_FIELDS {
        let Some(v) = json.get(*field).map(|v| v.to_string()) else {
            continue;
        };
        if let Some((code, meaning)) = TOKEN_CODES.iter().find(|(c, _)| *c == v) {
            let tokens: Vec<&str> = ctx
                .scenario
                .tokens
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            cause.summary = format!("{field} {code}: {meaning}");
            cause.advice = Some(format!(
                "the token lives shorter than the scenario thinks: give token step{} `{}` a shorter `expires_in`, and add {code} to its `refresh_on`",
                if tokens.len() == 1 { "" } else { "s" },
                tokens.join("`, `")
            ));
            return;
        }
    }
}

fn signature(verbatim: &[Sent], cause: &mut Cause) {
    if let Some(s) = verbatim.iter().find(|s| s.key.contains("sign")) {
        cause.summary = format!("`{}` looks like a signature, sent as recorded", s.key);
        cause.advice = Some(format!(
            "replace `{}` with its signing rule, e.g. '{{{{ md5(appid + now_ms() + secret) }}}}'",
            s.key
        ));
    }
}
