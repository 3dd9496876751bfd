//! The family's schemes (see the parent module): what a rule is, which of a request's
//! parameters it signs, the string it signs and the template expression that computes it,
//! and where a request carries a signature.

use std::fmt;

use loadtape_recording::body::BodyContent;
use loadtape_recording::Exchange;
use loadtape_scenario::template::{Expr, Func, Part};
use loadtape_scenario::Template;
use serde_json::Value;

use crate::query;
use crate::shape;

/// Where a signature or a signed parameter is in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// A query parameter, by name.
    Query(String),
    /// A form field, by name.
    Form(String),
    /// A top-level JSON field, by key.
    Json(String),
    /// A child element of an XML body's root (WeChat Pay v2's `<xml><sign>…</sign></xml>`).
    Xml(String),
    /// A header (lower-cased name).
    Header(String),
}

/// Which parameters a rule signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamSet {
    /// Those in the same container as the signature (its query, form or JSON object).
    Beside,
    /// Query, form and JSON top level together, in that order.
    All,
    /// Only these of those beside the signature (`md5(appid + ts + nonce + secret)` of a
    /// body that also sends `goods_id`): tried when no rule over all of them matches.
    Only(Vec<String>),
}

/// How the parameters are put in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By key, byte-wise (ASCII), as WeChat Pay says.
    Sorted,
    /// As the request sends them.
    AsSent,
}

/// How the parameters are joined into the signed string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `k1=v1&k2=v2`.
    Pairs,
    /// `v1v2`.
    Values,
    /// `k1v1k2v2`.
    KeysValues,
}

/// Where the secret goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPlace {
    /// There is none: the signature is computable from what the request shows.
    None,
    /// `…&key=SECRET` (WeChat Pay).
    KeyParam,
    /// `…SECRET`.
    Suffix,
    /// `SECRET…`.
    Prefix,
    /// `SECRET…SECRET`.
    BothEnds,
    /// The HMAC key.
    HmacKey,
    /// The HMAC key, and `&key=SECRET` appended too (WeChat Pay's HMAC-SHA256).
    HmacKeyParam,
}

/// The digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
    /// SHA-1.
    Sha1,
    /// HMAC-SHA256, keyed by the secret.
    HmacSha256,
}

/// How the digest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `0a1b…`.
    LowerHex,
    /// `0A1B…`.
    UpperHex,
    /// Standard base64 of the digest's bytes.
    Base64,
}

/// One scheme of the family, and the secret it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Which parameters.
    pub set: ParamSet,
    /// Whether parameters with an empty value are left out.
    pub skip_empty: bool,
    /// Their order.
    pub order: Order,
    /// Their join.
    pub join: Join,
    /// The secret's place.
    pub place: SecretPlace,
    /// The secret's environment variable (`None` with [`SecretPlace::None`]).
    pub secret_env: Option<String>,
    /// The digest.
    pub hash: Hash,
    /// Its writing.
    pub encoding: Encoding,
}

/// A request's parameters by container, decoded, in the order sent.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub(crate) query: Vec<(String, String)>,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) json: Vec<(String, String)>,
    pub(crate) xml: Vec<(String, String)>,
}

/// The container of a signature field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Query,
    Form,
    Json,
    Xml,
    /// A header: nothing is "beside" it.
    Header,
}

impl Params {
    /// The parameters of a recorded request.
    pub fn of(e: &Exchange) -> Params {
        let req = &e.request;
        let query = query::path_and_query(&req.url)
            .1
            .map(query::pairs)
            .unwrap_or_default();
        let (mut form, mut json, mut xml) = (Vec::new(), Vec::new(), Vec::new());
        match req.body.as_ref().map(|b| &b.content) {
            Some(BodyContent::Text(t)) if t.trim_start().starts_with('<') => {
                xml = query::xml_fields(t)
            }
            Some(BodyContent::Text(t)) if t.contains('=') && !t.trim_start().starts_with('{') => {
                form = query::pairs(t.trim());
            }
            Some(BodyContent::Json(Value::Object(map))) => {
                for (k, v) in map {
                    if let Some(text) = scalar(v) {
                        json.push((k.clone(), text));
                    }
                }
            }
            _ => {}
        }
        Params {
            query,
            form,
            json,
            xml,
        }
    }

    fn container(&self, c: Container) -> &[(String, String)] {
        match c {
            Container::Query => &self.query,
            Container::Form => &self.form,
            Container::Json => &self.json,
            Container::Xml => &self.xml,
            Container::Header => &[],
        }
    }
}

/// A JSON scalar as a signing scheme writes it; objects, arrays and null are not signed.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A parameter a rule signs: where it is, its key and its recorded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Where the value is in the request.
    pub at: At,
    /// The key, as the signed string spells it.
    pub key: String,
    /// The recorded (decoded) value.
    pub value: String,
}

impl Rule {
    /// The parameters this rule signs in a request whose signature is `field` at `at`, in
    /// the order signed.
    pub fn pick(&self, params: &Params, field: &str, at: &At) -> Vec<Signed> {
        let with = |c: Container| {
            params.container(c).iter().map(move |(k, v)| {
                let at = match c {
                    Container::Query => At::Query(k.clone()),
                    Container::Form => At::Form(k.clone()),
                    Container::Json => At::Json(k.clone()),
                    Container::Xml => At::Xml(k.clone()),
                    Container::Header => At::Header(k.clone()),
                };
                Signed {
                    at,
                    key: k.clone(),
                    value: v.clone(),
                }
            })
        };
        let mut out: Vec<Signed> = match &self.set {
            ParamSet::Beside => with(container_of(at)).collect(),
            ParamSet::Only(keys) => with(container_of(at))
                .filter(|p| keys.contains(&p.key))
                .collect(),
            ParamSet::All => with(Container::Query)
                .chain(with(Container::Form))
                .chain(with(Container::Json))
                .chain(with(Container::Xml))
                .collect(),
        };
        out.retain(|p| p.key != field && !(self.skip_empty && p.value.is_empty()));
        if self.order == Order::Sorted {
            out.sort_by(|a, b| a.key.cmp(&b.key));
        }
        out
    }

    /// The string signed, of the picked parameters: `pieces` are the parameters' values (the
    /// recorded ones when searching; expressions when writing the template), joined as the
    /// rule says with the secret where it goes. Literal text comes back as `Text`.
    pub fn layout<T: Clone>(&self, picked: &[(String, T)], secret: &T) -> Vec<Piece<T>> {
        let mut out = Vec::new();
        let text = |out: &mut Vec<Piece<T>>, s: String| out.push(Piece::Text(s));
        if matches!(self.place, SecretPlace::Prefix | SecretPlace::BothEnds) {
            out.push(Piece::Value(secret.clone()));
        }
        for (i, (k, v)) in picked.iter().enumerate() {
            match self.join {
                Join::Pairs => text(&mut out, format!("{}{k}=", if i > 0 { "&" } else { "" })),
                Join::KeysValues => text(&mut out, k.clone()),
                Join::Values => {}
            }
            out.push(Piece::Value(v.clone()));
        }
        match self.place {
            SecretPlace::KeyParam | SecretPlace::HmacKeyParam => {
                text(
                    &mut out,
                    if picked.is_empty() { "key=" } else { "&key=" }.into(),
                );
                out.push(Piece::Value(secret.clone()));
            }
            SecretPlace::Suffix | SecretPlace::BothEnds => out.push(Piece::Value(secret.clone())),
            _ => {}
        }
        out
    }

    /// The signature as a template expression: `picked` are the parameters' keys and value
    /// expressions, `secret` the secret's (`env("PAY_KEY")`). The template functions are the
    /// one definition of the digests, so what the search matched is what the replay sends.
    pub fn expr(&self, picked: &[(String, Expr)], secret: Expr) -> Expr {
        let message = Expr::concat(
            self.layout(picked, &secret)
                .into_iter()
                .map(|piece| match piece {
                    Piece::Text(t) => Expr::Str(t),
                    Piece::Value(e) => e,
                })
                .collect(),
        );
        let digest = match self.hash {
            Hash::Md5 => Expr::Call(Func::Md5, vec![message]),
            Hash::Sha1 => Expr::Call(Func::Sha1, vec![message]),
            Hash::Sha256 => Expr::Call(Func::Sha256, vec![message]),
            Hash::HmacSha256 => Expr::Call(Func::HmacSha256, vec![secret, message]),
        };
        match self.encoding {
            Encoding::LowerHex => digest,
            Encoding::UpperHex => Expr::Call(Func::Upper, vec![digest]),
            Encoding::Base64 => Expr::Call(Func::HexToBase64, vec![digest]),
        }
    }

    /// What this rule makes of recorded values and the secret's value.
    pub(crate) fn sign(&self, picked: &[(String, String)], secret: &str) -> String {
        let picked: Vec<(String, Expr)> = picked
            .iter()
            .map(|(k, v)| (k.clone(), Expr::Str(v.clone())))
            .collect();
        let e = self.expr(&picked, Expr::Str(secret.to_string()));
        Template::from_parts([Part::Expr(e)])
            .render_to_string(&())
            .map(|c| c.into_owned())
            .unwrap_or_default()
    }
}

/// A piece of the signed string: literal text, or a value (a parameter's or the secret).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<T> {
    /// Text the rule puts in (`&`, `k=`, `&key=`).
    Text(String),
    /// A value.
    Value(T),
}

fn container_of(at: &At) -> Container {
    match at {
        At::Query(_) => Container::Query,
        At::Form(_) => Container::Form,
        At::Json(_) => Container::Json,
        At::Xml(_) => Container::Xml,
        At::Header(_) => Container::Header,
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enc = match self.encoding {
            Encoding::LowerHex => "lower-case hex",
            Encoding::UpperHex => "upper-case hex",
            Encoding::Base64 => "base64",
        };
        let hash = match self.hash {
            Hash::Md5 => "MD5",
            Hash::Sha1 => "SHA-1",
            Hash::Sha256 => "SHA-256",
            Hash::HmacSha256 => "HMAC-SHA256",
        };
        let set = match (&self.set, self.skip_empty) {
            (ParamSet::Beside, true) => "the non-empty parameters beside it".to_string(),
            (ParamSet::Beside, false) => "the parameters beside it".to_string(),
            (ParamSet::All, true) => "all the request's non-empty parameters".to_string(),
            (ParamSet::All, false) => "all the request's parameters".to_string(),
            (ParamSet::Only(keys), _) => format!("the parameters {}", keys.join(", ")),
        };
        let order = match self.order {
            Order::Sorted => "sorted by key",
            Order::AsSent => "in the order sent",
        };
        let join = match self.join {
            Join::Pairs => "as k=v&k=v",
            Join::Values => "values only, joined",
            Join::KeysValues => "keys and values, joined",
        };
        let s = self.secret_env.as_deref().unwrap_or("");
        let place = match self.place {
            SecretPlace::None => "no secret".to_string(),
            SecretPlace::KeyParam => format!("&key=${s} appended"),
            SecretPlace::Suffix => format!("${s} appended"),
            SecretPlace::Prefix => format!("${s} in front"),
            SecretPlace::BothEnds => format!("${s} at both ends"),
            SecretPlace::HmacKey => format!("keyed by ${s}"),
            SecretPlace::HmacKeyParam => format!("keyed by ${s}, &key=${s} appended"),
        };
        write!(f, "{enc} {hash} of {set}, {order}, {join}, {place}")
    }
}

/// Where a request carries a signature: query, form and top-level JSON fields and headers
/// under a signature name, with a value that looks like a digest.
pub(crate) fn signature_places(e: &Exchange) -> Vec<(At, String)> {
    let params = Params::of(e);
    let mut out = Vec::new();
    let digest = |v: &str| v.len() >= 16 && !v.contains(char::is_whitespace);
    for (c, list) in [
        (Container::Query, &params.query),
        (Container::Form, &params.form),
        (Container::Json, &params.json),
        (Container::Xml, &params.xml),
    ] {
        for (k, v) in list {
            if shape::is_signature_name(k) && digest(v) {
                let at = match c {
                    Container::Query => At::Query(k.clone()),
                    Container::Form => At::Form(k.clone()),
                    Container::Xml => At::Xml(k.clone()),
                    _ => At::Json(k.clone()),
                };
                out.push((at, k.clone()));
            }
        }
    }
    for (name, v) in e.request.headers.iter() {
        let lower = name.to_ascii_lowercase();
        let bare = lower.strip_prefix("x-").unwrap_or(&lower);
        if shape::is_signature_name(bare) && digest(v) {
            out.push((At::Header(lower.clone()), lower));
        }
    }
    out
}

/// The recorded signature at `place`.
pub fn value_at(e: &Exchange, params: &Params, at: &At) -> Option<String> {
    let find = |list: &[(String, String)], key: &str| {
        list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    match at {
        At::Query(k) => find(&params.query, k),
        At::Form(k) => find(&params.form, k),
        At::Json(k) => find(&params.json, k),
        At::Xml(k) => find(&params.xml, k),
        At::Header(h) => e.request.headers.get(h).map(str::to_string),
    }
}
