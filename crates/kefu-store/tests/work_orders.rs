//! Work-order storage on both backends: the escalation sweep run by two independent
//! store instances (as two server processes would) escalates each breach once.
#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;
use kefu_domain::calendar::BusinessCalendar;
use kefu_domain::workorder::Urgency;
use kefu_store::testing::TestDb;
use kefu_store::workorders::{NewWorkOrder, SlaContext};
use kefu_store::{Store, StoreOptions, backend_tests};

backend_tests!(
    two_instances_escalate_each_breach_once,
    demo_orders_look_swept_and_numbering_continues,
    concurrent_first_events_of_a_call_make_one_contact
);

fn t0() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn ctx() -> SlaContext {
    SlaContext {
        calendar: BusinessCalendar::default_cn(),
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    }
}

fn order(i: usize) -> NewWorkOrder {
    NewWorkOrder {
        kind: if i.is_multiple_of(2) {
            "complaint"
        } else {
            "repair"
        }
        .into(),
        urgency: Urgency::Normal,
        customer_id: None,
        contact_id: None,
        phone_key: None,
        subject: format!("测试工单 {i}"),
        description: None,
        category: None,
        service_area: None,
        department_id: None,
        assignee_id: None,
        complaint_cause: None,
        complained_staff_id: None,
        dispatch: false,
    }
}

async fn count(store: &Store, db: &TestDb, sql: &str) -> i64 {
    let _ = store;
    let url = match &db.url {
        kefu_store::DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        kefu_store::DatabaseUrl::Postgres(u) => u.clone(),
    };
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn two_instances_escalate_each_breach_once(db: &TestDb) {
    let system = Actor::System("test".into());
    let ctx = ctx();
    let n = 240;
    for i in 0..n {
        db.store
            .create_work_order(
                &system,
                &order(i),
                &ctx,
                t0() + SignedDuration::from_secs(i as i64),
            )
            .await
            .unwrap();
    }
    db.store
        .create_webhook(&system, "http://127.0.0.1:9/hook", "s", &["*".into()], t0())
        .await
        .unwrap();
    // A second, independent pool on the same database: another server instance.
    let other = Store::connect(
        &db.url,
        &StoreOptions {
            max_connections: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let later = t0() + SignedDuration::from_hours(24 * 40);
    let sweep = |store: Store| async move {
        let mut made = Vec::new();
        loop {
            // Small batches so both instances interleave over many transactions.
            let (rows, batch) = store.escalate_due(later, 7).await.unwrap();
            made.extend(batch.into_iter().map(|e| (e.work_order_id, e.deadline)));
            if rows == 0 {
                return made;
            }
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(sweep(db.store.clone())),
        tokio::spawn(sweep(other.clone()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<_> = a.iter().chain(b.iter()).cloned().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        total,
        "an escalation was reported by both instances"
    );
    // Complaints breach three deadlines (response, 24-hour notice, resolution),
    // repairs two (no progress notice in their policy).
    assert_eq!(total, n / 2 * 3 + n / 2 * 2);
    let stored = count(&db.store, db, "SELECT COUNT(*) FROM escalations").await;
    let events = count(
        &db.store,
        db,
        "SELECT COUNT(*) FROM work_order_events WHERE event = 'escalated'",
    )
    .await;
    let outbox = count(
        &db.store,
        db,
        "SELECT COUNT(*) FROM webhook_outbox WHERE event_type = 'work_order.deadline_breached'",
    )
    .await;
    assert_eq!(
        (stored, events, outbox),
        (total as i64, total as i64, total as i64)
    );
    // Nothing is left to sweep, by either instance.
    assert_eq!(db.store.escalate_due(later, 100).await.unwrap().0, 0);
    assert_eq!(other.escalate_due(later, 100).await.unwrap().0, 0);
    eprintln!("instance split: {} + {}", a.len(), b.len());
    other.close().await;
}

async fn demo_orders_look_swept_and_numbering_continues(db: &TestDb) {
    let system = Actor::System("test".into());
    let hash = "not-a-real-hash";
    kefu_store::demo::seed_organisation(&db.store, hash, t0())
        .await
        .unwrap();
    kefu_store::demo::generate_customers(
        &db.store,
        50,
        7,
        t0().to_zoned(ctx().tz).date(),
        t0(),
        |_| {},
    )
    .await
    .unwrap();
    let made = kefu_store::demo::generate_work_orders(&db.store, 1_200, 7, &ctx(), t0(), |_| {})
        .await
        .unwrap();
    assert_eq!(made, 1_200);
    // The demo webhook has a week of deliveries, one still failing; once only.
    for _ in 0..2 {
        kefu_store::demo::seed_integration_history(&db.store, t0())
            .await
            .unwrap();
    }
    let hook = db.store.list_webhooks().await.unwrap()[0].id;
    let deliveries = db.store.webhook_deliveries(hook, 50).await.unwrap();
    assert_eq!(deliveries.len(), 12);
    let failing: Vec<_> = deliveries
        .iter()
        .filter(|d| d.delivered_at.is_none())
        .collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0].last_error.as_deref(), Some("http_503"));
    assert!(deliveries.iter().all(|d| d.created_at < t0()));
    let tokens = db.store.list_all_api_tokens(false).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].token.last_used_at.is_some(), "{tokens:?}");
    // Finished orders' past breaches are marked; open orders' are escalated by the
    // real sweep run over the last week, once however often the demo is seeded,
    // and the older ones acknowledged by the manager with a note.
    let escalated = kefu_store::demo::seed_escalations(&db.store, t0())
        .await
        .unwrap();
    assert!(escalated > 0);
    assert_eq!(
        kefu_store::demo::seed_escalations(&db.store, t0())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.store.escalate_due(t0(), 10_000).await.unwrap(),
        (0, Vec::new())
    );
    let all = db
        .store
        .list_escalations(false, kefu_store::PageRequest::new(0, 500))
        .await
        .unwrap();
    assert_eq!(all.len(), escalated);
    assert!(all.iter().all(|e| e.escalated_at >= e.due_at));
    assert!(
        all.iter()
            .filter(|e| e.acknowledged_at.is_some())
            .all(|e| e.note.is_some())
    );
    // Open orders exist and are routed; numbers are unique.
    let open = db
        .store
        .list_work_orders(
            None,
            &kefu_store::workorders::WorkOrderFilter {
                open_only: true,
                ..Default::default()
            },
            kefu_store::PageRequest::new(0, 500),
            t0(),
        )
        .await
        .unwrap();
    assert!(open.total > 0);
    assert!(open.items.iter().any(|o| o.department_id.is_some()));
    assert_eq!(
        count(
            &db.store,
            db,
            "SELECT COUNT(DISTINCT number) FROM work_orders"
        )
        .await,
        1_200
    );
    // An order opened afterwards gets the next id and number (the PostgreSQL
    // identity sequence moved past the bulk-inserted ids).
    let next = db
        .store
        .create_work_order(&system, &order(1), &ctx(), t0())
        .await
        .unwrap();
    assert_eq!(next.id, 1_201);
    assert_eq!(db.store.open_count_drift().await.unwrap(), Vec::new());
    assert_eq!(db.store.state_count_drift().await.unwrap(), Vec::new());
    assert!(next.number.ends_with("0001201"), "{}", next.number);
}

async fn concurrent_first_events_of_a_call_make_one_contact(db: &TestDb) {
    use kefu_domain::contact::{CallEventKind, Direction};
    use kefu_store::contacts::TelephonyEvent;
    let other = Store::connect(
        &db.url,
        &StoreOptions {
            max_connections: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for call in 0..5 {
        let mut tasks = Vec::new();
        for (i, kind) in CallEventKind::ALL.iter().enumerate() {
            let store = if i.is_multiple_of(2) {
                db.store.clone()
            } else {
                other.clone()
            };
            let event = TelephonyEvent {
                call_id: format!("race-{call}"),
                dedup_key: format!("e{i}"),
                kind: *kind,
                at: t0() + SignedDuration::from_secs(i as i64),
                direction: Direction::Inbound,
                customer_key: Some("13905312468".into()),
                callee: None,
                extension: None,
                hung_up_by: None,
                transfer_target: None,
                recording: (*kind == CallEventKind::Recorded).then(|| "/rec/race.wav".into()),
                dial_id: None,
            };
            tasks.push(tokio::spawn(async move {
                store
                    .record_call_event(&Actor::System("cti".into()), &event, t0())
                    .await
            }));
        }
        let mut contacts = Vec::new();
        for t in tasks {
            let applied = t.await.unwrap().unwrap();
            assert!(applied.applied);
            contacts.push(applied.contact_id);
        }
        contacts.dedup();
        assert_eq!(contacts.len(), 1, "one contact per call: {contacts:?}");
        let contact = db
            .store
            .get_contact(&Actor::System("test".into()), contacts[0], t0())
            .await
            .unwrap();
        assert_eq!(contact.phase, "ended");
    }
    other.close().await;
}
