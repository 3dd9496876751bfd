//! Values nothing in the recording issued: what the client mints (a login code, a timestamp,
//! a nonce, a UUID), a platform token it was handed, and high-entropy values kept as
//! recorded. Asked only once no response is the value's origin.

use chrono::{DateTime, Utc};

use crate::classify::{Ctx, Verdict};
use crate::finding::{Class, Gen, Origin, Use};
use crate::origin::norm;
use crate::rules;
use crate::shape::{self, TimeUnit};
use crate::walk;

impl Ctx<'_> {
    /// The verdict on a value no response issued, `None` when it is no finding: the rules
    /// run in the SPEC §5 table's order and the first that answers wins.
    pub(crate) fn never_issued(
        &self,
        value: &str,
        uses: &[Use],
        names: Vec<&str>,
        known_before: bool,
    ) -> Option<Verdict> {
        let usage = Usage::new(self, uses, names, known_before);
        usage
            .minted(value)
            .or_else(|| usage.uuid(value))
            .or_else(|| self.never_issued_token(value, &usage))
            .or_else(|| usage.opaque(value))
    }

    /// An auth-named value or a JWT nothing in the recording issued: a platform token, taken
    /// from the `--token-step` step when that names one.
    fn never_issued_token(&self, value: &str, usage: &Usage<'_>) -> Option<Verdict> {
        let auth_named = usage.any_name(shape::is_auth_name);
        let jwt = shape::jwt_claims(value).is_some();
        if !(auth_named || jwt) || usage.known_before {
            return None;
        }
        let mut v = Verdict::new(
            Class::PlatformToken,
            85,
            if jwt {
                "a JWT used but never issued in the recording"
            } else {
                "an auth-named value used but never issued in the recording"
            },
        );
        if let Some(o) = self.forced_origin(&usage.names) {
            v.reason = "taken from the --token-step step".into();
            v.origins.push(o);
        }
        Some(v)
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
}

/// What the rules for a never-issued value ask about its uses, worked out once: its names,
/// when it was first sent, and how many steps send it.
struct Usage<'a> {
    names: Vec<&'a str>,
    /// When the first use was sent: what a timestamp is compared with.
    at: DateTime<Utc>,
    /// The steps sending it (consecutive uses in one step counted once).
    steps_using: usize,
    /// Sent by at least four in five kept steps of a recording of three or more: what every
    /// request carries is configuration, not a token.
    everywhere: bool,
    /// Some use was sent before a response held it: the client knew it.
    known_before: bool,
}

impl<'a> Usage<'a> {
    fn new(cx: &Ctx<'_>, uses: &[Use], names: Vec<&'a str>, known_before: bool) -> Usage<'a> {
        let steps_using = {
            let mut s: Vec<usize> = uses.iter().map(|u| u.step).collect();
            s.dedup();
            s.len()
        };
        Usage {
            names,
            at: cx.exchanges[uses[0].step].started,
            steps_using,
            everywhere: cx.kept.len() >= 3 && steps_using * 5 >= cx.kept.len() * 4,
            known_before,
        }
    }

    fn any_name(&self, f: fn(&str) -> bool) -> bool {
        self.names.iter().any(|n| f(n))
    }

    /// What the client mints afresh: a login code, a timestamp (alone or as a stamp's clock
    /// part), a nonce.
    fn minted(&self, value: &str) -> Option<Verdict> {
        if self.any_name(shape::is_login_code_name) && !self.known_before {
            return Some(Verdict::new(
                Class::Generated(Gen::LoginCode),
                85,
                "a login code (wx.login / my.getAuthCode): single-use, never issued by a response",
            ));
        }
        if let Some(unit) = shape::timestamp(value, self.at) {
            let (gen, what) = match unit {
                TimeUnit::Ms => (Gen::TimestampMs, "milliseconds"),
                TimeUnit::S => (Gen::TimestampS, "seconds"),
            };
            let confidence = if self.any_name(shape::is_time_name) {
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
        if let Some(v) = rules::clock::embedded(value, self.at) {
            return Some(v);
        }
        (self.any_name(shape::is_nonce_name) && shape::looks_random(value) && self.steps_using == 1)
            .then(|| {
                Verdict::new(
                    Class::Generated(Gen::Nonce),
                    90,
                    "a nonce parameter with a random value",
                )
            })
    }

    /// A UUID: fresh per request when sent once, a device or trace id when sent by a few
    /// steps; no answer when sent everywhere (the later rules decide).
    fn uuid(&self, value: &str) -> Option<Verdict> {
        if !shape::is_uuid(value) {
            return None;
        }
        if self.steps_using == 1 {
            return Some(Verdict::new(
                Class::Generated(Gen::Uuid),
                85,
                "a UUID sent once: a fresh one per request",
            ));
        }
        (!self.everywhere).then(|| {
            Verdict::new(
                Class::Static,
                40,
                format!(
                    "the same UUID in {} requests: a device or trace id? kept",
                    self.steps_using
                ),
            )
        })
    }

    /// The last rule: a high-entropy value sent in a few places is shown, kept as recorded;
    /// anything else is no finding.
    fn opaque(&self, value: &str) -> Option<Verdict> {
        if self.everywhere || self.known_before {
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
}
