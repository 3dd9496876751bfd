//! `--secret-env NAME`: candidate signing secrets, read from the environment so that they
//! never appear on a command line, in a shell history or in the scenario.

use anyhow::anyhow;
use loadtape_detect::signing::Secret;

use crate::exit::Failure;

/// The named variables' values; one unset or empty is bad input naming it.
pub(crate) fn read(names: &[String]) -> Result<Vec<Secret>, Failure> {
    names
        .iter()
        .map(|name| match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Secret {
                env: name.clone(),
                value,
            }),
            _ => Err(Failure::BadInput(anyhow!(
                "--secret-env {name}: the environment variable `{name}` is not set (or empty): \
                 export it with the secret first, e.g. `{name}=… loadtape convert …` (the \
                 scenario will read it the same way at run time)"
            ))),
        })
        .collect()
}
