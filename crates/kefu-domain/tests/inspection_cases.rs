//! The inspection test set: realistic calls, each written once as turns and read
//! back through one of the three transcript formats (SRT, WebVTT, JSON in turn),
//! with the rules each must fail — good calls, each kind of violation, false
//! friends that must stay clean, English mixed in, empty and overlapping turns.
#![allow(clippy::unwrap_used)]

use kefu_domain::inspection::{
    CallFacts, Direction, Inspection, InspectionRules, RuleSetting, Verdict, inspect,
};
use kefu_domain::phrasebook::Phrasebook;
use kefu_domain::transcript::{Format, Speaker, parse};

/// One turn: who, the silence before it (seconds), what is said. The agent speaks
/// at the case's rate, the customer at 220 characters per minute.
type T = (&'static str, f64, &'static str);

struct Case {
    name: &'static str,
    turns: &'static [T],
    /// Agent characters per minute.
    rate: f64,
    facts: Option<CallFacts>,
    fails: &'static [&'static str],
    rules: Option<InspectionRules>,
}

const OPEN: T = (
    "客服",
    0.0,
    "您好，泉城燃气客服中心，1024号为您服务，请问有什么可以帮您？",
);
const CLOSE: T = ("客服", 0.5, "感谢您的来电，再见！");
const ASK_MORE: T = ("客服", 0.5, "好的，请问还有其他可以帮您的吗？");
const NO_MORE: T = ("客户", 0.5, "没有了，谢谢。");

fn case(name: &'static str, turns: &'static [T], fails: &'static [&'static str]) -> Case {
    Case {
        name,
        turns,
        rate: 190.0,
        facts: None,
        fails,
        rules: None,
    }
}

fn spoken(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

fn srt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02},{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The case's turns with their times, as (speaker, start, end, text).
fn timed(c: &Case) -> Vec<(&'static str, u64, u64, &'static str)> {
    let mut at = 0u64;
    let mut out = Vec::new();
    for (who, gap, text) in c.turns {
        let start = at + (*gap * 1000.0) as u64;
        let rate = if *who == "客服" { c.rate } else { 220.0 };
        let len = ((spoken(text) as f64 / rate) * 60_000.0).max(400.0) as u64;
        out.push((*who, start, start + len, *text));
        at = start + len;
    }
    out
}

fn render(c: &Case, format: Format) -> String {
    let turns = timed(c);
    match format {
        Format::Srt => turns
            .iter()
            .enumerate()
            .map(|(i, (who, s, e, text))| {
                format!(
                    "{}\n{} --> {}\n{who}：{text}\n\n",
                    i + 1,
                    srt_time(*s),
                    srt_time(*e)
                )
            })
            .collect(),
        Format::WebVtt => {
            let mut out = String::from("WEBVTT\n\n");
            for (who, s, e, text) in &turns {
                out.push_str(&format!(
                    "{} --> {}\n<v {who}>{text}</v>\n\n",
                    srt_time(*s).replace(',', "."),
                    srt_time(*e).replace(',', ".")
                ));
            }
            out
        }
        Format::Json => {
            let list: Vec<serde_json::Value> = turns
                .iter()
                .map(|(who, s, e, text)| {
                    serde_json::json!({
                        "speaker": if *who == "客服" { "agent" } else { "customer" },
                        "start": *s as f64 / 1000.0, "end": *e as f64 / 1000.0, "text": text
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "turns": list })).unwrap()
        }
    }
}

fn cases() -> Vec<Case> {
    let mut all = vec![
        case(
            "a good inbound call",
            &[
                OPEN,
                ("客户", 0.5, "我家燃气表显示E3，是不是坏了？"),
                (
                    "客服",
                    0.5,
                    "E3表示电池电量低，请您更换两节五号电池后再观察。",
                ),
                ASK_MORE,
                NO_MORE,
                CLOSE,
            ],
            &[],
        ),
        case(
            "喂 instead of a greeting",
            &[
                ("客服", 0.0, "喂，泉城燃气客服中心，1024号为您服务。"),
                ("客户", 0.5, "我要交燃气费。"),
                ("客服", 0.5, "您可以在营业厅或者手机银行缴费，操作很方便。"),
                CLOSE,
            ],
            &["opening", "forbidden"],
        ),
        case(
            "no self-identification",
            &[
                ("客服", 0.0, "您好，请问有什么可以帮您？"),
                ("客户", 0.5, "我想问一下停气的事。"),
                ("客服", 0.5, "明天上午九点到下午三点和平路一带检修停气。"),
                CLOSE,
            ],
            &["opening"],
        ),
        case(
            "no greeting",
            &[
                ("客服", 0.0, "泉城燃气客服中心1024号，请讲。"),
                ("客户", 0.5, "我想问一下停气的事。"),
                ("客服", 0.5, "明天上午九点到下午三点和平路一带检修停气。"),
                CLOSE,
            ],
            &["opening"],
        ),
        case(
            "什么 in friendly phrases stays clean",
            &[
                OPEN,
                ("客户", 0.5, "维修师傅什么时候来？"),
                (
                    "客服",
                    0.5,
                    "维修师傅什么时候上门我帮您确认，预计今天下午两点前。",
                ),
                ("客服", 0.5, "请问还有什么需要帮助的吗？"),
                NO_MORE,
                CLOSE,
            ],
            &[],
        ),
        case(
            "不知道 inside a polite question stays clean",
            &[
                OPEN,
                ("客户", 0.5, "我想改一下预约时间。"),
                ("客服", 0.5, "不知道您明天上午方便吗？我帮您改到明天上午。"),
                CLOSE,
            ],
            &[],
        ),
        case(
            "a flat 不知道",
            &[
                OPEN,
                ("客户", 0.5, "为什么这个月燃气费这么高？"),
                ("客服", 0.5, "这个我也不知道，账单上写的就是这些。"),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "questioning tone",
            &[
                OPEN,
                ("客户", 0.5, "那我到底要怎么办理？"),
                ("客服", 0.5, "你听不懂吗？带着户口本和房产证去营业厅办理。"),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "impatient tone",
            &[
                OPEN,
                ("客户", 0.5, "过户要带什么材料？"),
                ("客服", 0.5, "我不是告诉过你了吗，身份证和房产证原件。"),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "commanding tone",
            &[
                OPEN,
                ("客户", 0.5, "楼道里的管子在滴水。"),
                ("客服", 0.5, "这个你自己打电话去问物业，我们只管燃气管道。"),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "dismissive",
            &[
                OPEN,
                ("客户", 0.5, "楼道灯坏了能修吗？"),
                ("客服", 0.5, "这个不归我们管，我们是燃气公司，处理不了。"),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "filler particles",
            &[
                OPEN,
                ("客户", 0.5, "明天能来装表吗？"),
                (
                    "客服",
                    0.5,
                    "可以呀，师傅明天上午到您家嘛，您家里留人就行。",
                ),
                CLOSE,
            ],
            &["forbidden"],
        ),
        case(
            "a long hold with an apology on return",
            &[
                OPEN,
                ("客户", 0.5, "帮我查一下上个月的缴费记录。"),
                ("客服", 0.5, "好的，请您稍等，我为您查询一下。"),
                (
                    "客服",
                    12.0,
                    "感谢您的耐心等待，上个月十五号您缴了一百二十元。",
                ),
                ASK_MORE,
                NO_MORE,
                CLOSE,
            ],
            &[],
        ),
        case(
            "a long hold without an apology",
            &[
                OPEN,
                ("客户", 0.5, "帮我查一下上个月的缴费记录。"),
                ("客服", 0.5, "好的，请您稍等，我为您查询一下。"),
                ("客服", 12.0, "查到了，上个月十五号您缴了一百二十元。"),
                ASK_MORE,
                NO_MORE,
                CLOSE,
            ],
            &["hold_apology"],
        ),
        case(
            "a short hold needs no apology",
            &[
                OPEN,
                ("客户", 0.5, "帮我查一下上个月的缴费记录。"),
                ("客服", 0.5, "好的，请您稍等，我为您查询一下。"),
                ("客服", 5.0, "上个月十五号您缴了一百二十元。"),
                CLOSE,
            ],
            &[],
        ),
        case(
            "a silent caller prompted properly",
            &[
                OPEN,
                ("客服", 8.0, "您好，电话已经接通，请问您能听到我的声音吗？"),
                ("客户", 1.0, "能听到，刚才信号不好。我家燃气灶打不着火。"),
                (
                    "客服",
                    0.5,
                    "请您先检查灶具电池，如果还是不行我们派师傅上门。",
                ),
                CLOSE,
            ],
            &[],
        ),
        case(
            "a silent caller not prompted",
            &[
                OPEN,
                ("客服", 8.0, "你说话啊，到底有没有事？"),
                ("客户", 1.0, "有，我家燃气灶打不着火。"),
                (
                    "客服",
                    0.5,
                    "请您先检查灶具电池，如果还是不行我们派师傅上门。",
                ),
                CLOSE,
            ],
            &["silence_prompt", "forbidden"],
        ),
        case(
            "a customer who thinks before answering is not silence",
            &[
                OPEN,
                ("客户", 0.5, "我想问问那个……"),
                ("客户", 7.0, "对，就是阶梯气价怎么算。"),
                (
                    "客服",
                    0.5,
                    "居民用气按年用气量分三档，第一档每立方三块零五分。",
                ),
                CLOSE,
            ],
            &[],
        ),
        case(
            "a number read back in Chinese numerals",
            &[
                OPEN,
                ("客户", 0.5, "我要报修，电话13905312468。"),
                (
                    "客服",
                    0.5,
                    "跟您核对一下，您的电话是幺三九零五三幺二四六八，对吗？",
                ),
                ("客户", 0.5, "对。"),
                (
                    "客服",
                    0.5,
                    "好的，师傅会在二十四小时内上门，请您保持电话畅通。",
                ),
                CLOSE,
            ],
            &[],
        ),
        case(
            "a number not read back",
            &[
                OPEN,
                ("客户", 0.5, "我要报修，电话139 0531 2468。"),
                (
                    "客服",
                    0.5,
                    "好的，师傅会在二十四小时内上门，请您保持电话畅通。",
                ),
                CLOSE,
            ],
            &["read_back"],
        ),
        case(
            "an account number read back with the wrong digits",
            &[
                OPEN,
                ("客户", 0.5, "我的燃气户号是5300128876。"),
                ("客服", 0.5, "跟您核对一下，户号是5300128867，对吗？"),
                ("客户", 0.5, "对。"),
                CLOSE,
            ],
            &["read_back"],
        ),
        case(
            "no closing phrase",
            &[
                OPEN,
                ("客户", 0.5, "营业厅几点关门？"),
                ("客服", 0.5, "营业厅工作日下午五点半关门，周末不营业。"),
            ],
            &["closing"],
        ),
        case(
            "closing before the customer's last thanks",
            &[
                OPEN,
                ("客户", 0.5, "营业厅几点关门？"),
                (
                    "客服",
                    0.5,
                    "营业厅工作日下午五点半关门，感谢您的来电，再见！",
                ),
                ("客服", 0.5, "好的。"),
                ("客户", 0.5, "谢谢。"),
            ],
            &[],
        ),
        case(
            "English mixed in",
            &[
                OPEN,
                ("客户", 0.5, "我的app显示error E3，online payment失败了。"),
                (
                    "客服",
                    0.5,
                    "E3是表具电池低电量，app缴费失败请您稍后重试或者换用微信支付。",
                ),
                ASK_MORE,
                NO_MORE,
                CLOSE,
            ],
            &[],
        ),
        case(
            "empty turns from the engine",
            &[
                OPEN,
                ("客户", 0.5, ""),
                ("客户", 0.5, "我想开通燃气。"),
                ("客服", 0.5, ""),
                ("客服", 0.5, "新开户请您带身份证和房产证到营业厅办理。"),
                CLOSE,
            ],
            &[],
        ),
        case(
            "too fast",
            &[
                OPEN,
                ("客户", 0.5, "怎么申请燃气改装？"),
                (
                    "客服",
                    0.5,
                    "燃气改装需要户主本人携带身份证房产证到营业厅申请，我们安排工程师上门勘察后出具方案和报价，您确认后缴费施工。",
                ),
                CLOSE,
            ],
            &["speaking_rate"],
        ),
        case(
            "too slow",
            &[
                OPEN,
                ("客户", 0.5, "怎么申请燃气改装？"),
                (
                    "客服",
                    0.5,
                    "燃气改装需要户主本人携带身份证房产证到营业厅申请，我们安排工程师上门勘察后出具方案和报价，您确认后缴费施工。",
                ),
                CLOSE,
            ],
            &["speaking_rate"],
        ),
        case(
            "the agent never speaks",
            &[("客户", 0.0, "喂？喂？有人吗？")],
            &["opening", "closing"],
        ),
    ];
    // Rates for the speaking-rate cases.
    for c in &mut all {
        match c.name {
            "too fast" => c.rate = 280.0,
            "too slow" => c.rate = 120.0,
            _ => {}
        }
    }
    let good: &'static [T] = &[
        OPEN,
        ("客户", 0.5, "我家燃气表显示E3，是不是坏了？"),
        (
            "客服",
            0.5,
            "E3表示电池电量低，请您更换两节五号电池后再观察。",
        ),
        ASK_MORE,
        NO_MORE,
        CLOSE,
    ];
    let outbound: &'static [T] = &[
        (
            "客服",
            0.0,
            "您好，我是泉城燃气客服中心1024号客服代表，请问您是王燕女士吗？",
        ),
        ("客户", 0.5, "是我。"),
        (
            "客服",
            0.5,
            "上周您家报修的燃气灶已经修好了，请问您对维修服务满意吗？",
        ),
        ("客户", 0.5, "挺满意的。"),
        ("客服", 0.5, "感谢您的支持，祝您生活愉快，再见！"),
    ];
    let facts = CallFacts {
        direction: Some(Direction::Inbound),
        ring_ms: Some(8_000),
        talk_ms: Some(40_000),
        hung_up_by: Some(Speaker::Customer),
        holds: Some(Vec::new()),
        inside_calling_window: None,
        window_refusal: None,
        planned: false,
        planned_secs: None,
    };
    let outbound_facts = CallFacts {
        direction: Some(Direction::Outbound),
        inside_calling_window: Some(true),
        planned: true,
        talk_ms: Some(170_000),
        ..facts.clone()
    };
    all.extend([
        Case {
            facts: Some(facts.clone()),
            ..case("a good call with its events", good, &[])
        },
        Case {
            facts: Some(CallFacts {
                ring_ms: Some(21_000),
                ..facts.clone()
            }),
            ..case("answered after too many rings", good, &["answer_speed"])
        },
        Case {
            facts: Some(CallFacts {
                hung_up_by: Some(Speaker::Agent),
                ..facts.clone()
            }),
            ..case(
                "the agent hung up first",
                good,
                &["customer_hangs_up_first"],
            )
        },
        Case {
            facts: Some(CallFacts {
                holds: Some(vec![(12_000, 25_000)]),
                ..facts.clone()
            }),
            ..case(
                "a hold from the events without an apology",
                good,
                &["hold_apology"],
            )
        },
        Case {
            facts: Some(outbound_facts.clone()),
            ..case("a good planned outbound call", outbound, &[])
        },
        Case {
            facts: Some(CallFacts {
                inside_calling_window: Some(false),
                ..outbound_facts.clone()
            }),
            ..case(
                "an outbound call outside the window",
                outbound,
                &["calling_window"],
            )
        },
        Case {
            facts: Some(CallFacts {
                inside_calling_window: Some(false),
                window_refusal: Some(("too_late".into(), "22:05".into())),
                ..outbound_facts.clone()
            }),
            ..case(
                "an outbound call after the evening limit, with the window's reason",
                outbound,
                &["calling_window"],
            )
        },
        Case {
            facts: Some(CallFacts {
                talk_ms: Some(420_000),
                planned_secs: Some(420),
                ..outbound_facts.clone()
            }),
            ..case(
                "a campaign planned at seven minutes takes seven minutes",
                outbound,
                &[],
            )
        },
        Case {
            facts: Some(CallFacts {
                talk_ms: Some(420_000),
                ..outbound_facts
            }),
            ..case("a planned call far too long", outbound, &["planned_length"])
        },
        Case {
            rules: Some({
                let mut r = InspectionRules::default();
                r.rules.insert(
                    "forbidden".into(),
                    RuleSetting {
                        enabled: false,
                        points: 5,
                    },
                );
                r
            }),
            ..case(
                "a rule switched off",
                &[
                    ("客服", 0.0, "喂，您好，泉城燃气客服中心1024号为您服务。"),
                    ("客户", 0.5, "没事了。"),
                    CLOSE,
                ],
                &[],
            )
        },
    ]);
    all
}

fn run(c: &Case, format: Format) -> Inspection {
    let text = render(c, format);
    let transcript = parse(format, &text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", c.name));
    let rules = c.rules.clone().unwrap_or_default();
    inspect(
        Some(&transcript),
        c.facts.as_ref(),
        &Phrasebook::default_cn(),
        &rules,
    )
}

#[test]
fn every_case_fails_exactly_its_rules() {
    let all = cases();
    assert!(all.len() >= 30, "{} cases", all.len());
    let formats = [Format::Srt, Format::WebVtt, Format::Json];
    let mut problems = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let r = run(c, formats[i % 3]);
        let mut failed: Vec<&str> = r.deductions().map(|d| d.rule.as_str()).collect();
        failed.sort_unstable();
        let mut expected = c.fails.to_vec();
        expected.sort_unstable();
        if failed != expected {
            problems.push(format!(
                "{}: expected {expected:?}, got {failed:?}\n{:#?}",
                c.name,
                r.deductions().collect::<Vec<_>>()
            ));
        }
        // Every deduction points at something, and the score adds up.
        for d in r.deductions() {
            assert!(d.points > 0, "{}: {d:?}", c.name);
        }
        let lost: u32 = r.items.iter().map(|i| i.points).sum();
        assert_eq!(r.score, 100u32.saturating_sub(lost), "{}", c.name);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_same_call_reads_the_same_in_every_format() {
    for c in cases() {
        let results: Vec<Inspection> = [Format::Srt, Format::WebVtt, Format::Json]
            .into_iter()
            .map(|f| run(&c, f))
            .collect();
        assert_eq!(results[0], results[1], "{}", c.name);
        assert_eq!(results[1], results[2], "{}", c.name);
    }
}

#[test]
fn deductions_point_at_the_words() {
    let all = cases();
    let dismissive = all.iter().find(|c| c.name == "dismissive").unwrap();
    let r = run(dismissive, Format::Srt);
    let item = r.item("forbidden").unwrap();
    let e = &item.evidence[0];
    assert_eq!(e.turn, Some(2));
    let (s, end) = e.span.unwrap();
    let marked: String = e.text.chars().skip(s).take(end - s).collect();
    assert_eq!(marked, "不归我们管");
    assert!(e.suggestion.as_deref().unwrap().contains("相关部门"));
    // Timing rules without events are skipped and say so.
    let skipped: Vec<&str> = r
        .items
        .iter()
        .filter(|i| i.verdict == Verdict::Skipped)
        .map(|i| i.rule.as_str())
        .collect();
    assert_eq!(
        skipped,
        vec![
            "answer_speed",
            "customer_hangs_up_first",
            "calling_window",
            "planned_length"
        ]
    );
    let off = all
        .iter()
        .find(|c| c.name == "a rule switched off")
        .unwrap();
    let r = run(off, Format::Json);
    assert_eq!(r.item("forbidden").unwrap().note, "switched off");
}
