//! The one rule for the files commands write (`run --out/--html`, `report --out/--html`,
//! `convert -o`, `har import/export -o`): a file that exists is kept unless `--force` says to
//! replace it — a result or a report from an earlier run is evidence, and losing it to a
//! re-run with the same flags is silent. `record` never replaces a recording (it has no
//! `--force`); `demo` replaces its own files and says so.

use std::path::Path;

use anyhow::anyhow;

use crate::exit::Failure;

/// Refuses to write `path` over an existing file unless `force`; `flag` is the option that
/// chose the path, for the message.
pub fn refuse_existing(path: &Path, force: bool, flag: &str) -> Result<(), Failure> {
    if force || !path.exists() {
        return Ok(());
    }
    Err(Failure::BadInput(anyhow!(
        "{} already exists; pass --force to replace it, or give {flag} another path",
        path.display()
    )))
}
