//! [`convert`]: an analysis and its recording become a `scenario/v1` scenario, commented
//! where a human has to decide.

mod groups;
mod logins;
mod mix;
mod serial;
mod signatures;
mod token_steps;
mod users;
mod variables;

pub use groups::group_recordings;
pub use mix::{mix, MixPart};

pub use serial::serial_template;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use indexmap::IndexMap;
use loadtape_recording::{BodyContent, Exchange, Headers, Recording};
use loadtape_scenario::template::{Expr, Part};
use loadtape_scenario::{
    BodyTemplate, Check, Comments, DataSource, Executor, Extractor, JsonPathExpr, JsonRule,
    JsonTest, Load, RegexExpr, RequestTemplate, Step, Threshold, TokenStep,
};
use loadtape_scenario::{Scenario, Template, DEFAULT_THRESHOLD, SCENARIO_V1};

use crate::finding::{Analysis, Class, Finding, Gen, Place, Platform, Use};
use crate::presets;
use crate::rules::business::Dialect;
use crate::substitute::Subs;

/// A JSONPath the converter writes itself (always valid).
fn json_path(p: &str) -> JsonPathExpr {
    JsonPathExpr::parse(p).unwrap_or_else(|_| {
        JsonPathExpr::parse("$").unwrap_or_else(|_| unreachable!("`$` is a JSONPath"))
    })
}

/// Think times longer than this are cut: a tester reading the screen is not load.
pub(crate) const MAX_THINK: Duration = Duration::from_secs(5);

/// Request headers the replay's client sets itself, besides the hop-by-hop ones
/// ([`loadtape_net::hop`]), which are never copied.
const DROP_HEADERS: [&str; 3] = [
    "host",
    "content-length",
    // The replay reads bodies for extraction; asking for identity keeps that simple.
    "accept-encoding",
];

/// The choices `loadtape convert` leaves to the user; the default takes nothing from CSVs
/// (tokens are fetched by token steps) and names no recording.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// What the scenario's `recording:` field says (the recording's file name).
    pub recording: Option<String>,
    /// Pre-fetched tokens instead of token steps (PTS "method 2").
    pub token_csv: Option<TokenCsv>,
    /// The user-bound login material from a CSV, one row per VU (`--login-csv`).
    pub login_csv: Option<TokenCsv>,
    /// Where per-user data goes (`--also`: values each recording sends differently), one
    /// row per recording; without it they are sent as recorded.
    pub users_csv: Option<TokenCsv>,
}

/// A CSV of pre-fetched tokens: a data source named `tokens`, one column per token variable.
#[derive(Debug, Clone)]
pub struct TokenCsv {
    /// The path as the scenario names it (relative to the scenario file).
    pub path: String,
}

/// What [`convert`] makes: the scenario, the comments it is written with, and the starter
/// rows of the CSVs it names, for the caller to write next to it.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The converted scenario; only applied findings changed its requests.
    pub scenario: Scenario,
    /// Notes for a human (what to decide, what was left as recorded), each written above
    /// the field it is about.
    pub comments: Comments,
    /// With `--token-csv`: the CSV's columns, and the recorded values as a starter row.
    pub csv_columns: Vec<String>,
    /// The recorded values of `csv_columns`, in the same order.
    pub csv_row: Vec<String>,
    /// With `--login-csv`: its columns, and the recorded user's material as a starter row.
    pub login_columns: Vec<String>,
    /// The recorded values of `login_columns`, in the same order.
    pub login_row: Vec<String>,
    /// The per-user data's columns (`users_csv`), and one row per recording.
    pub users_columns: Vec<String>,
    /// The rows of `users_columns`: the recorded one first, then one per other recording.
    pub users_rows: Vec<Vec<String>>,
}

impl Conversion {
    /// The scenario as commented YAML.
    pub fn yaml(&self) -> String {
        loadtape_scenario::write_scenario_with_comments(&self.scenario, &self.comments)
    }
}

/// Builds the scenario. Only applied findings (see [`crate::APPLY_AT`]) change requests.
pub fn convert(rec: &Recording, a: &Analysis, opts: &ConvertOptions) -> Conversion {
    let mut b = Builder::new(rec, a, opts);
    b.variables();
    b.login_data();
    b.token_steps();
    b.flow();
    let scenario = Scenario {
        loadtape: SCENARIO_V1.to_string(),
        name: a.name.clone(),
        recording: opts.recording.clone(),
        target: IndexMap::new(),
        variables: b.variables,
        data: b.data,
        tokens: b.tokens,
        steps: b.steps,
        flows: Vec::new(),
        load: Load {
            executor: Executor::ConstantVus {
                vus: 10,
                duration: Duration::from_secs(60),
            },
            iterations: None,
        },
        // A run whose requests fail must not pass: the default verdict, for the user to edit.
        thresholds: Some(Threshold::parse(DEFAULT_THRESHOLD).into_iter().collect()),
    };
    let mut comments = b.comments;
    comments.add(
        "thresholds",
        "The run fails (exit 99) when more than 1% of requests fail, token requests included.\n\
         Edit or add: `p99 < 300ms`, `goods.p95 < 200ms`, `rps >= 500`.",
    );
    comments.add(
        "load",
        "Start small: `loadtape run FILE --iterations 1 --debug` shows every request once.",
    );
    Conversion {
        scenario,
        comments,
        csv_columns: b.csv_columns,
        csv_row: b.csv_row,
        login_columns: b.login_columns,
        login_row: b.login_row,
        users_columns: b.users_columns,
        users_rows: b.users_rows,
    }
}

struct Builder<'a> {
    ex: &'a [Exchange],
    a: &'a Analysis,
    opts: &'a ConvertOptions,
    /// Variable → the expression replacing its value.
    exprs: HashMap<&'a str, Expr>,
    /// Exchanges that became token steps.
    token_origins: HashSet<usize>,
    /// Exchanges that fetched a token the CSV now provides.
    csv_origins: HashSet<usize>,
    /// Exchanges that fetched a token again: the token step does that now.
    refetches: HashSet<usize>,
    variables: IndexMap<String, Template>,
    data: IndexMap<String, DataSource>,
    tokens: Vec<TokenStep>,
    steps: Vec<Step>,
    comments: Comments,
    csv_columns: Vec<String>,
    csv_row: Vec<String>,
    login_columns: Vec<String>,
    login_row: Vec<String>,
    users_columns: Vec<String>,
    users_rows: Vec<Vec<String>>,
    /// Responses speak WeChat's `errcode` dialect.
    errcodes: bool,
    /// The business status fields the recording's answers carry.
    business: Dialect,
    /// The last request's step vars (fresh values a signature covers, and the signature).
    step_vars: IndexMap<String, Template>,
    /// What was said of each signature var: (var, rule and instances).
    sign_notes: Vec<(String, String)>,
}

impl<'a> Builder<'a> {
    fn new(rec: &'a Recording, a: &'a Analysis, opts: &'a ConvertOptions) -> Builder<'a> {
        let errcodes = a.mini_program.as_ref().map(|m| m.platform) == Some(Platform::WeChat)
            || rec.exchanges.iter().any(|e| {
                presets::has_errcode(
                    e.response
                        .as_ref()
                        .and_then(|r| r.body.as_ref())
                        .and_then(|b| b.as_json()),
                )
            });
        Builder {
            ex: &rec.exchanges,
            a,
            opts,
            exprs: HashMap::new(),
            token_origins: HashSet::new(),
            csv_origins: HashSet::new(),
            refetches: HashSet::new(),
            variables: IndexMap::new(),
            data: IndexMap::new(),
            tokens: Vec::new(),
            steps: Vec::new(),
            comments: Comments::new(),
            csv_columns: Vec::new(),
            csv_row: Vec::new(),
            login_columns: Vec::new(),
            login_row: Vec::new(),
            users_columns: Vec::new(),
            users_rows: Vec::new(),
            errcodes,
            step_vars: IndexMap::new(),
            sign_notes: Vec::new(),
            business: Dialect::learn(
                rec.exchanges
                    .iter()
                    .filter_map(|e| e.response.as_ref()?.body.as_ref()?.as_json()),
            ),
        }
    }

    fn is_token(f: &Finding) -> bool {
        matches!(f.class, Class::SessionToken | Class::PlatformToken)
    }

    /// The kept exchanges that are not token steps, as the flow.
    fn flow(&mut self) {
        let kept: Vec<usize> = (0..self.ex.len())
            .filter(|&i| {
                self.a.steps[i].dropped.is_none()
                    && !self.token_origins.contains(&i)
                    && !self.csv_origins.contains(&i)
                    && !self.refetches.contains(&i)
            })
            .collect();
        for (n, &i) in kept.iter().enumerate() {
            let e = &self.ex[i];
            let path = format!("steps[{}]", self.steps.len());
            let request = self.request(i, false);
            let mut extract = IndexMap::new();
            for f in self.a.applied().filter(|f| f.class == Class::Correlated) {
                let extracted_by_token = f
                    .origins
                    .iter()
                    .any(|o| self.token_origins.contains(&o.step));
                let jar_only = self.rides_cookie_jar(f)
                    && f.uses.iter().all(|u| matches!(u.place, Place::Cookie(_)));
                for o in f.origins.iter().filter(|o| o.step == i) {
                    if extracted_by_token || jar_only {
                        continue;
                    }
                    if let Some(x) = self.extractor(i, &o.place, &f.value) {
                        let users: Vec<&str> = f
                            .uses
                            .iter()
                            .filter(|u| u.step > i)
                            .map(|u| self.a.steps[u.step].name.as_str())
                            .collect();
                        self.comments.add(
                            format!("{path}.extract.{}", f.variable),
                            format!("used by {}", dedup(users).join(", ")),
                        );
                        extract.insert(f.variable.clone(), x);
                    }
                }
            }
            let resp = e.response.as_ref();
            let status = resp.map(|r| r.status).unwrap_or(0);
            let mut check = Check::default();
            if (100..400).contains(&status) {
                check.status = vec![status];
            }
            // HTTP 200 that says "failed" in its body is an error too.
            let answer = resp.and_then(|r| r.body.as_ref()).and_then(|b| b.as_json());
            if let Some((field, ok)) = answer.and_then(|j| self.business.check(j)) {
                check.json.push(JsonRule {
                    path: json_path(&field),
                    test: JsonTest::Equals(ok),
                });
            }
            let think = kept.get(n + 1).and_then(|&next| think(e, &self.ex[next]));
            self.step_comments(&path, i);
            let vars = self.take_vars(&path);
            self.steps.push(Step {
                name: self.a.steps[i].name.clone(),
                recorded: Some(e.id),
                vars,
                request,
                check: (check != Check::default()).then_some(check),
                extract,
                think,
                rate: None,
            });
        }
    }

    fn step_comments(&mut self, path: &str, step: usize) {
        let mut notes = Vec::new();
        let signed = !self.signed_at(step).is_empty();
        for f in &self.a.findings {
            if !f.uses.iter().any(|u| u.step == step) {
                continue;
            }
            match f.class {
                Class::Generated(Gen::Signature) if signed => {}
                Class::Generated(Gen::Signature) => notes.push(format!(
                    "`{}` is a signature, sent as recorded: replace it with its signing rule,\n\
                     e.g. '{{{{ md5(appid + now_ms() + secret) }}}}' (loadtape cannot guess it).",
                    f.variable
                )),
                Class::Generated(Gen::LoginCode) if f.applied() => notes.push(format!(
                    "`{}` is a single-use login code: '{{{{ uuid() }}}}' works only if the backend accepts\n\
                     any code; otherwise use --token-csv with pre-fetched tokens.",
                    f.variable
                )),
                _ if !f.applied() && f.evidence.is_empty() => notes.push(format!(
                    "Suggestion, not applied: `{}` ({}) may be {}: {}.",
                    f.variable, f.uses[0].place, f.class, f.reason
                )),
                _ => {}
            }
            for e in &f.evidence {
                notes.push(format!(
                    "`{}` ({}), by evidence:\n{e}.",
                    f.variable, f.class
                ));
            }
        }
        if let Some(r) = &self.ex[step].request.body {
            if r.truncated {
                notes.push("The recorded request body was truncated: complete it by hand.".into());
            }
        }
        for n in notes {
            self.comments.add(path, n);
        }
    }

    /// A recorded request with the applied findings substituted. A token step's request only
    /// gets what is bound before the flow (variables, generators, earlier tokens).
    fn request(&mut self, step: usize, for_token: bool) -> RequestTemplate {
        let e = &self.ex[step];
        // A signed step sends each fresh value once, through its vars: the signature covers
        // the same one.
        let signed = self.signed_at(step);
        let (mut subs, jar, mut vars) = self.finding_subs(step, for_token, !signed.is_empty());
        self.sign(step, &signed, &mut subs, &mut vars);
        self.step_vars = vars;
        if for_token {
            self.secret(step, &mut subs);
        }
        self.login_subs(step, &mut subs);
        let headers = request_headers(&e.request.headers, &subs, &jar);
        if !jar.is_empty() {
            self.jar_comment(&jar, for_token);
        }
        let body = e.request.body.as_ref().map(|b| match &b.content {
            BodyContent::Json(v) => BodyTemplate::Json(subs.json(v)),
            BodyContent::Text(t) => BodyTemplate::Text(subs.template(t)),
            BodyContent::Binary(bytes) => BodyTemplate::Base64(bytes.clone()),
        });
        RequestTemplate {
            method: http::Method::from_bytes(e.request.method.as_bytes())
                .unwrap_or(http::Method::GET),
            url: subs.template(&e.request.url),
            headers,
            body,
        }
    }

    /// The substitutions of the applied findings `step` uses, and the cookies left to the
    /// VU's cookie jar instead (their names, taken out of the `cookie` header).
    /// With `hoist`, a value made afresh each sending becomes a step var, returned.
    fn finding_subs(
        &self,
        step: usize,
        for_token: bool,
        hoist: bool,
    ) -> (Subs, HashSet<String>, IndexMap<String, Template>) {
        let mut subs = Subs::default();
        let mut jar = HashSet::new();
        let mut vars = IndexMap::new();
        // The appid is replaced wherever it appears (the Referer too), so changing the
        // variable changes every request.
        let appid = self
            .a
            .finding("appid")
            .filter(|f| f.class == Class::AppId && f.applied());
        if let Some(f) = appid {
            subs.add(&f.value, Expr::Var("appid".into()));
        }
        for f in self
            .a
            .applied()
            .filter(|f| f.uses.iter().any(|u| u.step == step))
        {
            let Some(mut expr) = self.exprs.get(f.variable.as_str()) else {
                continue;
            };
            if for_token && !self.bound_before_flow(f, step) {
                continue;
            }
            let hoisted;
            if hoist {
                let made = Template::from_parts([Part::Expr(expr.clone())]);
                if made.is_volatile() {
                    vars.insert(f.variable.clone(), made);
                    hoisted = Expr::Var(f.variable.clone());
                    expr = &hoisted;
                }
            }
            let rides_cookie_jar = self.rides_cookie_jar(f);
            for u in f.uses.iter().filter(|u| u.step == step) {
                if let (Place::Cookie(name), true) = (&u.place, rides_cookie_jar) {
                    jar.insert(name.clone());
                    continue;
                }
                substitute_use(f, u, expr, &mut subs);
            }
        }
        (subs, jar, vars)
    }

    /// Whether a token request at `step` may send `f`: a token request sends only what is
    /// bound before the flow, so a correlated value counts only when an earlier token step
    /// issued it, not the flow.
    fn bound_before_flow(&self, f: &Finding, step: usize) -> bool {
        f.class != Class::Correlated
            || f.origins
                .iter()
                .any(|o| o.step < step && self.token_origins.contains(&o.step))
    }

    /// Says which cookies of the step being built ride the cookie jar, so a reader of the
    /// scenario knows why the `cookie` header lost them.
    fn jar_comment(&mut self, jar: &HashSet<String>, for_token: bool) {
        let mut names: Vec<&str> = jar.iter().map(String::as_str).collect();
        names.sort_unstable();
        let path = if for_token {
            format!("tokens[{}]", self.tokens.len())
        } else {
            format!("steps[{}]", self.steps.len())
        };
        self.comments.add(
            path,
            format!(
                "Cookie {} left to the VU's cookie jar (set by an earlier response).",
                names.join(", ")
            ),
        );
    }

    /// A correlated value a response set as a cookie: the VU's cookie jar carries it.
    fn rides_cookie_jar(&self, f: &Finding) -> bool {
        f.class == Class::Correlated
            && f.origins.iter().all(|o| {
                matches!(o.place, Place::SetCookie(_)) && !self.token_origins.contains(&o.step)
            })
    }

    /// How to take a value out of the response of `step`, from where it was seen.
    fn extractor(&self, step: usize, place: &Place, value: &str) -> Option<Extractor> {
        match place {
            Place::Json(p) => JsonPathExpr::parse(p).ok().map(Extractor::Json),
            Place::Header(h) | Place::Bearer(h) => Some(Extractor::Header(h.clone())),
            Place::SetCookie(c) => Some(Extractor::Cookie(c.clone())),
            Place::Text | Place::TextField(_) => {
                let text = self.ex[step].response.as_ref()?.body.as_ref()?.as_text()?;
                let pattern = crate::extract::text_regex(text, value, place.key())?;
                RegexExpr::parse(&pattern)
                    .ok()
                    .map(|pattern| Extractor::Regex { pattern, group: 1 })
            }
            _ => None,
        }
    }
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = HashSet::new();
    v.retain(|s| seen.insert(*s));
    v
}

/// The recorded pause between one exchange's end and the next one's start, capped.
fn think(e: &Exchange, next: &Exchange) -> Option<Duration> {
    // Checked: a recording is input, and an absurd duration must not panic.
    let micros = (e.duration_ms * 1000.0) as i64;
    let end = e
        .started
        .checked_add_signed(chrono::Duration::microseconds(micros))?;
    let gap = next.started.signed_duration_since(end).num_milliseconds();
    (gap >= 10).then(|| Duration::from_millis(gap as u64).min(MAX_THINK))
}

/// Substitutes `f`'s value (and its aliases: the same token fetched again) at one use.
fn substitute_use(f: &Finding, u: &Use, expr: &Expr, subs: &mut Subs) {
    // A header extractor takes a whole `Bearer x` value: it replaces the whole one.
    let bearer_origin = matches!(f.origins.first().map(|o| &o.place), Some(Place::Bearer(_)));
    for value in std::iter::once(&f.value).chain(&f.aliases) {
        subs.add_layered(value, u.encoding, expr.clone());
        if bearer_origin && matches!(u.place, Place::Bearer(_)) {
            for scheme in ["Bearer", "bearer", "BEARER"] {
                subs.add(&format!("{scheme} {value}"), expr.clone());
            }
        }
    }
}

/// The headers a replayed request sends: the client's own dropped, the cookies the jar
/// carries taken out of `cookie` (the header too, when nothing else is left in it).
fn request_headers(
    recorded: &Headers,
    subs: &Subs,
    jar: &HashSet<String>,
) -> Vec<(String, Template)> {
    let mut headers = Vec::new();
    for (name, value) in recorded.iter() {
        let lower = name.to_ascii_lowercase();
        if DROP_HEADERS.contains(&lower.as_str())
            || loadtape_net::hop::is_hop_by_hop(&lower)
            || lower.starts_with(':')
        {
            continue;
        }
        let value = if lower == "cookie" && !jar.is_empty() {
            let kept: Vec<&str> = value
                .split(';')
                .map(str::trim)
                .filter(|p| !p.split_once('=').is_some_and(|(k, _)| jar.contains(k)))
                .collect();
            if kept.is_empty() {
                continue;
            }
            kept.join("; ")
        } else {
            value.to_string()
        };
        headers.push((lower, subs.template(&value)));
    }
    headers
}
