//! Office files as Chinese service centers exchange them: CSV in UTF-8, UTF-8 with BOM
//! or GBK/GB18030, and XLSX, read into a [`Table`] of text cells; and CSV (with BOM, so
//! Excel opens it) and XLSX written from rows of text.
//!
//! Everything works on bytes in memory and never panics on malformed input; every
//! refusal says what is wrong and where (line or row number).

pub mod customers;
mod decode;
mod table;
mod write;

pub use decode::{TextEncoding, decode_text};
pub use table::{FileFormat, Row, Table, read_table};
pub use write::{write_csv, write_xlsx};

use thiserror::Error;

/// Limits that keep a hostile file from exhausting memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_cell_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            max_rows: 1_000_000,
            max_columns: 256,
            max_cell_chars: 4_000,
        }
    }
}

/// Why a whole file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} bytes are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("this is not a text or spreadsheet file (binary content at byte {offset})")]
    Binary { offset: usize },
    #[error("the text is not valid {encoding}: first bad byte at offset {offset}")]
    BadEncoding {
        encoding: &'static str,
        offset: usize,
    },
    #[error("UTF-16 files are not supported; save as UTF-8 or GBK CSV")]
    Utf16,
    #[error("line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("not a readable XLSX workbook: {0}")]
    Xlsx(String),
    #[error("the workbook has no worksheet")]
    NoSheet,
    #[error("the file has a header row but no data rows")]
    HeaderOnly,
    #[error("the header has {got} columns; at most {max} are accepted")]
    TooManyColumns { got: usize, max: usize },
    #[error("the file has more than {max} data rows")]
    TooManyRows { max: usize },
    #[error("the header row has an empty column name at column {column}")]
    EmptyHeader { column: usize },
    #[error("column '{0}' appears twice in the header")]
    DuplicateHeader(String),
    /// The field's code (`name`).
    #[error("no column is mapped to {0}; name it in the header or pass a header map")]
    MissingColumn(&'static str),
    #[error("header map: {0}")]
    BadHeaderMap(kefu_domain::Reason),
    #[error("writing the file failed: {0}")]
    Write(String),
}

impl From<FileError> for kefu_domain::Reason {
    /// Why a file as a whole was refused, as the person uploading it is told.
    fn from(e: FileError) -> kefu_domain::Reason {
        use kefu_domain::Reason as R;
        match e {
            FileError::Empty | FileError::HeaderOnly => R::file_empty(),
            FileError::TooLarge { max, .. } => R::file_too_large(max.div_ceil(1024 * 1024)),
            FileError::Binary { .. } => R::file_not_a_table(),
            FileError::BadEncoding { encoding, offset } => R::file_bad_encoding(encoding, offset),
            FileError::Utf16 => R::file_utf16(),
            FileError::Csv { line, reason } => R::file_syntax(reason).at_line(line),
            FileError::Xlsx(detail) => R::file_syntax(detail),
            FileError::NoSheet => R::file_no_sheet(),
            FileError::TooManyColumns { max, .. } => R::file_too_many_columns(max),
            FileError::TooManyRows { max } => R::file_too_many_rows(max),
            FileError::EmptyHeader { column } => R::file_empty_header(column),
            FileError::DuplicateHeader(h) => R::duplicate(h),
            FileError::MissingColumn(column) => R::column_missing(column),
            FileError::BadHeaderMap(reason) => reason,
            FileError::Write(detail) => R::file_syntax(detail),
        }
    }
}
