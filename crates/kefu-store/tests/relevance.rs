//! The relevance set: 259 Chinese documents (knowledge articles written for the
//! test, generated work orders, complaints and consultations) and 70 queries with the
//! results a service center expects, checked on both backends with the same
//! expectations. The files under `tests/data/` say how to read them.
#![allow(clippy::unwrap_used)]

use jiff::Timestamp;
use kefu_store::backend_tests;
use kefu_store::search::{DocMeta, KindScope, SearchRequest};
use kefu_store::testing::TestDb;

backend_tests!(the_relevance_set_passes);

const ARTICLES: &str = include_str!("data/relevance_articles.txt");
const QUERIES: &str = include_str!("data/relevance_queries.txt");

const DISTRICTS: [(&str, &str); 6] = [
    ("历下区", "经十路"),
    ("市中区", "纬二路"),
    ("槐荫区", "西市场"),
    ("天桥区", "北园大街"),
    ("历城区", "花园路"),
    ("长清区", "大学城"),
];
const THINGS: [(&str, [&str; 2]); 8] = [
    ("燃气热水器", ["打不着火", "点火后熄灭"]),
    ("燃气灶", ["火焰发黄", "打不着火"]),
    ("燃气表", ["显示E3", "读数不走"]),
    ("水表", ["不走字", "表箱漏水"]),
    ("宽带", ["无法上网", "网速慢"]),
    ("空调", ["不制冷", "室内机漏水"]),
    ("洗衣机", ["不脱水", "噪音大"]),
    ("冰箱", ["不制冷", "结霜严重"]),
];
const COMPLAINTS: [&str; 5] = ["服务态度差", "上门迟到", "账单异常", "抢修太慢", "乱收费"];
const QUESTIONS: [&str; 12] = [
    "阶梯气价",
    "过户手续",
    "营业厅地址",
    "停气时间",
    "发票开具",
    "银行代扣",
    "水费查询",
    "宽带资费",
    "信用卡额度",
    "保修期限",
    "安检时间",
    "燃气报装",
];
const NAMES: [&str; 8] = [
    "王秀英",
    "李建国",
    "张伟",
    "刘芳",
    "陈静",
    "杨洋",
    "赵磊",
    "孙丽",
];
const EXTRAS: [&str; 4] = [
    "请尽快安排人员处理",
    "客户白天不在家，下午五点后方便",
    "已指导客户自查，未解决",
    "客户第二次来电反映此事",
];

/// (key, kind, title, body) of every document.
fn corpus() -> Vec<(String, &'static str, String, String)> {
    let mut docs = Vec::new();
    for line in ARTICLES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(parts.len(), 3, "{line}");
        docs.push((
            parts[0].to_owned(),
            "kb",
            parts[1].to_owned(),
            parts[2].to_owned(),
        ));
    }
    let mut n = 0usize;
    for (d, (district, street)) in DISTRICTS.iter().enumerate() {
        for (t, (thing, faults)) in THINGS.iter().enumerate() {
            for (f, fault) in faults.iter().enumerate() {
                n += 1;
                let name = NAMES[n % NAMES.len()];
                docs.push((
                    format!("wo-{d}-{t}-{f}"),
                    "wo",
                    format!("{thing}{fault}"),
                    format!(
                        "{district}{street}{name}家{thing}{fault}，{}。",
                        EXTRAS[n % EXTRAS.len()]
                    ),
                ));
            }
        }
        for (c, topic) in COMPLAINTS.iter().enumerate() {
            n += 1;
            let name = NAMES[n % NAMES.len()];
            docs.push((
                format!("cp-{d}-{c}"),
                "wo",
                format!("投诉{topic}"),
                format!("{district}{street}客户{name}来电投诉{topic}，要求给出处理结果。"),
            ));
        }
        for (q, topic) in QUESTIONS.iter().enumerate() {
            n += 1;
            let name = NAMES[n % NAMES.len()];
            docs.push((
                format!("ct-{d}-{q}"),
                "contact",
                format!("咨询{topic}"),
                format!("{district}客户{name}来电咨询{topic}，已告知办理方式。"),
            ));
        }
    }
    docs
}

async fn the_relevance_set_passes(db: &TestDb) {
    let s = &db.store;
    let docs = corpus();
    assert!(docs.len() >= 250, "{}", docs.len());
    let now = Timestamp::from_second(1_790_000_000).unwrap();
    for (i, (_, kind, title, body)) in docs.iter().enumerate() {
        s.index_document(kind, i as i64 + 1, title, body, DocMeta::default(), now)
            .await
            .unwrap();
    }
    let scopes: Vec<KindScope> = ["kb", "wo", "contact"]
        .into_iter()
        .map(KindScope::any)
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in QUERIES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (query, expect) = line.split_once("=>").unwrap();
        let (kinds, query) = match query.trim().strip_prefix('[') {
            Some(rest) => {
                let (kinds, q) = rest.split_once(']').unwrap();
                (kinds.split(',').map(str::trim).collect::<Vec<_>>(), q)
            }
            None => (vec!["kb", "wo", "contact"], query),
        };
        let (expect, top) = match expect.split_once('@') {
            Some((e, n)) => (e, n.trim().parse::<usize>().unwrap()),
            None => (expect, 3),
        };
        let hits = s
            .search(&SearchRequest {
                text: query.trim().into(),
                scopes: scopes
                    .iter()
                    .filter(|sc| kinds.contains(&sc.kind.as_str()))
                    .cloned()
                    .collect(),
                limit: 50,
                ..SearchRequest::default()
            })
            .await
            .unwrap();
        let keys: Vec<&str> = hits
            .iter()
            .map(|h| docs[(h.doc_id - 1) as usize].0.as_str())
            .collect();
        let first: Vec<&str> = keys.iter().take(top).copied().collect();
        for e in expect.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let ok = match (e.strip_prefix('!'), e.strip_suffix('*')) {
                (Some(not), _) => match not.strip_suffix('*') {
                    Some(prefix) => !keys.iter().any(|k| k.starts_with(prefix)),
                    None => !keys.contains(&not),
                },
                (None, Some(prefix)) => {
                    !first.is_empty() && first.iter().all(|k| k.starts_with(prefix))
                }
                (None, None) => first.contains(&e),
            };
            checked += 1;
            if !ok {
                failures.push(format!("{query} => {e}: got {keys:?}"));
            }
        }
    }
    assert!(checked >= 70, "{checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked} expectations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
