//! Customer files in and out: the one import path the API and the command line share,
//! and the export of a segment as CSV or XLSX.

use jiff::Timestamp;
use jiff::civil::Date;
use kefu_domain::audit::Actor;
use kefu_domain::{Permission, Reason};
use kefu_files::customers::{ColumnMap, Field, export_headers, export_row, map_rows};
use kefu_files::{FileError, FileFormat, Limits, TextEncoding, read_table};
use kefu_store::customers::CustomerFilter;
use kefu_store::import::{ImportRow, RowOutcome, customer_to_input};
use kefu_store::{Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// How to read an import file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Force an encoding instead of detecting it.
    pub encoding: Option<TextEncoding>,
    /// Force CSV or XLSX instead of detecting it.
    pub format: Option<FileFormat>,
    /// Column names the file uses for fields, beyond the recognised ones.
    pub header_map: Vec<(String, Field)>,
    pub limits: Limits,
}

/// A refused row: where and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// Row number in the file (the header is row 1).
    pub row: usize,
    /// The column's header, when one column is at fault.
    pub column: Option<String>,
    /// The customer field at fault (`phones[1]`, `birth_date`), when one is.
    pub field: Option<String>,
    /// The reason code (as in error bodies' `details.reason`).
    pub reason: String,
    /// The reason's figures.
    #[schema(value_type = Object)]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// The reason in English.
    pub message: String,
}

impl RowError {
    fn new(row: usize, column: Option<String>, field: Option<String>, reason: &Reason) -> RowError {
        let args = reason
            .args()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        RowError {
            row,
            column,
            field,
            reason: reason.code().to_owned(),
            args,
            message: kefu_i18n::catalog(kefu_i18n::Lang::En).reason(reason),
        }
    }

    /// The reason, for saying it again in another language.
    pub fn reason(&self) -> Option<Reason> {
        Reason::restore(
            &self.reason,
            self.args
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
        )
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// csv or xlsx.
    pub format: String,
    /// The text encoding read (CSV only): UTF-8 or GB18030 (which covers GBK).
    pub encoding: Option<String>,
    pub rows: usize,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Columns no field claims; their cells were not imported.
    pub ignored_columns: Vec<String>,
    /// Every rejected row, in file order.
    pub errors: Vec<RowError>,
    /// The file's header row, and each rejected row's cells as read: to correct
    /// them and import again.
    pub headers: Vec<String>,
    pub rejected_rows: Vec<RejectedRow>,
}

/// A rejected row as the file had it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectedRow {
    pub row: usize,
    pub cells: Vec<String>,
}

/// What a file would import as, before anything is written: its format and
/// encoding, each column with the field it fills (none: ignored), and the first
/// rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPreview {
    pub format: String,
    pub encoding: Option<String>,
    pub rows: usize,
    pub columns: Vec<PreviewColumn>,
    /// Fields no column fills that an import needs (`name`).
    pub missing: Vec<String>,
    /// The first rows' cells, in column order.
    pub sample: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewColumn {
    pub header: String,
    /// The field's code (`mobile`, `service_area`), or none when ignored.
    pub field: Option<String>,
}

/// Reads a file and says how it would be imported; writes nothing. A file that
/// cannot be read at all is refused as an import would refuse it.
pub async fn preview_customer_file(
    bytes: Vec<u8>,
    options: ImportOptions,
) -> Result<ImportPreview, ImportFailure> {
    tokio::task::spawn_blocking(move || -> Result<ImportPreview, FileError> {
        let format = options.format.unwrap_or(FileFormat::sniff(&bytes));
        let table = read_table(&bytes, options.format, options.encoding, &options.limits)?;
        let fields: Vec<Option<Field>> = table
            .headers
            .iter()
            .map(|h| {
                options
                    .header_map
                    .iter()
                    .find(|(name, _)| name == h)
                    .map(|(_, f)| *f)
                    .or_else(|| Field::from_header(h))
            })
            .collect();
        Ok(ImportPreview {
            format: match format {
                FileFormat::Csv => "csv",
                FileFormat::Xlsx => "xlsx",
            }
            .into(),
            encoding: table.encoding.map(|e| e.name().to_owned()),
            rows: table.rows.len(),
            missing: if fields.contains(&Some(Field::Name)) {
                Vec::new()
            } else {
                vec!["name".into()]
            },
            columns: table
                .headers
                .iter()
                .zip(&fields)
                .map(|(h, f)| PreviewColumn {
                    header: h.clone(),
                    field: f.map(|f| f.code().to_owned()),
                })
                .collect(),
            sample: table.rows.iter().take(5).map(|r| r.cells.clone()).collect(),
        })
    })
    .await
    .map_err(|e| {
        ImportFailure::Store(StoreError::Unsupported(format!(
            "import worker failed: {e}"
        )))
    })?
    .map_err(ImportFailure::File)
}

#[derive(Debug)]
pub enum ImportFailure {
    /// The file as a whole cannot be imported; nothing was written.
    File(FileError),
    Store(StoreError),
}

impl From<FileError> for ImportFailure {
    fn from(e: FileError) -> Self {
        ImportFailure::File(e)
    }
}

impl From<StoreError> for ImportFailure {
    fn from(e: StoreError) -> Self {
        ImportFailure::Store(e)
    }
}

/// Reads, validates and imports a customer file. Either the valid rows are committed
/// together and the others reported, or (a file-level problem) nothing is written.
#[allow(clippy::too_many_arguments)]
pub async fn import_customer_file(
    store: &Store,
    actor: &Actor,
    bytes: Vec<u8>,
    options: ImportOptions,
    today: Date,
    area_code: Option<&str>,
    now: Timestamp,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<ImportReport, ImportFailure> {
    // Parsing a large file is CPU work: keep it off the async threads.
    let parsed = tokio::task::spawn_blocking(move || -> Result<_, FileError> {
        let format = FileFormat::sniff(&bytes);
        let table = read_table(&bytes, options.format, options.encoding, &options.limits)?;
        let map = ColumnMap::new(&table.headers, &options.header_map)?;
        let (rows, problems) = map_rows(&table, &map);
        Ok((
            options.format.unwrap_or(format),
            table.encoding,
            map,
            rows,
            problems,
            table,
        ))
    })
    .await
    .map_err(|e| {
        ImportFailure::Store(StoreError::Unsupported(format!(
            "import worker failed: {e}"
        )))
    })??;
    let (format, encoding, map, rows, problems, table) = parsed;
    let n_rows = table.rows.len();
    let import_rows: Vec<ImportRow> = rows
        .iter()
        .map(|r| ImportRow {
            number: r.number,
            input: r.input.clone(),
        })
        .collect();
    let result = store
        .import_customers(actor, &import_rows, today, area_code, now, progress)
        .await?;
    if result.inserted + result.updated >= ANALYZE_AFTER_ROWS {
        store.analyze(false).await?;
    }

    let mut errors: Vec<RowError> = problems
        .into_iter()
        .map(|p| RowError::new(p.number, p.column, None, &p.reason))
        .collect();
    for ((number, outcome), mapped) in result.rows.iter().zip(&rows) {
        if let RowOutcome::Rejected { errors: fields } = outcome {
            for f in fields {
                errors.push(RowError::new(
                    *number,
                    map.header_of(&f.field, &mapped.phone_sources),
                    Some(f.field.clone()),
                    &f.reason,
                ));
            }
        }
    }
    errors.sort_by_key(|e| e.row);
    let rejected: Vec<usize> = {
        let mut r: Vec<usize> = errors.iter().map(|e| e.row).collect();
        r.dedup();
        r
    };
    let rejected_rows = rejected.len() as u64;
    let rejected_cells: Vec<RejectedRow> = table
        .rows
        .iter()
        .filter(|r| rejected.binary_search(&r.number).is_ok())
        .map(|r| RejectedRow {
            row: r.number,
            cells: r.cells.clone(),
        })
        .collect();
    Ok(ImportReport {
        format: match format {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
        .into(),
        encoding: encoding.map(|e| e.name().to_owned()),
        rows: n_rows,
        inserted: result.inserted,
        updated: result.updated,
        unchanged: result.unchanged,
        rejected: rejected_rows,
        ignored_columns: map.ignored().into_iter().map(str::to_owned).collect(),
        errors,
        headers: table.headers.clone(),
        rejected_rows: rejected_cells,
    })
}

/// Imports changing at least this many customers refresh the planner statistics.
const ANALYZE_AFTER_ROWS: u64 = 10_000;

/// The largest segment one export may hold.
pub const MAX_EXPORT_ROWS: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

/// A segment as a file, masked for `role` like the API masks it. Refused (as a
/// conflict) when the segment is larger than [`MAX_EXPORT_ROWS`].
pub async fn export_customers(
    store: &Store,
    actor: &Actor,
    role: kefu_domain::Role,
    filter: &CustomerFilter,
    format: ExportFormat,
    today: Date,
    now: Timestamp,
) -> Result<Vec<u8>, ImportFailure> {
    let see_contacts = role.permits(Permission::CustomerContactsFull);
    let see_assets = role.permits(Permission::CustomerAssetsFull);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut too_many = false;
    store
        .export_customers(actor, filter, today, now, |batch| {
            for c in batch {
                if rows.len() as i64 >= MAX_EXPORT_ROWS {
                    too_many = true;
                    return Err(StoreError::Conflict(Reason::export_too_large(
                        MAX_EXPORT_ROWS,
                    )));
                }
                let mut input = customer_to_input(c);
                for (phone, stored) in input.phones.iter_mut().zip(&c.phones) {
                    phone.number = stored.shown(see_contacts);
                }
                if !see_contacts {
                    input.email = input.email.map(|_| "***".into());
                }
                if !see_assets {
                    input.assets = None;
                }
                // Kind and enumerations in Chinese, as office users expect.
                input.kind = Some(match c.kind {
                    kefu_domain::customer::CustomerKind::Person => "个人".into(),
                    kefu_domain::customer::CustomerKind::Organisation => "单位".into(),
                });
                rows.push(export_row(&input, &c.tier));
            }
            Ok(())
        })
        .await
        .map_err(|e| {
            if too_many {
                e.into()
            } else {
                ImportFailure::Store(e)
            }
        })?;
    let headers = export_headers();
    let bytes = tokio::task::spawn_blocking(move || match format {
        ExportFormat::Csv => kefu_files::write_csv(&headers, rows.into_iter()),
        ExportFormat::Xlsx => kefu_files::write_xlsx(&headers, rows.into_iter()),
    })
    .await
    .map_err(|e| {
        ImportFailure::Store(StoreError::Unsupported(format!(
            "export worker failed: {e}"
        )))
    })??;
    Ok(bytes)
}
