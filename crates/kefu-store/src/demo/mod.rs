//! Realistic Chinese demo data: an organisation (departments, staff) and customers
//! with names, phone numbers in the mixed formats real archives contain, and
//! addresses in a city's service areas. Deterministic for a given seed, so
//! benchmarks on the same profile see the same data.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::customer::{CustomerDraft, CustomerInput, PhoneInput};
use kefu_domain::money::Yuan;
use kefu_domain::staff::{DepartmentCode, DepartmentName, PersonName, StaffNo};
use kefu_domain::{DepartmentId, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

mod center;
mod escalations;

pub use center::seed_center_life;
pub use escalations::seed_escalations;

use crate::audit::AuditEntry;
use crate::staff::NewStaff;
use crate::tiers::TierChangeReason;
use crate::{Store, StoreError};

/// The demo organisation's departments: (code, name).
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("CC", "客服中心"),
    ("REPAIR", "维修部"),
    ("BILLING", "抄表收费部"),
    ("SAFETY", "安全检查部"),
    ("ENGINEERING", "管网工程部"),
];

/// The demo accounts: (staff number, name, role, department code).
pub const STAFF: &[(&str, &str, Role, Option<&str>)] = &[
    ("admin", "系统管理员", Role::Admin, None),
    ("manager", "王静", Role::Manager, Some("CC")),
    ("KF1001", "李娜", Role::Agent, Some("CC")),
    ("KF1002", "张伟", Role::Agent, Some("CC")),
    ("KF1003", "刘洋", Role::Agent, Some("CC")),
    ("KF1004", "陈晓梅", Role::Agent, Some("CC")),
    ("WX2001", "赵磊", Role::Handler, Some("REPAIR")),
    ("SF3001", "孙丽", Role::Handler, Some("BILLING")),
    ("AJ4001", "周强", Role::Handler, Some("SAFETY")),
    ("GC5001", "吴军", Role::Handler, Some("ENGINEERING")),
];

/// The demo agents' staff numbers.
pub const AGENTS: &[&str] = &["KF1001", "KF1002", "KF1003", "KF1004"];

/// Creates the demo departments and accounts unless staff already exist. Every
/// account gets `password_hash` (the caller hashes the one demo password).
/// Returns whether anything was created.
pub async fn seed_organisation(
    store: &Store,
    password_hash: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    if store.count_staff().await? > 0 {
        return Ok(false);
    }
    let actor = Actor::System("demo".into());
    let mut ids: Vec<(&str, DepartmentId)> = Vec::new();
    for (code, name) in DEPARTMENTS {
        let parsed_code =
            DepartmentCode::parse(code).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let parsed_name =
            DepartmentName::parse(name).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let department = store
            .create_department(&actor, &parsed_code, &parsed_name, now)
            .await?;
        ids.push((code, department.id));
    }
    for (staff_no, name, role, department) in STAFF {
        let new = NewStaff {
            staff_no: StaffNo::parse(staff_no)
                .map_err(|e| StoreError::Unsupported(e.to_string()))?,
            name: PersonName::parse(name).map_err(|e| StoreError::Unsupported(e.to_string()))?,
            role: *role,
            department_id: department
                .and_then(|code| ids.iter().find(|(c, _)| *c == code).map(|(_, id)| *id)),
            password_hash: password_hash.to_owned(),
            must_change_password: false,
            signs_in: true,
        };
        store.create_staff(&actor, &new, now).await?;
    }
    seed_integrations(store, &actor, now).await?;
    Ok(true)
}

/// The demo center's integrations: the PBX bridge's account (no password) with its
/// API token, and a webhook telling the enterprise's system of breached deadlines
/// (to a loopback address nothing listens on: [`seed_integration_history`] gives it
/// past deliveries, and new ones show as retrying).
async fn seed_integrations(store: &Store, actor: &Actor, now: Timestamp) -> Result<(), StoreError> {
    use sha2::Digest;
    let bridge = store
        .create_staff(
            actor,
            &NewStaff {
                staff_no: StaffNo::parse("PBX01")
                    .map_err(|e| StoreError::Unsupported(e.to_string()))?,
                name: PersonName::parse("交换机对接")
                    .map_err(|e| StoreError::Unsupported(e.to_string()))?,
                role: Role::Agent,
                department_id: None,
                password_hash: String::new(),
                must_change_password: false,
                signs_in: false,
            },
            now,
        )
        .await?;
    // The secret is not kept: an administrator makes a new token to use it.
    let mut secret = [0u8; 32];
    rand::rng().fill(&mut secret);
    let hash = hex::encode(sha2::Sha256::digest(format!(
        "kefu_{}",
        hex::encode(secret)
    )));
    store
        .create_api_token(actor, bridge.id, SWITCHBOARD_TOKEN, &hash, now)
        .await?;
    let mut key = [0u8; 24];
    rand::rng().fill(&mut key);
    store
        .create_webhook(
            actor,
            DEMO_WEBHOOK_URL,
            &format!("whsec_{}", hex::encode(key)),
            &["work_order.deadline_breached".to_owned()],
            now,
        )
        .await?;
    Ok(())
}

/// The name of the switchboard's token in the demo.
const SWITCHBOARD_TOKEN: &str = "呼叫中心交换机";

/// The address the demo's webhook posts to (the enterprise's own system, which
/// the demo does not run).
pub const DEMO_WEBHOOK_URL: &str = "http://127.0.0.1:8099/kefu/events";

/// Gives the demo's integrations their recent use, once: the switchboard's token
/// was last used a minute ago, and the webhook has a week of deliveries (the
/// latest open orders' breached deadlines, delivered within seconds, one after two
/// refusals, and the newest still waiting while the receiver answers 503).
pub async fn seed_integration_history(store: &Store, now: Timestamp) -> Result<(), StoreError> {
    use sqlx::Row;
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE last_used_at IS NULL AND revoked_at IS NULL \
         AND name = $2 AND staff_id IN (SELECT id FROM staff WHERE staff_no = 'PBX01')",
    )
    .bind(crate::ms(
        now.checked_sub(jiff::SignedDuration::from_secs(64))
            .unwrap_or(now),
    ))
    .bind(SWITCHBOARD_TOKEN)
    .execute(&store.pool)
    .await?;
    let hook: Option<i64> = sqlx::query_scalar("SELECT id FROM webhooks WHERE url = $1")
        .bind(DEMO_WEBHOOK_URL)
        .fetch_optional(&store.pool)
        .await?;
    let Some(hook) = hook else { return Ok(()) };
    let seeded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_outbox WHERE webhook_id = $1")
            .bind(hook)
            .fetch_one(&store.pool)
            .await?;
    if seeded > 0 {
        return Ok(());
    }
    let orders = sqlx::query(
        "SELECT id, number, kind, state, priority, department_id, customer_id, updated_at \
         FROM work_orders WHERE is_open = 1 ORDER BY id DESC LIMIT 12",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut tx = store.begin_write().await?;
    let n = orders.len();
    for (i, o) in orders.iter().enumerate() {
        // Oldest first, about one every 14 hours over the past week.
        let age = jiff::SignedDuration::from_mins(i64::try_from(n - i).unwrap_or(1) * 840 - 600);
        let at = now.checked_sub(age).unwrap_or(now);
        let updated: i64 = o.try_get("updated_at")?;
        let data = json!({
            "work_order": {
                "id": o.try_get::<i64, _>("id")?,
                "number": o.try_get::<String, _>("number")?,
                "kind": o.try_get::<String, _>("kind")?,
                "state": o.try_get::<String, _>("state")?,
                "priority": o.try_get::<i64, _>("priority")?,
                "department_id": o.try_get::<Option<i64>, _>("department_id")?,
                "customer_id": o.try_get::<Option<i64>, _>("customer_id")?,
                "updated_at": Timestamp::from_millisecond(updated).unwrap_or(now).to_string(),
            },
            "deadline": if i % 3 == 0 { "first_response" } else { "resolution" },
            "due_at": at.checked_sub(jiff::SignedDuration::from_secs(30)).unwrap_or(at).to_string(),
        });
        let payload =
            json!({ "type": "work_order.deadline_breached", "at": at.to_string(), "data": data })
                .to_string();
        let newest = i + 1 == n;
        let (attempts, delivered, error, next) = if newest {
            // Refused twice so far; the next attempt is due in a few minutes.
            (
                2,
                None,
                Some("http_503"),
                now.checked_add(jiff::SignedDuration::from_mins(7))
                    .unwrap_or(now),
            )
        } else if i == n / 2 {
            // Refused twice, then accepted on the third attempt (10 s, then 20 s).
            let done = at
                .checked_add(jiff::SignedDuration::from_secs(31))
                .unwrap_or(at);
            (3, Some(done), None, done)
        } else {
            let done = at
                .checked_add(jiff::SignedDuration::from_millis(
                    180 + 37 * i64::try_from(i).unwrap_or(0),
                ))
                .unwrap_or(at);
            (1, Some(done), None, done)
        };
        sqlx::query(
            "INSERT INTO webhook_outbox (webhook_id, event_type, payload, created_at, attempts, \
             next_attempt_at, delivered_at, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(hook)
        .bind("work_order.deadline_breached")
        .bind(&payload)
        .bind(crate::ms(at))
        .bind(attempts)
        .bind(crate::ms(next))
        .bind(delivered.map(crate::ms))
        .bind(error)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per transaction when generating customers.
const TX_ROWS: u64 = 20_000;

/// Makes sure customers `KH00000001` … up to `n` exist (existing codes are kept),
/// calling `progress` with the number done after each transaction. `today` dates the
/// generated birth dates' age bands.
pub async fn generate_customers(
    store: &Store,
    n: u64,
    seed: u64,
    today: jiff::civil::Date,
    now: Timestamp,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let actor = Actor::System("demo".into());
    // Generating and validating the next batch overlaps with inserting this one.
    let make = move |start: u64, end: u64| {
        tokio::task::spawn_blocking(move || {
            (start..end)
                .map(|i| {
                    CustomerDraft::parse(&customer(seed, i), today, Some(AREA_CODE)).map_err(|e| {
                        StoreError::Unsupported(format!("demo customer {i} is invalid: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
    };
    let mut inserted = 0;
    let mut start = 0;
    let mut pending = (start < n).then(|| make(start, (start + TX_ROWS).min(n)));
    while let Some(batch) = pending.take() {
        let drafts = batch
            .await
            .map_err(|e| StoreError::Unsupported(format!("demo generator failed: {e}")))??;
        let end = (start + TX_ROWS).min(n);
        if end < n {
            pending = Some(make(end, (end + TX_ROWS).min(n)));
        }
        inserted += store
            .insert_new_customers(&actor, &drafts, TierChangeReason::Created, now)
            .await?;
        start = end;
        progress(end);
    }
    store.analyze(true).await?;
    store
        .record_audit(
            &AuditEntry {
                actor: &actor,
                action: "demo.customers",
                object_type: "customer",
                object_id: "*".into(),
                detail: json!({ "requested": n, "inserted": inserted, "seed": seed }),
            },
            now,
        )
        .await?;
    Ok(inserted)
}

/// The demo city's area code (济南).
pub const AREA_CODE: &str = "0531";

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "欧阳", "司马",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "玉兰", "志强",
    "婷", "晓东", "海燕", "子涵", "浩然", "雨欣", "梓轩", "思远", "国庆", "建国", "淑珍",
];
/// Service areas: the districts of the demo city, with its area code 0531.
const AREAS: &[&str] = &[
    "历下区",
    "市中区",
    "槐荫区",
    "天桥区",
    "历城区",
    "长清区",
    "章丘区",
    "高新区",
];
const STREETS: &[&str] = &[
    "经十路",
    "泉城路",
    "解放路",
    "山大路",
    "花园路",
    "二环东路",
    "工业南路",
    "舜耕路",
    "英雄山路",
    "北园大街",
    "历山路",
    "和平路",
    "文化西路",
    "旅游路",
    "凤鸣路",
];
const ESTATES: &[&str] = &[
    "阳光花园",
    "泉景小区",
    "明湖小区",
    "山水家园",
    "燕山新居",
    "舜华园",
    "龙奥金座",
    "绿地城",
    "鲁能领秀城",
    "雅居园",
];
const ORG_WORDS: &[&str] = &[
    "鑫源",
    "华泰",
    "瑞丰",
    "金诚",
    "宏达",
    "泉润",
    "齐鲁",
    "恒信",
    "大明湖",
    "泰和",
];
const ORG_KINDS: &[&str] = &[
    "商贸有限公司",
    "餐饮店",
    "物业服务有限公司",
    "科技有限公司",
    "大酒店",
    "幼儿园",
    "食品厂",
    "洗浴中心",
];
const MOBILE_PREFIXES: &[&str] = &[
    "138", "139", "135", "136", "150", "151", "158", "186", "187", "133", "177", "199",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A mobile number in one of the formats found in real archives.
fn mobile(rng: &mut StdRng) -> String {
    let digits = format!(
        "{}{:08}",
        pick(rng, MOBILE_PREFIXES),
        rng.random_range(0..100_000_000u32)
    );
    let (a, b, c) = (&digits[..3], &digits[3..7], &digits[7..]);
    match rng.random_range(0..10) {
        0..=3 => digits,
        4 => format!("{a} {b} {c}"),
        5 => format!("{a}-{b}-{c}"),
        6 => format!("+86 {digits}"),
        7 => format!("0086-{digits}"),
        8 => format!("+86-{a}-{b}-{c}"),
        _ => digits.chars().map(full_width).collect(),
    }
}

/// A landline of the demo city in one of the common formats.
fn landline(rng: &mut StdRng) -> String {
    let local = format!(
        "{}{:07}",
        rng.random_range(5..9),
        rng.random_range(0..10_000_000u32)
    );
    let (a, b) = (&local[..4], &local[4..]);
    match rng.random_range(0..6) {
        0 => format!("0531-{local}"),
        1 => format!("(0531){a}-{b}"),
        2 => format!("0531 {a} {b}"),
        3 => format!("（0531）{local}"),
        4 => format!("+86 531 {local}"),
        _ => format!("0531-{local}-{}", rng.random_range(100..900)),
    }
}

fn full_width(c: char) -> char {
    match c {
        '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
        other => other,
    }
}

const OCCUPATIONS: &[&str] = &[
    "教师",
    "医生",
    "工程师",
    "公务员",
    "个体经营",
    "退休",
    "会计",
    "司机",
    "销售",
    "农民",
    "学生",
    "护士",
    "律师",
    "厨师",
];
const POSITIONS: &[&str] = &["职员", "经理", "主管", "总监", "负责人", "店长"];
const TAGS: &[&str] = &[
    "老客户",
    "燃气用户",
    "独居老人",
    "低保户",
    "重点用户",
    "新用户",
    "商户",
    "投诉敏感",
];
const WINDOWS: &[&str] = &[
    "09:00-11:30",
    "14:00-17:00",
    "09:00-11:30,14:00-17:00",
    "18:30-20:30",
];

/// Assets in fen, skewed as a branch's depositors are: most below 10万, few above 30万.
fn assets_fen(rng: &mut StdRng) -> i64 {
    let yuan: i64 = match rng.random_range(0..100) {
        0..=69 => rng.random_range(0..100_000),
        70..=84 => rng.random_range(100_000..200_000),
        85..=92 => rng.random_range(200_000..300_000),
        _ => rng.random_range(300_000..5_000_000),
    };
    yuan * 100 + rng.random_range(0..100)
}

/// The `i`-th demo customer (0-based) for `seed`: the same inputs give the same row.
pub fn customer(seed: u64, i: u64) -> CustomerInput {
    let mut rng = StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let area = pick(&mut rng, AREAS);
    let street = pick(&mut rng, STREETS);
    let organisation = rng.random_ratio(1, 12);
    let (name, kind, address) = if organisation {
        (
            format!(
                "济南{}{}",
                pick(&mut rng, ORG_WORDS),
                pick(&mut rng, ORG_KINDS)
            ),
            "单位",
            format!("济南市{area}{street}{}号", rng.random_range(1..400)),
        )
    } else {
        (
            format!("{}{}", pick(&mut rng, SURNAMES), pick(&mut rng, GIVEN)),
            "个人",
            format!(
                "济南市{area}{street}{}{}号楼{}单元{}{:02}室",
                pick(&mut rng, ESTATES),
                rng.random_range(1..30),
                rng.random_range(1..6),
                rng.random_range(1..25),
                rng.random_range(1..5),
            ),
        )
    };
    let mut phones = Vec::new();
    if organisation || rng.random_ratio(2, 5) {
        phones.push(PhoneInput {
            label: "电话".into(),
            number: landline(&mut rng),
        });
    }
    if !organisation && rng.random_ratio(9, 10) || organisation && rng.random_bool(0.5) {
        phones.push(PhoneInput {
            label: "手机".into(),
            number: mobile(&mut rng),
        });
    }
    if organisation && rng.random_ratio(1, 4) {
        phones.push(PhoneInput {
            label: "传真".into(),
            number: landline(&mut rng),
        });
    }
    phones.dedup_by(|a, b| a.number == b.number);
    let person = !organisation;
    let tags: Vec<String> = (0..rng.random_range(0..3))
        .map(|_| pick(&mut rng, TAGS).to_owned())
        .collect();
    CustomerInput {
        code: Some(format!("KH{:08}", i + 1)),
        name: Some(name),
        kind: Some(kind.into()),
        phones,
        email: rng
            .random_ratio(1, 5)
            .then(|| format!("kh{:08}@example.com", i + 1)),
        address: Some(address),
        service_area: Some(area.to_owned()),
        occupation: (person && rng.random_ratio(4, 5))
            .then(|| pick(&mut rng, OCCUPATIONS).to_owned()),
        birth_date: (person && rng.random_ratio(3, 4)).then(|| {
            format!(
                "{}-{:02}-{:02}",
                rng.random_range(1940..2006),
                rng.random_range(1..13),
                rng.random_range(1..29)
            )
        }),
        gender: person.then(|| if rng.random_bool(0.5) { "男" } else { "女" }.to_owned()),
        position: (rng.random_ratio(1, 4)).then(|| pick(&mut rng, POSITIONS).to_owned()),
        assets: rng
            .random_ratio(9, 10)
            .then(|| Yuan::from_fen(assets_fen(&mut rng)).to_string()),
        liquidity: rng
            .random_ratio(1, 2)
            .then(|| pick(&mut rng, &["高", "中", "低"]).to_owned()),
        tags,
        preferred_contact_time: rng
            .random_ratio(1, 6)
            .then(|| pick(&mut rng, WINDOWS).to_owned()),
        behaviour_type: rng
            .random_ratio(1, 3)
            .then(|| pick(&mut rng, &["要求型", "困惑型", "冲动型"]).to_owned()),
        ..CustomerInput::default()
    }
}

/// What customers call about, per work-order kind.
const ORDER_SUBJECTS: &[(&str, &[&str])] = &[
    (
        "repair",
        &[
            "燃气表不走字",
            "灶具点不着火",
            "厨房有燃气异味",
            "热水器无法点火",
            "表具漏气",
            "管道锈蚀需更换",
            "壁挂炉报故障码E3",
            "阀门关不严",
        ],
    ),
    (
        "complaint",
        &[
            "维修人员上门迟到",
            "账单金额异常偏高",
            "营业厅排队时间过长",
            "抄表员态度生硬",
            "承诺回电未兑现",
            "停气未提前通知",
        ],
    ),
    (
        "service_request",
        &[
            "办理燃气过户",
            "新房开通燃气",
            "申请改管移表",
            "变更缴费方式",
            "申请安全检查",
            "办理销户",
        ],
    ),
    (
        "answer",
        &[
            "阶梯气价如何计算",
            "如何网上缴费",
            "预付费表充值后不到账",
            "发票如何开具",
            "安检收费标准",
        ],
    ),
    (
        "suggestion",
        &[
            "建议增加营业网点",
            "建议短信提醒缴费",
            "建议延长热线服务时间",
        ],
    ),
];

/// Which demo department handles a kind.
fn department_for(kind: &str) -> &'static str {
    match kind {
        "repair" => "REPAIR",
        "service_request" => "BILLING",
        "complaint" => "CC",
        "answer" => "BILLING",
        _ => "CC",
    }
}

/// Rows per transaction when generating work orders.
const ORDER_TX_ROWS: u64 = 20_000;

/// Adds `n` work orders spread over the year before `now`: most closed, the recent
/// ones open in every state, deadlines from the shipped policies on `ctx`'s calendar,
/// finished orders' past breaches marked escalated; open orders' are left for the
/// deadline sweep (`seed_escalations` runs it over the last week).
/// Customers are drawn from those in the database.
pub async fn generate_work_orders(
    store: &Store,
    n: u64,
    seed: u64,
    ctx: &crate::workorders::SlaContext,
    now: Timestamp,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    use kefu_domain::sla::{self, DeadlineKind, Met};
    use kefu_domain::workflow::State;
    use kefu_domain::workorder::{Urgency, builtin_kinds, priority};

    let actor = Actor::System("demo".into());
    let departments = store.list_departments().await?;
    let dept = |code: &str| departments.iter().find(|d| d.code == code).map(|d| d.id.0);
    let kinds = builtin_kinds();
    if store.routing_rules().await?.is_empty() {
        // The demo center routes by kind, everything else to the center itself.
        let mut rules = Vec::new();
        for code in std::iter::once(None).chain(kinds.iter().map(|k| Some(k.code.as_str()))) {
            let department = dept(code.map_or("CC", department_for));
            if let Some(id) = department {
                rules.push(kefu_domain::workorder::RoutingRule {
                    kind: code.map(str::to_owned),
                    category: None,
                    service_area: None,
                    department_id: DepartmentId(id),
                });
            }
        }
        store.set_routing_rules(&actor, &rules, now).await?;
    }
    let policies = sla::default_policies();
    let tiers = kefu_domain::tiering::TierRules::default_rules();
    let range = store.customer_id_range().await?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0D0E_0F00);
    let year_ms: i64 = 365 * 24 * 3600 * 1000;
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(ORDER_TX_ROWS);
        let mut rows = Vec::with_capacity(batch as usize);
        for chunk_start in (0..batch).step_by(500) {
            let chunk = (batch - chunk_start).min(500);
            let wanted: Vec<i64> = match range {
                Some((lo, hi)) => (0..chunk).map(|_| rng.random_range(lo..=hi)).collect(),
                None => Vec::new(),
            };
            let facts = store.customer_facts(&wanted).await?;
            for i in 0..chunk {
                let kind = &kinds[match rng.random_range(0..100) {
                    0..=44 => 0,
                    45..=57 => 1,
                    58..=79 => 2,
                    80..=94 => 3,
                    _ => 4,
                }];
                let customer = (!facts.is_empty() && rng.random_ratio(9, 10))
                    .then(|| &facts[(i as usize) % facts.len()]);
                let urgency = match rng.random_range(0..100) {
                    0..=2 => Urgency::Emergency,
                    3..=17 => Urgency::Urgent,
                    _ => Urgency::Normal,
                };
                let boost = customer
                    .and_then(|c| tiers.tier(&c.3))
                    .map_or(0, |t| t.priority_boost);
                let prio = priority(kind, urgency, boost);
                // Skewed to the recent past: a quarter of the orders in the last month.
                let age_ms = if rng.random_ratio(1, 4) {
                    rng.random_range(0..year_ms / 12)
                } else {
                    rng.random_range(0..year_ms)
                };
                let created =
                    Timestamp::from_millisecond(now.as_millisecond() - age_ms).unwrap_or(now);
                let deadlines = sla::policy_for(&policies, &kind.code, prio)
                    .map(|p| sla::deadlines(p, created, &ctx.calendar, &ctx.tz))
                    .unwrap_or_default();
                let recent = age_ms < 7 * 24 * 3600 * 1000;
                let state = if !recent && rng.random_ratio(97, 100) {
                    if rng.random_ratio(1, 40) {
                        State::Cancelled
                    } else {
                        State::Closed
                    }
                } else {
                    let open = kind.workflow.states();
                    open[rng.random_range(0..open.len())]
                };
                let after = |mins: i64| {
                    let t = created + jiff::SignedDuration::from_mins(mins);
                    (t <= now).then_some(t)
                };
                let responded = !matches!(state, State::New | State::Dispatched);
                let resolved = kefu_domain::workorder::is_resolved(kind.workflow, state);
                let met = Met {
                    first_response: if responded {
                        after(rng.random_range(5..600))
                    } else {
                        None
                    },
                    progress_notice: if kind.is_complaint() && responded {
                        after(rng.random_range(600..1500))
                    } else {
                        None
                    },
                    resolution: if resolved {
                        after(rng.random_range(60..6000))
                    } else {
                        None
                    },
                };
                let finished = kefu_domain::workorder::is_final(state);
                // Finished orders' breaches were escalated long ago; open orders'
                // are left to the real sweep (`seed_escalations`).
                let escalated: Vec<DeadlineKind> = if finished {
                    DeadlineKind::ALL
                        .into_iter()
                        .filter(|k| sla::is_breached(&deadlines, &met, *k, now))
                        .collect()
                } else {
                    Vec::new()
                };
                let updated = [met.first_response, met.progress_notice, met.resolution]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or(created);
                let subjects = ORDER_SUBJECTS
                    .iter()
                    .find(|(k, _)| *k == kind.code)
                    .map_or(&["其他事项"][..], |(_, s)| *s);
                rows.push(crate::workorders::BulkWorkOrder {
                    kind: kind.code.clone(),
                    workflow: kind.workflow.name,
                    state,
                    priority: prio,
                    urgency,
                    customer_id: customer.map(|c| c.0),
                    phone_key: customer.and_then(|c| c.1.clone()),
                    subject: pick(&mut rng, subjects).to_owned(),
                    category: None,
                    service_area: customer.and_then(|c| c.2.clone()),
                    department_id: if state == State::New {
                        None
                    } else {
                        dept(department_for(&kind.code))
                    },
                    created_at: created,
                    updated_at: updated,
                    deadlines,
                    met,
                    escalated,
                    closed_at: finished.then_some(updated),
                    reopen_count: i64::from(rng.random_ratio(1, 30)),
                    // Opened by the agents who took the calls.
                    created_by: Some(AGENTS[rng.random_range(0..AGENTS.len())].to_owned()),
                });
            }
        }
        done += store
            .insert_work_orders_bulk(&actor, &rows, &ctx.tz, now)
            .await?;
        progress(done);
    }
    store.analyze(true).await?;
    Ok(done)
}

/// What callers say, per category (summaries of demo contacts).
const CONTACT_SUMMARIES: &[(kefu_domain::contact::Category, &[&str])] = {
    use kefu_domain::contact::Category as C;
    &[
        (
            C::Query,
            &["查询本月燃气费", "查询缴费记录", "查询预付费余额"],
        ),
        (
            C::Consultation,
            &["咨询阶梯气价", "咨询过户手续", "咨询安检时间"],
        ),
        (
            C::Repair,
            &["灶具点不着火，约上门", "燃气表不走字", "热水器打不着火"],
        ),
        (
            C::Complaint,
            &["投诉维修人员迟到", "投诉账单金额异常", "投诉停气未通知"],
        ),
        (C::ServiceRequest, &["办理开户", "申请改管", "办理过户"]),
        (C::Suggestion, &["建议增加缴费渠道"]),
        (C::Praise, &["表扬抢修人员及时"]),
        (C::WrongNumber, &["打错电话"]),
        (C::Silent, &["无声电话"]),
        (C::Other, &["其他事项"]),
    ]
};

/// Adds `n` contacts spread over the year before `now` (more on weekdays and in
/// office hours), for customers in the database, with their report counters.
pub async fn generate_contacts(
    store: &Store,
    n: u64,
    seed: u64,
    now: Timestamp,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    use kefu_domain::contact::Direction;
    let actor = Actor::System("demo".into());
    let range = store.customer_id_range().await?;
    let agents: Vec<i64> = store
        .list_staff(
            &crate::staff::StaffFilter::default(),
            crate::PageRequest::new(0, 500),
        )
        .await?
        .items
        .into_iter()
        .filter(|s| s.role == Role::Agent)
        .map(|s| s.id.0)
        .collect();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC0_47AC_7500);
    let year_s: i64 = 365 * 24 * 3600;
    let tz = store.time_zone().clone();
    let today = now.to_zoned(tz.clone()).date();
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(50_000);
        let mut rows = Vec::with_capacity(batch as usize);
        for chunk_start in (0..batch).step_by(500) {
            let chunk = (batch - chunk_start).min(500);
            let wanted: Vec<i64> = match range {
                Some((lo, hi)) => (0..chunk).map(|_| rng.random_range(lo..=hi)).collect(),
                None => Vec::new(),
            };
            let facts = store.customer_facts(&wanted).await?;
            for i in 0..chunk {
                let (category, summaries) = CONTACT_SUMMARIES[match rng.random_range(0..100) {
                    0..=24 => 0,
                    25..=44 => 1,
                    45..=64 => 2,
                    65..=71 => 3,
                    72..=84 => 4,
                    85..=86 => 5,
                    87 => 6,
                    88..=92 => 7,
                    93..=95 => 8,
                    _ => 9,
                }];
                // Busy hours: most calls between 08:00 and 18:00 local time.
                let days_ago: i64 = rng.random_range(0..365);
                let hour: i8 = if rng.random_ratio(4, 5) {
                    rng.random_range(8..18)
                } else {
                    rng.random_range(0..24)
                };
                let ring = today
                    .checked_sub(jiff::Span::new().days(days_ago))
                    .ok()
                    .and_then(|d| {
                        d.at(hour, rng.random_range(0..60), rng.random_range(0..60), 0)
                            .to_zoned(tz.clone())
                            .ok()
                    })
                    .map(|z| z.timestamp())
                    .filter(|t| *t < now)
                    .unwrap_or_else(|| {
                        Timestamp::from_second(now.as_second() - rng.random_range(60..year_s))
                            .unwrap_or(now)
                    });
                let answer = ring + jiff::SignedDuration::from_secs(rng.random_range(2..30));
                let end = answer + jiff::SignedDuration::from_secs(rng.random_range(30..600));
                let customer = (!facts.is_empty() && rng.random_ratio(4, 5))
                    .then(|| &facts[(i as usize) % facts.len()]);
                rows.push(crate::contacts::BulkContact {
                    direction: if rng.random_ratio(9, 10) {
                        Direction::Inbound
                    } else {
                        Direction::Outbound
                    },
                    phone_key: customer.and_then(|c| c.1.clone()),
                    customer_id: customer.map(|c| c.0),
                    agent_id: (!agents.is_empty())
                        .then(|| agents[rng.random_range(0..agents.len())]),
                    category,
                    summary: pick(&mut rng, summaries).to_owned(),
                    ring_at: ring,
                    answer_at: answer,
                    end_at: end,
                    outcome: if category == kefu_domain::contact::Category::Repair {
                        "work_order"
                    } else {
                        "resolved"
                    },
                });
            }
        }
        done += store.insert_contacts_bulk(&actor, &rows).await?;
        progress(done);
    }
    store.refresh_last_contacts().await?;
    store.analyze(true).await?;
    Ok(done)
}

/// The knowledge base agents of a gas utility look up: hand-written articles
/// (`articles.txt`: `# title`, `分类：`, `标签：`, then paragraphs).
const ARTICLES: &str = include_str!("articles.txt");

/// The hand-written articles as (title, category, tags, body).
pub fn handbook() -> Vec<(String, String, Vec<String>, String)> {
    let mut out = Vec::new();
    for block in ARTICLES.split("\n# ").map(|b| b.trim_start_matches("# ")) {
        let mut lines = block.lines();
        let Some(title) = lines.next().map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        let mut category = String::new();
        let mut tags = Vec::new();
        let mut body = Vec::new();
        for line in lines {
            if let Some(c) = line.strip_prefix("分类：") {
                category = c.trim().to_owned();
            } else if let Some(t) = line.strip_prefix("标签：") {
                tags = t.split('、').map(|x| x.trim().to_owned()).collect();
            } else if !line.trim().is_empty() {
                body.push(line.trim());
            }
        }
        out.push((title.to_owned(), category, tags, body.join("\n")));
    }
    out
}

/// Makes sure `n` knowledge-base articles exist beyond those there: first the
/// hand-written handbook (a few of them still drafts); past it, for the larger
/// benchmark profiles, the center's archive of dated interruption notices, one per
/// service area and day (each a distinct document, most archived).
pub async fn generate_articles(
    store: &Store,
    n: u64,
    seed: u64,
    now: Timestamp,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    use kefu_domain::knowledge::{Article, ArticleStatus};
    let actor = Actor::System("demo".into());
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4B_B0A7);
    let existing: Vec<String> = sqlx::query_scalar("SELECT title FROM kb_articles")
        .fetch_all(&store.pool)
        .await?;
    let mut done = 0;
    for (i, (title, category, tags, body)) in handbook().into_iter().enumerate() {
        if done >= n {
            break;
        }
        if existing.contains(&title) {
            continue;
        }
        let article = Article {
            title,
            body,
            category,
            tags,
            status: if i % 23 == 22 {
                ArticleStatus::Draft
            } else {
                ArticleStatus::Published
            },
        };
        store
            .create_article(&actor, &article, Some("服务手册"), now)
            .await?;
        done += 1;
    }
    let areas: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT service_area FROM customers WHERE service_area IS NOT NULL ORDER BY service_area LIMIT 40",
    )
    .fetch_all(&store.pool)
    .await?;
    let areas = if areas.is_empty() {
        vec!["城区".to_owned()]
    } else {
        areas
    };
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
    let mut day = now.to_zoned(tz).date();
    let mut k = 0usize;
    while done < n {
        let area = &areas[k % areas.len()];
        if k > 0 && k.is_multiple_of(areas.len()) {
            day = day.yesterday().unwrap_or(day);
        }
        k += 1;
        let title = format!("{area}{}计划停气检修通知", day.strftime("%Y年%-m月%-d日"));
        if existing.contains(&title) {
            continue;
        }
        let street = pick(&mut rng, STREETS);
        let from = rng.random_range(8..=10);
        let hours = rng.random_range(3..=8);
        let body = format!(
            "因{street}燃气管网检修，{} {from}:00 至 {}:00 {area}{street}沿线部分小区暂停供气。\n\
             停气期间请客户关闭燃气总阀；恢复供气后先开窗通风，确认没有异味再点火。\n\
             客户来电询问时，按地址核对是否在停气范围内；超过恢复时间仍未供气的，登记报修工单。",
            day.strftime("%Y年%-m月%-d日"),
            from + hours,
        );
        let article = Article {
            title,
            body,
            category: "停气通知".into(),
            tags: vec!["停气".into(), area.clone()],
            status: if k > areas.len() * 7 {
                ArticleStatus::Archived
            } else {
                ArticleStatus::Published
            },
        };
        store
            .create_article(&actor, &article, Some("停气通知"), now)
            .await?;
        done += 1;
        if done % 500 == 0 {
            progress(done);
        }
    }
    progress(done);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_are_deterministic_varied_and_valid() {
        assert_eq!(customer(7, 42), customer(7, 42));
        assert_ne!(customer(7, 42), customer(8, 42));
        let today = jiff::civil::Date::new(2026, 11, 23).unwrap();
        let sample: Vec<_> = (0..3_000).map(|i| customer(1, i)).collect();
        let numbers: Vec<&str> = sample
            .iter()
            .flat_map(|c| c.phones.iter().map(|p| p.number.as_str()))
            .collect();
        assert!(numbers.iter().any(|m| m.starts_with("+86")));
        assert!(numbers.iter().any(|m| m.contains('１') || m.contains('３')));
        assert!(numbers.iter().any(|p| p.starts_with("(0531)")));
        assert!(sample.iter().any(|c| c.kind.as_deref() == Some("单位")));
        let drafts: Vec<CustomerDraft> = sample
            .iter()
            .map(|c| {
                CustomerDraft::parse(c, today, Some(AREA_CODE))
                    .unwrap_or_else(|e| panic!("{c:?}: {e}"))
            })
            .collect();
        let rules = kefu_domain::tiering::TierRules::default_rules();
        for tier in ["normal", "quality", "key", "vip"] {
            assert!(
                drafts
                    .iter()
                    .any(|d| rules.evaluate(d.assets).tier_code == tier),
                "no {tier} customer"
            );
        }
        assert_eq!(drafts[0].code, "KH00000001");
    }
}
