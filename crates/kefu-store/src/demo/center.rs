//! A living center for the demo, made through the same store calls the API makes,
//! at past moments of the demo's last weeks: shifts with handover notes;
//! complaints at every step of their chain, each with its history; an active
//! 回访 campaign with attempts and answers; a closed emergency and an active one
//! with notices in every state; inspected calls; violations appealed and decided.
//! Seeded once: a database that already has the campaign keeps what it has.

use jiff::{SignedDuration, Timestamp};
use kefu_domain::assessment::{ViolationCommand, ViolationSource};
use kefu_domain::audit::Actor;
use kefu_domain::campaign::{AnswerValue, AttemptResult, CampaignInput, Question};
use kefu_domain::incident::{
    GatewayAnswer, IncidentCommand, IncidentInput, NoticeChannel, after_send,
};
use kefu_domain::money::Yuan;
use kefu_domain::transcript::{Format, parse};
use kefu_domain::workflow::Command;
use kefu_domain::workorder::{ComplaintCause, Urgency};
use kefu_domain::{DepartmentId, StaffId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::assessment::{Caller, NewViolation};
use crate::campaigns::{AttemptRecord, CallingContext, Selection, SelectionMode};
use crate::customers::CustomerFilter;
use crate::incidents::{Affected, CallResult, SendResult};
use crate::workorders::{NewWorkOrder, NoteVisibility, SlaContext, TransitionRequest};
use crate::{Store, StoreError};

/// The campaign whose presence says the center was seeded.
const CAMPAIGN: &str = "冬季安检满意度回访";

fn ago(now: Timestamp, mins: i64) -> Timestamp {
    now.checked_sub(SignedDuration::from_mins(mins))
        .unwrap_or(now)
}

struct Person {
    id: StaffId,
    actor: Actor,
}

async fn person(store: &Store, staff_no: &str) -> Result<Option<Person>, StoreError> {
    Ok(store.staff_by_number(staff_no).await?.map(|m| Person {
        id: m.id,
        actor: Actor::Staff {
            id: m.id,
            staff_no: m.staff_no,
        },
    }))
}

/// Seeds the center's recent life (see the module); false when it was there
/// already or the demo accounts are missing.
pub async fn seed_center_life(
    store: &Store,
    sla: &SlaContext,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let seeded: Option<i64> = sqlx::query_scalar("SELECT id FROM campaigns WHERE name = $1")
        .bind(CAMPAIGN)
        .fetch_optional(&store.pool)
        .await?;
    if seeded.is_some() {
        return Ok(false);
    }
    let mut agents = Vec::new();
    for no in super::AGENTS {
        if let Some(p) = person(store, no).await? {
            agents.push(p);
        }
    }
    let (Some(manager), Some(handler)) = (
        person(store, "manager").await?,
        person(store, "WX2001").await?,
    ) else {
        return Ok(false);
    };
    if agents.len() < 4 {
        return Ok(false);
    }
    let customers: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers ORDER BY id LIMIT 400")
        .fetch_all(&store.pool)
        .await?;
    if customers.len() < 50 {
        return Ok(false);
    }
    let mut rng = StdRng::seed_from_u64(202_612);
    shifts(store, &agents, now).await?;
    complaints(store, sla, &agents, &handler, &manager, &customers, now).await?;
    campaign(store, sla, &agents, &manager, &mut rng, now).await?;
    incidents(store, &agents, &manager, now).await?;
    let inspections = inspections(store, &agents, now).await?;
    violations(store, &agents, &manager, &inspections, now).await?;
    Ok(true)
}

/// The last three days' shifts and today's, with handover notes.
async fn shifts(store: &Store, agents: &[Person], now: Timestamp) -> Result<(), StoreError> {
    const NOTES: &[&str] = &[
        "王先生（和平路8号）报修热水器，维修部约明早上门，请留意回电。",
        "下午 3 点起历下区部分小区短时降压，来电咨询请按停气通知口径答复。",
        "一位老人多次来电询问缴费，已加“独居老人”标签，请耐心解释。",
        "投诉单 3 张待回访，已在待回电中列出。",
    ];
    for day in (1..=3).rev() {
        for (i, a) in agents.iter().enumerate() {
            let start = ago(now, day * 1440 + 480 - (i as i64) * 7);
            store.sign_in(&a.actor, a.id.0, start).await?;
            let note = NOTES[(day as usize + i) % NOTES.len()];
            store
                .sign_out(
                    &a.actor,
                    a.id.0,
                    Some(note),
                    start + SignedDuration::from_mins(510),
                )
                .await?;
        }
    }
    // Two agents are on shift now.
    for a in agents.iter().take(2) {
        store.sign_in(&a.actor, a.id.0, ago(now, 150)).await?;
    }
    Ok(())
}

fn transition(command: Command, note: &str) -> TransitionRequest {
    TransitionRequest {
        command,
        note: note.to_owned(),
        department_id: None,
        assignee_id: None,
        complaint_cause: None,
        expected_version: None,
        satisfaction: None,
    }
}

/// A demo complaint: subject, description, cause, the agent it is about, how many
/// hours ago it was made, and how many steps of the chain it has gone through.
type Complaint = (
    &'static str,
    &'static str,
    ComplaintCause,
    Option<usize>,
    i64,
    usize,
);

/// A demo violation: what happened, the penalty in yuan, and what followed.
type ViolationStep = (
    &'static str,
    Option<i64>,
    Option<(ViolationCommand, &'static str)>,
);

/// Complaints at every step of the chain, each with its history: dispatched,
/// accepted, waiting for the manager's review, waiting for the callback, sent
/// back after an unsatisfied callback, and closed after a satisfied one.
#[allow(clippy::too_many_arguments)]
async fn complaints(
    store: &Store,
    sla: &SlaContext,
    agents: &[Person],
    handler: &Person,
    manager: &Person,
    customers: &[i64],
    now: Timestamp,
) -> Result<(), StoreError> {
    let repair: Option<i64> =
        sqlx::query_scalar("SELECT id FROM departments WHERE code = 'REPAIR'")
            .fetch_optional(&store.pool)
            .await?;
    // (subject, description, cause, about an agent, hours ago, steps done)
    let cases: &[Complaint] = &[
        (
            "燃气表箱锈蚀漏风，报修三天无人处理",
            "客户称三天前报修表箱锈蚀，至今无人联系，情绪较急。",
            ComplaintCause::Efficiency,
            None,
            2,
            0,
        ),
        (
            "维修人员上门未出示工作证",
            "客户对上门人员身份有疑虑，要求核实并说明。",
            ComplaintCause::ProcedureGap,
            None,
            7,
            1,
        ),
        (
            "客服电话中态度生硬",
            "客户反映来电咨询阶梯气价时客服语气不耐烦。",
            ComplaintCause::Attitude,
            Some(2),
            30,
            2,
        ),
        (
            "换表后首月账单偏高",
            "客户怀疑新表计量不准，要求校验。",
            ComplaintCause::ProductDefect,
            None,
            60,
            3,
        ),
        (
            "承诺回电未回",
            "客户称上周客服答应当天回电告知维修时间，未兑现。",
            ComplaintCause::PromiseBroken,
            Some(1),
            110,
            4,
        ),
        (
            "停气未提前通知",
            "客户所在小区停气检修，称未收到任何通知。",
            ComplaintCause::ProcedureGap,
            None,
            140,
            5,
        ),
    ];
    for (i, (subject, description, cause, about, hours, steps)) in cases.iter().enumerate() {
        let opened = ago(now, hours * 60);
        let agent = &agents[i % agents.len()];
        let order = store
            .create_work_order(
                &agent.actor,
                &NewWorkOrder {
                    kind: "complaint".into(),
                    urgency: if i == 0 {
                        Urgency::Urgent
                    } else {
                        Urgency::Normal
                    },
                    customer_id: Some(customers[i * 7 + 3]),
                    contact_id: None,
                    phone_key: None,
                    subject: (*subject).into(),
                    description: Some((*description).into()),
                    category: None,
                    service_area: None,
                    department_id: repair.map(DepartmentId),
                    assignee_id: None,
                    complaint_cause: None,
                    complained_staff_id: about.map(|a| agents[a].id),
                    dispatch: true,
                },
                sla,
                opened,
            )
            .await?;
        let at = |mins: i64| opened + SignedDuration::from_mins(mins);
        let go = |req: TransitionRequest| req;
        let mut plan: Vec<(&Actor, TransitionRequest, i64)> = Vec::new();
        if *steps >= 1 {
            plan.push((&handler.actor, go(transition(Command::Accept, "")), 35));
        }
        if *steps >= 2 {
            let mut r = transition(
                Command::RecordResult,
                "已与客户电话沟通，说明原因并致歉，已安排班组长跟进整改。",
            );
            r.complaint_cause = Some(*cause);
            plan.push((&handler.actor, r, 20 * 60));
        }
        if *steps >= 3 {
            plan.push((
                &manager.actor,
                transition(Command::Approve, "处理合理，转回访。"),
                22 * 60,
            ));
        }
        if *steps >= 4 {
            let (command, score, note) = if *steps == 4 {
                (
                    Command::ReportUnsatisfied,
                    2,
                    "客户认为只道歉不够，要求给出整改期限。",
                )
            } else {
                (Command::ConfirmSatisfied, 5, "客户对处理结果满意。")
            };
            let mut r = transition(command, note);
            r.satisfaction = Some(score);
            plan.push((&agents[(i + 1) % agents.len()].actor, r, 26 * 60));
        }
        for (actor, req, mins) in plan {
            store
                .transition_work_order(actor, None, order.id, &req, sla, at(mins))
                .await?;
        }
        store
            .add_work_order_note(
                &agent.actor,
                None,
                order.id,
                NoteVisibility::Internal,
                "客户希望下午 2 点后联系，手机优先。",
                at(5),
            )
            .await?;
    }
    Ok(())
}

/// The active 回访 campaign: 160 customers drawn at random, called by the four
/// agents over the last five working days; attempts and answers recorded through
/// the real queue.
async fn campaign(
    store: &Store,
    sla: &SlaContext,
    agents: &[Person],
    manager: &Person,
    rng: &mut StdRng,
    now: Timestamp,
) -> Result<(), StoreError> {
    let start = ago(now, 7 * 1440);
    let questions = vec![
        Question {
            id: "q1".into(),
            text: "您对上门安检服务是否满意？".into(),
            kind: "scale".into(),
            options: Vec::new(),
        },
        Question {
            id: "q2".into(),
            text: "安检人员是否出示了工作证？".into(),
            kind: "choice".into(),
            options: vec!["出示了".into(), "没有出示".into(), "记不清".into()],
        },
        Question {
            id: "q3".into(),
            text: "您对我们的安检服务还有什么建议？".into(),
            kind: "text".into(),
            options: Vec::new(),
        },
    ];
    let input = CampaignInput {
        name: CAMPAIGN.into(),
        purpose: "satisfaction".into(),
        script: "{name}您好，我是{center}{agent}号客服。您家上周做了燃气安全检查，想占用您两分钟了解一下您对安检服务的看法，可以吗？".into(),
        questionnaire: Some(questions),
        starts_at: start.to_string(),
        ends_at: (now + SignedDuration::from_hours(21 * 24)).to_string(),
        max_attempts: 3,
        retry_minutes: 120,
        planned_minutes: Some(3),
        calling: None,
    };
    let spec = input
        .parse()
        .map_err(|e| StoreError::Unsupported(format!("demo campaign: {}", e.field)))?;
    let selection = Selection {
        segment: CustomerFilter::default(),
        mode: SelectionMode::Random { n: 160, seed: 2026 },
        exclude_contacted_days: None,
    };
    let selection_json = serde_json::to_value(&selection.mode).unwrap_or_default();
    let today = now.to_zoned(sla.tz.clone()).date();
    let campaign = store
        .create_campaign(
            &manager.actor,
            &spec,
            &[],
            &selection,
            &selection_json,
            today,
            start,
        )
        .await?;
    let windows = kefu_domain::campaign::CallingRules::default()
        .parse()
        .map_err(|e| StoreError::Unsupported(format!("demo calling rules: {}", e.field)))?;
    let ctx = CallingContext {
        windows: &windows,
        calendar: &sla.calendar,
        tz: &sla.tz,
        lock: SignedDuration::from_mins(10),
    };
    const SUGGESTIONS: &[&str] = &[
        "希望安检前一天短信提醒具体时间。",
        "安检员讲得很细，希望多发些用气安全的宣传单。",
        "周末能不能也安排上门？",
        "建议把报警器的检查也一起做。",
    ];
    for day in (1..=5).rev() {
        for hour in [10 * 60, 15 * 60] {
            // Local 10:00 and 15:00 of that day.
            let local = ago(now, day * 1440)
                .to_zoned(sla.tz.clone())
                .date()
                .to_zoned(sla.tz.clone())
                .map_err(|e| StoreError::Unsupported(e.to_string()))?
                .timestamp()
                + SignedDuration::from_mins(hour);
            for (n, agent) in agents.iter().enumerate() {
                for k in 0..4 {
                    let at = local + SignedDuration::from_mins(n as i64 * 3 + k * 11);
                    let Some(target) = store.next_target(&campaign, agent.id, &ctx, at).await?
                    else {
                        break;
                    };
                    let roll = rng.random_range(0..100);
                    let result = match roll {
                        0..=59 => AttemptResult::Reached,
                        60..=79 => AttemptResult::NoAnswer,
                        80..=89 => AttemptResult::Busy,
                        90..=94 => AttemptResult::Refused,
                        _ => AttemptResult::CallBackLater,
                    };
                    let reached = result == AttemptResult::Reached;
                    let score = [5u8, 5, 4, 4, 4, 3, 5, 2][rng.random_range(0..8)];
                    let record = AttemptRecord {
                        result,
                        callback_at: (result == AttemptResult::CallBackLater)
                            .then(|| at + SignedDuration::from_hours(26)),
                        satisfaction: reached.then_some(score),
                        answers: if reached {
                            vec![
                                ("q1".into(), AnswerValue::Scale(score)),
                                (
                                    "q2".into(),
                                    AnswerValue::Choices(vec![
                                        ["出示了", "出示了", "出示了", "记不清"]
                                            [rng.random_range(0..4)]
                                        .into(),
                                    ]),
                                ),
                                (
                                    "q3".into(),
                                    AnswerValue::Text(
                                        SUGGESTIONS[rng.random_range(0..SUGGESTIONS.len())].into(),
                                    ),
                                ),
                            ]
                        } else {
                            Vec::new()
                        },
                        notes: (reached && score < 3)
                            .then(|| "客户对安检时间安排不满意，已记录。".to_owned()),
                        duration: Some(SignedDuration::from_secs(if reached {
                            rng.random_range(90..230)
                        } else {
                            rng.random_range(20..45)
                        })),
                    };
                    let done = at + record.duration.unwrap_or_default();
                    store
                        .record_attempt(&agent.actor, agent.id, target.id, &record, sla, done)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// A gas leak closed two weeks ago, and a planned interruption being notified
/// now with notices in every state.
async fn incidents(
    store: &Store,
    agents: &[Person],
    manager: &Person,
    now: Timestamp,
) -> Result<(), StoreError> {
    let areas: Vec<String> = sqlx::query_scalar(
        "SELECT service_area FROM customers WHERE service_area IS NOT NULL \
         GROUP BY service_area ORDER BY COUNT(*) DESC LIMIT 2",
    )
    .fetch_all(&store.pool)
    .await?;
    let [closed_area, active_area] = areas.as_slice() else {
        return Ok(());
    };
    let record =
        |title: &str, kind: &str, area: &str, start: Timestamp, end: Timestamp| IncidentInput {
            kind: kind.into(),
            severity: if kind == "gas_leak" {
                "serious"
            } else {
                "general"
            }
            .into(),
            title: title.into(),
            areas: vec![area.to_owned()],
            starts_at: start.to_string(),
            expected_end: Some(end.to_string()),
            description: "现场已设警戒，抢修队伍到场。".into(),
            instructions: if kind == "gas_leak" {
                "请立即关闭燃气总阀，开窗通风，切勿开关电器、使用明火，并到室外等候。".into()
            } else {
                "停气期间请关闭燃气总阀；恢复供气后请先开窗再点火，如有异味请拨打热线。".into()
            },
            ..IncidentInput::default()
        };
    // The closed gas leak: everyone reachable told, resolved, closed.
    let t0 = ago(now, 14 * 1440 + 300);
    let spec = record(
        "经十路施工挖断中压管线",
        "gas_leak",
        closed_area,
        t0,
        t0 + SignedDuration::from_hours(6),
    )
    .parse()
    .map_err(|e| StoreError::Unsupported(format!("demo incident: {}", e.field)))?;
    let (closed, _) = store
        .create_incident(&manager.actor, &spec, &Affected::default(), t0)
        .await?;
    store
        .incident_command(
            &manager.actor,
            closed.id,
            IncidentCommand::StartNotifying,
            None,
            t0 + SignedDuration::from_mins(4),
        )
        .await?;
    send_all(
        store,
        closed.id,
        t0 + SignedDuration::from_mins(6),
        &|_, _| GatewayAnswer::Accepted { provider_id: None },
    )
    .await?;
    store
        .incident_command(
            &manager.actor,
            closed.id,
            IncidentCommand::Resolve,
            Some("管线修复，已恢复供气。"),
            t0 + SignedDuration::from_hours(5),
        )
        .await?;
    store
        .incident_command(
            &manager.actor,
            closed.id,
            IncidentCommand::Close,
            None,
            t0 + SignedDuration::from_hours(8),
        )
        .await?;

    // The active one: notices sent, refused, retried, unconfirmed and waiting.
    let t1 = ago(now, 50);
    let spec = record(
        "历山路片区计划停气检修",
        "planned_work",
        active_area,
        t1,
        now + SignedDuration::from_hours(5),
    )
    .parse()
    .map_err(|e| StoreError::Unsupported(format!("demo incident: {}", e.field)))?;
    let (active, _) = store
        .create_incident(&manager.actor, &spec, &Affected::default(), t1)
        .await?;
    store
        .incident_command(
            &manager.actor,
            active.id,
            IncidentCommand::StartNotifying,
            None,
            t1 + SignedDuration::from_mins(3),
        )
        .await?;
    send_some(store, active.id, t1 + SignedDuration::from_mins(5)).await?;
    // Agents have called some of those without a mobile number.
    for (i, agent) in agents.iter().enumerate().take(3) {
        let at = t1 + SignedDuration::from_mins(10 + i as i64 * 4);
        if let Some(notice) = store
            .next_notice_call(active.id, agent.id, SignedDuration::from_mins(10), at)
            .await?
        {
            let result = [
                CallResult::Reached,
                CallResult::NoAnswer,
                CallResult::Reached,
            ][i];
            store
                .record_notice_call(
                    &agent.actor,
                    agent.id,
                    notice.id,
                    result,
                    None,
                    at + SignedDuration::from_mins(2),
                )
                .await?;
        }
    }
    Ok(())
}

const DEMO_DISPATCHER: &str = "demo-dispatcher";

/// Every waiting send of `incident` answered by `answer`.
async fn send_all(
    store: &Store,
    incident: i64,
    at: Timestamp,
    answer: &dyn Fn(NoticeChannel, usize) -> GatewayAnswer,
) -> Result<(), StoreError> {
    for channel in [NoticeChannel::Sms, NoticeChannel::Email] {
        loop {
            let claimed = store
                .claim_sends(
                    DEMO_DISPATCHER,
                    channel,
                    500,
                    SignedDuration::from_mins(5),
                    at,
                )
                .await?;
            let mine: Vec<_> = claimed
                .iter()
                .filter(|s| s.incident_id == incident)
                .collect();
            if claimed.is_empty() {
                break;
            }
            let results: Vec<SendResult> = claimed
                .iter()
                .enumerate()
                .map(|(i, s)| SendResult {
                    send_id: s.id,
                    progress: after_send(s.attempts, &answer(channel, i), 5, at),
                    provider_id: None,
                })
                .collect();
            store.finish_sends(DEMO_DISPATCHER, &results, at).await?;
            if mine.len() < 500 {
                break;
            }
        }
    }
    Ok(())
}

/// Part of the active incident's sends: most accepted, some refused for good, a
/// few waiting to be retried, e-mails whose fate is unclear left for a manager.
async fn send_some(store: &Store, incident: i64, at: Timestamp) -> Result<(), StoreError> {
    for channel in [NoticeChannel::Sms, NoticeChannel::Email] {
        let claimed = store
            .claim_sends(
                DEMO_DISPATCHER,
                channel,
                400,
                SignedDuration::from_mins(5),
                at,
            )
            .await?;
        let results: Vec<SendResult> = claimed
            .iter()
            .filter(|s| s.incident_id == incident)
            .enumerate()
            // About two thirds handled so far; the rest still wait.
            .filter(|(i, _)| i % 3 != 2)
            .map(|(i, s)| {
                let answer = match (channel, i % 11) {
                    (NoticeChannel::Sms, 4) => GatewayAnswer::Rejected {
                        reason: "用户号码为空号".into(),
                    },
                    (NoticeChannel::Sms, 7) => GatewayAnswer::Retry {
                        reason: "网关繁忙，请稍后重试".into(),
                    },
                    (NoticeChannel::Email, 3) => GatewayAnswer::Ambiguous {
                        reason: "邮件服务器连接中断，无法确认是否送达".into(),
                    },
                    (NoticeChannel::Email, 6) => GatewayAnswer::Rejected {
                        reason: "收件地址不存在".into(),
                    },
                    _ => GatewayAnswer::Accepted { provider_id: None },
                };
                SendResult {
                    send_id: s.id,
                    progress: after_send(s.attempts, &answer, 5, at),
                    provider_id: None,
                }
            })
            .collect();
        store.finish_sends(DEMO_DISPATCHER, &results, at).await?;
        // What was claimed and not answered goes back to waiting.
        store
            .expire_in_flight(at + SignedDuration::from_mins(6))
            .await?;
    }
    Ok(())
}

/// Calls of the last days with their transcripts, inspected as they arrive: good
/// calls and each kind of slip the service standard names.
async fn inspections(
    store: &Store,
    agents: &[Person],
    now: Timestamp,
) -> Result<Vec<(i64, StaffId)>, StoreError> {
    // (who, seconds into the call it starts, seconds it lasts, text)
    type Turn = (&'static str, u64, u64, &'static str);
    const CALLS: &[&[Turn]] = &[
        // A good call.
        &[
            (
                "客服",
                0,
                5,
                "您好，客服中心，{no}号为您服务，请问有什么可以帮您？",
            ),
            ("客户", 6, 6, "我家燃气表好像不走字了，想找人来看看。"),
            (
                "客服",
                13,
                9,
                "好的，请问您的用户编号或者登记的手机号是多少？",
            ),
            ("客户", 23, 5, "手机是13905312468。"),
            ("客服", 29, 8, "跟您核对一下，手机号码1390 531 2468，对吗？"),
            ("客户", 38, 2, "对的。"),
            (
                "客服",
                41,
                12,
                "已为您登记报修，维修人员会在今天下午联系您上门，请保持电话畅通。",
            ),
            ("客户", 54, 3, "好的，谢谢。"),
            ("客服", 58, 6, "请问还有其他可以帮您的吗？"),
            ("客户", 65, 3, "没有了。"),
            ("客服", 69, 5, "感谢您的来电，祝您生活愉快，再见！"),
        ],
        // Forbidden words and no closing.
        &[
            (
                "客服",
                0,
                5,
                "您好，客服中心，{no}号为您服务，请问有什么可以帮您？",
            ),
            (
                "客户",
                6,
                8,
                "我上个月的燃气费怎么这么高？你们是不是算错了？",
            ),
            ("客服", 15, 6, "这个不归我管，你自己去营业厅问吧。"),
            ("客户", 22, 5, "你这是什么态度？"),
            ("客服", 28, 4, "我也不知道，你问别人。"),
        ],
        // No opening, a hold without an apology.
        &[
            ("客服", 0, 2, "喂，说吧。"),
            ("客户", 3, 6, "我想办理燃气过户，需要带什么材料？"),
            ("客服", 10, 3, "你等一下。"),
            (
                "客服",
                70,
                12,
                "过户需要带房产证、双方身份证原件和最近一期的缴费凭证。",
            ),
            ("客户", 83, 3, "好的，谢谢。"),
            ("客服", 87, 5, "感谢您的来电，再见。"),
        ],
        // Too fast, and a long silence nobody fills.
        &[
            ("客服", 0, 3, "您好客服中心{no}号为您服务请问有什么可以帮您"),
            ("客户", 4, 6, "我想问一下阶梯气价怎么算。"),
            (
                "客服",
                11,
                6,
                "第一档每立方米三块零五第二档三块六六第三档四块五七按年度累计用量计算超过三百五十立方米进入第二档超过五百立方米进入第三档",
            ),
            ("客户", 40, 4, "啊？能再说一遍吗？"),
            (
                "客服",
                45,
                6,
                "请问还有其他可以帮您的吗？感谢您的来电，再见。",
            ),
        ],
    ];
    let recent: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, agent_id FROM contacts WHERE agent_id IS NOT NULL AND answer_at IS NOT NULL \
         AND end_at IS NOT NULL ORDER BY created_at DESC LIMIT 40",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut made = Vec::new();
    for (i, (contact, agent_id)) in recent.iter().enumerate().take(12) {
        let Some(agent) = agents.iter().find(|a| Some(a.id.0) == *agent_id) else {
            continue;
        };
        let no = match &agent.actor {
            Actor::Staff { staff_no, .. } => staff_no.clone(),
            Actor::System(_) => String::new(),
        };
        let turns = CALLS[i % CALLS.len()];
        let srt: String = turns
            .iter()
            .enumerate()
            .map(|(n, (who, start, len, text))| {
                let t = |s: u64| format!("00:{:02}:{:02},000", s / 60, s % 60);
                format!(
                    "{}\n{} --> {}\n{}：{}\n\n",
                    n + 1,
                    t(*start),
                    t(start + len),
                    who,
                    text.replace("{no}", &no)
                )
            })
            .collect();
        let transcript = parse(Format::Srt, &srt)
            .map_err(|e| StoreError::Unsupported(format!("demo transcript: {e}")))?;
        let at = ago(now, 60 + i as i64 * 170);
        // The call's facts as the switchboard would have reported them: the
        // rude call was answered late and ended by the agent.
        let rude = i % CALLS.len() == 1;
        sqlx::query(
            "UPDATE contacts SET ring_at = answer_at - $1, hung_up_by = $2 WHERE id = $3 AND answer_at IS NOT NULL",
        )
        .bind(if rude { 24_000i64 } else { 5_000 })
        .bind(if rude { "agent" } else { "customer" })
        .bind(*contact)
        .execute(&store.pool)
        .await?;
        if let Some(inspection) = store
            .attach_transcript(&agent.actor, *contact, "srt", &transcript, at)
            .await?
            && !inspection.result.passed
        {
            made.push((inspection.id, agent.id));
        }
    }
    Ok(made)
}

/// Violations from failed inspections: one appealed by the agent, one decided by
/// the manager, one freshly recorded.
async fn violations(
    store: &Store,
    agents: &[Person],
    manager: &Person,
    failed: &[(i64, StaffId)],
    now: Timestamp,
) -> Result<(), StoreError> {
    let steps: &[ViolationStep] = &[
        (
            "通话中使用禁用语“不归我管”，未按首问负责制处理。",
            Some(200),
            Some((
                ViolationCommand::Appeal,
                "客户当时情绪激动，我已转接营业厅同事，请复核录音。",
            )),
        ),
        (
            "未使用规范开场白，等待时未致歉。",
            Some(100),
            Some((ViolationCommand::Uphold, "录音核实无误，维持认定。")),
        ),
        ("语速过快，客户两次要求重复。", None, None),
    ];
    for (i, ((inspection, agent_id), (what, penalty, next))) in
        failed.iter().zip(steps.iter()).enumerate()
    {
        let at = ago(now, 50 - i as i64 * 10);
        let v = store
            .record_violation(
                &manager.actor,
                &NewViolation {
                    agent_id: agent_id.0,
                    source: ViolationSource::Inspection,
                    inspection_id: Some(*inspection),
                    work_order_id: None,
                    description: (*what).into(),
                    penalty: penalty.map(|y| Yuan::from_fen(y * 100)),
                },
                at,
            )
            .await?;
        let Some((command, reason)) = next else {
            continue;
        };
        let agent = agents.iter().find(|a| a.id == *agent_id);
        let (actor, caller) = match command {
            ViolationCommand::Appeal => match agent {
                Some(a) => (
                    &a.actor,
                    Caller {
                        staff_id: a.id.0,
                        manager: false,
                    },
                ),
                None => continue,
            },
            _ => (
                &manager.actor,
                Caller {
                    staff_id: manager.id.0,
                    manager: true,
                },
            ),
        };
        store
            .violation_command(
                actor,
                caller,
                v.id,
                *command,
                Some(reason),
                at + SignedDuration::from_mins(5),
            )
            .await?;
    }
    Ok(())
}
