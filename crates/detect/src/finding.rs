//! What detection finds: the types `loadtape tokens` prints and `loadtape convert` applies.

use std::fmt;

/// Findings at or above this confidence (percent) are applied by `convert`; the rest are
/// listed as suggestions. A wrong correlation breaks a replay in ways that are hard to see, so
/// the bar is high: only a value that looks issued (random-looking, issued before first use,
/// not seen everywhere) or a rule that is unambiguous (a preset, a signature name) passes.
pub const APPLY_AT: u8 = 70;

/// The result of [`analyze`](crate::analyze).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The recording's name (its header's), which the converted scenario takes.
    pub name: String,
    /// One per recorded exchange, in recording order.
    pub steps: Vec<StepInfo>,
    /// One per value the replay has to treat specially, in order of first use.
    pub findings: Vec<Finding>,
    /// The mini program the recording is of: named by a Referer, else by the appid a platform
    /// token request sends; `None` when neither does.
    pub mini_program: Option<MiniProgram>,
    /// Things a human must decide; `tokens` prints them, `convert` prints and comments them.
    pub warnings: Vec<String>,
    /// A [`Class::PerUser`] variable's value in each other recording of the flow (`convert
    /// --also`), in order: the `users` data source's rows after the recorded one.
    pub rows_elsewhere: indexmap::IndexMap<String, Vec<String>>,
    /// The signature fields and the rules inferred for them (see `signing`).
    pub signings: Vec<crate::signing::Signing>,
}

impl Analysis {
    /// The findings `convert` applies.
    pub fn applied(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.applied())
    }

    /// The findings listed as suggestions only.
    pub fn suggestions(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.applied())
    }

    /// The finding of a variable.
    pub fn finding(&self, variable: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.variable == variable)
    }
}

/// A recorded exchange as the scenario sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// The exchange's `id` in the recording.
    pub id: u64,
    /// Its step name in the scenario (unique).
    pub name: String,
    /// Why it is left out of the scenario, if it is.
    pub dropped: Option<Dropped>,
}

/// Why an exchange is left out of the scenario. It keeps its [`StepInfo`], so `tokens` can say
/// what was dropped and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// An image, font, stylesheet or script: the CDN's load, not the backend's.
    StaticAsset,
    /// An analytics or logging beacon: noise for a backend load test.
    Beacon,
    /// No response was recorded (upstream unreachable): nothing to replay against.
    Failed,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dropped::StaticAsset => "static asset",
            Dropped::Beacon => "analytics beacon",
            Dropped::Failed => "failed (no response)",
        })
    }
}

/// Which super app the traffic came from, recognised by its Referer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgram {
    /// The super app; it decides which platform token endpoints and stale-token codes apply.
    pub platform: Platform,
    /// The mini program's appid (`wx…` for WeChat); the scenario gets it as the `appid`
    /// variable.
    pub appid: String,
}

/// A super app whose mini programs loadtape recognises by their presets (platform endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// WeChat: Referer `servicewechat.com/{appid}/…`, tokens from `cgi-bin/token` or
    /// `cgi-bin/stable_token`.
    WeChat,
    /// Alipay: Referer `{appid}.hybrid.alipay-eco.com`, tokens from
    /// `alipay.system.oauth.token`.
    Alipay,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::WeChat => "WeChat",
            Platform::Alipay => "Alipay",
        })
    }
}

/// One value the replay must not send as recorded (or, for a suggestion, might not).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The scenario variable it becomes (unique).
    pub variable: String,
    /// What the value is; it decides what the scenario sends in its place.
    pub class: Class,
    /// The recorded value (decoded: a query parameter without its percent-encoding).
    pub value: String,
    /// Other recorded values of the same token (fetched again by the same endpoint); they are
    /// replaced like `value`.
    pub aliases: Vec<String>,
    /// Every request slot sending it, in recording order (indexes into `Analysis::steps`).
    pub uses: Vec<Use>,
    /// Where it was issued: the first entry is the origin of the first use; a later use whose
    /// latest earlier origin differs adds another (the scenario re-extracts it there). For a
    /// token, later entries are the same endpoint fetching it again.
    pub origins: Vec<Origin>,
    /// 0–100; applied at [`APPLY_AT`] and above.
    pub confidence: u8,
    /// Why it was classified so.
    pub reason: String,
    /// What evidence from outside the recording's own rules changed or backed this finding
    /// (a `convert --verify` round, a second recording of the flow): `convert` writes it as a
    /// comment where the value is used, so a reader sees why the rule was overruled.
    pub evidence: Vec<String>,
}

impl Finding {
    /// Whether `convert` applies it (confidence at [`APPLY_AT`] or above) rather than only
    /// suggesting it.
    pub fn applied(&self) -> bool {
        self.confidence >= APPLY_AT
    }
}

/// What kind of value a finding is, from which `convert` knows how to replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Issued by an earlier response: an extractor there, `{{ var }}` here.
    Correlated,
    /// Correlated, from a login-like exchange: that exchange becomes a per-VU token step.
    SessionToken,
    /// A platform token: issued by a preset endpoint (WeChat `cgi-bin/token`, Alipay
    /// `alipay.system.oauth.token`), or used but never issued with an auth-like name or shape.
    PlatformToken,
    /// Made by the client: the scenario generates a fresh one (a signature is only flagged).
    Generated(Gen),
    /// The mini program's appid, from the Referer: a scenario variable.
    AppId,
    /// Different in each recording of the flow and issued by no response (a user name, a
    /// phone number typed in): a column of the `users` data source, one row per recording.
    PerUser,
    /// Sent as recorded (listed only as a suggestion when it looks like a token).
    Static,
}

/// What the client made, for a [`Class::Generated`] finding: it decides the scenario's
/// replacement, made afresh at every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gen {
    /// A Unix time in milliseconds (13 digits) within a day of the capture, alone or as the
    /// clock part of a stamp: `now_ms()`.
    TimestampMs,
    /// The same in seconds (10 digits): `now_s()`.
    TimestampS,
    /// A random value under a nonce-like name: `uuid()`, or `md5(uuid())` for 32 hex digits.
    Nonce,
    /// A UUID sent once: `uuid()`.
    Uuid,
    /// A number the client makes up once per request (an `out_trade_no`, a request serial),
    /// all digits: a random number of the same length, `random_int(10…0, 99…9)`.
    Serial,
    /// `sign`, `signature`, `paySign`: needs the signing rule from the user.
    Signature,
    /// A login code (`code`, `js_code`, `authCode`): single-use, cannot be minted.
    LoginCode,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Correlated => "correlated",
            Class::SessionToken => "session token",
            Class::PlatformToken => "platform token",
            Class::Generated(Gen::TimestampMs) => "generated (timestamp ms)",
            Class::Generated(Gen::TimestampS) => "generated (timestamp s)",
            Class::Generated(Gen::Nonce) => "generated (nonce)",
            Class::Generated(Gen::Uuid) => "generated (uuid)",
            Class::Generated(Gen::Serial) => "generated (serial number)",
            Class::Generated(Gen::Signature) => "generated (signature)",
            Class::Generated(Gen::LoginCode) => "generated (login code)",
            Class::AppId => "appid",
            Class::PerUser => "per-user data",
            Class::Static => "static",
        })
    }
}

/// A request slot sending a finding's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The exchange sending it, as an index into `Analysis::steps`.
    pub step: usize,
    /// Where in that request it is sent.
    pub place: Place,
    /// How the sent form relates to the issued value, so the template can redo it.
    pub encoding: Encoding,
}

/// A response slot a finding's value was taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The exchange whose response held it, as an index into `Analysis::steps`.
    pub step: usize,
    /// Where in that response it was: what the extractor reads.
    pub place: Place,
}

/// How a use carries the value (percent-encoding is handled when templating, whatever this
/// says, since the walk decodes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The request sends the issued value as it is.
    Plain,
    /// The request sends base64 of the issued value.
    Base64,
    /// The request sends `url_decode` of the issued value (issued percent-encoded).
    UrlDecoded,
    /// The request sends `url_encode` of the issued value (in a JSON string, say).
    UrlEncoded,
    /// The request sends `form_encode` of the issued value (a space as `+`).
    FormEncoded,
}

/// Where a value sits in a request or a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// The n-th segment of the URL path (0-based).
    PathSegment(usize),
    /// A query parameter, by name.
    Query(String),
    /// A field of a form or multipart body, by name.
    Form(String),
    /// A header (name lower-cased), the whole value.
    Header(String),
    /// A header whose value is `Bearer <value>`.
    Bearer(String),
    /// A pair of a request's `Cookie` header.
    Cookie(String),
    /// A response's `Set-Cookie`, by cookie name.
    SetCookie(String),
    /// A JSON leaf of the body.
    Json(String),
    /// A JSON leaf of a JSON document held in a string of the body (path to the string, path
    /// inside it).
    JsonInString(String, String),
    /// A claim of a JWT found at another place.
    JwtClaim(Box<Place>, String),
    /// Somewhere in a text body.
    Text,
    /// A JSON leaf inside a query or form value that holds a JSON document
    /// (`?q=%7B%22cursor%22%3A…%7D`): where the value sits, and the path inside.
    JsonIn(Box<Place>, String),
    /// A named value of a text body: a hidden input, a `data-` attribute, a script object's
    /// key, a query parameter in a link.
    TextField(String),
}

impl Place {
    /// The name the value goes by: a parameter, header, cookie or the last JSON key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Place::Query(k)
            | Place::Form(k)
            | Place::Header(k)
            | Place::Bearer(k)
            | Place::Cookie(k)
            | Place::SetCookie(k)
            | Place::JwtClaim(_, k)
            | Place::TextField(k) => Some(k),
            Place::Json(p) | Place::JsonInString(_, p) | Place::JsonIn(_, p) => last_key(p),
            Place::PathSegment(_) | Place::Text => None,
        }
    }
}

/// The last object key of a JSONPath this crate wrote (`$.data[0].id` → `id`,
/// `$['x-y']` → `x-y`).
pub(crate) fn last_key(path: &str) -> Option<&str> {
    let mut p = path;
    while let Some(stripped) = p.strip_suffix(']') {
        let open = stripped.rfind('[')?;
        let inner = &stripped[open + 1..];
        if let Some(quoted) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return Some(quoted);
        }
        p = &p[..open];
    }
    let dot = p.rfind('.')?;
    let key = &p[dot + 1..];
    (!key.is_empty() && key != "$").then_some(key)
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::PathSegment(i) => write!(f, "path segment {}", i + 1),
            Place::Query(k) => write!(f, "query {k}"),
            Place::Form(k) => write!(f, "form {k}"),
            Place::Header(k) => write!(f, "header {k}"),
            Place::Bearer(k) => write!(f, "header {k} (Bearer)"),
            Place::Cookie(k) => write!(f, "cookie {k}"),
            Place::SetCookie(k) => write!(f, "set-cookie {k}"),
            Place::Json(p) => write!(f, "json {p}"),
            Place::JsonInString(outer, inner) => write!(f, "json {outer} → {inner}"),
            Place::JwtClaim(at, claim) => write!(f, "{at} → JWT claim {claim}"),
            Place::Text => f.write_str("body text"),
            Place::TextField(k) => write!(f, "body text `{k}`"),
            Place::JsonIn(at, inner) => write!(f, "{at} → {inner}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_keys() {
        assert_eq!(last_key("$.data[0].id"), Some("id"));
        assert_eq!(last_key("$.token"), Some("token"));
        assert_eq!(last_key("$['x-y']"), Some("x-y"));
        assert_eq!(last_key("$[0]"), None);
        assert_eq!(last_key("$"), None);
    }
}
