//! One's own account: the password page, forced after signing in with a one-time
//! password (every other page redirects here until it is set) and reachable at any
//! time from the user menu. The policy is stated before typing.

use askama::Template;
use axum::response::Response;
use kefu_domain::staff::NewPassword;
use kefu_i18n::Catalog;

use super::{Chrome, Viewer, home_of, render};

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    t: &'static Catalog,
    forced: bool,
    current_label: String,
    policy: Vec<String>,
    home: &'static str,
}

/// The password policy in the viewer's words, from the policy's own figures.
pub(crate) fn policy(t: &Catalog) -> Vec<String> {
    vec![
        t.f(
            "password.rule_length",
            &[
                ("min", NewPassword::MIN_LEN.to_string()),
                ("max", NewPassword::MAX_LEN.to_string()),
            ],
        ),
        t.s("password.rule_mix").to_owned(),
        t.s("password.rule_staff_no").to_owned(),
    ]
}

/// `/console/password`.
pub(crate) async fn password(viewer: Viewer) -> Response {
    let t = viewer.t;
    let forced = viewer.principal.staff.must_change_password;
    render(&PasswordPage {
        chrome: viewer.chrome("password", t.s("password.title")),
        t,
        forced,
        current_label: t
            .s(if forced {
                "password.current_one_time"
            } else {
                "password.current"
            })
            .to_owned(),
        policy: policy(t),
        home: home_of(viewer.role()),
    })
}
