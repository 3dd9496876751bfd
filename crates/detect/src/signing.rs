//! Signature rules inferred from the recording: for each signature field (`sign`,
//! `signature`, `paySign`), a search over the schemes mini-program backends use — WeChat
//! Pay's upper-case MD5 of the sorted non-empty `k=v&…&key=API_KEY`, its HMAC-SHA256 variant,
//! and the home-made `md5(appid + ts + nonce + secret)` kind — over the request's own values
//! and the candidate secrets the user names (`--secret-env`). A rule is accepted only when
//! it reproduces every recorded instance of the field exactly; then `convert` writes it as a
//! template and the replay signs what it sends. No rule reproducing them all: the field stays
//! flagged, with how many schemes were tried.
//!
//! The family, in the order tried (the most common first, so that of two equivalent rules
//! the usual one is written):
//!
//! | dimension | values |
//! |---|---|
//! | parameters | those beside the field (its query, form or JSON object), or all of them |
//! | empties | left out, or kept |
//! | order | sorted by key, or as sent |
//! | join | `k=v&k=v`, values only (`v1v2`), keys and values (`k1v1k2v2`) |
//! | secret | none; appended as `&key=S`; suffix; prefix; both ends; HMAC key (with or without `&key=S`) |
//! | hash | MD5, SHA-256, SHA-1; HMAC-SHA256 for the HMAC places |
//! | encoding | lower-case hex, upper-case hex, base64 of the digest |

use std::fmt;

use loadtape_recording::body::BodyContent;
use loadtape_recording::Exchange;
use loadtape_scenario::template::{Expr, Func, Part};
use loadtape_scenario::Template;
use serde_json::Value;

use crate::shape;
use crate::walk;

/// Where a signature or a signed parameter is in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// A query parameter, by name.
    Query(String),
    /// A form field, by name.
    Form(String),
    /// A top-level JSON field, by key.
    Json(String),
    /// A header (lower-cased name).
    Header(String),
}

/// A secret the user named: the environment variable and its value at conversion time. The
/// value is only compared with; the scenario reads it with `env("NAME")` at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The environment variable's name.
    pub env: String,
    /// Its value.
    pub value: String,
}

/// One signature field of the recording and what was inferred for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signing {
    /// The field's name as sent (`sign`, `paySign`).
    pub field: String,
    /// The endpoint that sends it (`POST /pay/unifiedorder`): one backend signs different
    /// APIs by different rules, so each endpoint's instances are searched apart.
    pub endpoint: String,
    /// Where each recorded instance is: the exchange (index) and the place.
    pub uses: Vec<(usize, At)>,
    /// The rule that reproduces every instance, if one of the family does.
    pub rule: Option<Rule>,
    /// How many schemes were tried.
    pub tried: usize,
}

impl Signing {
    /// How sure the rule is: one recorded instance could match by a coincidence of the
    /// parameters (not of the hash), so two or more are wanted.
    pub fn low_confidence(&self) -> bool {
        self.uses.len() < 2
    }

    /// The line `tokens` and the scenario's comment say about it.
    pub fn describe(&self) -> String {
        match &self.rule {
            Some(r) => format!(
                "`{}` of {}: {r}; reproduces all {} recorded instance(s){}",
                self.field,
                self.endpoint,
                self.uses.len(),
                if self.low_confidence() {
                    " (low confidence: one instance; record the flow twice to confirm)"
                } else {
                    ""
                }
            ),
            None => format!(
                "`{}` of {}: no rule of {} schemes tried (the parameters, their order and join, the \
                 secret's place{}, MD5/SHA-1/SHA-256/HMAC-SHA256, hex or base64) reproduces its \
                 {} recorded instance(s); it is sent as recorded",
                self.field,
                self.endpoint,
                self.tried,
                " and the --secret-env secrets",
                self.uses.len()
            ),
        }
    }
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
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    json: Vec<(String, String)>,
}

/// The container of a signature field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Query,
    Form,
    Json,
    /// A header: nothing is "beside" it.
    Header,
}

impl Params {
    /// The parameters of a recorded request.
    pub fn of(e: &Exchange) -> Params {
        let req = &e.request;
        let query = walk::path_and_query(&req.url)
            .1
            .map(walk::pairs)
            .unwrap_or_default();
        let (mut form, mut json) = (Vec::new(), Vec::new());
        match req.body.as_ref().map(|b| &b.content) {
            Some(BodyContent::Text(t)) if t.contains('=') && !t.trim_start().starts_with('{') => {
                form = walk::pairs(t.trim());
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
        Params { query, form, json }
    }

    fn container(&self, c: Container) -> &[(String, String)] {
        match c {
            Container::Query => &self.query,
            Container::Form => &self.form,
            Container::Json => &self.json,
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
        let mut items: Vec<Expr> = self
            .layout(picked, &secret)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(t) => Expr::Str(t),
                Piece::Value(e) => e,
            })
            .collect();
        let message = match items.len() {
            0 => Expr::Str(String::new()),
            1 => items.remove(0),
            _ => Expr::Concat(items),
        };
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
    fn sign(&self, picked: &[(String, String)], secret: &str) -> String {
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

/// Every rule of the family with these secrets, in the order tried.
fn family(secrets: &[Secret]) -> Vec<Rule> {
    let mut out = Vec::new();
    let secrets: Vec<Option<&Secret>> = std::iter::once(None)
        .chain(secrets.iter().map(Some))
        .collect();
    for set in [ParamSet::Beside, ParamSet::All] {
        for skip_empty in [true, false] {
            for order in [Order::Sorted, Order::AsSent] {
                for join in [Join::Pairs, Join::Values, Join::KeysValues] {
                    for secret in &secrets {
                        let places: &[SecretPlace] = match secret {
                            None => &[SecretPlace::None],
                            Some(_) => &[
                                SecretPlace::KeyParam,
                                SecretPlace::Suffix,
                                SecretPlace::Prefix,
                                SecretPlace::BothEnds,
                                SecretPlace::HmacKey,
                                SecretPlace::HmacKeyParam,
                            ],
                        };
                        for &place in places {
                            if join != Join::Pairs
                                && matches!(
                                    place,
                                    SecretPlace::KeyParam | SecretPlace::HmacKeyParam
                                )
                            {
                                continue;
                            }
                            let hashes: &[Hash] = match place {
                                SecretPlace::HmacKey | SecretPlace::HmacKeyParam => {
                                    &[Hash::HmacSha256]
                                }
                                _ => &[Hash::Md5, Hash::Sha256, Hash::Sha1],
                            };
                            for &hash in hashes {
                                for encoding in
                                    [Encoding::LowerHex, Encoding::UpperHex, Encoding::Base64]
                                {
                                    out.push(Rule {
                                        set: set.clone(),
                                        skip_empty,
                                        order,
                                        join,
                                        place,
                                        secret_env: secret.map(|s| s.env.clone()),
                                        hash,
                                        encoding,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The signature fields of the kept exchanges, each with the first rule of the family that
/// reproduces all its recorded instances.
pub fn infer(exchanges: &[Exchange], kept: &[usize], secrets: &[Secret]) -> Vec<Signing> {
    let mut found: Vec<Signing> = Vec::new();
    for &i in kept {
        let req = &exchanges[i].request;
        let endpoint = format!("{} {}", req.method, walk::path_and_query(&req.url).0);
        for (place, key) in signature_places(&exchanges[i]) {
            match found
                .iter_mut()
                .find(|s| s.field == key && s.endpoint == endpoint)
            {
                Some(s) => s.uses.push((i, place)),
                None => found.push(Signing {
                    field: key,
                    endpoint: endpoint.clone(),
                    uses: vec![(i, place)],
                    rule: None,
                    tried: 0,
                }),
            }
        }
    }
    let rules = family(secrets);
    for s in &mut found {
        let instances: Vec<Instance> = s
            .uses
            .iter()
            .filter_map(|(i, at)| {
                let params = Params::of(&exchanges[*i]);
                let value = value_at(&exchanges[*i], &params, at)?;
                Some(Instance { params, value, at })
            })
            .collect();
        let (rule, tried) = first_match(rules.iter().cloned(), &instances, &s.field, secrets);
        let (rule, more) = match rule {
            Some(r) => (Some(r), 0),
            None => first_match(
                subsets(&rules, &instances, &s.field),
                &instances,
                &s.field,
                secrets,
            ),
        };
        s.rule = rule;
        s.tried = tried + more;
    }
    found
}

/// A recorded signature and the request it signs.
struct Instance<'a> {
    params: Params,
    value: String,
    at: &'a At,
}

/// The first of `rules` that reproduces every instance, and how many were tried.
fn first_match(
    rules: impl Iterator<Item = Rule>,
    instances: &[Instance<'_>],
    field: &str,
    secrets: &[Secret],
) -> (Option<Rule>, usize) {
    let mut tried = 0;
    for r in rules {
        tried += 1;
        let secret = r
            .secret_env
            .as_ref()
            .and_then(|env| secrets.iter().find(|x| &x.env == env))
            .map(|x| x.value.as_str())
            .unwrap_or("");
        let all = !instances.is_empty()
            && instances.iter().all(|i| {
                let picked: Vec<(String, String)> = r
                    .pick(&i.params, field, i.at)
                    .into_iter()
                    .map(|p| (p.key, p.value))
                    .collect();
                // A rule over nothing signs a constant: no evidence of anything.
                (!picked.is_empty() || r.place != SecretPlace::None)
                    && r.sign(&picked, secret) == i.value
            });
        if all {
            return (Some(r), tried);
        }
    }
    (None, tried)
}

/// At most this many parameters beside a signature have their subsets tried (2^8 sets).
const SUBSET_KEYS: usize = 8;

/// The rules over the parameters beside the signature, again over each subset of two or
/// more of them (the first instance's keys, as sent; all instances must send them).
fn subsets<'r>(
    rules: &'r [Rule],
    instances: &[Instance<'_>],
    field: &str,
) -> impl Iterator<Item = Rule> + 'r {
    let keys: Vec<String> = instances
        .first()
        .map(|i| {
            let beside = Rule {
                set: ParamSet::Beside,
                ..rules[0].clone()
            };
            beside
                .pick(&i.params, field, i.at)
                .into_iter()
                .map(|p| p.key)
                .collect()
        })
        .unwrap_or_default();
    let n = if keys.len() <= SUBSET_KEYS {
        keys.len()
    } else {
        0
    };
    let full = (1u32 << n) - 1;
    (1..full)
        .filter(|m| m.count_ones() >= 2)
        .flat_map(move |m| {
            let only: Vec<String> = (0..n)
                .filter(|b| m & (1 << b) != 0)
                .map(|b| keys[b].clone())
                .collect();
            rules
                .iter()
                .filter(|r| r.set == ParamSet::Beside && !r.skip_empty)
                .map(move |r| Rule {
                    set: ParamSet::Only(only.clone()),
                    ..r.clone()
                })
        })
}

/// Where a request carries a signature: query, form and top-level JSON fields and headers
/// under a signature name, with a value that looks like a digest.
fn signature_places(e: &Exchange) -> Vec<(At, String)> {
    let params = Params::of(e);
    let mut out = Vec::new();
    let digest = |v: &str| v.len() >= 16 && !v.contains(char::is_whitespace);
    for (c, list) in [
        (Container::Query, &params.query),
        (Container::Form, &params.form),
        (Container::Json, &params.json),
    ] {
        for (k, v) in list {
            if shape::is_signature_name(k) && digest(v) {
                let at = match c {
                    Container::Query => At::Query(k.clone()),
                    Container::Form => At::Form(k.clone()),
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
        At::Header(h) => e.request.headers.get(h).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &[(&str, &str)]) -> Params {
        Params {
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Params::default()
        }
    }

    #[test]
    fn wechat_pays_documented_example_is_found() {
        // The example of WeChat Pay's signing guide (pay.weixin.qq.com, "签名算法").
        let p = params(&[
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]);
        let secret = Secret {
            env: "PAY_KEY".into(),
            value: "192006250b4c09247ec02edce69f6a2d".into(),
        };
        let at = At::Query("sign".into());
        let rule = family(std::slice::from_ref(&secret))
            .into_iter()
            .find(|r| {
                let picked: Vec<(String, String)> = r
                    .pick(&p, "sign", &at)
                    .into_iter()
                    .map(|s| (s.key, s.value))
                    .collect();
                r.sign(&picked, &secret.value) == "9A0A8659F005D6984697E2CA0A9CF3B7"
            })
            .expect("a rule");
        assert_eq!(
            rule.to_string(),
            "upper-case hex MD5 of the non-empty parameters beside it, sorted by key, as k=v&k=v, &key=$PAY_KEY appended"
        );
    }

    #[test]
    fn the_family_is_tried_in_full_and_a_constant_is_no_evidence() {
        let secrets = [Secret {
            env: "S".into(),
            value: "x".into(),
        }];
        let n = family(&secrets).len();
        // Per (set, empties, order), 3 encodings each: every join has no secret (3 hashes),
        // suffix, prefix, both ends (3 hashes each) and the HMAC key; `k=v&` also `&key=`
        // (3 hashes) and HMAC with `&key=`.
        let per_join = 3 * (3 + 3 * 3 + 1);
        assert_eq!(n, 2 * 2 * 2 * (3 * per_join + 3 * (3 + 1)));
        let empty = params(&[]);
        let r = &family(&[])[0];
        assert!(r.pick(&empty, "sign", &At::Query("sign".into())).is_empty());
    }
}
