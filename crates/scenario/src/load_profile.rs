//! The `load` section: how many flows run, and when (k6's executors).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de::{did_you_mean, fail, fail_at};
use super::time::{opt_duration, Rate, RATE_HINT};

/// The `load` section: the executor, and a cap on each VU's iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// The schedule: how many VUs, or what rate, for how long (`executor:` and its fields).
    pub executor: Executor,
    /// Each VU stops after this many flows (on any executor); `--iterations 1` is the smoke
    /// test.
    pub iterations: Option<u64>,
}

/// The closed model (`*-vus`: a fixed or ramping number of VUs, each looping the flow) and
/// the open model (`*-rate`: flows started on a schedule; when no VU is free an iteration
/// waits for one, and is dropped and counted after 2 s).
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `constant-vus`: `vus` VUs loop the flow for `duration`.
    ConstantVus {
        /// How many VUs (at least 1).
        vus: u32,
        /// How long the run lasts (more than zero).
        duration: Duration,
    },
    /// `ramping-vus`: the number of VUs goes from `start_vus` through each stage in turn; VUs
    /// start and stop between iterations.
    RampingVus {
        /// VUs at the start (default 0).
        start_vus: u32,
        /// The ramp, in order; the run lasts as long as they do together.
        stages: Vec<VuStage>,
    },
    /// `constant-rate`: flows started at `rate` for `duration`, each on a free VU.
    ConstantRate {
        /// Iterations started per unit of time (more than zero).
        rate: Rate,
        /// How long the run lasts (more than zero).
        duration: Duration,
        /// The most VUs the run may make to keep up with the rate (at least 1).
        max_vus: u32,
        /// VUs made before the first iteration (default: a tenth of the peak rate per second,
        /// at least 1); never more than `max_vus`.
        pre_allocated_vus: Option<u32>,
    },
    /// `ramping-rate`: the rate goes from `start_rate` through each stage in turn, flows
    /// started as for `constant-rate`.
    RampingRate {
        /// The rate at the start (default `0/s`).
        start_rate: Rate,
        /// The ramp, in order; the run lasts as long as they do together.
        stages: Vec<RateStage>,
        /// The most VUs the run may make to keep up with the rate (at least 1).
        max_vus: u32,
        /// As for `constant-rate`; the default uses the highest rate of the ramp.
        pre_allocated_vus: Option<u32>,
    },
}

/// Move linearly to `to` VUs over `over`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuStage {
    /// The VU count at the end of the stage.
    pub to: u32,
    /// How long the stage lasts.
    pub over: Duration,
}

/// Move linearly to the rate `to` over `over`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStage {
    /// The rate at the end of the stage.
    pub to: Rate,
    /// How long the stage lasts.
    pub over: Duration,
}

const KINDS: [&str; 4] = [
    "constant-vus",
    "ramping-vus",
    "constant-rate",
    "ramping-rate",
];

impl Executor {
    /// The YAML name: `constant-vus`, `ramping-vus`, `constant-rate` or `ramping-rate`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::ConstantVus { .. } => KINDS[0],
            Executor::RampingVus { .. } => KINDS[1],
            Executor::ConstantRate { .. } => KINDS[2],
            Executor::RampingRate { .. } => KINDS[3],
        }
    }

    /// How long the schedule runs (the sum of the stages for the ramping executors).
    pub fn duration(&self) -> Duration {
        match self {
            Executor::ConstantVus { duration, .. } | Executor::ConstantRate { duration, .. } => {
                *duration
            }
            Executor::RampingVus { stages, .. } => stages.iter().map(|s| s.over).sum(),
            Executor::RampingRate { stages, .. } => stages.iter().map(|s| s.over).sum(),
        }
    }

    /// The most VUs the executor may run at once.
    pub fn max_vus(&self) -> u32 {
        match self {
            Executor::ConstantVus { vus, .. } => *vus,
            Executor::RampingVus { start_vus, stages } => {
                stages.iter().map(|s| s.to).fold(*start_vus, u32::max)
            }
            Executor::ConstantRate { max_vus, .. } | Executor::RampingRate { max_vus, .. } => {
                *max_vus
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ConstantVus,
    RampingVus,
    ConstantRate,
    RampingRate,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an executor name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
                Ok(match v {
                    "constant-vus" => Kind::ConstantVus,
                    "ramping-vus" => Kind::RampingVus,
                    "constant-rate" => Kind::ConstantRate,
                    "ramping-rate" => Kind::RampingRate,
                    _ => {
                        return Err(fail(
                            format!("unknown executor `{v}`"),
                            format!(
                                "{} the executors are {}",
                                did_you_mean(v, KINDS),
                                KINDS.join(", ")
                            ),
                        ))
                    }
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A stage target: a VU count (`200`) or a rate (`2000/s`).
#[derive(Clone, Copy)]
enum Target {
    Vus(u32),
    Rate(Rate),
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Target;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VU count (200) or a rate (2000/s)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Target, E> {
                u32::try_from(v)
                    .map(Target::Vus)
                    .map_err(|_| fail(format!("{v} VUs is too many"), ""))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Target, E> {
                if let Ok(n) = v.trim().parse::<u64>() {
                    return self.visit_u64(n);
                }
                Rate::parse(v)
                    .map(Target::Rate)
                    .map_err(|m| fail(m, "a stage goes `to` a VU count (200) or a rate (2000/s)"))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    to: Target,
    #[serde(deserialize_with = "super::time::duration")]
    over: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    executor: Option<Kind>,
    vus: Option<u32>,
    #[serde(default, deserialize_with = "opt_duration")]
    duration: Option<Duration>,
    start_vus: Option<u32>,
    stages: Option<Vec<RawStage>>,
    rate: Option<Rate>,
    start_rate: Option<Rate>,
    max_vus: Option<u32>,
    pre_allocated_vus: Option<u32>,
    iterations: Option<u64>,
}

impl<'de> Deserialize<'de> for Load {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Load, D::Error> {
        let raw = RawLoad::deserialize(d)?;
        raw.build()
    }
}

fn need<T, E: de::Error>(v: Option<T>, field: &str, kind: &str, example: &str) -> Result<T, E> {
    v.ok_or_else(|| {
        fail_at(
            field,
            format!("executor `{kind}` needs `{field}`"),
            format!("e.g. {example}"),
        )
    })
}

fn positive<E: de::Error>(v: u32, field: &str) -> Result<u32, E> {
    if v == 0 {
        return Err(fail_at(field, format!("`{field}` must be at least 1"), ""));
    }
    Ok(v)
}

impl RawLoad {
    /// Checks run in a fixed order (executor, stray fields, `iterations`, then the executor's
    /// own fields) so a file with several mistakes always reports the same one first.
    fn build<E: de::Error>(self) -> Result<Load, E> {
        let kind = self.kind()?;
        let name = KINDS[kind as usize];
        self.reject_foreign_fields(kind, name)?;
        if self.iterations == Some(0) {
            return Err(fail_at(
                "iterations",
                "`iterations` must be at least 1",
                "leave it out to loop until the duration ends",
            ));
        }
        let iterations = self.iterations;
        let executor = match kind {
            Kind::ConstantVus => self.constant_vus(name)?,
            Kind::RampingVus => self.ramping_vus(name)?,
            Kind::ConstantRate => self.constant_rate(name)?,
            Kind::RampingRate => self.ramping_rate(name)?,
        };
        Ok(Load {
            executor,
            iterations,
        })
    }

    /// There is no default executor: guessing one would silently change what the test means.
    fn kind<E: de::Error>(&self) -> Result<Kind, E> {
        self.executor.ok_or_else(|| {
            fail_at(
                "executor",
                "`load` needs an `executor`",
                format!("one of {}", KINDS.join(", ")),
            )
        })
    }

    /// A field from another executor is almost always a wrong `executor`, not a typo, so the
    /// hint names the executors the field does belong to.
    fn reject_foreign_fields<E: de::Error>(&self, kind: Kind, name: &str) -> Result<(), E> {
        let allowed = fields(kind);
        let present = [
            ("vus", self.vus.is_some()),
            ("duration", self.duration.is_some()),
            ("start_vus", self.start_vus.is_some()),
            ("stages", self.stages.is_some()),
            ("rate", self.rate.is_some()),
            ("start_rate", self.start_rate.is_some()),
            ("max_vus", self.max_vus.is_some()),
            ("pre_allocated_vus", self.pre_allocated_vus.is_some()),
        ];
        if let Some((field, _)) = present.iter().find(|(f, p)| *p && !allowed.contains(f)) {
            let fits: Vec<&str> = ALL
                .iter()
                .filter(|k| **k != kind && fields(**k).contains(field))
                .map(|k| KINDS[*k as usize])
                .collect();
            return Err(fail_at(
                field,
                format!("`{field}` does not apply to executor `{name}`"),
                format!(
                    "{name} takes {}; `{field}` belongs to {}",
                    allowed.join(", "),
                    fits.join(" and ")
                ),
            ));
        }
        Ok(())
    }

    fn constant_vus<E: de::Error>(self, name: &str) -> Result<Executor, E> {
        Ok(Executor::ConstantVus {
            vus: positive(need(self.vus, "vus", name, "vus: 50")?, "vus")?,
            duration: positive_duration(need(self.duration, "duration", name, "duration: 1m")?)?,
        })
    }

    /// A rate in a VU ramp is the most likely mix-up, so it gets its own message.
    fn ramping_vus<E: de::Error>(self, name: &str) -> Result<Executor, E> {
        let raw = need(
            self.stages,
            "stages",
            name,
            "stages: [{to: 200, over: 30s}]",
        )?;
        let stages = stages(raw, |i, t| match t {
            Target::Vus(n) => Ok(n),
            Target::Rate(r) => Err(fail_at(
                &format!("stages[{i}].to"),
                format!("ramping-vus stages go to a VU count, not a rate ({r})"),
                "write to: 200, or use executor: ramping-rate",
            )),
        })?;
        Ok(Executor::RampingVus {
            start_vus: self.start_vus.unwrap_or(0),
            stages: stages
                .into_iter()
                .map(|(to, over)| VuStage { to, over })
                .collect(),
        })
    }

    fn constant_rate<E: de::Error>(self, name: &str) -> Result<Executor, E> {
        let rate = need(self.rate, "rate", name, "rate: 500/s")?;
        if rate.count == 0 {
            return Err(fail_at("rate", "`rate` must be more than zero", RATE_HINT));
        }
        let max_vus = positive(
            need(self.max_vus, "max_vus", name, "max_vus: 2000")?,
            "max_vus",
        )?;
        Ok(Executor::ConstantRate {
            rate,
            duration: positive_duration(need(self.duration, "duration", name, "duration: 1m")?)?,
            max_vus,
            pre_allocated_vus: pre_allocated(self.pre_allocated_vus, max_vus)?,
        })
    }

    /// A bare VU count in a rate ramp is usually a forgotten `/s`, so the hint adds it.
    fn ramping_rate<E: de::Error>(self, name: &str) -> Result<Executor, E> {
        let max_vus = positive(
            need(self.max_vus, "max_vus", name, "max_vus: 5000")?,
            "max_vus",
        )?;
        let raw = need(
            self.stages,
            "stages",
            name,
            "stages: [{to: 2000/s, over: 1m}]",
        )?;
        let stages = stages(raw, |i, t| match t {
            Target::Rate(r) => Ok(r),
            Target::Vus(n) => Err(fail_at(
                &format!("stages[{i}].to"),
                format!("ramping-rate stages go to a rate, not a VU count ({n})"),
                format!("write to: {n}/s"),
            )),
        })?;
        Ok(Executor::RampingRate {
            start_rate: self.start_rate.unwrap_or(Rate::per_second(0)),
            stages: stages
                .into_iter()
                .map(|(to, over)| RateStage { to, over })
                .collect(),
            max_vus,
            pre_allocated_vus: pre_allocated(self.pre_allocated_vus, max_vus)?,
        })
    }
}

/// A zero-length run would pass every threshold without sending a request.
fn positive_duration<E: de::Error>(d: Duration) -> Result<Duration, E> {
    if d.is_zero() {
        return Err(fail_at(
            "duration",
            "`duration` must be more than zero",
            "e.g. duration: 1m",
        ));
    }
    Ok(d)
}

const ALL: [Kind; 4] = [
    Kind::ConstantVus,
    Kind::RampingVus,
    Kind::ConstantRate,
    Kind::RampingRate,
];

/// The fields each executor takes (besides `executor` and `iterations`).
fn fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::ConstantVus => &["vus", "duration"],
        Kind::RampingVus => &["start_vus", "stages"],
        Kind::ConstantRate => &["rate", "duration", "max_vus", "pre_allocated_vus"],
        Kind::RampingRate => &["start_rate", "stages", "max_vus", "pre_allocated_vus"],
    }
}

fn stages<T, E: de::Error>(
    raw: Vec<RawStage>,
    to: impl Fn(usize, Target) -> Result<T, E>,
) -> Result<Vec<(T, Duration)>, E> {
    if raw.is_empty() {
        return Err(fail_at(
            "stages",
            "`stages` is empty",
            "add at least one: [{to: 200, over: 30s}]",
        ));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| Ok((to(i, s.to)?, s.over)))
        .collect()
}

fn pre_allocated<E: de::Error>(v: Option<u32>, max_vus: u32) -> Result<Option<u32>, E> {
    match v {
        Some(n) if n > max_vus => Err(fail_at(
            "pre_allocated_vus",
            format!("`pre_allocated_vus` ({n}) is more than `max_vus` ({max_vus})"),
            "raise max_vus or lower pre_allocated_vus",
        )),
        v => Ok(v),
    }
}
