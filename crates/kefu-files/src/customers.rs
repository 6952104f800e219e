//! Customer files: which column means which field (Chinese or English headers, or a
//! header map the user passes), rows turned into [`CustomerInput`]s, and the column
//! layout of exports (which imports read back unchanged).

use kefu_domain::Reason;
use kefu_domain::customer::{CustomerInput, PhoneInput, PhoneLabel};

use crate::{FileError, Table};

/// The fields a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Code,
    Name,
    Kind,
    Phone(PhoneLabel),
    Email,
    Address,
    ServiceArea,
    Occupation,
    BirthDate,
    AgeBand,
    Gender,
    Position,
    Assets,
    Liquidity,
    Preferences,
    Family,
    Needs,
    Notes,
    Tags,
    PreferredContactTime,
    BehaviourType,
}

/// Every field: its code (as in the API and header maps), its export header, and
/// the headers recognised for it.
const FIELDS: &[(Field, &str, &str, &[&str])] = &[
    (
        Field::Code,
        "code",
        "客户编号",
        &[
            "客户编号",
            "编号",
            "客户代码",
            "客户号",
            "户号",
            "用户编号",
            "code",
        ],
    ),
    (
        Field::Name,
        "name",
        "姓名",
        &[
            "姓名",
            "客户名称",
            "客户姓名",
            "名称",
            "户名",
            "单位名称",
            "name",
        ],
    ),
    (
        Field::Kind,
        "kind",
        "类型",
        &["类型", "客户类型", "客户类别", "kind", "type"],
    ),
    (
        Field::Phone(PhoneLabel::Mobile),
        "mobile",
        "手机",
        &["手机", "手机号", "手机号码", "移动电话", "mobile"],
    ),
    (
        Field::Phone(PhoneLabel::Phone),
        "phone",
        "电话",
        &[
            "电话",
            "固话",
            "座机",
            "联系电话",
            "电话号码",
            "家庭电话",
            "办公电话",
            "phone",
            "telephone",
        ],
    ),
    (
        Field::Phone(PhoneLabel::Fax),
        "fax",
        "传真",
        &["传真", "fax"],
    ),
    (
        Field::Email,
        "email",
        "邮箱",
        &["邮箱", "电子邮件", "电子邮箱", "email", "e-mail"],
    ),
    (
        Field::Address,
        "address",
        "地址",
        &["地址", "住址", "联系地址", "通讯地址", "address"],
    ),
    (
        Field::ServiceArea,
        "service_area",
        "服务区域",
        &[
            "服务区域",
            "区域",
            "片区",
            "所属区域",
            "service_area",
            "area",
        ],
    ),
    (
        Field::Occupation,
        "occupation",
        "职业",
        &["职业", "occupation"],
    ),
    (
        Field::BirthDate,
        "birth_date",
        "出生日期",
        &["出生日期", "生日", "birth_date", "birthday"],
    ),
    (
        Field::AgeBand,
        "age_band",
        "年龄段",
        &["年龄段", "age_band"],
    ),
    (Field::Gender, "gender", "性别", &["性别", "gender", "sex"]),
    (
        Field::Position,
        "position",
        "职位",
        &["职位", "职务", "position", "title"],
    ),
    (
        Field::Assets,
        "assets",
        "存款",
        &["存款", "存款余额", "资产", "金融资产", "assets", "deposits"],
    ),
    (
        Field::Liquidity,
        "liquidity",
        "流动性",
        &["流动性", "资金流动性", "liquidity"],
    ),
    (
        Field::Preferences,
        "preferences",
        "偏好",
        &["偏好", "爱好", "preferences"],
    ),
    (
        Field::Family,
        "family",
        "家庭情况",
        &["家庭情况", "家庭", "family"],
    ),
    (Field::Needs, "needs", "需求", &["需求", "needs"]),
    (
        Field::Notes,
        "notes",
        "备注",
        &["备注", "说明", "notes", "remarks"],
    ),
    (Field::Tags, "tags", "标签", &["标签", "tags"]),
    (
        Field::PreferredContactTime,
        "preferred_contact_time",
        "联系时间",
        &[
            "联系时间",
            "方便联系时间",
            "偏好联系时间",
            "preferred_contact_time",
        ],
    ),
    (
        Field::BehaviourType,
        "behaviour_type",
        "行为类型",
        &["行为类型", "性格类型", "behaviour_type", "behavior_type"],
    ),
];

impl Field {
    pub fn code(self) -> &'static str {
        FIELDS.iter().find(|f| f.0 == self).map_or("", |f| f.1)
    }

    /// Every field with its code, in the export's column order.
    pub fn all() -> impl Iterator<Item = (Field, &'static str)> {
        FIELDS.iter().map(|f| (f.0, f.1))
    }

    /// The field a code (`mobile`, `service_area`) names.
    pub fn from_code(code: &str) -> Option<Field> {
        let c = code.trim().to_ascii_lowercase();
        FIELDS.iter().find(|f| f.1 == c).map(|f| f.0)
    }

    /// The field a recognised header (`手机号码`, `mobile`) means.
    pub fn from_header(header: &str) -> Option<Field> {
        let h = header.trim().to_lowercase();
        FIELDS
            .iter()
            .find(|f| f.3.iter().any(|alias| *alias == h))
            .map(|f| f.0)
    }
}

/// The column order and headers of customer exports.
pub fn export_headers() -> Vec<&'static str> {
    let mut headers: Vec<&str> = FIELDS.iter().map(|f| f.2).collect();
    headers.push("等级");
    headers
}

/// Parses a header map such as `手机号码=mobile,单位名称=name` (also `;` or new lines).
pub fn parse_header_map(raw: &str) -> Result<Vec<(String, Field)>, FileError> {
    let mut map = Vec::new();
    for pair in raw
        .split([',', ';', '\n', '，', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (header, field) = pair
            .split_once('=')
            .ok_or_else(|| FileError::BadHeaderMap(Reason::header_map_invalid(pair)))?;
        let field = Field::from_code(field)
            .ok_or_else(|| FileError::BadHeaderMap(Reason::unknown_field(field.trim())))?;
        map.push((header.trim().to_owned(), field));
    }
    Ok(map)
}

/// What each column of a file means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    headers: Vec<String>,
    fields: Vec<Option<Field>>,
}

impl ColumnMap {
    /// Maps `headers` by the user's `overrides` first, then the recognised names.
    /// A name column is required; two columns for one field (other than phones) are
    /// refused.
    pub fn new(headers: &[String], overrides: &[(String, Field)]) -> Result<ColumnMap, FileError> {
        for (header, _) in overrides {
            if !headers.iter().any(|h| h == header) {
                return Err(FileError::BadHeaderMap(Reason::header_map_no_column(
                    header,
                )));
            }
        }
        let fields: Vec<Option<Field>> = headers
            .iter()
            .map(|h| {
                overrides
                    .iter()
                    .find(|(name, _)| name == h)
                    .map(|(_, f)| *f)
                    .or_else(|| Field::from_header(h))
            })
            .collect();
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f
                && !matches!(f, Field::Phone(_))
                && fields[..i].contains(&Some(*f))
            {
                return Err(FileError::BadHeaderMap(Reason::column_twice(f.code())));
            }
        }
        if !fields.contains(&Some(Field::Name)) {
            return Err(FileError::MissingColumn("name"));
        }
        Ok(ColumnMap {
            headers: headers.to_vec(),
            fields,
        })
    }

    /// Each header with the field it fills, if any.
    pub fn columns(&self) -> impl Iterator<Item = (&str, Option<Field>)> {
        self.headers
            .iter()
            .map(String::as_str)
            .zip(self.fields.iter().copied())
    }

    /// Headers that no field claims (their cells are ignored).
    pub fn ignored(&self) -> Vec<&str> {
        self.headers
            .iter()
            .zip(&self.fields)
            .filter(|(_, f)| f.is_none())
            .map(|(h, _)| h.as_str())
            .collect()
    }

    /// The header of the column that filled `field` (for error reports), given the
    /// API field name such as `assets` or `phones[1]` and the row's phone sources.
    pub fn header_of(&self, field: &str, phone_sources: &[usize]) -> Option<String> {
        if let Some(i) = field
            .strip_prefix("phones[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            return phone_sources.get(i).map(|c| self.headers[*c].clone());
        }
        let target = Field::from_code(field)?;
        self.fields
            .iter()
            .position(|f| *f == Some(target))
            .map(|c| self.headers[c].clone())
    }
}

/// A data row as a customer input, and which fields its cells provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRow {
    pub number: usize,
    pub input: CustomerInput,
    /// Fields with a non-empty cell; an import overwrites only these.
    pub present: Vec<Field>,
    /// For each entry of `input.phones`, the column it came from.
    pub phone_sources: Vec<usize>,
}

/// A row refused before validation (shape problems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub number: usize,
    pub column: Option<String>,
    pub reason: Reason,
}

fn split_tags(cell: &str) -> Vec<String> {
    cell.split([',', '，', ';', '；', '、', '|', '/'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Turns every data row into a [`MappedRow`], or a [`RowProblem`] when its shape is
/// wrong (more cells than the header has columns).
pub fn map_rows(table: &Table, map: &ColumnMap) -> (Vec<MappedRow>, Vec<RowProblem>) {
    let mut mapped = Vec::with_capacity(table.rows.len());
    let mut problems = Vec::new();
    for row in &table.rows {
        let extra = row
            .cells
            .iter()
            .skip(map.headers.len())
            .filter(|c| !c.is_empty())
            .count();
        if extra > 0 {
            problems.push(RowProblem {
                number: row.number,
                column: None,
                reason: Reason::row_too_many_cells(row.cells.len(), map.headers.len()),
            });
            continue;
        }
        let mut input = CustomerInput::default();
        let mut present = Vec::new();
        let mut phone_sources = Vec::new();
        for (column, (cell, field)) in row.cells.iter().zip(&map.fields).enumerate() {
            let Some(field) = field else { continue };
            if cell.is_empty() {
                continue;
            }
            if !present.contains(field) {
                present.push(*field);
            }
            let text = Some(cell.clone());
            match field {
                Field::Code => input.code = text,
                Field::Name => input.name = text,
                Field::Kind => input.kind = text,
                Field::Phone(label) => {
                    // One cell may hold several numbers: 13812345678/0531-88886666.
                    for number in cell
                        .split(['/', '、', ';', '；'])
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                    {
                        input.phones.push(PhoneInput {
                            label: label.code().to_owned(),
                            number: number.to_owned(),
                        });
                        phone_sources.push(column);
                    }
                }
                Field::Email => input.email = text,
                Field::Address => input.address = text,
                Field::ServiceArea => input.service_area = text,
                Field::Occupation => input.occupation = text,
                Field::BirthDate => input.birth_date = text,
                Field::AgeBand => input.age_band = text,
                Field::Gender => input.gender = text,
                Field::Position => input.position = text,
                Field::Assets => input.assets = text,
                Field::Liquidity => input.liquidity = text,
                Field::Preferences => input.preferences = text,
                Field::Family => input.family = text,
                Field::Needs => input.needs = text,
                Field::Notes => input.notes = text,
                Field::Tags => input.tags = split_tags(cell),
                Field::PreferredContactTime => input.preferred_contact_time = text,
                Field::BehaviourType => input.behaviour_type = text,
            }
        }
        mapped.push(MappedRow {
            number: row.number,
            input,
            present,
            phone_sources,
        });
    }
    (mapped, problems)
}

/// The cells of an export row for `input` (what the record holds) and its tier, in
/// [`export_headers`] order.
pub fn export_row(input: &CustomerInput, tier: &str) -> Vec<String> {
    let phones = |label: PhoneLabel| {
        input
            .phones
            .iter()
            .filter(|p| p.label == label.code())
            .map(|p| p.number.clone())
            .collect::<Vec<_>>()
            .join("/")
    };
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut row: Vec<String> = FIELDS
        .iter()
        .map(|(field, ..)| match field {
            Field::Code => s(&input.code),
            Field::Name => s(&input.name),
            Field::Kind => s(&input.kind),
            Field::Phone(label) => phones(*label),
            Field::Email => s(&input.email),
            Field::Address => s(&input.address),
            Field::ServiceArea => s(&input.service_area),
            Field::Occupation => s(&input.occupation),
            Field::BirthDate => s(&input.birth_date),
            Field::AgeBand => s(&input.age_band),
            Field::Gender => s(&input.gender),
            Field::Position => s(&input.position),
            Field::Assets => s(&input.assets),
            Field::Liquidity => s(&input.liquidity),
            Field::Preferences => s(&input.preferences),
            Field::Family => s(&input.family),
            Field::Needs => s(&input.needs),
            Field::Notes => s(&input.notes),
            Field::Tags => input.tags.join(","),
            Field::PreferredContactTime => s(&input.preferred_contact_time),
            Field::BehaviourType => s(&input.behaviour_type),
        })
        .collect();
    row.push(tier.to_owned());
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, read_table};

    fn table(csv: &str) -> Table {
        read_table(csv.as_bytes(), None, None, &Limits::default()).unwrap()
    }

    #[test]
    fn chinese_headers_map_to_fields() {
        let t = table(
            "客户编号,姓名,手机,联系电话,存款,标签,不认识的列\nKH1,张三,138 1234 5678,0531-88886666/0531-88887777,15万,老客户、燃气,x\n",
        );
        let map = ColumnMap::new(&t.headers, &[]).unwrap();
        assert_eq!(map.ignored(), vec!["不认识的列"]);
        let (rows, problems) = map_rows(&t, &map);
        assert!(problems.is_empty());
        let r = &rows[0];
        assert_eq!(r.input.code.as_deref(), Some("KH1"));
        assert_eq!(r.input.phones.len(), 3);
        assert_eq!(r.input.phones[1].label, "phone");
        assert_eq!(r.phone_sources, vec![2, 3, 3]);
        assert_eq!(r.input.tags, vec!["老客户", "燃气"]);
        assert_eq!(
            map.header_of("phones[2]", &r.phone_sources).as_deref(),
            Some("联系电话")
        );
        assert_eq!(
            map.header_of("assets", &r.phone_sources).as_deref(),
            Some("存款")
        );
    }

    #[test]
    fn header_maps_override_and_are_checked() {
        let t = table("用户号,联系人,手机号码\nA1,李四,13812345678\n");
        assert_eq!(
            ColumnMap::new(&t.headers, &[]),
            Err(FileError::MissingColumn("name"))
        );
        let overrides = parse_header_map("用户号=code，联系人=name").unwrap();
        let map = ColumnMap::new(&t.headers, &overrides).unwrap();
        let (rows, _) = map_rows(&t, &map);
        assert_eq!(rows[0].input.name.as_deref(), Some("李四"));
        assert!(matches!(
            parse_header_map("x=salary"),
            Err(FileError::BadHeaderMap(_))
        ));
        assert!(matches!(
            parse_header_map("novalue"),
            Err(FileError::BadHeaderMap(_))
        ));
        assert!(matches!(
            ColumnMap::new(&t.headers, &parse_header_map("不存在=name").unwrap()),
            Err(FileError::BadHeaderMap(_))
        ));
        let dup = table("姓名,名称\n张三,张三\n");
        assert!(matches!(
            ColumnMap::new(&dup.headers, &[]),
            Err(FileError::BadHeaderMap(_))
        ));
    }

    #[test]
    fn rows_wider_than_the_header_are_problems() {
        let t = table("姓名,手机\n张三,13812345678,多余\n李四,13912345678,\n");
        let map = ColumnMap::new(&t.headers, &[]).unwrap();
        let (rows, problems) = map_rows(&t, &map);
        assert_eq!(rows.len(), 1, "a trailing empty cell is fine");
        assert_eq!(problems[0].number, 2);
    }

    #[test]
    fn exports_read_back_as_the_same_inputs() {
        let input = CustomerInput {
            code: Some("KH1".into()),
            name: Some("张三".into()),
            phones: vec![
                PhoneInput {
                    label: "mobile".into(),
                    number: "138 1234 5678".into(),
                },
                PhoneInput {
                    label: "phone".into(),
                    number: "0531-88886666".into(),
                },
            ],
            assets: Some("150000.00".into()),
            tags: vec!["老客户".into(), "燃气".into()],
            notes: Some("备注, 含逗号".into()),
            ..CustomerInput::default()
        };
        let headers = export_headers();
        let bytes =
            crate::write_csv(&headers, std::iter::once(export_row(&input, "quality"))).unwrap();
        let t = read_table(&bytes, None, None, &Limits::default()).unwrap();
        let map = ColumnMap::new(&t.headers, &[]).unwrap();
        assert_eq!(map.ignored(), vec!["等级"]);
        let (rows, _) = map_rows(&t, &map);
        assert_eq!(rows[0].input, input);
    }
}
