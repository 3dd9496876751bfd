//! The appending recording writer.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::emit;
use crate::reader::Recording;
use crate::recording::{Exchange, RecordingHeader, Tombstone};

/// Appends exchanges to a recording file as they complete, from any number of tasks.
///
/// Each exchange is rendered outside the lock, then written in one `write_all` and flushed to
/// the operating system before `append` returns, so a process crash (even `kill -9`) loses only
/// exchanges not yet appended. If a write fails part-way (a full disk), the file is cut back to
/// its last complete document, so later appends and readers never see a half-written one.
#[derive(Debug)]
pub struct RecordingWriter {
    path: PathBuf,
    file: Mutex<Tail>,
}

#[derive(Debug)]
struct Tail {
    file: File,
    /// Length of the file up to the end of its last complete document.
    len: u64,
}

impl RecordingWriter {
    /// Creates a new recording with its header. Fails if the file exists: a recording is never
    /// overwritten by accident. Missing parent directories are created.
    pub fn create(path: impl AsRef<Path>, header: &RecordingHeader) -> io::Result<RecordingWriter> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let writer = RecordingWriter {
            path,
            file: Mutex::new(Tail { file, len: 0 }),
        };
        writer.write_document(&emit::header(header), false)?;
        Ok(writer)
    }

    /// The file being written, for messages about it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one exchange; returns once it is in the file.
    pub fn append(&self, exchange: &Exchange) -> io::Result<()> {
        self.append_all(std::slice::from_ref(exchange))
    }

    /// Appends several exchanges in one write (the recorder's group commit: one system call
    /// for every exchange that finished while the last batch was written); returns once all
    /// are in the file. On an error none of them is: the file is cut back to before the first.
    pub fn append_all(&self, exchanges: &[Exchange]) -> io::Result<()> {
        let mut text = String::with_capacity(exchanges.len() * 1024);
        for exchange in exchanges {
            document(&mut text, true, |t| emit::exchange_into(t, exchange));
        }
        self.write_text(&text)
    }

    /// Appends a [`Tombstone`]: the exchange it names is dropped for every reader, while
    /// what is already on disk stays as it was. Returns once it is in the file.
    pub fn append_tombstone(&self, tombstone: &Tombstone) -> io::Result<()> {
        self.write_document(&emit::tombstone(tombstone), true)
    }

    fn write_document(&self, doc: &str, separator: bool) -> io::Result<()> {
        let mut text = String::with_capacity(doc.len() + 8);
        document(&mut text, separator, |t| t.push_str(doc));
        self.write_text(&text)
    }

    /// Writes whole documents at once, or (on an error) nothing.
    fn write_text(&self, text: &str) -> io::Result<()> {
        // A panic while holding the lock cannot leave a half document behind (the length is
        // only advanced after a full write), so a poisoned lock is safe to keep using.
        let mut tail = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let result = tail
            .file
            .write_all(text.as_bytes())
            .and_then(|_| tail.file.flush());
        match result {
            Ok(()) => {
                tail.len += text.len() as u64;
                Ok(())
            }
            Err(e) => {
                let len = tail.len;
                // Best effort: if even this fails the reader still drops the partial tail.
                let _ = tail.file.set_len(len);
                let _ = std::io::Seek::seek(&mut tail.file, io::SeekFrom::Start(len));
                Err(e)
            }
        }
    }

    /// Flushes file data and metadata to the disk itself (fsync), for a clean close.
    pub fn sync(&self) -> io::Result<()> {
        self.file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .file
            .sync_all()
    }
}

/// Adds one document, written by `body`, to `text`: `---` before it (all but the header),
/// `...` after it.
fn document(text: &mut String, separator: bool, body: impl FnOnce(&mut String)) {
    if separator {
        text.push_str("---\n");
    }
    body(text);
    text.push_str("...\n");
}

/// A whole recording as the writer would leave it on disk: the header, then every exchange,
/// each document ended with `...`. For a copy made in memory (the recorder UI's download of
/// the recording with its drops applied).
pub fn recording_yaml(recording: &Recording) -> String {
    let mut out = String::new();
    document(&mut out, false, |t| {
        t.push_str(&emit::header(&recording.header))
    });
    for e in &recording.exchanges {
        document(&mut out, true, |t| emit::exchange_into(t, e));
    }
    out
}

/// Writes a whole recording at once (used by importers), replacing `path` if it exists.
pub fn write_recording(path: impl AsRef<Path>, recording: &Recording) -> io::Result<()> {
    let path = path.as_ref();
    let tmp = path.with_extension("yaml.partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let writer = RecordingWriter::create(&tmp, &recording.header)?;
        for exchange in &recording.exchanges {
            writer.append(exchange)?;
        }
        writer.sync()?;
    }
    std::fs::rename(&tmp, path)
}
