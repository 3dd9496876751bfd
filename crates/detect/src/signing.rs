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

mod scheme;

use loadtape_recording::Exchange;

use crate::query;
use scheme::signature_places;
pub use scheme::{
    value_at, At, Encoding, Hash, Join, Order, ParamSet, Params, Piece, Rule, SecretPlace, Signed,
};

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
        let endpoint = format!("{} {}", req.method, query::path_and_query(&req.url).0);
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
                skip_empty: false,
                order: Order::AsSent,
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
