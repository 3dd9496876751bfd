//! Evidence from outside a recording's own rules: what a replay against the live server
//! showed (`convert --verify`), or what other recordings of the same flow show (`convert
//! --also`). The rules guess from one recording; evidence is observed, so it overrules them.
//! [`Evidence::apply`] changes the findings of an [`Analysis`], and every finding it changes
//! says why in [`Finding::evidence`], which `convert` writes as a comment where the value is
//! used: a reader of the scenario sees which rule was overruled and by what.

mod also;

pub use also::compare_recordings;

use loadtape_recording::Recording;

use crate::finding::{Analysis, Class, Finding, Gen, Origin, Place, Use};
use crate::naming::{self, Names};
use crate::walk::{self, Kind};

/// One observed fact about a recorded value (the value as the recording sends it).
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A response issues it: the recorded exchange `issuer` (its id) holds it at `json_path`,
    /// and the live (or other recorded) answer holds another value there.
    Issued {
        /// The recorded value.
        value: String,
        /// The recorded exchange whose answer issues it.
        issuer: u64,
        /// Where in that answer (a JSONPath).
        json_path: String,
        /// The variable to extract it into, when the evidence suggests a name.
        variable: Option<String>,
        /// What shows it, in one line.
        why: String,
    },
    /// The client makes it afresh for every request (a clock reading, a nonce).
    Generated {
        /// The recorded value.
        value: String,
        /// What generates a new one.
        generator: Gen,
        /// What shows it.
        why: String,
    },
    /// Each user sends their own, and no response issues it (a user name, a phone number):
    /// per-user data, one row per recording.
    PerUser {
        /// The recorded value.
        value: String,
        /// Its counterpart in each other recording, in order.
        others: Vec<String>,
        /// What shows it.
        why: String,
    },
    /// Every recording sends the same value at the same place: whatever its shape says, it
    /// is not a nonce nor a per-session token.
    Same {
        /// The recorded value.
        value: String,
        /// What shows it.
        why: String,
    },
}

impl Fact {
    /// The recorded value the fact is about.
    pub fn value(&self) -> &str {
        match self {
            Fact::Issued { value, .. }
            | Fact::Generated { value, .. }
            | Fact::PerUser { value, .. }
            | Fact::Same { value, .. } => value,
        }
    }

    fn why(&self) -> &str {
        match self {
            Fact::Issued { why, .. }
            | Fact::Generated { why, .. }
            | Fact::PerUser { why, .. }
            | Fact::Same { why, .. } => why,
        }
    }

    /// The order facts are applied in: demotions first, so an observed fact about the same
    /// value wins over them.
    fn rank(&self) -> u8 {
        match self {
            Fact::Same { .. } => 0,
            Fact::PerUser { .. } => 1,
            Fact::Generated { .. } => 2,
            Fact::Issued { .. } => 3,
        }
    }
}

/// The facts gathered so far, at most one per value and kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    facts: Vec<Fact>,
}

impl Evidence {
    /// Adds a fact; `false` when one of the same kind about the same value is known already
    /// (a repair loop that learns nothing new must stop).
    pub fn add(&mut self, fact: Fact) -> bool {
        let known = self
            .facts
            .iter()
            .any(|f| f.rank() == fact.rank() && f.value() == fact.value());
        if !known {
            self.facts.push(fact);
        }
        !known
    }

    /// Every fact, in the order added.
    pub fn facts(&self) -> &[Fact] {
        &self.facts
    }

    /// Whether nothing is known beyond the rules.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Changes `a`'s findings (of `rec`) to agree with the facts; one line per change, for
    /// the user.
    pub fn apply(&self, rec: &Recording, a: &mut Analysis) -> Vec<String> {
        let mut names = Names::for_variables();
        for f in &a.findings {
            names.take(&f.variable);
        }
        let mut ap = Applier {
            rec,
            a,
            names,
            changes: Vec::new(),
        };
        let mut facts: Vec<&Fact> = self.facts.iter().collect();
        facts.sort_by_key(|f| f.rank());
        for fact in facts {
            ap.apply(fact);
        }
        ap.changes
    }
}

/// What the rules say of login material bound to the recorded user (`rules::user_bound`),
/// in a finding's reason and in the warning about it.
const USER_BOUND: &str = "the recorded user";

struct Applier<'a> {
    rec: &'a Recording,
    a: &'a mut Analysis,
    names: Names,
    changes: Vec<String>,
}

impl Applier<'_> {
    fn apply(&mut self, fact: &Fact) {
        let value = fact.value();
        let why = fact.why().to_string();
        match fact {
            Fact::Issued {
                issuer,
                json_path,
                variable,
                ..
            } => self.issued(value, *issuer, json_path, variable.as_deref(), why),
            Fact::Generated { generator, .. } => self.generated(value, *generator, why),
            Fact::PerUser { others, .. } => self.per_user(value, others, why),
            Fact::Same { .. } => self.same(value, why),
        }
    }

    /// Every place a kept request after `after` sends `value`, whatever its shape.
    fn uses_of(&self, value: &str, after: Option<usize>) -> Vec<Use> {
        let mut uses = Vec::new();
        for (i, step) in self.a.steps.iter().enumerate() {
            if step.dropped.is_some() || after.is_some_and(|o| i <= o) {
                continue;
            }
            let Some(e) = self.rec.exchanges.get(i) else {
                continue;
            };
            for slot in walk::request_slots_of(&e.request, Kind::Any) {
                if slot.value == value {
                    uses.push(Use {
                        step: i,
                        place: slot.place,
                        encoding: crate::finding::Encoding::Plain,
                    });
                }
            }
        }
        uses
    }

    fn position(&self, value: &str) -> Option<usize> {
        self.a
            .findings
            .iter()
            .position(|f| f.value == value || f.aliases.iter().any(|x| x == value))
    }

    /// A new finding for `value`, named from `base` or its first use.
    fn add(&mut self, value: &str, class: Class, uses: Vec<Use>, base: Option<&str>, why: String) {
        let base = base
            .map(str::to_string)
            .or_else(|| {
                uses.iter()
                    .find_map(|u| u.place.key().and_then(naming::variable))
            })
            .unwrap_or_else(|| "value".into());
        let variable = self.names.unique(&base);
        self.changes.push(format!("`{variable}` ({class}): {why}"));
        self.a.findings.push(Finding {
            variable,
            class,
            value: value.to_string(),
            aliases: Vec::new(),
            uses,
            origins: Vec::new(),
            confidence: 90,
            reason: why.clone(),
            evidence: vec![why],
        });
    }

    fn issued(&mut self, value: &str, issuer: u64, path: &str, var: Option<&str>, why: String) {
        let Some(step) = self.a.steps.iter().position(|s| s.id == issuer) else {
            self.changes.push(format!(
                "`{value}`: exchange {issuer} is not in the recording; nothing changed"
            ));
            return;
        };
        let origin = Origin {
            step,
            place: Place::Json(path.to_string()),
        };
        let uses = self.uses_of(value, Some(step));
        if uses.is_empty() {
            return;
        }
        if let Some(i) = self.position(value) {
            if self.backs(i, &why, |f| f.applied() && !f.origins.is_empty()) {
                return;
            }
            let f = &mut self.a.findings[i];
            if !matches!(f.class, Class::SessionToken | Class::PlatformToken) {
                f.class = Class::Correlated;
            }
            f.origins = vec![origin];
            for u in uses {
                if !f.uses.contains(&u) {
                    f.uses.push(u);
                }
            }
            f.uses.sort_by_key(|u| u.step);
            f.confidence = f.confidence.max(90);
            f.evidence.push(why.clone());
            self.changes
                .push(format!("`{}` (correlated): {why}", f.variable));
            return;
        }
        let base = var
            .map(str::to_string)
            .or_else(|| crate::finding::last_key(path).and_then(naming::variable));
        self.add(value, Class::Correlated, uses, base.as_deref(), why);
        if let Some(f) = self.a.findings.last_mut() {
            f.origins = vec![origin];
        }
    }

    fn generated(&mut self, value: &str, generator: Gen, why: String) {
        if let Some(i) = self.position(value) {
            if self.backs(i, &why, |f| {
                f.applied() && matches!(f.class, Class::Generated(_))
            }) {
                return;
            }
            let f = &mut self.a.findings[i];
            f.class = Class::Generated(generator);
            f.origins.clear();
            f.confidence = f.confidence.max(90);
            f.evidence.push(why.clone());
            self.changes
                .push(format!("`{}` ({}): {why}", f.variable, f.class));
            return;
        }
        let uses = self.uses_of(value, None);
        if !uses.is_empty() {
            self.add(value, Class::Generated(generator), uses, None, why);
        }
    }

    fn per_user(&mut self, value: &str, others: &[String], why: String) {
        if let Some(i) = self.position(value) {
            let replaced = |f: &Finding| {
                matches!(
                    f.class,
                    Class::Correlated
                        | Class::SessionToken
                        | Class::PlatformToken
                        | Class::Generated(_)
                ) && (f.applied() || !f.origins.is_empty())
            };
            if self.backs(i, &why, replaced) {
                return;
            }
            let f = &mut self.a.findings[i];
            f.evidence.push(why.clone());
            if f.reason.contains(USER_BOUND) {
                // Each user's own row now: the warning that every VU is one user is moot.
                self.a.warnings.retain(|w| !w.contains(USER_BOUND));
            }
            f.class = Class::PerUser;
            f.origins.clear();
            f.confidence = 90;
            let var = f.variable.clone();
            self.changes.push(format!("`{var}` (per-user data): {why}"));
            self.a.rows_elsewhere.insert(var, others.to_vec());
            return;
        }
        let uses = self.uses_of(value, None);
        if uses.is_empty() {
            return;
        }
        self.add(value, Class::PerUser, uses, None, why);
        if let Some(f) = self.a.findings.last() {
            self.a
                .rows_elsewhere
                .insert(f.variable.clone(), others.to_vec());
        }
    }

    /// When the rules already replace finding `i` the way the evidence says (`agrees`), the
    /// evidence only backs them: noted, and the rules' choice kept.
    fn backs(&mut self, i: usize, why: &str, agrees: impl Fn(&Finding) -> bool) -> bool {
        let f = &mut self.a.findings[i];
        if !agrees(f) {
            return false;
        }
        f.confidence = f.confidence.max(90);
        f.evidence.push(why.to_string());
        self.changes.push(format!(
            "`{}` ({}, as the rules found): {why}",
            f.variable, f.class
        ));
        true
    }

    /// A value every recording sends alike: what only its shape made a nonce or a token
    /// nothing issued is sent as recorded.
    fn same(&mut self, value: &str, why: String) {
        let Some(i) = self.position(value) else {
            return;
        };
        let f = &mut self.a.findings[i];
        let guessed = matches!(f.class, Class::Generated(Gen::Nonce | Gen::Uuid))
            || (f.class == Class::PlatformToken && f.origins.is_empty())
            || (matches!(f.class, Class::Correlated | Class::SessionToken) && !f.applied());
        if !guessed {
            return;
        }
        f.class = Class::Static;
        f.confidence = f.confidence.min(40);
        f.reason = why.clone();
        f.evidence.push(why.clone());
        self.changes.push(format!(
            "`{}` (static, sent as recorded): {why}",
            f.variable
        ));
    }
}
