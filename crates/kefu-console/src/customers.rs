//! The customer archive in the console (S1): the list with the segment filters,
//! paging and counts; a customer's whole profile, masked per role, with the tier
//! history, the do-not-call switch and the timeline linking each call, order,
//! campaign and incident; the form for a new customer and for changes (every
//! invalid field told at once, a concurrent change explained); the import with its
//! preview, report and rejected rows; exports of the filtered list.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use jiff::Timestamp;
use kefu_domain::Permission;
use kefu_domain::customer::{AgeBand, BehaviourType, CustomerKind, Gender, Liquidity, PhoneLabel};
use kefu_domain::phone::PhoneNumber;
use kefu_files::customers::Field;
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::PageRequest;
use kefu_store::customers::{Customer, CustomerFilter};
use kefu_store::workorders::WorkOrderFilter;
use serde::Deserialize;

use super::{Chrome, Viewer, local_time, render};

type Options = Vec<(String, String, bool)>;

/// A labelled enum's values as choices, in the viewer's words (`prefix.code`).
fn choices<T: Copy>(
    t: &Catalog,
    all: &[T],
    code: impl Fn(T) -> &'static str,
    prefix: &str,
    selected: Option<&str>,
) -> Options {
    all.iter()
        .map(|v| {
            let c = code(*v);
            (
                c.to_owned(),
                t.s(&format!("{prefix}.{c}")).to_owned(),
                selected == Some(c),
            )
        })
        .collect()
}

/// The segment filters' choices (tier, kind, gender, age band, liquidity) for a
/// form that selects customers (a campaign's target list).
pub(crate) struct SegmentChoices {
    pub tiers: Options,
    pub kinds: Options,
    pub genders: Options,
    pub age_bands: Options,
    pub liquidities: Options,
}

pub(crate) async fn segment_choices(state: &AppState, t: &Catalog) -> SegmentChoices {
    SegmentChoices {
        tiers: tier_names(state)
            .await
            .into_iter()
            .map(|(c, n)| (c, n, false))
            .collect(),
        kinds: choices(
            t,
            CustomerKind::ALL,
            CustomerKind::code,
            "customer_kind",
            None,
        ),
        genders: choices(t, Gender::ALL, Gender::code, "gender", None),
        age_bands: choices(t, AgeBand::ALL, AgeBand::code, "age_band", None),
        liquidities: choices(t, Liquidity::ALL, Liquidity::code, "liquidity", None),
    }
}

fn label<T: Copy>(
    t: &Catalog,
    v: Option<T>,
    code: impl Fn(T) -> &'static str,
    prefix: &str,
) -> String {
    v.map(|v| t.s(&format!("{prefix}.{}", code(v))).to_owned())
        .unwrap_or_default()
}

/// Tier names by code, from the rules in force.
async fn tier_names(state: &AppState) -> Vec<(String, String)> {
    state
        .store
        .tier_rules()
        .await
        .map(|r| r.rules)
        .unwrap_or_else(|_| kefu_domain::tiering::TierRules::default_rules())
        .tiers()
        .iter()
        .map(|t| (t.code.clone(), t.name.clone()))
        .collect()
}

fn tier_name(names: &[(String, String)], code: &str) -> String {
    names
        .iter()
        .find(|(c, _)| c == code)
        .map_or_else(|| code.to_owned(), |(_, n)| n.clone())
}

struct Row {
    id: i64,
    code: String,
    name: String,
    tier: String,
    tier_name: String,
    phones: String,
    area: String,
    tags: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static Catalog,
    q: String,
    filters: Filters,
    tiers: Options,
    kinds: Options,
    genders: Options,
    age_bands: Options,
    liquidities: Options,
    rows: Vec<Row>,
    total: String,
    prev: Option<String>,
    next: Option<String>,
    may_create: bool,
    may_import: bool,
    exports: Option<(String, String)>,
}

/// The segment filters as the list form holds them.
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct Filters {
    q: Option<String>,
    tier: Option<String>,
    kind: Option<String>,
    occupation: Option<String>,
    age_band: Option<String>,
    gender: Option<String>,
    position: Option<String>,
    liquidity: Option<String>,
    service_area: Option<String>,
    tags: Option<String>,
    page: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filters {
    fn filter(&self) -> Result<CustomerFilter, kefu_domain::FieldError> {
        CustomerFilter::parse(&kefu_store::customers::SegmentText {
            tier: self.tier.as_deref(),
            kind: self.kind.as_deref(),
            occupation: self.occupation.as_deref(),
            age_band: self.age_band.as_deref(),
            gender: self.gender.as_deref(),
            position: self.position.as_deref(),
            liquidity: self.liquidity.as_deref(),
            service_area: self.service_area.as_deref(),
            tags: self.tags.as_deref(),
        })
    }

    /// The filters as a query string (without the page).
    fn query(&self) -> String {
        [
            ("tier", &self.tier),
            ("kind", &self.kind),
            ("occupation", &self.occupation),
            ("age_band", &self.age_band),
            ("gender", &self.gender),
            ("position", &self.position),
            ("liquidity", &self.liquidity),
            ("service_area", &self.service_area),
            ("tags", &self.tags),
        ]
        .iter()
        .filter_map(|(k, v)| nonempty(v).map(|v| format!("{k}={}", super::pages::encode(v))))
        .collect::<Vec<_>>()
        .join("&")
    }

    fn text(&self, v: &Option<String>) -> String {
        v.clone().unwrap_or_default()
    }
}

const PAGE: i64 = 50;

/// The list says "more than 1 000" beyond this: an exact count of a broad segment
/// would read every customer in it on each page; the export and a campaign's
/// target list give the exact size.
const COUNT_TO: i64 = 1_000;

fn phones_of(c: &Customer, full: bool) -> String {
    c.phones
        .iter()
        .map(|p| p.shown(full))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `/console/customers`: a segment (the archive's filters) a page at a time, or
/// the customers a search finds.
pub(crate) async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(f): Query<Filters>,
) -> Response {
    if let Err(r) = viewer.require(Permission::CustomerRead) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let full = viewer.may(Permission::CustomerContactsFull);
    let names = tier_names(&state).await;
    let q: String = nonempty(&f.q)
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    let page = f.page.unwrap_or(1).max(1);
    let (customers, total, more) = if !q.is_empty() {
        let found = if let Ok(number) = PhoneNumber::parse(&q, state.config.area_code.as_deref()) {
            state.store.lookup_by_phone(&actor, number.key(), now).await
        } else {
            state.store.find_customers(&actor, &q, PAGE, now).await
        };
        match found {
            Ok(c) => {
                let n = c.len();
                (c, t.f("customers.found", &[("n", n.to_string())]), false)
            }
            Err(e) => return viewer.failure(e),
        }
    } else {
        let filter = match f.filter() {
            Ok(filter) => filter,
            // Only an address typed by hand gets here: the form offers known values.
            Err(e) => {
                tracing::debug!(error = %e, "customer list filter refused");
                return viewer.message(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "customers.bad_filter",
                );
            }
        };
        match state
            .store
            .list_customers_counting_to(
                &actor,
                &filter,
                PageRequest::new((page - 1) * PAGE, PAGE),
                COUNT_TO,
                state.today(),
                now,
            )
            .await
        {
            Ok(p) => {
                let more =
                    p.items.len() as i64 == PAGE && (!p.total_exact || page * PAGE < p.total);
                let total = if p.total_exact {
                    t.f("customers.total", &[("n", p.total.to_string())])
                } else {
                    t.f("customers.total_more", &[("n", p.total.to_string())])
                };
                (p.items, total, more)
            }
            Err(e) => return viewer.failure(e),
        }
    };
    let base = f.query();
    let link = |p: i64| {
        if base.is_empty() {
            format!("/console/customers?page={p}")
        } else {
            format!("/console/customers?{base}&page={p}")
        }
    };
    render(&ListPage {
        chrome: viewer.chrome("customers", t.s("customers.title")),
        t,
        q,
        tiers: names
            .iter()
            .map(|(c, n)| (c.clone(), n.clone(), nonempty(&f.tier) == Some(c)))
            .collect(),
        kinds: choices(
            t,
            CustomerKind::ALL,
            CustomerKind::code,
            "customer_kind",
            nonempty(&f.kind),
        ),
        genders: choices(t, Gender::ALL, Gender::code, "gender", nonempty(&f.gender)),
        age_bands: choices(
            t,
            AgeBand::ALL,
            AgeBand::code,
            "age_band",
            nonempty(&f.age_band),
        ),
        liquidities: choices(
            t,
            Liquidity::ALL,
            Liquidity::code,
            "liquidity",
            nonempty(&f.liquidity),
        ),
        rows: customers
            .iter()
            .map(|c| Row {
                id: c.id,
                code: c.code.clone(),
                name: c.name.clone(),
                tier: c.tier.clone(),
                tier_name: tier_name(&names, &c.tier),
                phones: phones_of(c, full),
                area: c.service_area.clone().unwrap_or_default(),
                tags: c.tags.join("、"),
            })
            .collect(),
        total,
        prev: (page > 1 && nonempty(&f.q).is_none()).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        may_create: viewer.may(Permission::CustomerWrite),
        may_import: viewer.may(Permission::CustomerImport),
        exports: viewer.may(Permission::CustomerExport).then(|| {
            let sep = if base.is_empty() { "" } else { "&" };
            (
                format!("/api/v1/customers/export?format=csv{sep}{base}"),
                format!("/api/v1/customers/export?format=xlsx{sep}{base}"),
            )
        }),
        filters: f,
    })
}

struct Fact {
    label: String,
    value: String,
}

struct TimelineRow {
    at: String,
    what: String,
    detail: String,
    href: Option<String>,
}

struct HistoryRow {
    at: String,
    change: String,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct ProfilePage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    name: String,
    code: String,
    tier: String,
    tier_name: String,
    behaviour: String,
    behaviour_hint: String,
    tags: Vec<String>,
    facts: Vec<Fact>,
    long: Vec<Fact>,
    masked: bool,
    do_not_call: bool,
    may_edit: bool,
    may_open_order: bool,
    may_set_dnc: bool,
    dial_on: bool,
    history: Vec<HistoryRow>,
    timeline: Vec<TimelineRow>,
}

/// `/console/customers/{id}`: the whole profile, masked per role, and everything
/// that happened with the customer.
pub(crate) async fn profile(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::CustomerRead) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let c = match state.store.read_customer(&actor, id, now).await {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let tz = &state.config.time_zone;
    let names = tier_names(&state).await;
    let full = viewer.may(Permission::CustomerContactsFull);
    let assets_full = viewer.may(Permission::CustomerAssetsFull);
    let history = state.store.tier_history(id).await.unwrap_or_default();
    let do_not_call = state.store.do_not_call(id).await.unwrap_or(false);
    let timeline = timeline(&viewer, &state, &c).await;
    let mut facts = vec![
        (
            "field.kind",
            label(t, Some(c.kind), CustomerKind::code, "customer_kind"),
        ),
        ("field.phones", phones_of(&c, full)),
        (
            "field.email",
            c.email
                .as_ref()
                .map(|e| if full { e.clone() } else { "***".into() })
                .unwrap_or_default(),
        ),
        ("field.address", c.address.clone().unwrap_or_default()),
        (
            "field.service_area",
            c.service_area.clone().unwrap_or_default(),
        ),
        ("field.occupation", c.occupation.clone().unwrap_or_default()),
        ("field.position", c.position.clone().unwrap_or_default()),
        (
            "field.birth_date",
            c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "field.age_band",
            label(t, c.age_band, AgeBand::code, "age_band"),
        ),
        ("field.gender", label(t, c.gender, Gender::code, "gender")),
        (
            "field.assets",
            match c.assets {
                Some(a) if assets_full => a.to_string(),
                Some(_) => t.s("customers.hidden").to_owned(),
                None => String::new(),
            },
        ),
        (
            "field.liquidity",
            label(t, c.liquidity, Liquidity::code, "liquidity"),
        ),
        (
            "field.preferred_contact_time",
            c.preferred_contact_time.clone().unwrap_or_default(),
        ),
    ];
    facts.retain(|(_, v)| !v.is_empty());
    let long = [
        ("field.preferences", &c.preferences),
        ("field.family", &c.family),
        ("field.needs", &c.needs),
        ("field.notes", &c.notes),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref().map(|v| Fact {
            label: t.s(k).to_owned(),
            value: v.clone(),
        })
    })
    .collect();
    render(&ProfilePage {
        chrome: viewer.chrome("customers", &c.name),
        t,
        id,
        name: c.name.clone(),
        code: c.code.clone(),
        tier: c.tier.clone(),
        tier_name: tier_name(&names, &c.tier),
        behaviour: label(t, c.behaviour_type, BehaviourType::code, "behaviour"),
        behaviour_hint: c
            .behaviour_type
            .map(|b| t.s(&format!("behaviour.hint_{}", b.code())).to_owned())
            .unwrap_or_default(),
        tags: c.tags.clone(),
        facts: facts
            .into_iter()
            .map(|(k, v)| Fact {
                label: t.s(k).to_owned(),
                value: v,
            })
            .collect(),
        long,
        masked: !full || !assets_full,
        do_not_call,
        may_edit: viewer.may(Permission::CustomerWrite),
        may_open_order: viewer.may(Permission::WorkOrderCreate),
        may_set_dnc: viewer.may(Permission::CustomerWrite),
        dial_on: crate::pages::dial_on(&state, &viewer).await,
        history: history
            .iter()
            .map(|h| HistoryRow {
                at: local_time(tz, h.at),
                change: match &h.from_tier {
                    Some(from) => t.f(
                        "customers.tier_changed",
                        &[
                            ("from", tier_name(&names, from)),
                            ("to", tier_name(&names, &h.to_tier)),
                        ],
                    ),
                    None => t.f(
                        "customers.tier_set",
                        &[("to", tier_name(&names, &h.to_tier))],
                    ),
                },
            })
            .collect(),
        timeline,
    })
}

/// Calls, work orders, follow-ups and notices of a customer, newest first, each
/// linking to its record where the viewer may open it.
async fn timeline(viewer: &Viewer, state: &AppState, c: &Customer) -> Vec<TimelineRow> {
    let t = viewer.t;
    let tz = &state.config.time_zone;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let mut rows: Vec<(Timestamp, TimelineRow)> = Vec::new();
    if let Ok(orders) = state
        .store
        .list_work_orders(
            None,
            &WorkOrderFilter {
                customer_id: Some(c.id),
                ..Default::default()
            },
            PageRequest::new(0, 30),
            now,
        )
        .await
    {
        let may_open = viewer.may(Permission::WorkOrderRead);
        for o in orders.items {
            rows.push((
                o.created_at,
                TimelineRow {
                    at: String::new(),
                    what: t.f("customers.tl_order", &[("number", o.number.as_str())]),
                    detail: format!(
                        "{} · {}",
                        o.subject,
                        t.s(&format!("state.{}", o.state.code()))
                    ),
                    href: may_open.then(|| format!("/console/work-orders/{}", o.id)),
                },
            ));
        }
    }
    if viewer.may(Permission::ContactRead)
        && let Ok(contacts) = state
            .store
            .list_contacts(&actor, Some(c.id), None, PageRequest::new(0, 30), now)
            .await
    {
        for k in contacts.items {
            let category = k.category.map_or_else(
                || t.s("customers.tl_call").to_owned(),
                |x| t.s(&format!("category.{}", x.code())).to_owned(),
            );
            rows.push((
                k.created_at,
                TimelineRow {
                    at: String::new(),
                    what: t.f(
                        if k.direction == kefu_domain::contact::Direction::Outbound {
                            "customers.tl_outbound"
                        } else {
                            "customers.tl_inbound"
                        },
                        &[("category", category.as_str())],
                    ),
                    detail: k.summary.unwrap_or_default(),
                    href: k
                        .outcome_work_order_id
                        .map(|o| format!("/console/work-orders/{o}")),
                },
            ));
        }
    }
    if let Ok(campaigns) = state.store.customer_campaigns(c.id, 20).await {
        let may_open = viewer.may(Permission::CampaignRead);
        for k in campaigns {
            rows.push((
                k.at,
                TimelineRow {
                    at: String::new(),
                    what: t.f("customers.tl_campaign", &[("name", k.name.as_str())]),
                    detail: k
                        .last_result
                        .as_deref()
                        .map(|r| t.s(&format!("attempt_result.{r}")).to_owned())
                        .unwrap_or_else(|| t.s(&format!("target_status.{}", k.status)).to_owned()),
                    href: may_open.then(|| format!("/console/campaigns/{}", k.campaign_id)),
                },
            ));
        }
    }
    if let Ok(notices) = state.store.customer_notices(c.id, 20).await {
        let may_open = viewer.may(Permission::IncidentRead);
        for n in notices {
            rows.push((
                n.at,
                TimelineRow {
                    at: String::new(),
                    what: t.f("customers.tl_incident", &[("title", n.title.as_str())]),
                    detail: t.s(&format!("notices.outcome_{}", n.outcome)).to_owned(),
                    href: may_open.then(|| format!("/console/incidents/{}", n.incident_id)),
                },
            ));
        }
    }
    rows.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    rows.into_iter()
        .map(|(at, mut row)| {
            row.at = local_time(tz, at);
            row
        })
        .collect()
}

struct PhoneRow {
    labels: Options,
    number: String,
}

#[derive(Template)]
#[template(path = "customer_form.html")]
struct FormPage {
    chrome: Chrome,
    t: &'static Catalog,
    /// None for a new customer.
    id: Option<i64>,
    version: i64,
    v: FormValues,
    kinds: Options,
    genders: Options,
    age_bands: Options,
    liquidities: Options,
    behaviours: Options,
    phones: Vec<PhoneRow>,
    blank_phone: PhoneRow,
    assets_hidden: bool,
}

#[derive(Default)]
struct FormValues {
    code: String,
    name: String,
    email: String,
    address: String,
    service_area: String,
    occupation: String,
    birth_date: String,
    position: String,
    assets: String,
    preferences: String,
    family: String,
    needs: String,
    notes: String,
    tags: String,
    preferred_contact_time: String,
}

impl FormPage {
    /// Where the profile sits in the body: a change sends `{version, customer}`,
    /// a new customer the profile itself.
    fn prefix(&self) -> &'static str {
        if self.id.is_some() { "customer." } else { "" }
    }
}

fn phone_labels(t: &Catalog, selected: Option<&str>) -> Options {
    choices(
        t,
        PhoneLabel::ALL,
        PhoneLabel::code,
        "phone_label",
        selected,
    )
}

/// `/console/customers/new`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewCustomerQuery {
    /// The caller's number, when the desk opens the form for an unknown caller.
    phone: Option<String>,
}

pub(crate) async fn new_customer(viewer: Viewer, Query(q): Query<NewCustomerQuery>) -> Response {
    if let Err(r) = viewer.require(Permission::CustomerWrite) {
        return r;
    }
    let t = viewer.t;
    let number: String = q
        .phone
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+' || *c == '-' || *c == ' ')
        .take(24)
        .collect();
    render(&FormPage {
        chrome: viewer.chrome("customers", t.s("customers.new")),
        t,
        id: None,
        version: 0,
        v: FormValues::default(),
        kinds: choices(
            t,
            CustomerKind::ALL,
            CustomerKind::code,
            "customer_kind",
            Some("person"),
        ),
        genders: choices(t, Gender::ALL, Gender::code, "gender", None),
        age_bands: choices(t, AgeBand::ALL, AgeBand::code, "age_band", None),
        liquidities: choices(t, Liquidity::ALL, Liquidity::code, "liquidity", None),
        behaviours: choices(
            t,
            BehaviourType::ALL,
            BehaviourType::code,
            "behaviour",
            None,
        ),
        phones: vec![PhoneRow {
            labels: phone_labels(t, Some("mobile")),
            number,
        }],
        blank_phone: PhoneRow {
            labels: phone_labels(t, Some("mobile")),
            number: String::new(),
        },
        assets_hidden: false,
    })
}

/// `/console/customers/{id}/edit`: every field as stored, sent back whole with the
/// version it was read at.
pub(crate) async fn edit_customer(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::CustomerWrite) {
        return r;
    }
    let t = viewer.t;
    let c = match state
        .store
        .read_customer(&viewer.principal.actor(), id, state.clock.now())
        .await
    {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let assets_hidden = !viewer.may(Permission::CustomerAssetsFull);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    render(&FormPage {
        chrome: viewer.chrome("customers", &c.name),
        t,
        id: Some(c.id),
        version: c.version,
        v: FormValues {
            code: c.code.clone(),
            name: c.name.clone(),
            email: text(&c.email),
            address: text(&c.address),
            service_area: text(&c.service_area),
            occupation: text(&c.occupation),
            birth_date: c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            position: text(&c.position),
            assets: if assets_hidden {
                String::new()
            } else {
                c.assets.map(|a| a.to_string()).unwrap_or_default()
            },
            preferences: text(&c.preferences),
            family: text(&c.family),
            needs: text(&c.needs),
            notes: text(&c.notes),
            tags: c.tags.join("、"),
            preferred_contact_time: text(&c.preferred_contact_time),
        },
        kinds: choices(
            t,
            CustomerKind::ALL,
            CustomerKind::code,
            "customer_kind",
            Some(c.kind.code()),
        ),
        genders: choices(
            t,
            Gender::ALL,
            Gender::code,
            "gender",
            c.gender.map(Gender::code),
        ),
        age_bands: choices(
            t,
            AgeBand::ALL,
            AgeBand::code,
            "age_band",
            // A stored birth date decides the band.
            if c.birth_date.is_none() {
                c.age_band.map(AgeBand::code)
            } else {
                None
            },
        ),
        liquidities: choices(
            t,
            Liquidity::ALL,
            Liquidity::code,
            "liquidity",
            c.liquidity.map(Liquidity::code),
        ),
        behaviours: choices(
            t,
            BehaviourType::ALL,
            BehaviourType::code,
            "behaviour",
            c.behaviour_type.map(BehaviourType::code),
        ),
        phones: c
            .phones
            .iter()
            .map(|p| PhoneRow {
                labels: phone_labels(t, Some(p.label.code())),
                number: p.number().map_or_else(|| p.key.clone(), |n| n.display()),
            })
            .collect(),
        blank_phone: PhoneRow {
            labels: phone_labels(t, Some("mobile")),
            number: String::new(),
        },
        assets_hidden,
    })
}

struct FieldChoice {
    code: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "customer_import.html")]
struct ImportPage {
    chrome: Chrome,
    t: &'static Catalog,
    fields: Vec<FieldChoice>,
}

/// `/console/customers/import`: choose a file, see how it reads (encoding, which
/// column fills which field, the first rows), adjust, import, read the report and
/// download the rejected rows to correct.
pub(crate) async fn import(viewer: Viewer) -> Response {
    if let Err(r) = viewer.require(Permission::CustomerImport) {
        return r;
    }
    let t = viewer.t;
    render(&ImportPage {
        chrome: viewer.chrome("customers", t.s("import.title")),
        t,
        fields: Field::all()
            .map(|(_, code)| FieldChoice {
                code,
                label: t.s(&format!("field.{code}")).to_owned(),
            })
            .collect(),
    })
}
