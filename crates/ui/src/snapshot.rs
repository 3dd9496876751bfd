//! The recording as it is on disk now, its drops applied: what an opened exchange, the token
//! analysis and the downloads are made from. The file only ever grows (drops are appended), so
//! its length tells whether the last read is still current; a read happens off the async
//! threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use loadtape_recording::{read_recording, Recording};

/// One read of the recording and the file length it was read at.
pub(crate) struct Snapshot {
    /// The file's length when read: the key of everything cached from it.
    pub len: u64,
    pub recording: Recording,
}

/// The recording's path and its latest read.
pub(crate) struct Snapshots {
    path: PathBuf,
    last: Mutex<Option<Arc<Snapshot>>>,
}

impl Snapshots {
    pub(crate) fn new(path: PathBuf) -> Snapshots {
        Snapshots {
            path,
            last: Mutex::new(None),
        }
    }

    /// The recording file's path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The recording now; an error says why it cannot be read (as `convert` would).
    pub(crate) async fn current(&self) -> Result<Arc<Snapshot>, String> {
        let len = std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        if let Some(last) = self.cached().filter(|s| s.len == len) {
            return Ok(last);
        }
        let path = self.path.clone();
        let recording =
            tokio::task::spawn_blocking(move || read_recording(&path).map_err(|e| e.to_string()))
                .await
                .map_err(|e| format!("cannot read the recording: {e}"))??;
        let snapshot = Arc::new(Snapshot { len, recording });
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }

    fn cached(&self) -> Option<Arc<Snapshot>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
