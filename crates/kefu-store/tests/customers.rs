//! The customer archive's storage behaviour, on SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used)]

use jiff::Timestamp;
use jiff::civil::Date;
use kefu_domain::audit::Actor;
use kefu_domain::customer::{AgeBand, CustomerDraft, CustomerInput, Gender, PhoneInput};
use kefu_domain::money::Yuan;
use kefu_domain::phone::PhoneNumber;
use kefu_domain::tiering::{TierInput, TierRules};
use kefu_store::audit::AuditFilter;
use kefu_store::customers::CustomerFilter;
use kefu_store::testing::TestDb;
use kefu_store::tiers::{BatchOutcome, TierChangeReason};
use kefu_store::{PageRequest, StoreError, backend_tests};

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn today() -> Date {
    Date::new(2026, 11, 23).unwrap()
}

fn agent() -> Actor {
    Actor::Staff {
        id: kefu_domain::StaffId(7),
        staff_no: "KF1001".into(),
    }
}

fn draft(code: &str, assets: Option<&str>, phones: &[&str]) -> CustomerDraft {
    let input = CustomerInput {
        code: Some(code.into()),
        name: Some(format!("客户{code}")),
        phones: phones
            .iter()
            .map(|p| PhoneInput {
                label: "mobile".into(),
                number: (*p).into(),
            })
            .collect(),
        assets: assets.map(Into::into),
        ..CustomerInput::default()
    };
    CustomerDraft::parse(&input, today(), Some("0531")).unwrap()
}

backend_tests!(
    customers_are_created_read_and_audited,
    tier_boundaries_are_exact_and_changes_are_kept_in_history,
    stale_updates_are_refused_and_change_nothing,
    duplicate_codes_are_refused,
    lookup_finds_customers_by_any_written_form,
    segment_filters_combine_and_page,
    rule_changes_recompute_every_customer_as_a_resumable_job,
    deleting_needs_the_current_version,
    bulk_insert_skips_existing_codes,
    concurrent_reads_are_each_audited_in_group_commits,
    name_prefix_and_code_search,
);

async fn concurrent_reads_are_each_audited_in_group_commits(db: &TestDb) {
    let s = &db.store;
    let c = s
        .create_customer(&agent(), &draft("KH1", None, &["13812345678"]), now())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            store.lookup_by_phone(&agent(), "13812345678", now()).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap()[0].id, c.id);
    }
    let lookups = s
        .list_audit(
            &AuditFilter {
                action: Some("customer.lookup".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(lookups.total, 60);
    assert!(matches!(
        s.verify_audit().await.unwrap(),
        kefu_store::audit::AuditVerdict::Intact { rows: 61 }
    ));
}

async fn customers_are_created_read_and_audited(db: &TestDb) {
    let s = &db.store;
    let input = CustomerInput {
        code: Some("KH1".into()),
        name: Some("张三".into()),
        phones: vec![
            PhoneInput {
                label: "手机".into(),
                number: "+86 138-1234-5678".into(),
            },
            PhoneInput {
                label: "电话".into(),
                number: "(0531)8888-6666 转 12".into(),
            },
        ],
        assets: Some("25万".into()),
        birth_date: Some("1980-05-17".into()),
        gender: Some("女".into()),
        tags: vec!["老客户".into(), "燃气".into()],
        preferred_contact_time: Some("09:00-11:30".into()),
        notes: Some("多行\n备注".into()),
        ..CustomerInput::default()
    };
    let d = CustomerDraft::parse(&input, today(), None).unwrap();
    let created = s.create_customer(&agent(), &d, now()).await.unwrap();
    assert_eq!(created.tier, "key");
    assert_eq!(created.assets, Some(Yuan::from_yuan(250_000)));
    assert_eq!(created.phones.len(), 2);
    assert_eq!(created.phones[1].extension.as_deref(), Some("12"));
    assert_eq!(created.tags, vec!["燃气".to_owned(), "老客户".to_owned()]);
    assert_eq!(created.age_band, Some(AgeBand::From45To54));
    assert_eq!(created.gender, Some(Gender::Female));
    assert_eq!(created.notes.as_deref(), Some("多行\n备注"));
    let read = s.read_customer(&agent(), created.id, now()).await.unwrap();
    assert_eq!(read, created);
    let audit = s
        .list_audit(
            &AuditFilter {
                object_type: Some("customer".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["customer.read", "customer.create"]);
    assert_eq!(audit.items[0].actor, "KF1001");
    assert!(matches!(
        s.read_customer(&agent(), 9_999, now()).await,
        Err(StoreError::NotFound)
    ));
}

async fn tier_boundaries_are_exact_and_changes_are_kept_in_history(db: &TestDb) {
    let s = &db.store;
    let cases = [
        ("A", Some("99999.99"), "normal"),
        ("B", Some("100000.00"), "quality"),
        ("C", Some("199999.99"), "quality"),
        ("D", Some("200000.00"), "key"),
        ("E", Some("300000.00"), "vip"),
        ("F", None, "normal"),
    ];
    for (code, assets, tier) in cases {
        let c = s
            .create_customer(&agent(), &draft(code, assets, &[]), now())
            .await
            .unwrap();
        assert_eq!(c.tier, tier, "{code} {assets:?}");
    }
    let page = s
        .list_customers(
            &agent(),
            &CustomerFilter {
                tier: Some("quality".into()),
                ..Default::default()
            },
            PageRequest::default(),
            today(),
            now(),
        )
        .await
        .unwrap();
    let c = page.items.iter().find(|c| c.code == "C").unwrap().clone();
    let updated = s
        .update_customer(
            &agent(),
            c.id,
            c.version,
            &draft("C", Some("30万"), &[]),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(updated.tier, "vip");
    let history = s.tier_history(c.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0].from_tier.as_deref(),
            history[0].to_tier.as_str(),
            history[0].reason.as_str()
        ),
        (None, "quality", "created")
    );
    assert_eq!(
        (
            history[1].from_tier.as_deref(),
            history[1].to_tier.as_str(),
            history[1].reason.as_str()
        ),
        (Some("quality"), "vip", "profile_changed")
    );
    assert_eq!(history[1].threshold, Yuan::from_yuan(300_000));
    // A change that keeps the tier adds no history.
    let again = s
        .update_customer(
            &agent(),
            c.id,
            updated.version,
            &draft("C", Some("40万"), &[]),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(again.tier, "vip");
    assert_eq!(s.tier_history(c.id).await.unwrap().len(), 2);
}

async fn stale_updates_are_refused_and_change_nothing(db: &TestDb) {
    let s = &db.store;
    let c = s
        .create_customer(
            &agent(),
            &draft("KH1", Some("1000"), &["13812345678"]),
            now(),
        )
        .await
        .unwrap();
    let first = s
        .update_customer(
            &agent(),
            c.id,
            c.version,
            &draft("KH1", Some("2000"), &["13912345678"]),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(first.version, c.version + 1);
    let err = s
        .update_customer(
            &agent(),
            c.id,
            c.version,
            &draft("KH1", Some("3000"), &[]),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(r) if r.code() == "stale_version"),
        "{err:?}"
    );
    let now_stored = s.read_customer(&agent(), c.id, now()).await.unwrap();
    assert_eq!(now_stored.assets, Some(Yuan::from_yuan(2000)));
    assert_eq!(now_stored.phones[0].key, "13912345678");
    let updates = s
        .list_audit(
            &AuditFilter {
                action: Some("customer.update".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(updates.total, 1);
    assert_eq!(
        updates.items[0].detail["changed"],
        serde_json::json!(["phones", "assets"])
    );
}

async fn duplicate_codes_are_refused(db: &TestDb) {
    let s = &db.store;
    s.create_customer(&agent(), &draft("KH1", None, &[]), now())
        .await
        .unwrap();
    let err = s
        .create_customer(&agent(), &draft("KH1", None, &[]), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(r) if r.code() == "taken" && r.arg("value") == Some("KH1")),
        "{err:?}"
    );
    assert_eq!(s.count_customers().await.unwrap(), 1);
}

async fn lookup_finds_customers_by_any_written_form(db: &TestDb) {
    let s = &db.store;
    let a = s
        .create_customer(&agent(), &draft("A", None, &["138 1234 5678"]), now())
        .await
        .unwrap();
    let b = s
        .create_customer(&agent(), &draft("B", None, &["0531-88886666"]), now())
        .await
        .unwrap();
    // A shared family landline: both members pop up.
    let c = s
        .create_customer(
            &agent(),
            &draft("C", None, &["(0531)8888-6666 转 2"]),
            now(),
        )
        .await
        .unwrap();
    for written in [
        "+86 13812345678",
        "0086-138-1234-5678",
        "１３８１２３４５６７８",
    ] {
        let key = PhoneNumber::parse(written, None).unwrap();
        let found = s.lookup_by_phone(&agent(), key.key(), now()).await.unwrap();
        assert_eq!(
            found.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![a.id],
            "{written}"
        );
    }
    let key = PhoneNumber::parse("88886666", Some("0531")).unwrap();
    let found = s.lookup_by_phone(&agent(), key.key(), now()).await.unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![b.id, c.id]
    );
    assert!(
        s.lookup_by_phone(&agent(), "13900000000", now())
            .await
            .unwrap()
            .is_empty()
    );
    let audit = s
        .list_audit(
            &AuditFilter {
                action: Some("customer.lookup".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        audit.total, 5,
        "every lookup is audited, even without a match"
    );
    assert_eq!(audit.items[1].detail["phone"], "0531-****6666");
}

async fn segment_filters_combine_and_page(db: &TestDb) {
    let s = &db.store;
    let mk =
        |code: &str, area: &str, occupation: &str, birth: &str, tags: &[&str], assets: &str| {
            CustomerInput {
                code: Some(code.into()),
                name: Some("某某".into()),
                service_area: Some(area.into()),
                occupation: Some(occupation.into()),
                birth_date: (!birth.is_empty()).then(|| birth.into()),
                age_band: birth.is_empty().then(|| "65_plus".into()),
                gender: Some("男".into()),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                assets: Some(assets.into()),
                ..CustomerInput::default()
            }
        };
    let inputs = [
        mk("K1", "历下区", "教师", "1990-01-01", &["老客户"], "50000"),
        mk(
            "K2",
            "历下区",
            "教师",
            "1960-06-30",
            &["老客户", "独居老人"],
            "350000",
        ),
        mk("K3", "市中区", "医生", "1985-03-03", &[], "150000"),
        mk("K4", "历下区", "教师", "", &["独居老人"], "10"),
    ];
    for input in &inputs {
        s.create_customer(
            &agent(),
            &CustomerDraft::parse(input, today(), None).unwrap(),
            now(),
        )
        .await
        .unwrap();
    }
    let codes = |page: &kefu_store::Page<kefu_store::customers::Customer>| {
        page.items
            .iter()
            .map(|c| c.code.clone())
            .collect::<Vec<_>>()
    };
    let f = CustomerFilter {
        service_area: Some("历下区".into()),
        occupation: Some("教师".into()),
        ..Default::default()
    };
    assert_eq!(
        codes(
            &s.list_customers(&agent(), &f, PageRequest::default(), today(), now())
                .await
                .unwrap()
        ),
        ["K1", "K2", "K4"]
    );
    let f = CustomerFilter {
        tags: vec!["老客户".into(), "独居老人".into()],
        ..Default::default()
    };
    assert_eq!(
        codes(
            &s.list_customers(&agent(), &f, PageRequest::default(), today(), now())
                .await
                .unwrap()
        ),
        ["K2"]
    );
    let f = CustomerFilter {
        age_band: Some(AgeBand::From65),
        ..Default::default()
    };
    assert_eq!(
        codes(
            &s.list_customers(&agent(), &f, PageRequest::default(), today(), now())
                .await
                .unwrap()
        ),
        ["K2", "K4"]
    );
    let f = CustomerFilter {
        tier: Some("vip".into()),
        gender: Some(Gender::Male),
        ..Default::default()
    };
    assert_eq!(
        codes(
            &s.list_customers(&agent(), &f, PageRequest::default(), today(), now())
                .await
                .unwrap()
        ),
        ["K2"]
    );
    let page = s
        .list_customers(
            &agent(),
            &CustomerFilter::default(),
            PageRequest::new(1, 2),
            today(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (page.total, codes(&page)),
        (4, vec!["K2".to_owned(), "K3".to_owned()])
    );
    // Counted only so far, a segment says it has at least that many; its pages
    // are the same, in code order.
    let f = CustomerFilter {
        service_area: Some("历下区".into()),
        ..Default::default()
    };
    let page = s
        .list_customers_counting_to(&agent(), &f, PageRequest::new(1, 5), 2, today(), now())
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.total_exact, codes(&page)),
        (2, false, vec!["K2".to_owned(), "K4".to_owned()])
    );
    let page = s
        .list_customers_counting_to(&agent(), &f, PageRequest::new(0, 5), 3, today(), now())
        .await
        .unwrap();
    assert_eq!((page.total, page.total_exact), (3, true));
    let past = s
        .list_customers_counting_to(&agent(), &f, PageRequest::new(3, 5), 10, today(), now())
        .await
        .unwrap();
    assert_eq!((past.total, past.items.len()), (3, 0));
}

async fn rule_changes_recompute_every_customer_as_a_resumable_job(db: &TestDb) {
    let s = &db.store;
    let drafts: Vec<CustomerDraft> = (0..4_500)
        .map(|i| draft(&format!("R{i:05}"), Some(&format!("{}", i * 100)), &[]))
        .collect();
    s.insert_new_customers(&agent(), &drafts, TierChangeReason::Created, now())
        .await
        .unwrap();
    let rules = s.tier_rules().await.unwrap();
    assert_eq!(rules.version, 0);
    // New rules: 普通 below 1000 yuan, 金卡 from 1000, 钻石 from 400000.
    let new = TierRules::parse(&[
        TierInput {
            code: "normal".into(),
            name: "普通".into(),
            min_assets: "0".into(),
            priority_boost: 0,
            followup_days: None,
        },
        TierInput {
            code: "gold".into(),
            name: "金卡".into(),
            min_assets: "1000".into(),
            priority_boost: 1,
            followup_days: Some(60),
        },
        TierInput {
            code: "diamond".into(),
            name: "钻石".into(),
            min_assets: "40万".into(),
            priority_boost: 3,
            followup_days: Some(30),
        },
    ])
    .unwrap();
    let stale = s.set_tier_rules(&agent(), 5, &new, now()).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    let (stored, job) = s.set_tier_rules(&agent(), 0, &new, now()).await.unwrap();
    assert_eq!(
        (stored.version, job.total, job.status.as_str()),
        (1, 4_500, "running")
    );
    // One batch, then a "restart": the job resumes from its stored position.
    assert!(matches!(
        s.recompute_tiers_batch(job.id, now()).await.unwrap(),
        BatchOutcome::Continue { .. }
    ));
    assert_eq!(s.running_jobs().await.unwrap().len(), 1);
    loop {
        match s.recompute_tiers_batch(job.id, now()).await.unwrap() {
            BatchOutcome::Continue { .. } => {}
            BatchOutcome::Finished => break,
            BatchOutcome::Superseded => panic!("not superseded"),
        }
    }
    let job = s.get_job(job.id).await.unwrap();
    assert_eq!((job.status.as_str(), job.done), ("succeeded", 4_500));
    // 0..9.99 万 were normal/quality; now i*100 >= 1000 → gold for i >= 10, diamond from i = 4000.
    let count = |tier: &str| {
        let f = CustomerFilter {
            tier: Some(tier.into()),
            ..Default::default()
        };
        async move {
            s.list_customers(&agent(), &f, PageRequest::new(0, 1), today(), now())
                .await
                .unwrap()
                .total
        }
    };
    assert_eq!(count("normal").await, 10);
    assert_eq!(count("gold").await, 3_990);
    assert_eq!(count("diamond").await, 500);
    assert_eq!(count("vip").await, 0);
    // i = 1000 (100000.00 yuan) moved quality → gold, with the reason kept.
    let f = CustomerFilter {
        tier: Some("gold".into()),
        ..Default::default()
    };
    let page = s
        .list_customers(&agent(), &f, PageRequest::new(990, 1), today(), now())
        .await
        .unwrap();
    let history = s.tier_history(page.items[0].id).await.unwrap();
    assert_eq!(history.last().unwrap().reason, "rules_changed");
    assert_eq!(history.last().unwrap().rules_version, 1);
    // A job whose rules were replaced stops as superseded.
    let (_, job2) = s
        .set_tier_rules(&agent(), 1, &TierRules::default_rules(), now())
        .await
        .unwrap();
    let (_, job3) = s.set_tier_rules(&agent(), 2, &new, now()).await.unwrap();
    assert_eq!(
        s.recompute_tiers_batch(job2.id, now()).await.unwrap(),
        BatchOutcome::Superseded
    );
    assert!(matches!(
        s.recompute_tiers_batch(job3.id, now()).await.unwrap(),
        BatchOutcome::Continue { .. }
    ));
}

async fn deleting_needs_the_current_version(db: &TestDb) {
    let s = &db.store;
    let c = s
        .create_customer(&agent(), &draft("KH1", None, &["13812345678"]), now())
        .await
        .unwrap();
    assert!(matches!(
        s.delete_customer(&agent(), c.id, c.version + 1, now())
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_customer(&agent(), c.id, c.version, now())
        .await
        .unwrap();
    assert!(matches!(
        s.delete_customer(&agent(), c.id, c.version, now()).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        s.lookup_by_phone(&agent(), "13812345678", now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn bulk_insert_skips_existing_codes(db: &TestDb) {
    let s = &db.store;
    let drafts: Vec<CustomerDraft> = (0..1_200)
        .map(|i| draft(&format!("B{i:04}"), Some("150000"), &["13812345678"]))
        .collect();
    assert_eq!(
        s.insert_new_customers(&agent(), &drafts, TierChangeReason::Import, now())
            .await
            .unwrap(),
        1_200
    );
    assert_eq!(
        s.insert_new_customers(&agent(), &drafts[..700], TierChangeReason::Import, now())
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.count_customers().await.unwrap(), 1_200);
    let found = s
        .lookup_by_phone(&agent(), "13812345678", now())
        .await
        .unwrap();
    assert_eq!(found.len(), 20, "lookups return at most 20 matches");
    assert!(found.iter().all(|c| c.tier == "quality"));
    assert_eq!(
        s.tier_history(found[0].id).await.unwrap()[0].reason,
        "import"
    );
}

mod import {
    use super::*;
    use kefu_store::import::{ImportRow, RowOutcome};

    fn row(
        number: usize,
        code: Option<&str>,
        name: Option<&str>,
        mobile: Option<&str>,
        assets: Option<&str>,
    ) -> ImportRow {
        ImportRow {
            number,
            input: CustomerInput {
                code: code.map(Into::into),
                name: name.map(Into::into),
                phones: mobile
                    .map(|m| {
                        vec![PhoneInput {
                            label: "手机".into(),
                            number: m.into(),
                        }]
                    })
                    .unwrap_or_default(),
                assets: assets.map(Into::into),
                ..CustomerInput::default()
            },
        }
    }

    backend_tests!(
        import_inserts_then_reimport_changes_nothing,
        import_updates_only_the_cells_given_and_matches_by_phone,
        import_rejects_bad_rows_and_commits_the_rest,
    );

    async fn import_inserts_then_reimport_changes_nothing(db: &TestDb) {
        let s = &db.store;
        let rows: Vec<ImportRow> = (0..1_500)
            .map(|i| {
                row(
                    i + 2,
                    Some(&format!("IM{i:05}")),
                    Some("王五"),
                    Some(&format!("139{i:08}")),
                    Some("12万"),
                )
            })
            .collect();
        let first = s
            .import_customers(&agent(), &rows, today(), None, now(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            (
                first.inserted,
                first.updated,
                first.unchanged,
                first.rejected
            ),
            (1_500, 0, 0, 0)
        );
        let audit_before = s.verify_audit().await.unwrap();
        let again = s
            .import_customers(&agent(), &rows, today(), None, now(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            (
                again.inserted,
                again.updated,
                again.unchanged,
                again.rejected
            ),
            (0, 0, 1_500, 0)
        );
        assert_eq!(s.count_customers().await.unwrap(), 1_500);
        // Only the import's own audit record was added.
        match (audit_before, s.verify_audit().await.unwrap()) {
            (
                kefu_store::audit::AuditVerdict::Intact { rows: a },
                kefu_store::audit::AuditVerdict::Intact { rows: b },
            ) => assert_eq!(b, a + 1),
            other => panic!("{other:?}"),
        }
        let found = s
            .lookup_by_phone(&agent(), "13900000042", now())
            .await
            .unwrap();
        assert_eq!(
            (found[0].code.as_str(), found[0].tier.as_str()),
            ("IM00042", "quality")
        );
        assert_eq!(
            s.tier_history(found[0].id).await.unwrap()[0].reason,
            "import"
        );
    }

    async fn import_updates_only_the_cells_given_and_matches_by_phone(db: &TestDb) {
        let s = &db.store;
        let mut input = CustomerInput {
            code: Some("KH1".into()),
            name: Some("张三".into()),
            notes: Some("重要备注".into()),
            phones: vec![PhoneInput {
                label: "mobile".into(),
                number: "13812345678".into(),
            }],
            assets: Some("5万".into()),
            ..CustomerInput::default()
        };
        let created = s
            .create_customer(
                &agent(),
                &CustomerDraft::parse(&input, today(), None).unwrap(),
                now(),
            )
            .await
            .unwrap();
        // By code: only assets change; notes and phones stay.
        let r = s
            .import_customers(
                &agent(),
                &[row(2, Some("KH1"), None, None, Some("35万"))],
                today(),
                None,
                now(),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(
            r.rows[0].1,
            RowOutcome::Updated {
                customer_id: created.id
            }
        );
        let after = s.read_customer(&agent(), created.id, now()).await.unwrap();
        assert_eq!(
            (
                after.tier.as_str(),
                after.notes.as_deref(),
                after.phones[0].key.as_str()
            ),
            ("vip", Some("重要备注"), "13812345678")
        );
        // Without code: matched by the phone number, in another format.
        let r = s
            .import_customers(
                &agent(),
                &[row(
                    2,
                    None,
                    Some("张三丰"),
                    Some("+86 138 1234 5678"),
                    None,
                )],
                today(),
                None,
                now(),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(
            r.rows[0].1,
            RowOutcome::Updated {
                customer_id: created.id
            }
        );
        assert_eq!(
            s.read_customer(&agent(), created.id, now())
                .await
                .unwrap()
                .name,
            "张三丰"
        );
        input.name = Some("张三丰".into());
        assert_eq!(s.count_customers().await.unwrap(), 1);
    }

    async fn import_rejects_bad_rows_and_commits_the_rest(db: &TestDb) {
        let s = &db.store;
        s.create_customer(&agent(), &draft("SHARED1", None, &["0531-88886666"]), now())
            .await
            .unwrap();
        s.create_customer(&agent(), &draft("SHARED2", None, &["0531-88886666"]), now())
            .await
            .unwrap();
        let rows = vec![
            row(2, Some("N1"), Some("甲"), Some("13812345678"), Some("1000")),
            row(3, Some("N2"), Some("乙"), Some("1381234567"), None),
            row(4, Some("N1"), Some("丙"), None, None),
            row(5, None, Some("丁"), Some("13900000000"), None),
            row(6, None, Some("戊"), Some("(0531)8888-6666"), None),
            row(7, Some("N3"), None, None, Some("12.345")),
            row(8, Some("N4"), Some("己"), None, Some("100万")),
        ];
        let r = s
            .import_customers(&agent(), &rows, today(), Some("0531"), now(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!((r.inserted, r.rejected), (2, 5));
        let rejected: Vec<(usize, String)> = r
            .rows
            .iter()
            .filter_map(|(n, o)| match o {
                RowOutcome::Rejected { errors } => Some((
                    *n,
                    errors
                        .iter()
                        .map(|e| e.field.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            rejected,
            vec![
                (3, "phones[0]".into()),
                (4, "code".into()),
                (5, "code".into()),
                (6, "phones".into()),
                (7, "name+assets".into())
            ]
        );
        assert_eq!(s.count_customers().await.unwrap(), 4);
        let f = CustomerFilter {
            tier: Some("vip".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_customers(&agent(), &f, PageRequest::default(), today(), now())
                .await
                .unwrap()
                .items[0]
                .code,
            "N4"
        );
    }
}

async fn name_prefix_and_code_search(db: &TestDb) {
    let named = |code: &str, name: &str| {
        let mut input = CustomerInput {
            code: Some(code.into()),
            name: Some(name.into()),
            ..CustomerInput::default()
        };
        input.kind = None;
        CustomerDraft::parse(&input, today(), Some("0531")).unwrap()
    };
    for (code, name) in [
        ("K1", "王燕"),
        ("K2", "王小明"),
        ("K3", "汪洋"),
        ("K4", "50%_王"),
        ("K5", "张王"),
    ] {
        db.store
            .create_customer(&agent(), &named(code, name), now())
            .await
            .unwrap();
    }
    let names = |found: Vec<kefu_store::customers::Customer>| {
        found.into_iter().map(|c| c.name).collect::<Vec<_>>()
    };
    let found = db
        .store
        .find_customers(&agent(), "王", 50, now())
        .await
        .unwrap();
    assert_eq!(names(found), vec!["王小明", "王燕"]);
    // LIKE's wildcards are plain characters here.
    assert_eq!(
        names(
            db.store
                .find_customers(&agent(), "50%", 50, now())
                .await
                .unwrap()
        ),
        vec!["50%_王"]
    );
    assert!(
        db.store
            .find_customers(&agent(), "%", 50, now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(
            db.store
                .find_customers(&agent(), "K5", 50, now())
                .await
                .unwrap()
        ),
        vec!["张王"]
    );
    let audits = db
        .store
        .list_audit(
            &AuditFilter {
                action: Some("customer.search".into()),
                ..Default::default()
            },
            PageRequest::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(audits.total, 3, "each search that found someone is audited");
}
