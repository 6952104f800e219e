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
    GatewayAnswer, IncidentCommand, IncidentInput, KeyLookup, NoticeChannel, SendState, after_send,
    reconcile,
};
use kefu_domain::money::Yuan;
use kefu_domain::transcript::{Format, Transcript, parse};
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
    floor_today(store, &agents, now).await?;
    Ok(true)
}

/// The last three hours on the phones, as the switchboard reported them: agents
/// signed in at 8001–8004 answering calls from the queue (a few callers give up
/// waiting), so the wallboard and the agents' states show a working floor: one
/// agent on a call, one at lunch, one wrapping up, one ready, a caller waiting.
async fn floor_today(store: &Store, agents: &[Person], now: Timestamp) -> Result<(), StoreError> {
    use crate::contacts::TelephonyEvent;
    use kefu_domain::contact::{CallEventKind as K, Direction, Party};
    let switchboard = Actor::System("demo-switchboard".into());
    let start = now - SignedDuration::from_hours(3);
    let seated: Vec<(&Person, String)> = agents
        .iter()
        .take(4)
        .enumerate()
        .map(|(i, a)| (a, format!("{}", 8001 + i)))
        .collect();
    for (agent, ext) in &seated {
        store
            .sign_in_seat(
                &agent.actor,
                agent.id,
                ext,
                start - SignedDuration::from_mins(2),
            )
            .await?;
    }
    const CALLERS: [&str; 8] = [
        "13905312468",
        "13806417752",
        "15865432109",
        "053186123456",
        "13589021746",
        "18653170913",
        "13012569874",
        "053188902315",
    ];
    let mut n = 0usize;
    let mut call = |kind: K, call_id: &str, at: Timestamp, ext: Option<&str>, number: &str| {
        n += 1;
        TelephonyEvent {
            call_id: call_id.to_owned(),
            dedup_key: format!("demo-{n}"),
            kind,
            at,
            direction: Direction::Inbound,
            customer_key: Some(number.to_owned()),
            callee: Some("96777".into()),
            extension: ext.map(str::to_owned),
            hung_up_by: (kind == K::HungUp).then_some(Party::Customer),
            transfer_target: None,
            recording: None,
            dial_id: None,
        }
    };
    let mut events = Vec::new();
    for (i, (_, ext)) in seated.iter().enumerate() {
        // A call every eight minutes or so. Agent 0 is on a call now; agent 1 stops
        // half an hour ago (lunch, below); agent 2 is wrapping up a call that just
        // ended; agent 3 is ready.
        for k in 0.. {
            let ring = start + SignedDuration::from_secs(i as i64 * 95 + k * 470);
            let talk = 140 + ((i as i64 * 37 + k * 53) % 170);
            let wait = 4 + ((i as i64 * 7 + k * 11) % 19);
            let (mut answer, mut end) = (
                ring + SignedDuration::from_secs(wait + 6),
                ring + SignedDuration::from_secs(wait + 6 + talk),
            );
            let stop = match i {
                0 => end > now - SignedDuration::from_secs(150),
                1 => end > now - SignedDuration::from_mins(30),
                2 => end > now - SignedDuration::from_secs(240),
                _ => end > now - SignedDuration::from_secs(60),
            };
            let (ring, last) = if stop && i == 0 {
                // The call going on now.
                answer = now - SignedDuration::from_secs(95);
                end = now + SignedDuration::from_secs(60);
                (now - SignedDuration::from_secs(110), true)
            } else if stop && i == 2 {
                // The call that just ended.
                answer = now - SignedDuration::from_secs(190);
                end = now - SignedDuration::from_secs(8);
                (now - SignedDuration::from_secs(205), true)
            } else if stop {
                break;
            } else {
                (ring, false)
            };
            let number = CALLERS[(i * 3 + k as usize) % CALLERS.len()];
            let id = format!("demo-floor-{ext}-{k}");
            events.push(call(K::Ringing, &id, ring, None, number));
            events.push(call(
                K::Ringing,
                &id,
                ring + SignedDuration::from_secs(wait.min(10)),
                Some(ext),
                number,
            ));
            if answer < now {
                events.push(call(K::Answered, &id, answer, Some(ext), number));
            }
            if end < now {
                events.push(call(K::HungUp, &id, end, Some(ext), number));
            }
            if last || end >= now {
                break;
            }
        }
    }
    // Callers who gave up waiting, and one waiting now.
    for k in 0..5 {
        let ring = start + SignedDuration::from_secs(600 + k * 1_900);
        let id = format!("demo-floor-abandoned-{k}");
        let number = CALLERS[(k as usize + 5) % CALLERS.len()];
        events.push(call(K::Ringing, &id, ring, None, number));
        events.push(call(
            K::HungUp,
            &id,
            ring + SignedDuration::from_secs(35 + k * 9),
            None,
            number,
        ));
    }
    events.push(call(
        K::Ringing,
        "demo-floor-waiting",
        now - SignedDuration::from_secs(25),
        None,
        CALLERS[2],
    ));
    events.sort_by_key(|e| e.at);
    for e in &events {
        store.record_call_event(&switchboard, e, e.at).await?;
    }
    // The second agent went to lunch after their last call.
    if let Some((agent, _)) = seated.get(1) {
        store
            .set_agent_state(
                agent.id.0,
                &kefu_domain::agent_state::Input::NotReady("用餐".into()),
                now - SignedDuration::from_mins(12),
            )
            .await?;
    }
    Ok(())
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
    campaign_calls(store, sla, &ctx, &campaign, agents, now).await
}

/// Three of the campaign's calls recorded and inspected: a good one, one an agent
/// dialled after holding the target into the lunch rest, and one that ran far
/// past the planned three minutes.
async fn campaign_calls(
    store: &Store,
    sla: &SlaContext,
    ctx: &CallingContext<'_>,
    campaign: &crate::campaigns::Campaign,
    agents: &[Person],
    now: Timestamp,
) -> Result<(), StoreError> {
    const OPENING: &str = "您好，我是燃气客服中心{no}号客服。您家上周做了燃气安全检查，想占用您两分钟了解一下您对安检服务的看法，可以吗？";
    const GOOD: &[Line] = &[
        ("客服", 0, OPENING),
        ("客户", 3, "可以，你说吧。"),
        (
            "客服",
            0,
            "请问您对上门安检服务满意吗？一到五分，您打几分？",
        ),
        ("客户", 6, "挺满意的，打五分吧，师傅检查得很仔细。"),
        ("客服", 0, "好的。安检人员上门时出示了工作证吗？"),
        ("客户", 2, "出示了。"),
        ("客服", 0, "您对我们的安检服务还有什么建议吗？"),
        (
            "客户",
            12,
            "希望安检前一天短信提醒一下具体时间，我好安排家里有人。",
        ),
        ("客服", 0, "好的，您的建议已经记录下来了，会转给安检部门。"),
        ("客户", 2, "好的。"),
        ("客服", 0, "感谢您的接听，祝您生活愉快，再见！"),
    ];
    const LONG: &[Line] = &[
        ("客服", 0, OPENING),
        ("客户", 4, "行，不过我正好有事要说。"),
        (
            "客服",
            0,
            "请问您对上门安检服务满意吗？一到五分，您打几分？",
        ),
        (
            "客户",
            95,
            "打两分吧。约的上午来，下午四点才到，我请了一天假在家等。来了以后说我家软管老化要换，换一根要八十块，比外面贵一倍，我不换他还不给签字。",
        ),
        (
            "客服",
            0,
            "非常抱歉给您带来不便。软管可以自行购买符合标准的产品，不是必须在安检时更换。",
        ),
        (
            "客户",
            80,
            "那他当时怎么不这么说？还有报警器也说要换，说我的过期了，我那个才装了三年。你们到底有没有统一的标准？",
        ),
        (
            "客服",
            0,
            "报警器的使用年限一般是五年，您的情况我会如实记录，请安检部门核实后给您回电。",
        ),
        (
            "客户",
            60,
            "行吧，那你们一定要回电话，别又没人管。我的电话就是这个号码，白天都在。",
        ),
        (
            "客服",
            0,
            "好的，已经为您记录，安检部门会在两个工作日内联系您。请问还有其他需要反映的吗？",
        ),
        ("客户", 3, "没了。"),
        ("客服", 0, "感谢您的接听，再见！"),
    ];
    // (agent, target taken at local HH:MM, dialled minutes later, seconds, call)
    let calls: [(usize, i64, i64, i64, &[Line]); 3] = [
        (2, 16 * 60 + 15, 1, 165, GOOD),
        (0, 11 * 60 + 26, 5, 150, GOOD),
        (1, 16 * 60 + 30, 1, 430, LONG),
    ];
    for (agent_index, taken, dial_after, secs, lines) in calls {
        let Some(agent) = agents.get(agent_index) else {
            continue;
        };
        let no = staff_no(agent);
        // The latest past working day the queue hands out a target at that time.
        for day in 1..=7 {
            let taken_at = ago(now, day * 1440)
                .to_zoned(sla.tz.clone())
                .date()
                .to_zoned(sla.tz.clone())
                .map_err(|e| StoreError::Unsupported(e.to_string()))?
                .timestamp()
                + SignedDuration::from_mins(taken);
            let Some(target) = store.next_target(campaign, agent.id, ctx, taken_at).await? else {
                continue;
            };
            let score = if lines.len() == LONG.len() { 2 } else { 5 };
            let record = AttemptRecord {
                result: AttemptResult::Reached,
                callback_at: None,
                satisfaction: Some(score),
                answers: vec![("q1".into(), AnswerValue::Scale(score))],
                notes: (score < 3).then(|| {
                    "客户反映安检上门迟到、推销软管和报警器，已转安检部门核实回电。".to_owned()
                }),
                duration: Some(SignedDuration::from_secs(secs)),
            };
            let done =
                taken_at + SignedDuration::from_mins(dial_after) + SignedDuration::from_secs(secs);
            store
                .record_attempt(&agent.actor, agent.id, target.id, &record, sla, done)
                .await?;
            let contact: Option<i64> = sqlx::query_scalar(
                "SELECT contact_id FROM campaign_attempts WHERE target_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(target.id)
            .fetch_one(&store.pool)
            .await?;
            let Some(contact) = contact else { break };
            let transcript = transcript(&timed(lines, &no), &no)?;
            store
                .attach_transcript(&agent.actor, contact, "srt", &transcript, done)
                .await?;
            break;
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

/// Part of the active incident's sends, leaving them in every state: SMS sends
/// mostly accepted, some refused for good, some waiting to be retried, some whose
/// fate the gateway has yet to be asked, a third not tried yet; e-mails mostly
/// accepted, some refused, and some cut off mid-send that plain SMTP keeps no log
/// of, left for a manager to confirm.
async fn send_some(store: &Store, incident: i64, at: Timestamp) -> Result<(), StoreError> {
    for channel in [NoticeChannel::Sms, NoticeChannel::Email] {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_sends WHERE incident_id = $1 AND channel = $2",
        )
        .bind(incident)
        .bind(channel.code())
        .fetch_one(&store.pool)
        .await?;
        // Two thirds of the SMS round done so far; every e-mail tried once.
        let limit = match channel {
            NoticeChannel::Sms => total * 2 / 3,
            _ => total,
        };
        let claimed = store
            .claim_sends(
                DEMO_DISPATCHER,
                channel,
                limit.max(1),
                SignedDuration::from_mins(5),
                at,
            )
            .await?;
        let results: Vec<SendResult> = claimed
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let answer = match (channel, i % 11) {
                    (NoticeChannel::Sms, 4) => GatewayAnswer::Rejected {
                        reason: "用户号码为空号".into(),
                    },
                    (NoticeChannel::Sms, 7) => GatewayAnswer::Retry {
                        reason: "网关繁忙，请稍后重试".into(),
                    },
                    (NoticeChannel::Sms, 9) | (NoticeChannel::Email, 3) => {
                        GatewayAnswer::Ambiguous {
                            reason: "连接中断，无法确认是否已发出".into(),
                        }
                    }
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
    }
    // The e-mails cut off mid-send: the mail server keeps no delivery log to ask,
    // so they wait for a manager's decision. (The SMS gateway's are asked once it
    // answers again.)
    let later = at + SignedDuration::from_secs(30);
    let unsure = store
        .claim_sends(
            DEMO_DISPATCHER,
            NoticeChannel::Email,
            1000,
            SignedDuration::from_mins(5),
            later,
        )
        .await?;
    let results: Vec<SendResult> = unsure
        .iter()
        .map(|s| SendResult {
            send_id: s.id,
            progress: if s.state == SendState::Unknown {
                reconcile(&KeyLookup::NoRecord, s.attempts, later)
            } else {
                // Not expected: every e-mail was answered above.
                after_send(
                    s.attempts,
                    &GatewayAnswer::Accepted { provider_id: None },
                    5,
                    later,
                )
            },
            provider_id: None,
        })
        .collect();
    store.finish_sends(DEMO_DISPATCHER, &results, later).await?;
    Ok(())
}

/// Calls of the last days with their transcripts, inspected as they arrive: good
/// calls and each kind of slip the service standard names.
async fn inspections(
    store: &Store,
    agents: &[Person],
    now: Timestamp,
) -> Result<Vec<(i64, StaffId)>, StoreError> {
    const CALLS: &[&[Line]] = &[
        // A good call.
        &[
            (
                "客服",
                0,
                "您好，客服中心，{no}号为您服务，请问有什么可以帮您？",
            ),
            ("客户", 6, "我家燃气表好像不走字了，想找人来看看。"),
            ("客服", 0, "好的，请问您的用户编号或者登记的手机号是多少？"),
            ("客户", 5, "手机是13905312468。"),
            ("客服", 0, "跟您核对一下，手机号码1390 531 2468，对吗？"),
            ("客户", 2, "对的。"),
            (
                "客服",
                0,
                "已为您登记报修，维修人员会在今天下午联系您上门，请保持电话畅通。",
            ),
            ("客户", 3, "好的，谢谢。"),
            ("客服", 0, "请问还有其他可以帮您的吗？"),
            ("客户", 3, "没有了。"),
            ("客服", 0, "感谢您的来电，祝您生活愉快，再见！"),
        ],
        // Forbidden words and no closing.
        &[
            (
                "客服",
                0,
                "您好，客服中心，{no}号为您服务，请问有什么可以帮您？",
            ),
            ("客户", 8, "我上个月的燃气费怎么这么高？你们是不是算错了？"),
            ("客服", 0, "这个不归我管，你自己去营业厅问吧。"),
            ("客户", 5, "你这是什么态度？"),
            ("客服", 0, "我也不知道，你问别人。"),
        ],
        // No opening, a hold without an apology.
        &[
            ("客服", 0, "喂，说吧。"),
            ("客户", 6, "我想办理燃气过户，需要带什么材料？"),
            ("客服", 0, "你等一下，我查一下。"),
            ("", 55, ""),
            (
                "客服",
                0,
                "过户需要带房产证、双方身份证原件和最近一期的缴费凭证。",
            ),
            ("客户", 3, "好的，谢谢。"),
            ("客服", 0, "感谢您的来电，再见。"),
        ],
        // Too fast, a number not read back, and a silence met without the prompt.
        &[
            ("客服", 3, "您好客服中心{no}号为您服务请问有什么可以帮您"),
            ("客户", 6, "户号20193587，我想问一下阶梯气价怎么算。"),
            (
                "客服",
                6,
                "第一档每立方米三块零五第二档三块六六第三档四块五七按年度累计用量计算超过三百五十立方米进入第二档超过五百立方米进入第三档",
            ),
            ("", 9, ""),
            ("客服", 0, "那您还有别的问题吗？"),
            ("客户", 4, "啊？能再说一遍吗？刚才没听清。"),
            ("客服", 0, "请问还有其他可以帮您的吗？感谢您的来电，再见。"),
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
        let no = staff_no(agent);
        let transcript = transcript(&timed(CALLS[i % CALLS.len()], &no), &no)?;
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

fn staff_no(person: &Person) -> String {
    match &person.actor {
        Actor::Staff { staff_no, .. } => staff_no.clone(),
        Actor::System(_) => String::new(),
    }
}

/// (who, seconds into the call it starts, seconds it lasts, text); `{no}` is the
/// agent's staff number.
type Turn<'a> = (&'a str, u64, u64, &'a str);

/// A line of a call: (who, seconds it lasts, text). An agent's line of 0 seconds
/// lasts what the text takes at 190 characters a minute; a line with nobody is a
/// silence of that many seconds. A second passes between turns.
type Line = (&'static str, u64, &'static str);

fn timed(lines: &[Line], no: &str) -> Vec<Turn<'static>> {
    let mut at = 0;
    let mut turns = Vec::with_capacity(lines.len());
    for &(who, secs, text) in lines {
        if who.is_empty() {
            at += secs;
            continue;
        }
        let len = if secs == 0 {
            let chars = kefu_domain::inspection::spoken_chars(&text.replace("{no}", no));
            (chars as u64 * 60).div_ceil(190).max(2)
        } else {
            secs
        };
        turns.push((who, at, len, text));
        at += len + 1;
    }
    turns
}

/// A call's transcript as the recorder's SRT file would give it.
fn transcript(turns: &[Turn<'_>], no: &str) -> Result<Transcript, StoreError> {
    let t = |s: u64| format!("{:02}:{:02}:{:02},000", s / 3600, s / 60 % 60, s % 60);
    let srt: String = turns
        .iter()
        .enumerate()
        .map(|(n, (who, start, len, text))| {
            format!(
                "{}\n{} --> {}\n{}：{}\n\n",
                n + 1,
                t(*start),
                t(start + len),
                who,
                text.replace("{no}", no)
            )
        })
        .collect();
    parse(Format::Srt, &srt).map_err(|e| StoreError::Unsupported(format!("demo transcript: {e}")))
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
