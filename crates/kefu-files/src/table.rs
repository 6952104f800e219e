//! Reading CSV and XLSX into a header row and data rows of text cells.

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::decode::{TextEncoding, decode_text};
use crate::{FileError, Limits};

/// A data row: its 1-based row number in the file (the header is row 1) and cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<String>,
}

/// A file read as text: header names and data rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
    /// `None` for XLSX.
    pub encoding: Option<TextEncoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    /// XLSX files are ZIP archives and start with `PK\x03\x04`.
    pub fn sniff(bytes: &[u8]) -> FileFormat {
        if bytes.starts_with(b"PK\x03\x04") {
            FileFormat::Xlsx
        } else {
            FileFormat::Csv
        }
    }
}

/// Reads a CSV or XLSX file (detected from its first bytes unless given).
pub fn read_table(
    bytes: &[u8],
    format: Option<FileFormat>,
    encoding: Option<TextEncoding>,
    limits: &Limits,
) -> Result<Table, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(FileError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let (headers, rows, encoding) = match format.unwrap_or_else(|| FileFormat::sniff(bytes)) {
        FileFormat::Csv => {
            let (text, encoding) = decode_text(bytes, encoding)?;
            let (headers, rows) = read_csv(&text, limits)?;
            (headers, rows, Some(encoding))
        }
        FileFormat::Xlsx => {
            let (headers, rows) = read_xlsx(bytes, limits)?;
            (headers, rows, None)
        }
    };
    check_headers(&headers, limits)?;
    if rows.is_empty() {
        return Err(FileError::HeaderOnly);
    }
    Ok(Table {
        headers,
        rows,
        encoding,
    })
}

fn check_headers(headers: &[String], limits: &Limits) -> Result<(), FileError> {
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(FileError::Empty);
    }
    if headers.len() > limits.max_columns {
        return Err(FileError::TooManyColumns {
            got: headers.len(),
            max: limits.max_columns,
        });
    }
    if let Some(column) = headers.iter().position(String::is_empty) {
        // Trailing empty header cells (a common Excel artefact) are tolerated only
        // when nothing follows them.
        if headers[column..].iter().any(|h| !h.is_empty()) {
            return Err(FileError::EmptyHeader { column: column + 1 });
        }
    }
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() && headers[..i].contains(h) {
            return Err(FileError::DuplicateHeader(h.clone()));
        }
    }
    Ok(())
}

fn clean(cell: &str, limits: &Limits) -> String {
    let t = cell.trim();
    if t.chars().count() > limits.max_cell_chars {
        t.chars().take(limits.max_cell_chars + 1).collect()
    } else {
        t.to_owned()
    }
}

fn read_csv(text: &str, limits: &Limits) -> Result<(Vec<String>, Vec<Row>), FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers = None;
    let mut rows = Vec::new();
    // Line numbers from byte offsets: the reader's own line count skips blank lines.
    let bytes = text.as_bytes();
    let (mut counted_to, mut lines_before) = (0usize, 0usize);
    let mut line_at = |offset: usize| {
        // A record's position can point at blank lines the reader skipped before it.
        let mut offset = offset.min(bytes.len());
        while offset < bytes.len() && matches!(bytes[offset], b'\n' | b'\r') {
            offset += 1;
        }
        if offset > counted_to {
            lines_before += bytes[counted_to..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = offset;
        }
        lines_before + 1
    };
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| FileError::Csv {
            line: e.position().map_or(i + 1, |p| p.line() as usize),
            reason: match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid text".to_owned(),
                _ => e.to_string(),
            },
        })?;
        let line = record
            .position()
            .map_or(i + 1, |p| line_at(p.byte() as usize));
        if headers.is_none() {
            if record.len() > limits.max_columns {
                return Err(FileError::TooManyColumns {
                    got: record.len(),
                    max: limits.max_columns,
                });
            }
            let mut names: Vec<String> = record.iter().map(|c| clean(c, limits)).collect();
            while names.last().is_some_and(String::is_empty) {
                names.pop();
            }
            headers = Some(names);
            continue;
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() >= limits.max_rows {
            return Err(FileError::TooManyRows {
                max: limits.max_rows,
            });
        }
        // Rows wider than any sane header are cut here and reported by the mapper.
        let cells = record
            .iter()
            .take(limits.max_columns + 1)
            .map(|c| clean(c, limits))
            .collect();
        rows.push(Row {
            number: line,
            cells,
        });
    }
    Ok((headers.unwrap_or_default(), rows))
}

/// Text of a spreadsheet cell: integers without ".0" (phone numbers stored as
/// numbers), dates as YYYY-MM-DD.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                format!("{f}")
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => {
            // Excel's day 0 is 1899-12-30 (for the 1900 date system).
            let days = d.as_f64().floor() as i64;
            jiff::civil::date(1899, 12, 30)
                .checked_add(jiff::Span::new().days(days))
                .map_or_else(|_| d.as_f64().to_string(), |date| date.to_string())
        }
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn read_xlsx(bytes: &[u8], limits: &Limits) -> Result<(Vec<String>, Vec<Row>), FileError> {
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError::Xlsx(e.to_string()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or(FileError::NoSheet)?
        .map_err(|e| FileError::Xlsx(e.to_string()))?;
    if range.width() > limits.max_columns {
        return Err(FileError::TooManyColumns {
            got: range.width(),
            max: limits.max_columns,
        });
    }
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let mut iter = range.rows().enumerate();
    let mut headers: Vec<String> = match iter.next() {
        Some((_, cells)) => cells.iter().map(|c| clean(&cell_text(c), limits)).collect(),
        None => return Ok((Vec::new(), Vec::new())),
    };
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    let mut rows = Vec::new();
    for (i, cells) in iter {
        let texts: Vec<String> = cells.iter().map(|c| clean(&cell_text(c), limits)).collect();
        if texts.iter().all(String::is_empty) {
            continue;
        }
        if rows.len() >= limits.max_rows {
            return Err(FileError::TooManyRows {
                max: limits.max_rows,
            });
        }
        rows.push(Row {
            number: first_row + i + 1,
            cells: texts,
        });
    }
    Ok((headers, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn reads_csv_with_quotes_blank_lines_and_line_numbers() {
        let csv =
            "客户编号,姓名,地址\nKH1,张三,\"济南市,历下区\"\n\n KH2 ,李四,\"多\n行\"\nKH3,王五,x\n";
        let t = read_table(csv.as_bytes(), None, None, &limits()).unwrap();
        assert_eq!(t.headers, vec!["客户编号", "姓名", "地址"]);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(
            t.rows[0],
            Row {
                number: 2,
                cells: vec!["KH1".into(), "张三".into(), "济南市,历下区".into()]
            }
        );
        assert_eq!(t.rows[1].number, 4);
        assert_eq!(t.rows[1].cells[0], "KH2");
        assert_eq!(t.rows[2].number, 6, "a quoted line break counts as a line");
    }

    #[test]
    fn refuses_degenerate_files() {
        assert_eq!(
            read_table(b"", None, None, &limits()),
            Err(FileError::Empty)
        );
        assert_eq!(
            read_table("客户编号,姓名\n".as_bytes(), None, None, &limits()),
            Err(FileError::HeaderOnly)
        );
        assert_eq!(
            read_table("客户编号,姓名\n\n,\n".as_bytes(), None, None, &limits()),
            Err(FileError::HeaderOnly)
        );
        assert_eq!(
            read_table("a,,b\n1,2,3\n".as_bytes(), None, None, &limits()),
            Err(FileError::EmptyHeader { column: 2 })
        );
        assert_eq!(
            read_table("a,a\n1,2\n".as_bytes(), None, None, &limits()),
            Err(FileError::DuplicateHeader("a".into()))
        );
        let wide = format!(
            "{}\n",
            (0..10_000)
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            read_table(format!("{wide}x\n").as_bytes(), None, None, &limits()),
            Err(FileError::TooManyColumns {
                got: 10_000,
                max: 256
            })
        );
        let small = Limits {
            max_bytes: 10,
            ..limits()
        };
        assert_eq!(
            read_table(&[b'a'; 11], None, None, &small),
            Err(FileError::TooLarge { size: 11, max: 10 })
        );
        assert!(matches!(
            read_table(b"PK\x03\x04garbage", None, None, &limits()),
            Err(FileError::Xlsx(_))
        ));
        assert!(matches!(
            read_table(b"a,\"b\n1,2", None, None, &limits()),
            Ok(_) | Err(FileError::Csv { .. } | FileError::HeaderOnly)
        ));
    }

    #[test]
    fn wide_data_rows_are_kept_for_the_mapper_to_refuse() {
        let row: String = (0..10_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let t = read_table(
            format!("a,b\n{row}\n1,2\n").as_bytes(),
            None,
            None,
            &limits(),
        )
        .unwrap();
        assert_eq!(t.rows[0].cells.len(), 257);
        assert_eq!(t.rows[1].cells, vec!["1", "2"]);
    }

    #[test]
    fn xlsx_round_trip_with_numbers_and_dates() {
        let bytes = crate::write_xlsx(
            &["客户编号", "手机", "存款"],
            vec![vec![
                "KH1".to_owned(),
                "13812345678".to_owned(),
                "150000.50".to_owned(),
            ]]
            .into_iter(),
        )
        .unwrap();
        let t = read_table(&bytes, None, None, &limits()).unwrap();
        assert_eq!(t.headers, vec!["客户编号", "手机", "存款"]);
        assert_eq!(t.rows[0].cells, vec!["KH1", "13812345678", "150000.50"]);
        assert_eq!(t.rows[0].number, 2);
        assert_eq!(t.encoding, None);
    }

    #[test]
    fn cell_numbers_render_without_float_noise() {
        assert_eq!(cell_text(&Data::Float(13_812_345_678.0)), "13812345678");
        assert_eq!(cell_text(&Data::Float(100_000.5)), "100000.5");
        assert_eq!(cell_text(&Data::Int(42)), "42");
    }
}
