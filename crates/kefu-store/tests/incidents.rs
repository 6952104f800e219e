//! Emergency incidents in storage, on SQLite and PostgreSQL alike: who is affected,
//! the split by contact, one send per notice and channel, the lists that reconcile.
#![allow(clippy::unwrap_used)]

use jiff::SignedDuration;
use jiff::Timestamp;
use jiff::civil::Date;
use kefu_domain::audit::Actor;
use kefu_domain::customer::{CustomerDraft, CustomerInput, PhoneInput};
use kefu_domain::incident::{
    GatewayAnswer, IncidentCommand, IncidentInput, IncidentStatus, KeyLookup, NoticeChannel,
    SendState, after_send, reconcile,
};
use kefu_store::incidents::{Affected, NoticeList};
use kefu_store::testing::TestDb;
use kefu_store::{StoreError, backend_tests};

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn manager() -> Actor {
    Actor::Staff {
        id: kefu_domain::StaffId(3),
        staff_no: "MGR01".into(),
    }
}

/// A customer: code, area, address, phones (label, number), e-mail, tags.
async fn customer(
    db: &TestDb,
    code: &str,
    area: &str,
    address: &str,
    phones: &[(&str, &str)],
    email: Option<&str>,
    tags: &[&str],
) {
    let input = CustomerInput {
        code: Some(code.into()),
        name: Some(format!("客户{code}")),
        phones: phones
            .iter()
            .map(|(label, number)| PhoneInput {
                label: (*label).into(),
                number: (*number).into(),
            })
            .collect(),
        email: email.map(Into::into),
        address: Some(address.into()),
        service_area: Some(area.into()),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..CustomerInput::default()
    };
    let draft =
        CustomerDraft::parse(&input, Date::new(2026, 9, 21).unwrap(), Some("0531")).unwrap();
    db.store
        .create_customer(&manager(), &draft, now())
        .await
        .unwrap();
}

fn leak() -> IncidentInput {
    IncidentInput {
        kind: "gas_leak".into(),
        severity: "重大".into(),
        title: "和平路中压管线泄漏".into(),
        areas: vec!["历下区".into()],
        starts_at: "2026-09-21T21:30:00+08:00".into(),
        expected_end: Some("2026-09-22T06:00:00+08:00".into()),
        instructions: "请关闭燃气总阀，开窗通风，勿动明火和电器开关。".into(),
        ..IncidentInput::default()
    }
}

backend_tests!(
    affected_customers_split_by_contact_and_reconcile,
    incident_commands_follow_the_rules,
    sends_are_claimed_once_and_reconciled_after_a_stop,
);

async fn affected_customers_split_by_contact_and_reconcile(db: &TestDb) {
    // 历下区: a mobile and an e-mail; a landline only; nothing; a mobile on 和平路.
    customer(
        db,
        "A1",
        "历下区",
        "和平路1号",
        &[("mobile", "139 0531 0001")],
        Some("a1@example.cn"),
        &[],
    )
    .await;
    customer(
        db,
        "A2",
        "历下区",
        "泉城路9号",
        &[("phone", "0531-8888 0002")],
        None,
        &["老旧小区"],
    )
    .await;
    customer(db, "A3", "历下区", "和平路3号", &[], None, &[]).await;
    customer(
        db,
        "A4",
        "历下区",
        "和平路4号",
        &[("phone", "0531-8888 0004"), ("mobile", "138 0531 0004")],
        None,
        &[],
    )
    .await;
    // Elsewhere: one listed by code, one not affected.
    customer(
        db,
        "B1",
        "市中区",
        "经七路1号",
        &[("mobile", "137 0531 0011")],
        None,
        &[],
    )
    .await;
    customer(
        db,
        "B2",
        "市中区",
        "经七路2号",
        &[("mobile", "137 0531 0012")],
        Some("b2@example.cn"),
        &[],
    )
    .await;

    let spec = leak().parse().unwrap();
    let (incident, tally) = db
        .store
        .create_incident(
            &manager(),
            &spec,
            &Affected {
                customer_codes: vec!["B1".into()],
                ..Affected::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Open);
    assert_eq!(
        (
            tally.affected,
            tally.with_contact,
            tally.no_contact,
            tally.pending
        ),
        (5, 4, 1, 4)
    );
    assert!(tally.reconciles());
    let board = db.store.incident_board(incident.id).await.unwrap();
    let sms = board.channels.iter().find(|c| c.channel == "sms").unwrap();
    let email = board
        .channels
        .iter()
        .find(|c| c.channel == "email")
        .unwrap();
    // SMS to mobiles only (A1, A4's second number, B1); e-mail to A1.
    assert_eq!((sms.pending, email.pending), (3, 1));
    // Agents call everyone with a phone: A1, A2, A4, B1.
    assert_eq!(board.calls, vec![("pending".to_owned(), 4)]);
    let no_contact = db
        .store
        .incident_notices(incident.id, NoticeList::NoContact, 0, 100)
        .await
        .unwrap();
    assert_eq!(no_contact.len(), 1);
    assert_eq!(
        (
            no_contact[0].customer_code.as_deref(),
            no_contact[0].address.as_deref()
        ),
        (Some("A3"), Some("和平路3号"))
    );
    let waiting = db
        .store
        .incident_notices(incident.id, NoticeList::NotNotified, 0, 100)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 4);
    let a4 = waiting
        .iter()
        .find(|n| n.customer_code.as_deref() == Some("A4"))
        .unwrap();
    assert_eq!(
        (a4.phone_key.as_deref(), a4.mobile_key.as_deref()),
        (Some("053188880004"), Some("13805310004"))
    );
    // Keyset paging walks the list without repeats.
    let first = db
        .store
        .incident_notices(incident.id, NoticeList::NotNotified, 0, 2)
        .await
        .unwrap();
    let rest = db
        .store
        .incident_notices(incident.id, NoticeList::NotNotified, first[1].id, 10)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 4);

    // Narrowed by street and by tag: 和平路 in 历下区 (A1, A3, A4); the old estate (A2).
    let (_, street) = db
        .store
        .create_incident(
            &manager(),
            &spec,
            &Affected {
                address_contains: Some("和平路".into()),
                ..Affected::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!((street.affected, street.no_contact), (3, 1));
    let (_, tagged) = db
        .store
        .create_incident(
            &manager(),
            &spec,
            &Affected {
                tags: vec!["老旧小区".into()],
                ..Affected::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(tagged.affected, 1);
    // LIKE wildcards in the fragment are literal.
    let (_, none) = db
        .store
        .create_incident(
            &manager(),
            &spec,
            &Affected {
                address_contains: Some("%".into()),
                ..Affected::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(none.affected, 0);
    assert!(none.reconciles());
}

async fn incident_commands_follow_the_rules(db: &TestDb) {
    let spec = leak().parse().unwrap();
    let (incident, _) = db
        .store
        .create_incident(&manager(), &spec, &Affected::default(), now())
        .await
        .unwrap();
    let id = incident.id;
    let actor = manager();
    let run = |c| {
        db.store
            .incident_command(&actor, id, c, Some("抢修队已出发"), now())
    };
    assert!(matches!(
        run(IncidentCommand::Pause).await,
        Err(StoreError::Conflict(_))
    ));
    let notifying = run(IncidentCommand::StartNotifying).await.unwrap();
    assert!(notifying.state().sends());
    let paused = run(IncidentCommand::Pause).await.unwrap();
    assert!(paused.paused && !paused.state().sends());
    run(IncidentCommand::Resume).await.unwrap();
    run(IncidentCommand::Resolve).await.unwrap();
    let closed = run(IncidentCommand::Close).await.unwrap();
    assert_eq!(closed.status, IncidentStatus::Closed);
    let actions: Vec<String> = db
        .store
        .incident_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "start_notifying",
            "pause",
            "resume",
            "resolve",
            "close"
        ]
    );
    assert!(matches!(
        db.store.get_incident(9_999).await,
        Err(StoreError::NotFound)
    ));
    // The history is in the audit chain too.
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        kefu_store::audit::AuditVerdict::Intact { .. }
    ));
}

async fn sends_are_claimed_once_and_reconciled_after_a_stop(db: &TestDb) {
    for i in 0..30 {
        customer(
            db,
            &format!("S{i:02}"),
            "历下区",
            "和平路",
            &[("mobile", &format!("139 0531 {i:04}"))],
            (i % 3 == 0).then_some("x@example.cn"),
            &[],
        )
        .await;
    }
    let spec = leak().parse().unwrap();
    let (incident, _) = db
        .store
        .create_incident(&manager(), &spec, &Affected::default(), now())
        .await
        .unwrap();
    let lease = SignedDuration::from_secs(60);
    // Nothing goes out before notifying starts, nor while paused.
    let none = db
        .store
        .claim_sends("d1", NoticeChannel::Sms, 100, lease, now())
        .await
        .unwrap();
    assert!(none.is_empty());
    let actor = manager();
    db.store
        .incident_command(
            &actor,
            incident.id,
            IncidentCommand::StartNotifying,
            None,
            now(),
        )
        .await
        .unwrap();

    // Two dispatchers at once never hold the same send.
    let (a, b) = tokio::join!(
        db.store
            .claim_sends("d1", NoticeChannel::Sms, 20, lease, now()),
        db.store
            .claim_sends("d2", NoticeChannel::Sms, 20, lease, now()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 30);
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    assert!(
        a.iter()
            .all(|s| s.state == SendState::InFlight && s.to.starts_with("139"))
    );
    assert!(a[0].key.starts_with(&format!("kefu-inc{}-n", incident.id)));

    // d1 delivers its sends; d2 stops (a crash) with its sends in flight.
    for s in &a {
        let p = after_send(
            s.attempts,
            &GatewayAnswer::Accepted {
                provider_id: Some("gw-1".into()),
            },
            3,
            now(),
        );
        assert!(
            db.store
                .finish_send("d1", s.id, &p, Some("gw-1"), now())
                .await
                .unwrap()
        );
    }
    // Another dispatcher cannot record on d2's sends.
    let p = after_send(0, &GatewayAnswer::Accepted { provider_id: None }, 3, now());
    assert!(
        !db.store
            .finish_send("d1", b[0].id, &p, None, now())
            .await
            .unwrap()
    );
    // Before the lease ends they are nobody else's.
    assert_eq!(db.store.expire_in_flight(now()).await.unwrap(), 0);
    assert!(
        db.store
            .claim_sends("d3", NoticeChannel::Sms, 100, lease, now())
            .await
            .unwrap()
            .is_empty()
    );
    let later = now() + SignedDuration::from_secs(61);
    assert_eq!(
        db.store.expire_in_flight(later).await.unwrap(),
        b.len() as u64
    );
    let board = db.store.incident_board(incident.id).await.unwrap();
    let sms = board.channels.iter().find(|c| c.channel == "sms").unwrap();
    assert_eq!(
        (sms.sent, sms.unknown, sms.in_flight),
        (a.len() as i64, b.len() as i64, 0)
    );
    // The restarted dispatcher reconciles them by key: the gateway had the first,
    // never saw the others; those are sent now, once.
    let unknown = db
        .store
        .claim_sends("d3", NoticeChannel::Sms, 100, lease, later)
        .await
        .unwrap();
    assert_eq!(unknown.len(), b.len());
    assert!(unknown.iter().all(|s| s.state == SendState::Unknown));
    for (i, s) in unknown.iter().enumerate() {
        let lookup = if i == 0 {
            KeyLookup::Found {
                provider_id: Some("gw-9".into()),
            }
        } else {
            KeyLookup::NotFound
        };
        let p = reconcile(&lookup, s.attempts, later);
        assert!(
            db.store
                .finish_send("d3", s.id, &p, None, later)
                .await
                .unwrap()
        );
    }
    let resend = db
        .store
        .claim_sends("d3", NoticeChannel::Sms, 100, lease, later)
        .await
        .unwrap();
    assert_eq!(resend.len(), b.len() - 1);
    for s in &resend {
        assert_eq!(s.state, SendState::InFlight);
        let p = after_send(
            s.attempts,
            &GatewayAnswer::Accepted { provider_id: None },
            3,
            later,
        );
        assert!(
            db.store
                .finish_send("d3", s.id, &p, None, later)
                .await
                .unwrap()
        );
    }
    // Every customer with a mobile is notified by SMS, exactly once; e-mails wait.
    let board = db.store.incident_board(incident.id).await.unwrap();
    let sms = board.channels.iter().find(|c| c.channel == "sms").unwrap();
    assert_eq!(
        (sms.sent, sms.pending, sms.unknown, sms.failed),
        (30, 0, 0, 0)
    );
    assert_eq!((board.tally.notified, board.tally.pending), (30, 0));
    assert!(board.tally.reconciles());
    let notified = db
        .store
        .incident_notices(incident.id, NoticeList::Notified, 0, 100)
        .await
        .unwrap();
    assert!(
        notified
            .iter()
            .all(|n| n.notified_channel.as_deref() == Some("sms"))
    );

    // A gateway that keeps refusing for now ends in failed after the attempts; a
    // customer whose every channel failed is listed as failed.
    let emails = db
        .store
        .claim_sends("d1", NoticeChannel::Email, 100, lease, later)
        .await
        .unwrap();
    assert_eq!(emails.len(), 10);
    let p = after_send(
        2,
        &GatewayAnswer::Retry {
            reason: "421 try later".into(),
        },
        3,
        later,
    );
    assert_eq!(p.state, SendState::Failed);
    assert!(
        db.store
            .finish_send("d1", emails[0].id, &p, None, later)
            .await
            .unwrap()
    );
    let board = db.store.incident_board(incident.id).await.unwrap();
    let email = board
        .channels
        .iter()
        .find(|c| c.channel == "email")
        .unwrap();
    assert_eq!((email.failed, email.in_flight), (1, 9));
    // That customer was reached by SMS: still notified.
    assert_eq!(board.tally.notified, 30);
}
