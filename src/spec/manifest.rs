//! Image manifests: a CSV file with a header row, or JSONL with one object per line, naming
//! one image per row and its labels. FairFace's `fairface_label_{train,val}.csv`
//! (`file,age,gender,race,service_test`) loads as it is.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Problems reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestReadError {
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// CSV syntax.
    #[error("{0}")]
    Csv(#[from] csv::Error),
    /// A JSONL line that is not a JSON object.
    #[error("line {line}: {message}")]
    Jsonl {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No header or no rows.
    #[error("the manifest is empty")]
    Empty,
}

fn is_jsonl(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// One JSONL object and its 1-based line number.
type JsonlObject = Result<(usize, serde_json::Map<String, serde_json::Value>), ManifestReadError>;

/// The objects of a JSONL file with their 1-based line numbers, blank lines skipped.
fn jsonl_objects(path: &Path) -> Result<impl Iterator<Item = JsonlObject>, ManifestReadError> {
    let file = std::fs::File::open(path)?;
    Ok(BufReader::new(file).lines().enumerate().filter_map(|(i, line)| {
        let line = match line {
            Ok(l) if l.trim().is_empty() => return None,
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Some(Err(ManifestReadError::Jsonl { line: i + 1, message: "not valid UTF-8".into() }));
            }
            Err(e) => return Some(Err(e.into())),
        };
        Some(match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(m)) => Ok((i + 1, m)),
            Ok(_) => Err(ManifestReadError::Jsonl { line: i + 1, message: "not a JSON object".into() }),
            Err(e) => Err(ManifestReadError::Jsonl { line: i + 1, message: e.to_string() }),
        })
    }))
}

/// The column names: the CSV header, or the keys of the first JSONL object.
pub fn read_header(path: &Path) -> Result<Vec<String>, ManifestReadError> {
    if is_jsonl(path) {
        let (_, first) = jsonl_objects(path)?.next().ok_or(ManifestReadError::Empty)??;
        return Ok(first.keys().cloned().collect());
    }
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_path(path)?;
    let header: Vec<String> = reader.headers()?.iter().map(|h| h.trim().to_owned()).collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(ManifestReadError::Empty);
    }
    Ok(header)
}

/// One manifest row: column → value (JSON numbers and booleans as their text).
pub type Row = BTreeMap<String, String>;

/// A manifest's rows, and the records that could not be read as rows (a CSV record with the
/// wrong number of fields or invalid UTF-8, a JSONL line that is not a JSON object), each
/// with its 1-based line and what is wrong: one bad record costs that record, not the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Readable rows, in file order, with their 1-based lines.
    pub rows: Vec<(usize, Row)>,
    /// Unreadable records: line and reason.
    pub bad: Vec<(usize, String)>,
}

/// Every row, in file order, with its 1-based line number (for messages); records that
/// cannot be read are listed in [`Rows::bad`]. Errors only when the file cannot be read at all.
pub fn read_rows(path: &Path) -> Result<Rows, ManifestReadError> {
    let mut out = Rows::default();
    if is_jsonl(path) {
        for object in jsonl_objects(path)? {
            match object {
                Ok((line, m)) => {
                    let row = m
                        .into_iter()
                        .map(|(k, v)| {
                            let text = match v {
                                serde_json::Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, text)
                        })
                        .collect();
                    out.rows.push((line, row));
                }
                Err(ManifestReadError::Jsonl { line, message }) => out.bad.push((line, message)),
                Err(e) => return Err(e),
            }
        }
        return Ok(out);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
    let header: Vec<String> = reader.headers()?.iter().map(|h| h.trim().to_owned()).collect();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.len() != header.len() {
                    out.bad.push((line, format!("{} fields where the header has {}", record.len(), header.len())));
                    continue;
                }
                out.rows.push((line, header.iter().cloned().zip(record.iter().map(str::to_owned)).collect()));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                match e.kind() {
                    csv::ErrorKind::Io(_) => return Err(e.into()),
                    _ => out.bad.push((line, e.to_string())),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_record_costs_that_record_not_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "file,race\na.png,White\nb.png,Black,extra\nc.png\nd.png,Indian\n").unwrap();
        let rows = read_rows(&p).unwrap();
        assert_eq!(rows.rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(rows.bad.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3, 4]);
        assert!(rows.bad[0].1.contains("3 fields where the header has 2"), "{:?}", rows.bad);
        let p = dir.path().join("m.jsonl");
        std::fs::write(&p, "{\"file\": \"a.png\"}\nnot json\n{\"file\": \"b.png\"}\n").unwrap();
        let rows = read_rows(&p).unwrap();
        assert_eq!((rows.rows.len(), rows.bad.len(), rows.bad[0].0), (2, 1, 2));
    }

    #[test]
    fn fairface_csv_loads_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fairface_label_val.csv");
        std::fs::write(&p, "file,age,gender,race,service_test\nval/1.jpg,3-9,Male,East Asian,False\nval/2.jpg,50-59,Female,Latino_Hispanic,True\n").unwrap();
        assert_eq!(read_header(&p).unwrap(), ["file", "age", "gender", "race", "service_test"]);
        let rows = read_rows(&p).unwrap().rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1["race"], "Latino_Hispanic");
        assert_eq!(rows[1].0, 3);
    }

    #[test]
    fn jsonl_rows_keep_numbers_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(&p, "{\"file\": \"a.png\", \"age\": 7}\n\n{\"file\": \"b.png\", \"age\": 30}\n").unwrap();
        let rows = read_rows(&p).unwrap().rows;
        assert_eq!(rows[0].1["age"], "7");
        assert_eq!(rows[1].0, 3);
        std::fs::write(&p, "[1, 2]\n").unwrap();
        assert!(read_header(&p).unwrap_err().to_string().contains("line 1"));
    }
}
