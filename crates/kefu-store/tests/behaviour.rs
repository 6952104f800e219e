//! Storage behaviour, run against SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;
use kefu_domain::lockout::{LockoutPolicy, LoginState};
use kefu_domain::staff::{DepartmentCode, DepartmentName, PersonName, StaffNo};
use kefu_domain::{Role, StaffId};
use kefu_store::audit::{AuditFilter, AuditVerdict};
use kefu_store::staff::{LoginOutcome, NewStaff, StaffChanges, StaffFilter};
use kefu_store::testing::TestDb;
use kefu_store::{PageRequest, StoreError, backend_tests};

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn system() -> Actor {
    Actor::System("test".into())
}

fn new_staff(no: &str, role: Role) -> NewStaff {
    NewStaff {
        staff_no: StaffNo::parse(no).unwrap(),
        name: PersonName::parse("测试员").unwrap(),
        role,
        department_id: None,
        password_hash: "not-a-real-hash".into(),
        must_change_password: true,
        signs_in: true,
    }
}

backend_tests!(
    migrations_apply_once_and_are_idempotent,
    departments_are_created_listed_and_renamed_with_version_checks,
    duplicate_staff_numbers_are_a_conflict_and_change_nothing,
    stale_staff_update_is_refused_and_changes_nothing,
    handler_cannot_lose_its_department,
    login_state_and_attempts_are_recorded_and_audited,
    sessions_expire_and_deactivation_ends_all_access,
    revoked_api_tokens_stop_working,
    audit_chain_verifies_when_intact,
    audit_detects_an_edited_row,
    audit_detects_a_deleted_row_in_the_middle,
    audit_detects_a_deleted_last_row,
    concurrent_audited_writes_keep_the_chain_gap_free,
    audit_list_filters_and_pages,
    chinese_search_finds_segmented_words,
    search_ranks_the_most_recent_matches_and_filters_before,
    an_outdated_search_index_is_rebuilt_on_migrate,
    demo_customers_are_idempotent,
);

async fn migrations_apply_once_and_are_idempotent(db: &TestDb) {
    db.store.migrate().await.unwrap();
    let (known, applied) = db.store.migration_status().await.unwrap();
    assert_eq!(known, applied);
    assert!(known >= 1);
}

async fn departments_are_created_listed_and_renamed_with_version_checks(db: &TestDb) {
    let s = &db.store;
    let repair = s
        .create_department(
            &system(),
            &DepartmentCode::parse("REPAIR").unwrap(),
            &DepartmentName::parse("维修部").unwrap(),
            now(),
        )
        .await
        .unwrap();
    let dup = s
        .create_department(
            &system(),
            &DepartmentCode::parse("REPAIR").unwrap(),
            &DepartmentName::parse("重复").unwrap(),
            now(),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let renamed = s
        .rename_department(
            &system(),
            repair.id,
            repair.version,
            &DepartmentName::parse("抢修部").unwrap(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "抢修部");
    assert_eq!(renamed.version, repair.version + 1);
    let stale = s
        .rename_department(
            &system(),
            repair.id,
            repair.version,
            &DepartmentName::parse("又改").unwrap(),
            now(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let missing = s
        .rename_department(
            &system(),
            kefu_domain::DepartmentId(9_999),
            1,
            &DepartmentName::parse("无").unwrap(),
            now(),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let all = s.list_departments().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "抢修部");
}

async fn duplicate_staff_numbers_are_a_conflict_and_change_nothing(db: &TestDb) {
    let s = &db.store;
    s.create_staff(&system(), &new_staff("KF1001", Role::Agent), now())
        .await
        .unwrap();
    let before = s.verify_audit().await.unwrap();
    let err = s
        .create_staff(&system(), &new_staff("KF1001", Role::Manager), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(r) if r.arg("value") == Some("KF1001")),
        "{err:?}"
    );
    assert_eq!(s.count_staff().await.unwrap(), 1);
    assert_eq!(
        s.verify_audit().await.unwrap(),
        before,
        "a refused change leaves no audit record"
    );
    let unknown_department = NewStaff {
        department_id: Some(kefu_domain::DepartmentId(4242)),
        ..new_staff("KF1002", Role::Agent)
    };
    let err = s
        .create_staff(&system(), &unknown_department, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidReference(_)), "{err:?}");
    assert_eq!(s.count_staff().await.unwrap(), 1);
}

async fn stale_staff_update_is_refused_and_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let member = s
        .create_staff(&system(), &new_staff("KF1001", Role::Agent), now())
        .await
        .unwrap();
    let changes = StaffChanges {
        name: Some(PersonName::parse("李四").unwrap()),
        ..Default::default()
    };
    let updated = s
        .update_staff(&system(), member.id, member.version, &changes, now())
        .await
        .unwrap();
    assert_eq!(updated.name, "李四");
    let again = StaffChanges {
        name: Some(PersonName::parse("王五").unwrap()),
        ..Default::default()
    };
    let err = s
        .update_staff(&system(), member.id, member.version, &again, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.get_staff(member.id).await.unwrap().name, "李四");
    let err = s
        .update_staff(&system(), StaffId(777), 1, &again, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn handler_cannot_lose_its_department(db: &TestDb) {
    let s = &db.store;
    let dept = s
        .create_department(
            &system(),
            &DepartmentCode::parse("BILL").unwrap(),
            &DepartmentName::parse("收费部").unwrap(),
            now(),
        )
        .await
        .unwrap();
    let handler = s
        .create_staff(
            &system(),
            &NewStaff {
                department_id: Some(dept.id),
                ..new_staff("SF3001", Role::Handler)
            },
            now(),
        )
        .await
        .unwrap();
    let changes = StaffChanges {
        department_id: Some(None),
        ..Default::default()
    };
    let err = s
        .update_staff(&system(), handler.id, handler.version, &changes, now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid { field, reason }
            if field == "department_id" && reason.code() == "handler_needs_department"),
        "{err:?}"
    );
    assert_eq!(
        s.get_staff(handler.id).await.unwrap().department_id,
        Some(dept.id)
    );
    let page = s
        .list_staff(
            &StaffFilter {
                department_id: Some(dept.id),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

async fn login_state_and_attempts_are_recorded_and_audited(db: &TestDb) {
    let s = &db.store;
    let member = s
        .create_staff(&system(), &new_staff("KF1001", Role::Agent), now())
        .await
        .unwrap();
    let policy = LockoutPolicy::default();
    let mut state = LoginState::default();
    for i in 0..5 {
        let at = now() + SignedDuration::from_secs(i);
        state = state.after_failure(&policy, at);
        s.record_login(&member, state, LoginOutcome::WrongPassword, at)
            .await
            .unwrap();
    }
    let creds = s
        .staff_credentials(&StaffNo::parse("KF1001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(creds.login.is_locked(now() + SignedDuration::from_mins(1)));
    assert_eq!(creds.login, state);
    let audit = s
        .list_audit(
            &AuditFilter {
                object_type: Some("staff".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let actions: Vec<_> = audit.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions[0], "auth.locked");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "auth.login_failed")
            .count(),
        4
    );
    let unlocked = s.unlock_staff(&system(), member.id, now()).await.unwrap();
    assert_eq!(unlocked.locked_until, None);
}

async fn sessions_expire_and_deactivation_ends_all_access(db: &TestDb) {
    let s = &db.store;
    let member = s
        .create_staff(&system(), &new_staff("KF1001", Role::Agent), now())
        .await
        .unwrap();
    let ttl = SignedDuration::from_hours(8);
    s.create_session(member.id, "session-hash", ttl, now())
        .await
        .unwrap();
    s.create_api_token(&system(), member.id, "cti", "token-hash", now())
        .await
        .unwrap();
    assert!(
        s.session_staff("session-hash", ttl, now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.session_staff("session-hash", ttl, now() + ttl)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        s.session_staff("other", ttl, now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.token_staff("token-hash", now()).await.unwrap().is_some());
    let member = s.get_staff(member.id).await.unwrap();
    let off = StaffChanges {
        active: Some(false),
        ..Default::default()
    };
    s.update_staff(&system(), member.id, member.version, &off, now())
        .await
        .unwrap();
    assert!(
        s.session_staff("session-hash", ttl, now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.token_staff("token-hash", now()).await.unwrap().is_none());
    assert_eq!(
        s.purge_expired_sessions(now() + ttl).await.unwrap(),
        0,
        "session was already ended"
    );
}

async fn revoked_api_tokens_stop_working(db: &TestDb) {
    let s = &db.store;
    let member = s
        .create_staff(&system(), &new_staff("KF1001", Role::Agent), now())
        .await
        .unwrap();
    let token = s
        .create_api_token(&system(), member.id, "pbx", "h1", now())
        .await
        .unwrap();
    assert_eq!(s.list_api_tokens(member.id).await.unwrap().len(), 1);
    let other = s
        .create_staff(&system(), &new_staff("KF1002", Role::Agent), now())
        .await
        .unwrap();
    let err = s
        .revoke_api_token(&system(), other.id, token.id, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "cannot revoke someone else's token"
    );
    let revoked = s
        .revoke_api_token(&system(), member.id, token.id, now())
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(now()));
    assert!(s.token_staff("h1", now()).await.unwrap().is_none());
}

async fn seed_audit(db: &TestDb, n: usize) {
    for i in 0..n {
        db.store
            .create_staff(
                &system(),
                &new_staff(&format!("KF{}", 2000 + i), Role::Agent),
                now(),
            )
            .await
            .unwrap();
    }
}

async fn audit_chain_verifies_when_intact(db: &TestDb) {
    assert_eq!(
        db.store.verify_audit().await.unwrap(),
        AuditVerdict::Intact { rows: 0 }
    );
    seed_audit(db, 5).await;
    assert_eq!(
        db.store.verify_audit().await.unwrap(),
        AuditVerdict::Intact { rows: 5 }
    );
}

async fn audit_detects_an_edited_row(db: &TestDb) {
    seed_audit(db, 5).await;
    db.execute_by_hand("UPDATE audit_log SET detail = '{\"name\":\"改过\"}' WHERE seq = 3")
        .await;
    match db.store.verify_audit().await.unwrap() {
        AuditVerdict::Broken {
            first_bad_seq,
            kind,
            reason,
        } => {
            assert_eq!(first_bad_seq, 3, "{reason}");
            assert_eq!(kind, "hash_mismatch", "{reason}");
        }
        ok => panic!("edit not detected: {ok:?}"),
    }
}

async fn audit_detects_a_deleted_row_in_the_middle(db: &TestDb) {
    seed_audit(db, 5).await;
    db.execute_by_hand("DELETE FROM audit_log WHERE seq = 2")
        .await;
    match db.store.verify_audit().await.unwrap() {
        AuditVerdict::Broken { first_bad_seq, .. } => assert_eq!(first_bad_seq, 3),
        ok => panic!("deletion not detected: {ok:?}"),
    }
}

async fn audit_detects_a_deleted_last_row(db: &TestDb) {
    seed_audit(db, 4).await;
    db.execute_by_hand("DELETE FROM audit_log WHERE seq = 4")
        .await;
    match db.store.verify_audit().await.unwrap() {
        AuditVerdict::Broken {
            first_bad_seq,
            reason,
            ..
        } => {
            assert_eq!(first_bad_seq, 4, "{reason}");
        }
        ok => panic!("tail deletion not detected: {ok:?}"),
    }
}

async fn concurrent_audited_writes_keep_the_chain_gap_free(db: &TestDb) {
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_staff(&system(), &new_staff(&format!("C{i}"), Role::Agent), now())
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        db.store.verify_audit().await.unwrap(),
        AuditVerdict::Intact { rows: 40 }
    );
}

async fn audit_list_filters_and_pages(db: &TestDb) {
    seed_audit(db, 7).await;
    let page = db
        .store
        .list_audit(&AuditFilter::default(), PageRequest::new(2, 3))
        .await
        .unwrap();
    assert_eq!(page.total, 7);
    assert_eq!(
        page.items.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![5, 4, 3]
    );
    let none = db
        .store
        .list_audit(
            &AuditFilter {
                action: Some("customer.read".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    let since = db
        .store
        .list_audit(
            &AuditFilter {
                since: Some(now() + SignedDuration::from_secs(1)),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(since.total, 0);
}

async fn chinese_search_finds_segmented_words(db: &TestDb) {
    use kefu_store::search::{DocMeta, KindScope, SearchRequest};
    let s = &db.store;
    let meta = |state: &'static str, department: Option<i64>, at: i64| DocMeta {
        state: Some(state),
        department_id: department,
        customer_id: None,
        at: Some(at),
    };
    s.index_document(
        "kb",
        1,
        "燃气泄漏应急处理",
        "闻到燃气味时立即关闭阀门，开窗通风，不要开关电器。",
        meta("published", None, 100),
        now(),
    )
    .await
    .unwrap();
    s.index_document(
        "kb",
        2,
        "燃气表E3故障",
        "显示E3表示电池电量低，请更换电池或报修。回电13812345678。",
        meta("draft", None, 200),
        now(),
    )
    .await
    .unwrap();
    s.index_document(
        "wo",
        3,
        "上门维修",
        "客户要求24小时内上门维修热水器。",
        meta("open", Some(7), 300),
        now(),
    )
    .await
    .unwrap();
    let all = || vec![KindScope::any("kb"), KindScope::any("wo")];
    let search = |text: &str, scopes: Vec<KindScope>| SearchRequest {
        text: text.into(),
        scopes,
        limit: 10,
        ..SearchRequest::default()
    };
    let ids = |hits: Vec<kefu_store::search::SearchHit>| {
        hits.iter().map(|h| h.doc_id).collect::<Vec<_>>()
    };
    let hits = s.search(&search("泄漏", all())).await.unwrap();
    assert_eq!(ids(hits.clone()), vec![1]);
    let marked: Vec<&str> = hits[0]
        .snippet
        .iter()
        .filter(|p| p.mark)
        .map(|p| p.text.as_str())
        .collect();
    assert!(marked.is_empty(), "泄漏 is only in the title: {hits:?}");
    // The word and its synonyms are marked (燃气泄漏 is one of 泄漏's).
    assert_eq!(
        (
            hits[0].title_parts[0].text.as_str(),
            hits[0].title_parts[0].mark
        ),
        ("燃气泄漏", true)
    );
    let hits = s.search(&search("燃气表 e3", all())).await.unwrap();
    assert_eq!(ids(hits), vec![2]);
    let hits = s.search(&search("维修", all())).await.unwrap();
    assert_eq!(hits[0].doc_id, 3, "title match ranks first: {hits:?}");
    // Parts of a number find it; the snippet marks the whole run.
    for q in ["5678", "138 5678", "13812345678", "1234"] {
        let hits = s.search(&search(q, all())).await.unwrap();
        assert_eq!(ids(hits.clone()), vec![2], "{q}");
    }
    assert!(s.search(&search("5679", all())).await.unwrap().is_empty());
    // Scopes and filters: agents see published articles only; a department its
    // orders; date ranges.
    let published = vec![KindScope {
        kind: "kb".into(),
        states: Some(vec!["published".into()]),
        department_id: None,
    }];
    assert!(
        s.search(&search("电池", published.clone()))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.search(&search("燃气", published)).await.unwrap()),
        vec![1]
    );
    let other_department = vec![KindScope {
        kind: "wo".into(),
        states: None,
        department_id: Some(8),
    }];
    assert!(
        s.search(&search("维修", other_department))
            .await
            .unwrap()
            .is_empty()
    );
    let dated = SearchRequest {
        from: Some(150),
        to: Some(250),
        ..search("燃气", all())
    };
    assert_eq!(ids(s.search(&dated).await.unwrap()), vec![2]);
    let drafts = SearchRequest {
        state: Some("draft".into()),
        ..search("燃气", all())
    };
    assert_eq!(ids(s.search(&drafts).await.unwrap()), vec![2]);
    // Re-indexing replaces the old words.
    s.index_document(
        "wo",
        3,
        "已完成",
        "热水器已修好。",
        meta("closed", Some(7), 300),
        now(),
    )
    .await
    .unwrap();
    assert!(s.search(&search("上门", all())).await.unwrap().is_empty());
    // Query syntax characters are plain text, not operators.
    for q in [
        "\" OR * NEAR( '",
        "燃气 -泄漏",
        "燃气*",
        "NEAR(燃气 泄漏)",
        "a:b",
        "'燃气' & !泄漏",
    ] {
        let hits = s.search(&search(q, all())).await.unwrap();
        assert!(hits.iter().all(|h| h.doc_kind == "kb"), "{q}: {hits:?}");
    }
}

/// A word in more documents of a kind than are ranked: the most recent matches are
/// ranked, and a filter (customer, department, dates) narrows the walk for them so
/// an older document still comes up when asked for.
async fn search_ranks_the_most_recent_matches_and_filters_before(db: &TestDb) {
    use kefu_store::search::{DocMeta, KindScope, NewDoc, RANKED_CANDIDATES, SearchRequest};
    let s = &db.store;
    let total = RANKED_CANDIDATES + 50;
    let docs: Vec<NewDoc> = (1..=total)
        .map(|i| NewDoc {
            doc_id: i,
            // The oldest document says 阀门 most often: the best match by words.
            title: if i == 1 {
                "阀门 阀门 阀门".into()
            } else {
                format!("记录{i}")
            },
            body: if i == 1 {
                "阀门漏气，阀门更换，阀门检修。".into()
            } else {
                "客户反映阀门有异响，已登记。".into()
            },
            hidden: String::new(),
            meta: DocMeta {
                state: Some(if i % 2 == 0 { "open" } else { "closed" }),
                department_id: Some(1 + i % 3),
                customer_id: Some(i),
                at: Some(i * 1000),
            },
        })
        .collect();
    s.index_new_documents("many", &docs, now()).await.unwrap();
    let scope = vec![KindScope::any("many")];
    let request = SearchRequest {
        text: "阀门".into(),
        scopes: scope.clone(),
        limit: 100,
        ..SearchRequest::default()
    };
    let hits = s.search(&request).await.unwrap();
    assert_eq!(hits.len(), 100);
    assert!(
        hits.iter().all(|h| h.doc_id > total - RANKED_CANDIDATES),
        "only the most recent matches are ranked: {:?}",
        hits.iter().map(|h| h.doc_id).collect::<Vec<_>>()
    );
    // Asked for by customer, by department and state, or by date, it is found
    // and, being the best match, comes first.
    for narrowed in [
        SearchRequest {
            customer_id: Some(1),
            ..request.clone()
        },
        SearchRequest {
            state: Some("closed".into()),
            department_id: Some(2),
            ..request.clone()
        },
        SearchRequest {
            from: Some(0),
            to: Some(5_000),
            ..request.clone()
        },
    ] {
        let hits = s.search(&narrowed).await.unwrap();
        assert_eq!(hits.first().map(|h| h.doc_id), Some(1), "{narrowed:?}");
        assert!(hits.iter().all(|h| {
            narrowed
                .customer_id
                .is_none_or(|c| h.customer_id == Some(c))
                && narrowed
                    .department_id
                    .is_none_or(|d| h.department_id == Some(d))
                && narrowed.to.is_none_or(|to| h.at < Some(to))
        }));
    }
    // A department's scope is a filter too.
    let scoped = SearchRequest {
        scopes: vec![KindScope {
            kind: "many".into(),
            states: Some(vec!["closed".into()]),
            department_id: Some(2),
        }],
        ..request.clone()
    };
    let hits = s.search(&scoped).await.unwrap();
    assert_eq!(hits.first().map(|h| h.doc_id), Some(1));
    assert!(
        hits.iter()
            .all(|h| h.department_id == Some(2) && h.state.as_deref() == Some("closed"))
    );
}

/// An index written in an older format is rebuilt from the records by `migrate`.
async fn an_outdated_search_index_is_rebuilt_on_migrate(db: &TestDb) {
    use kefu_domain::knowledge::{Article, ArticleStatus};
    use kefu_store::search::{KindScope, SearchRequest};
    let s = &db.store;
    let article = Article {
        title: "燃气表E3故障处理".into(),
        body: "更换电池后按复位键。".into(),
        category: "燃气表".into(),
        tags: vec![],
        status: ArticleStatus::Published,
    };
    s.create_article(&system(), &article, None, now())
        .await
        .unwrap();
    let search = || async {
        s.search(&SearchRequest {
            text: "复位".into(),
            scopes: vec![KindScope::any(kefu_store::knowledge::DOC_KIND)],
            limit: 10,
            ..SearchRequest::default()
        })
        .await
        .unwrap()
        .len()
    };
    assert_eq!(search().await, 1);
    // An index from before the format in force: its words are gone here.
    db.execute_by_hand("UPDATE search_index_format SET format = 1")
        .await;
    if s.backend() == kefu_store::Backend::Sqlite {
        db.execute_by_hand("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
            .await;
    }
    db.execute_by_hand("DELETE FROM search_docs").await;
    assert_eq!(search().await, 0);
    s.migrate().await.unwrap();
    assert_eq!(search().await, 1);
    // Once rebuilt, migrating again leaves the index alone.
    db.execute_by_hand("DELETE FROM search_docs").await;
    s.migrate().await.unwrap();
    assert_eq!(search().await, 0);
}

async fn demo_customers_are_idempotent(db: &TestDb) {
    let n = kefu_store::demo::generate_customers(
        &db.store,
        2_500,
        1,
        jiff::civil::Date::new(2026, 11, 23).unwrap(),
        now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(n, 2_500);
    let again = kefu_store::demo::generate_customers(
        &db.store,
        3_000,
        1,
        jiff::civil::Date::new(2026, 11, 23).unwrap(),
        now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(again, 500);
    assert_eq!(db.store.count_customers().await.unwrap(), 3_000);
}
