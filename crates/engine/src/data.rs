//! CSV data sources: rows read once at start, handed out per VU or per iteration.
//!
//! The rows are shared by every worker thread (read-only); the only shared state is one atomic
//! cursor per source for `sequential` and `unique`, so picking a row takes no lock.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use loadtape_scenario::Pick;

/// One CSV file's rows.
#[derive(Debug)]
pub struct DataSet {
    /// The source's name in the scenario's `data`: templates say `name.column`.
    pub name: String,
    /// The header row, trimmed: the column names.
    pub columns: Vec<String>,
    /// Row-major cells, `columns.len()` per row.
    cells: Vec<String>,
    rows: usize,
    /// How rows are handed out: per VU, in turn, at random, or each once.
    pub pick: Pick,
    cursor: AtomicUsize,
}

impl DataSet {
    /// Reads the whole file. Every row must have the header's columns: a row missing one
    /// (or an unterminated quote, which swallows the rows after it) would hand VUs empty or
    /// shifted values for the whole run, so it is refused with its line.
    pub fn load(name: &str, path: &Path, pick: Pick) -> Result<DataSet, String> {
        let shown = path.display();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::Headers)
            .from_path(path)
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?
            .iter()
            .map(str::to_string)
            .collect();
        let width = columns.len();
        let mut cells = Vec::new();
        let mut rows = 0;
        for record in reader.records() {
            let record = record.map_err(|e| bad_row(path, &e, width))?;
            cells.extend(record.iter().map(str::to_string));
            rows += 1;
        }
        if rows == 0 {
            return Err(format!(
                "`{}` has a header row but no data rows",
                path.display()
            ));
        }
        Ok(DataSet {
            name: name.to_string(),
            columns,
            cells,
            rows,
            pick,
            cursor: AtomicUsize::new(0),
        })
    }

    /// How many rows there are (after [`DataSet::keep`], this segment's).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Keeps only the rows in `range` (this machine's slice under `--segment`), so shards of
    /// a distributed run never use the same row.
    pub fn keep(&mut self, range: std::ops::Range<usize>) {
        let w = self.columns.len();
        let end = range.end.min(self.rows);
        let start = range.start.min(end);
        self.cells.truncate(end * w);
        self.cells.drain(..start * w);
        self.rows = end - start;
    }

    /// The index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The text of one cell; `None` outside the table.
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        self.cells
            .get(row * self.columns.len() + column)
            .map(String::as_str)
    }

    /// The row for VU number `vu` (`per-vu`).
    pub fn for_vu(&self, vu: u64) -> usize {
        (vu % self.rows as u64) as usize
    }

    /// The row for the next iteration; `None` when a `unique` source has run out.
    pub fn next(&self) -> Option<usize> {
        match self.pick {
            Pick::PerVu => Some(0),
            Pick::Sequential => Some(self.cursor.fetch_add(1, Ordering::Relaxed) % self.rows),
            Pick::Random => Some(fastrand::usize(..self.rows)),
            Pick::Unique => {
                let i = self.cursor.fetch_add(1, Ordering::Relaxed);
                (i < self.rows).then_some(i)
            }
        }
    }
}

/// `users.csv:3: the row has 1 field where the header has 2 columns`, with what to do.
fn bad_row(path: &Path, e: &csv::Error, width: usize) -> String {
    let shown = path.display();
    let line = e.position().map_or(0, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::UnequalLengths { len, .. } => {
            let quote = if std::fs::read(path)
                .is_ok_and(|b| b.iter().filter(|&&c| c == b'"').count() % 2 == 1)
            {
                "; the file has an unterminated quote (`\"`), which runs a field on to the end \
                 of the file: close it, or write a literal quote as `\"\"`"
            } else {
                ""
            };
            let plural = if *len == 1 { "" } else { "s" };
            format!(
                "{shown}:{line}: the row has {len} field{plural} where the header has {width} \
                 columns{quote} (give every row a value for each column, empty ones as `,,`)"
            )
        }
        _ => format!("{shown}:{line}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pick: Pick) -> DataSet {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.csv");
        std::fs::write(&path, "code, name\na,1\nb,\nc,3\n").unwrap();
        DataSet::load("users", &path, pick).unwrap()
    }

    #[test]
    fn a_ragged_row_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.csv");
        for (text, line) in [("code,name\na,1\nb\n", 3), ("code,name\na,1,extra\n", 2)] {
            std::fs::write(&path, text).unwrap();
            let e = DataSet::load("users", &path, Pick::Sequential).unwrap_err();
            assert!(e.contains(&format!("u.csv:{line}: the row has")), "{e}");
        }
    }

    #[test]
    fn reads_rows_and_hands_them_out() {
        let d = set(Pick::Sequential);
        assert_eq!(d.rows(), 3);
        assert_eq!(d.column("name"), Some(1));
        assert_eq!(d.cell(1, 1), Some(""));
        assert_eq!(d.cell(2, 1), Some("3"));
        let seq: Vec<_> = (0..4).map(|_| d.next().unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0]);
        let u = set(Pick::Unique);
        let got: Vec<_> = (0..4).map(|_| u.next()).collect();
        assert_eq!(got, [Some(0), Some(1), Some(2), None]);
        assert_eq!(set(Pick::PerVu).for_vu(4), 1);
        let r = set(Pick::Random);
        assert!((0..50).all(|_| r.next().unwrap() < 3));
    }

    #[test]
    fn keeps_a_segments_slice_of_rows() {
        let mut d = set(Pick::Sequential);
        d.keep(1..3);
        assert_eq!(d.rows(), 2);
        assert_eq!(d.cell(0, 0), Some("b"));
        assert_eq!(d.cell(1, 1), Some("3"));
        assert_eq!(d.cell(2, 0), None);
    }
}
