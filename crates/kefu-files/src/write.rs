//! Writing rows of text as CSV (UTF-8 with BOM, which Excel opens correctly) or XLSX.

use rust_xlsxwriter::{Format, Workbook};

use crate::FileError;

/// CSV with a UTF-8 BOM and CRLF line ends, as Excel on Chinese Windows expects.
pub fn write_csv(
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, FileError> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        writer
            .write_record(headers)
            .map_err(|e| FileError::Write(e.to_string()))?;
        for row in rows {
            // A leading =, +, - or @ would make Excel evaluate the cell as a formula.
            let safe: Vec<String> = row.into_iter().map(neutralise_formula).collect();
            writer
                .write_record(&safe)
                .map_err(|e| FileError::Write(e.to_string()))?;
        }
        writer
            .flush()
            .map_err(|e| FileError::Write(e.to_string()))?;
    }
    Ok(out)
}

fn neutralise_formula(cell: String) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '@') => format!("'{cell}"),
        Some('-') if cell.parse::<f64>().is_err() => format!("'{cell}"),
        _ => cell,
    }
}

/// One worksheet with a bold header row; every cell is text, so codes and phone
/// numbers keep their leading zeros.
pub fn write_xlsx(
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, FileError> {
    let err = |e: rust_xlsxwriter::XlsxError| FileError::Write(e.to_string());
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (r, row) in rows.enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet
                    .write_string(r as u32 + 1, c as u16, cell)
                    .map_err(err)?;
            }
        }
    }
    workbook.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_bom_and_neutralises_formulas() {
        let out = write_csv(
            &["编号", "备注"],
            vec![
                vec!["K1".into(), "=HYPERLINK(\"x\")".into()],
                vec!["K2".into(), "-5".into()],
            ]
            .into_iter(),
        )
        .unwrap();
        assert!(out.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = String::from_utf8(out[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "编号,备注\r\nK1,\"'=HYPERLINK(\"\"x\"\")\"\r\nK2,-5\r\n"
        );
    }
}
