//! `record --tester ID`, `--testers FILE`, `--split`, and the group names typed in the
//! proxy's terminal: several testers recording at once through one proxy, each exchange
//! tagged with its tester and group.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use loadtape_proxy::{Marks, Testers};
use loadtape_recording::Recording;

use crate::exit::Failure;

/// The tester list from `--tester` and `--testers`; the file's problems name it.
pub(crate) fn testers(typed: &[String], file: Option<&Path>) -> Result<Testers, Failure> {
    let text = match file {
        Some(path) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| Failure::BadInput(anyhow!("--testers {}: {e}", path.display())))?;
            // Read no more than the limit allows: a huge file is refused before it is read.
            if meta.len() > loadtape_proxy::testers::MAX_TESTERS_FILE as u64 {
                return Err(Failure::BadInput(anyhow!(
                    "--testers {}: {} bytes; a tester file may hold at most {} KB (the Mini Program Platform's limit): split the testers over several recordings",
                    path.display(),
                    meta.len(),
                    loadtape_proxy::testers::MAX_TESTERS_FILE / 1024
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::BadInput(anyhow!(
                    "--testers {}: {e} (one tester ID per line, UTF-8)",
                    path.display()
                ))
            })?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let file = text.as_ref().map(|(n, t)| (n.as_str(), t.as_str()));
    Testers::new(typed, file).map_err(Failure::BadInput)
}

/// Group names typed in the terminal, one per line, mark a group for every tester. Off the
/// async runtime: a thread that ends with its input.
pub(crate) fn read_terminal_marks(marks: Arc<Marks>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if line.trim().is_empty() {
                continue;
            }
            match loadtape_proxy::testers::group_name(&line) {
                Ok(name) => {
                    marks.mark_everyone(&name);
                    outln!("group `{name}` started: the exchanges from now on belong to it");
                }
                Err(why) => outln!("!! {why}"),
            }
        }
    });
}

/// `--split`: one recording per tester beside the whole one (`NAME.TESTER.yaml`); the whole
/// recording stays as it is. Returns the files written.
pub(crate) fn split(path: &Path) -> Result<Vec<PathBuf>, Failure> {
    let whole = loadtape_recording::read_recording(path)
        .map_err(|e| Failure::Other(anyhow!("--split: cannot read {}: {e}", path.display())))?;
    let mut testers: Vec<String> = Vec::new();
    for e in &whole.exchanges {
        if let Some(t) = &e.tester {
            if !testers.contains(t) {
                testers.push(t.clone());
            }
        }
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    let mut written = Vec::new();
    for t in testers {
        let mut one = Recording {
            header: whole.header.clone(),
            exchanges: whole
                .exchanges
                .iter()
                .filter(|e| e.tester.as_deref() == Some(t.as_str()))
                .cloned()
                .collect(),
            truncated_tail: None,
        };
        one.header.name = format!("{}-{t}", whole.header.name);
        let out = path.with_file_name(format!("{stem}.{t}.yaml"));
        loadtape_recording::write_recording(&out, &one)
            .map_err(|e| Failure::Other(anyhow!("--split: cannot write {}: {e}", out.display())))?;
        written.push(out);
    }
    Ok(written)
}
