//! `run --timeline FILE`: every second of the run as one JSON line, appended and flushed as
//! the run goes (k6's `--out json` is the model), so that a run killed at hour 50 has lost at
//! most its last second, and a long run's whole-resolution series survives the folding its
//! result does ([`loadtape_report::timeline`]). Read it with `jq`, pandas or any JSON-lines
//! tool.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use loadtape_report::result::Second;

use crate::exit::Failure;

/// The open timeline file of a run.
pub struct TimelineFile {
    path: PathBuf,
    out: BufWriter<File>,
    started: DateTime<Utc>,
    /// Set once a write failed (a full disk): said once, and the run goes on without the file.
    broken: bool,
}

impl TimelineFile {
    /// Creates `path` (refused when it exists, unless `force`), before the run starts.
    pub fn create(path: &Path, force: bool) -> Result<TimelineFile, Failure> {
        crate::outputs::refuse_existing(path, force, "--timeline")?;
        let file = File::create(path).map_err(|e| {
            Failure::BadInput(anyhow!(
                "--timeline {}: cannot create it: {e}",
                path.display()
            ))
        })?;
        Ok(TimelineFile {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            started: Utc::now(),
            broken: false,
        })
    }

    /// The wall-clock start the seconds' `t` count from (the engine's, once the run started).
    pub fn set_started(&mut self, started: DateTime<Utc>) {
        self.started = started;
    }

    /// Appends `seconds` and flushes. A failed write is reported once on stderr; the run is
    /// worth more than its timeline file, so it goes on.
    pub fn append(&mut self, seconds: &[Second]) {
        if self.broken || seconds.is_empty() {
            return;
        }
        if let Err(e) = self.write(seconds) {
            self.broken = true;
            eprintln!(
                "warning: --timeline {}: {e}; the run goes on and its result has the timeline",
                self.path.display()
            );
        }
    }

    fn write(&mut self, seconds: &[Second]) -> std::io::Result<()> {
        for s in seconds {
            let time = self.started + chrono::Duration::seconds(s.t as i64);
            // The second as `result/v1` stores it, and its wall-clock start (RFC 3339 UTC).
            let mut line = serde_json::to_value(s)?;
            if let serde_json::Value::Object(fields) = &mut line {
                let stamp = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                fields.insert("time".into(), stamp.into());
            }
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }

    /// Where the file is, for the closing message.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
