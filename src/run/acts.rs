//! Tapped activations on disk, unit-major, so that an analysis can read a block of units over
//! every stimulus without ever holding the stimuli × units matrix in memory.
//!
//! A dataset-scale audit stores 10⁵–10⁶ stimuli × thousands of units per tap (1M × 2,560 f32 is
//! 10 GB). Every per-unit statistic the analyses compute (ranks, Mann-Whitney, Cohen's d) needs
//! one unit's responses to all the stimuli of a block at once, and none needs two units at
//! once. Store format 1 kept a tap as one list column per stimulus row in parquet, so reading
//! any unit meant decoding every unit. Format 2 writes each part's activations beside its
//! parquet file (`<part>.acts`), one contiguous run of `rows` values per unit, so that a block
//! of units is one read per part and memory is bounded by the block, whatever the stimuli.
//!
//! File layout (all little-endian):
//!
//! ```text
//! 0..8          magic  b"CLIPACTS"
//! 8..12         u32    format (= the store format, 2)
//! 12..16        u32    header length H
//! 16..16+H      JSON   {"rows": n, "taps": [{"name": "...", "units": U}, ...]}
//! then, per tap in header order, U·n f32: unit 0's n values (the parquet part's row order),
//! then unit 1's, ...
//! ```
//!
//! `scripts/reference_analyze.py` reads the same layout with numpy.

use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

use super::store::{STORE_FORMAT, StoreError};

/// First bytes of an activations file.
pub const MAGIC: &[u8; 8] = b"CLIPACTS";
/// Bytes an analysis reads into memory per block of units: the block's width is chosen so that
/// stimuli × width × 4 bytes stays within this.
pub const BLOCK_BYTES: usize = 64 << 20;

/// What an activations file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActsHeader {
    /// Stimuli (rows of the parquet part).
    pub rows: usize,
    /// Taps, in the order their values follow.
    pub taps: Vec<TapShape>,
}

/// One tap's name and width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapShape {
    /// Tap name.
    pub name: String,
    /// Units.
    pub units: usize,
}

/// The activations file beside a parquet part: `<part>.acts`.
pub fn acts_path(part: &Path) -> PathBuf {
    part.with_extension("acts")
}

fn corrupt(path: &Path, what: String) -> StoreError {
    StoreError::Corrupt { path: path.to_path_buf(), message: what }
}

/// Writes one part's activations, whole or not at all. `taps` holds each tap's name, units and
/// values row-major (`rows × units`, as the encoder produced them); they are written
/// unit-major.
pub fn write_acts(path: &Path, rows: usize, taps: &[(String, usize, Vec<f32>)]) -> Result<(), StoreError> {
    let header = ActsHeader {
        rows,
        taps: taps.iter().map(|(name, units, _)| TapShape { name: name.clone(), units: *units }).collect(),
    };
    if let Some((name, units, values)) = taps.iter().find(|(_, units, values)| values.len() != rows * units) {
        return Err(corrupt(path, format!("tap {name}: {} values for {rows} rows of {units} units", values.len())));
    }
    let json = serde_json::to_vec(&header).expect("header serialises");
    crate::files::write_whole(path, |file| {
        let err = |source| StoreError::Io { action: "cannot write", path: path.to_path_buf(), source };
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(MAGIC).map_err(err)?;
        w.write_all(&STORE_FORMAT.to_le_bytes()).map_err(err)?;
        w.write_all(&(json.len() as u32).to_le_bytes()).map_err(err)?;
        w.write_all(&json).map_err(err)?;
        let mut column = Vec::with_capacity(rows * 4);
        for (_, units, values) in taps {
            for u in 0..*units {
                column.clear();
                for r in 0..rows {
                    column.extend_from_slice(&values[r * units + u].to_le_bytes());
                }
                w.write_all(&column).map_err(err)?;
            }
        }
        w.flush().map_err(err)
    })
}

/// An activations file, opened and checked: its header read and its length matching it.
#[derive(Debug, Clone)]
pub struct ActsFile {
    path: PathBuf,
    header: ActsHeader,
    data_start: u64,
}

impl ActsFile {
    /// Opens and checks `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut f = std::fs::File::open(path).map_err(|source| StoreError::Io {
            action: "cannot open the activations of a store part",
            path: path.to_path_buf(),
            source,
        })?;
        let mut fixed = [0u8; 16];
        f.read_exact(&mut fixed).map_err(|_| corrupt(path, "shorter than its header".into()))?;
        if &fixed[..8] != MAGIC {
            return Err(corrupt(path, "not a clip-audit activations file (wrong magic)".into()));
        }
        let format = u32::from_le_bytes(fixed[8..12].try_into().expect("4 bytes"));
        if format != STORE_FORMAT {
            return Err(corrupt(
                path,
                format!("written in store format {format}; this clip-audit reads {STORE_FORMAT}"),
            ));
        }
        let len = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes")) as usize;
        let actual = f
            .metadata()
            .map_err(|source| StoreError::Io { action: "cannot stat", path: path.to_path_buf(), source })?
            .len();
        if 16 + len as u64 > actual {
            return Err(corrupt(path, format!("a header of {len} bytes in a file of {actual}")));
        }
        let mut json = vec![0u8; len];
        f.read_exact(&mut json).map_err(|_| corrupt(path, "shorter than its header".into()))?;
        let header: ActsHeader =
            serde_json::from_slice(&json).map_err(|e| corrupt(path, format!("its header does not read ({e})")))?;
        let data_start = 16 + len as u64;
        let values = header
            .taps
            .iter()
            .try_fold(0u64, |sum, t| (t.units as u64).checked_mul(header.rows as u64)?.checked_add(sum))
            .filter(|v| v.checked_mul(4).is_some_and(|b| b.checked_add(data_start).is_some()))
            .ok_or_else(|| corrupt(path, "its header promises more values than a file can hold".into()))?;
        if actual != data_start + 4 * values {
            return Err(corrupt(
                path,
                format!(
                    "{actual} bytes where its header promises {} (truncated or overwritten)",
                    data_start + 4 * values
                ),
            ));
        }
        Ok(Self { path: path.to_path_buf(), header, data_start })
    }

    /// The header.
    pub fn header(&self) -> &ActsHeader {
        &self.header
    }

    /// Units `units` of tap number `tap`, unit-major: `units.len() × rows` values.
    fn read_units(&self, tap: usize, units: Range<usize>) -> std::io::Result<Vec<f32>> {
        if units.end > self.header.taps[tap].units {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("units {units:?} of a tap of {}", self.header.taps[tap].units),
            ));
        }
        let rows = self.header.rows;
        let before: usize = self.header.taps[..tap].iter().map(|t| t.units * rows).sum();
        let offset = self.data_start + 4 * (before + units.start * rows) as u64;
        let mut bytes = vec![0u8; 4 * units.len() * rows];
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut bytes)?;
        Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect())
    }
}

/// Units per block for a `rows × units` matrix: `rows × width` f32 within [`BLOCK_BYTES`], at
/// least one unit.
fn block_width(rows: usize, units: usize) -> usize {
    (BLOCK_BYTES / (4 * rows.max(1))).clamp(1, units.max(1))
}

/// Consecutive ranges of `width` units (the last shorter) covering `0..units`.
fn unit_blocks(width: usize, units: usize) -> Vec<Range<usize>> {
    (0..units).step_by(width.max(1)).map(|a| a..(a + width).min(units)).collect()
}

/// One part of a stored tap: its file and where its rows go in the table.
#[derive(Debug)]
struct PartRows {
    file: ActsFile,
    /// (row in the table, row in the part), for the rows of the part the table keeps.
    map: Vec<(u32, u32)>,
}

/// One tap's activations over a whole table (the stored parts of every run folder, each
/// stimulus once), read block by block from disk.
#[derive(Debug, Clone)]
pub struct StoredTap {
    tap: usize,
    units: usize,
    rows: usize,
    parts: Arc<Vec<PartRows>>,
    error: Arc<Mutex<Option<String>>>,
}

/// A tap's `stimuli × units` activations: in memory (tests, derived matrices) or in the store.
///
/// Every reader goes through [`TapMatrix::block`] (a few units over every stimulus),
/// [`TapMatrix::column`] or [`TapMatrix::select_rows`], so an analysis never needs the whole
/// matrix. A stored tap that fails to read mid-analysis (a file deleted under it) gives NaN
/// and records the error, which [`TapMatrix::io_error`] reports; `analyze` checks it before
/// writing anything.
#[derive(Debug, Clone)]
pub enum TapMatrix {
    /// Held in memory.
    Memory(Array2<f32>),
    /// Read from the store on demand.
    Stored(StoredTap),
}

impl From<Array2<f32>> for TapMatrix {
    fn from(m: Array2<f32>) -> Self {
        TapMatrix::Memory(m)
    }
}

impl TapMatrix {
    /// Stimuli (rows).
    pub fn rows(&self) -> usize {
        match self {
            TapMatrix::Memory(m) => m.nrows(),
            TapMatrix::Stored(t) => t.rows,
        }
    }

    /// Units (columns).
    pub fn units(&self) -> usize {
        match self {
            TapMatrix::Memory(m) => m.ncols(),
            TapMatrix::Stored(t) => t.units,
        }
    }

    /// Units per block: as many as keep `rows × width` f32 within [`BLOCK_BYTES`], at least one.
    pub fn block_width(&self) -> usize {
        block_width(self.rows(), self.units())
    }

    /// The unit ranges of consecutive blocks covering every unit.
    pub fn blocks(&self) -> Vec<Range<usize>> {
        unit_blocks(self.block_width(), self.units())
    }

    /// Units `units` over every stimulus: `[rows, units.len()]`.
    pub fn block(&self, units: Range<usize>) -> Array2<f32> {
        match self {
            TapMatrix::Memory(m) => m.slice(s![.., units]).to_owned(),
            TapMatrix::Stored(t) => t.block(units),
        }
    }

    /// One unit over every stimulus.
    pub fn column(&self, unit: usize) -> Vec<f32> {
        self.block(unit..unit + 1).into_raw_vec_and_offset().0
    }

    /// Some stimuli over every unit: `[rows.len(), units]`, read block by block.
    pub fn select_rows(&self, rows: &[usize]) -> Array2<f32> {
        if let TapMatrix::Memory(m) = self {
            return m.select(ndarray::Axis(0), rows);
        }
        let mut out = Array2::zeros((rows.len(), self.units()));
        for range in self.blocks() {
            let b = self.block(range.clone());
            for (i, &r) in rows.iter().enumerate() {
                out.slice_mut(s![i, range.clone()]).assign(&b.row(r));
            }
        }
        out
    }

    /// The first read error of a stored tap, if any.
    pub fn io_error(&self) -> Option<String> {
        match self {
            TapMatrix::Memory(_) => None,
            TapMatrix::Stored(t) => t.error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

impl StoredTap {
    fn block(&self, units: Range<usize>) -> Array2<f32> {
        let width = units.len();
        let mut out = Array2::from_elem((self.rows, width), f32::NAN);
        for part in self.parts.iter() {
            let n = part.file.header.rows;
            match part.file.read_units(self.tap, units.clone()) {
                Ok(values) => {
                    for &(row, at) in &part.map {
                        let mut dst = out.row_mut(row as usize);
                        for j in 0..width {
                            dst[j] = values[j * n + at as usize];
                        }
                    }
                }
                Err(e) => {
                    if let Ok(mut slot) = self.error.lock() {
                        slot.get_or_insert_with(|| format!("cannot read {}: {e}", part.file.path.display()));
                    }
                }
            }
        }
        out
    }
}

/// Builds the stored taps of a table from its parts: `parts[i]` is a part's activations file
/// and `maps[i]` where its kept rows go among `rows` table rows. All parts must hold the same
/// taps with the same widths.
pub fn stored_taps(
    files: Vec<ActsFile>,
    maps: Vec<Vec<(u32, u32)>>,
    rows: usize,
) -> Result<Vec<(String, TapMatrix)>, StoreError> {
    let Some(first) = files.first() else { return Ok(Vec::new()) };
    let shape = first.header.taps.clone();
    for f in &files {
        if f.header.taps != shape {
            return Err(corrupt(
                &f.path,
                format!(
                    "holds taps {:?} where {} holds {:?}; parts of one store must agree",
                    f.header.taps,
                    first.path.display(),
                    shape
                ),
            ));
        }
    }
    let parts: Arc<Vec<PartRows>> =
        Arc::new(files.into_iter().zip(maps).map(|(file, map)| PartRows { file, map }).collect());
    Ok(shape
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let tap = StoredTap {
                tap: i,
                units: t.units,
                rows,
                parts: Arc::clone(&parts),
                error: Arc::new(Mutex::new(None)),
            };
            (t.name.clone(), TapMatrix::Stored(tap))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_tap_reads_back_every_block_and_row_of_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        // Two parts of 3 and 2 rows, two taps of 5 and 2 units; table rows interleave the parts.
        let value = |tap: usize, row: usize, u: usize| (tap * 1000 + row * 10 + u) as f32;
        let mut files = Vec::new();
        for (p, rows) in [(0usize, 3usize), (1, 2)] {
            let taps: Vec<(String, usize, Vec<f32>)> = [(0usize, 5usize), (1, 2)]
                .iter()
                .map(|&(t, units)| {
                    let v = (0..rows).flat_map(|r| (0..units).map(move |u| value(t, p * 3 + r, u))).collect();
                    (format!("t{t}"), units, v)
                })
                .collect();
            let path = dir.path().join(format!("p{p}.acts"));
            write_acts(&path, rows, &taps).unwrap();
            files.push(ActsFile::open(&path).unwrap());
        }
        // Table order: part rows 0,1,2 (global 0..3) and 3,4; place them reversed.
        let maps = vec![vec![(4, 0), (3, 1), (2, 2)], vec![(1, 0), (0, 1)]];
        let taps = stored_taps(files, maps, 5).unwrap();
        assert_eq!(taps.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["t0", "t1"]);
        for (t, (_, m)) in taps.iter().enumerate() {
            let global = [4usize, 3, 2, 1, 0];
            let whole = m.block(0..m.units());
            for (row, &g) in global.iter().enumerate() {
                for u in 0..m.units() {
                    assert_eq!(whole[[row, u]], value(t, g, u));
                }
            }
            assert_eq!(m.column(1), global.iter().map(|&g| value(t, g, 1)).collect::<Vec<_>>());
            assert_eq!(m.select_rows(&[3, 0]), whole.select(ndarray::Axis(0), &[3, 0]));
            assert!(m.io_error().is_none());
        }
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.acts");
        write_acts(&path, 2, &[("t".into(), 3, vec![0.0; 6])]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        let e = ActsFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("p.acts") && e.contains("truncated"), "{e}");
        std::fs::write(&path, b"PAR1 and more bytes").unwrap();
        let e = ActsFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("wrong magic"), "{e}");
    }

    #[test]
    fn blocks_cover_every_unit_once() {
        assert_eq!(block_width(BLOCK_BYTES / 4 / 3, 10), 3);
        assert_eq!(block_width(BLOCK_BYTES, 10), 1, "at least one unit, however many stimuli");
        assert_eq!(block_width(10, 7), 7);
        assert_eq!(unit_blocks(3, 10), vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(unit_blocks(7, 7), vec![0..7]);
        assert_eq!(TapMatrix::from(Array2::<f32>::zeros((4, 10))).blocks(), vec![0..10]);
    }
}
