//! Why input was refused, as data: a stable code and the figures that explain it.
//!
//! A [`Reason`] says *what* is wrong (`too_long`, max 64) and never *how to say it*:
//! the words live in the message catalogs (`reason.<code>` in `kefu-i18n`), in each
//! language. The API sends the code and figures beside an English message made from
//! the catalog; the console renders the same code in the viewer's language at the
//! field. Every code is declared once below, with the names of its figures, so a test
//! can check that each has its words in every catalog.

use serde::Serialize;

/// Why a value was refused: a code from [`REASONS`] and its figures. Serialised as
/// `{"code": "too_long", "args": {"max": "64"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    code: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Reason {
    /// The stable code, e.g. `too_long`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The figures, by name, e.g. `[("max", "64")]`.
    pub fn args(&self) -> &[(&'static str, String)] {
        &self.args
    }

    /// A reason read back from its code and figures (as the API sends them), to
    /// say it in another language; `None` for a code that is not declared.
    pub fn restore<'a>(
        code: &str,
        args: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<Reason> {
        let (code, names) = REASONS.iter().find(|(c, _)| *c == code)?;
        let mut reason = Reason {
            code,
            args: Vec::new(),
        };
        for (name, value) in args {
            let name = names.iter().chain(&["line"]).find(|n| **n == name)?;
            reason.args.push((name, value.to_owned()));
        }
        Some(reason)
    }

    /// The same reason at `line` of a file (0: the file as a whole): a figure
    /// `line` that the words show (“第 3 行：…”).
    pub fn at_line(mut self, line: usize) -> Reason {
        if line > 0 {
            self.args.push(("line", line.to_string()));
        }
        self
    }

    /// The figure named `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Args<'a>(&'a [(&'static str, String)]);
        impl Serialize for Args<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("code", self.code)?;
        map.serialize_entry("args", &Args(&self.args))?;
        map.end()
    }
}

/// For logs and tests: `too_long(max=64)`.
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)?;
        if !self.args.is_empty() {
            let args: Vec<String> = self.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "({})", args.join(", "))?;
        }
        Ok(())
    }
}

/// One refused field and why. Fields are named as the API's JSON names them
/// (`phones[1]`, `outcome.due`), so a form shows the reason at its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub reason: Reason,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<Reason>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

macro_rules! reasons {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident),* ) ;)*) => {
        impl Reason {
            $(
                $(#[$doc])*
                pub fn $name($($arg: impl std::fmt::Display),*) -> Reason {
                    Reason {
                        code: stringify!($name),
                        args: vec![$((stringify!($arg), $arg.to_string())),*],
                    }
                }
            )*
        }

        /// Every reason code with the names of its figures.
        pub const REASONS: &[(&str, &[&str])] = &[
            $( (stringify!($name), &[$(stringify!($arg)),*]) ),*
        ];
    };
}

reasons! {
    // Text and choices.
    /// Left empty, but needed.
    required();
    /// Longer than allowed.
    too_long(max);
    /// A control character (other than a line break where lines are allowed).
    control_character();
    /// A character not allowed here.
    bad_character(value);
    /// A code with other characters than ASCII letters, digits, '-' and '_'.
    code_characters();
    /// Not one of the values offered.
    not_one_of(allowed);
    /// More items than allowed.
    too_many(max);
    /// Fewer items than needed.
    too_few(min);
    /// The same value given twice.
    duplicate(value);
    /// A comma inside one item of a list.
    contains_comma(value);
    /// A number outside its range.
    out_of_range(min, max);
    /// A number above its maximum.
    at_most(max);
    /// A number below its minimum.
    at_least(min);
    /// Not a date (2026-10-01).
    not_a_date(value);
    /// Not a time of day (08:30).
    not_a_time(value);
    /// Not an instant with a time zone (2026-10-01T08:30:00+08:00).
    not_an_instant(value);
    /// Not a span of the day (11:30-13:30).
    not_a_span(value);
    /// A span or range whose end is not after its start.
    runs_backwards(value);
    /// Must come after another field.
    not_after(other);
    /// Must come before another field.
    not_before(other);
    /// Must be in the future.
    not_in_future();
    /// Must not be in the future.
    in_future();
    /// Further ahead than allowed, in days.
    too_far_ahead(days);
    /// A date before 1900.
    before_1900();
    /// Not an e-mail address.
    not_an_email(value);
    /// Not an http:// address with a host.
    not_an_http_url();
    /// A record named by id that does not exist (or is not visible).
    unknown_record();
    /// A reference to something unknown by that name.
    unknown_value(value);
    /// Not accepted in this situation.
    not_applicable();
    /// Paging: a negative offset.
    negative();
    /// A period longer than allowed, in days.
    period_too_long(days);
    /// Not a work-order number (GD…).
    not_an_order_number();
    /// Not exactly four digits.
    four_digits();
    /// A segment too large to export at once.
    export_too_large(max);

    // Accounts.
    /// An integration account: it works with tokens and has no password.
    tokens_only();
    /// The current password given does not match.
    wrong_password();
    /// A new password shorter than the policy's minimum.
    password_too_short(min);
    /// A new password longer than the policy's maximum.
    password_too_long(max);
    /// A new password of one kind of character only.
    password_too_simple();
    /// A new password containing the staff number.
    password_contains_staff_no();
    /// A handler without a department.
    handler_needs_department();
    /// An administrator disabling their own account.
    cannot_disable_self();
    /// An administrator changing their own role.
    cannot_demote_self();

    // Phone numbers and money.
    /// A character that is no part of a phone number.
    phone_bad_character(value);
    /// A foreign country code.
    phone_foreign(value);
    /// A digit count that fits no Chinese number.
    phone_bad_length(digits);
    /// Not a valid mobile number.
    phone_bad_mobile(value);
    /// Not a valid area code.
    phone_bad_area_code(value);
    /// A local number of the wrong length.
    phone_bad_local(value);
    /// A local number and no default area code configured.
    phone_needs_area_code();
    /// An extension that is not 1–6 digits.
    phone_bad_extension(value);
    /// The same number listed twice.
    phone_twice(value);
    /// Not an amount of money.
    amount_invalid(value);
    /// More than two decimals.
    amount_too_precise(value);
    /// Too large an amount.
    amount_too_large(value);
    /// A negative amount.
    amount_negative();
    /// A penalty outside the configured range.
    penalty_out_of_range(min, max);

    // Files.
    /// Text that does not parse as its format; `detail` is the parser's own words.
    file_syntax(detail);
    /// A transcript turn without a speaker.
    transcript_no_speaker();
    /// A transcript turn that ends before it starts.
    transcript_backwards();
    /// An SRT cue that does not start with its number.
    transcript_cue_number(value);
    /// A cue without its timing line.
    transcript_no_timing();
    /// A timing line that does not parse.
    transcript_bad_timing(value);
    /// A speaker that is neither agent nor customer.
    transcript_unknown_speaker(value);
    /// A WebVTT file without its header.
    transcript_not_vtt();
    /// A time that is not seconds or HH:MM:SS.mmm.
    transcript_bad_time(value);
    /// A file that cannot be read at all; `detail` is the parser's own words.
    file_unreadable(detail);
    /// A file bigger than allowed.
    file_too_large(max_mib);
    /// A file that is neither text nor a spreadsheet.
    file_not_a_table();
    /// Text that is not valid in its encoding.
    file_bad_encoding(encoding, offset);
    /// A UTF-16 text file.
    file_utf16();
    /// A workbook without a worksheet.
    file_no_sheet();
    /// A header row with an empty column name.
    file_empty_header(column);
    /// A character encoding that is not UTF-8, GBK or GB18030.
    unknown_encoding(value);
    /// A header map entry that is not `header=field`.
    header_map_invalid(value);
    /// A header map naming a column the file does not have.
    header_map_no_column(value);
    /// A name that is no customer field.
    unknown_field(value);
    /// The same customer field mapped from two columns.
    column_twice(value);
    /// A file with no data rows.
    file_empty();
    /// A file with more rows than allowed.
    file_too_many_rows(max);
    /// A file with more columns than allowed.
    file_too_many_columns(max);
    /// A row with more cells than the header has columns.
    row_too_many_cells(cells, columns);
    /// A required column absent from the file.
    column_missing(column);
    /// A row without a code that matches no customer by phone.
    row_no_code_no_match();
    /// A row whose phone matches several customers.
    row_ambiguous_phone(count);
    /// A row repeating a code seen earlier in the file.
    row_repeats_code(value, row);

    // Calendar and deadlines.
    /// No working hours on any weekday.
    calendar_no_hours();
    /// An interval that overlaps another.
    intervals_overlap();
    /// A holiday range longer than 60 days.
    holiday_too_long(value);
    /// A date listed both as holiday and as working day.
    holiday_and_workday(date);
    /// A line of the calendar file the parser does not know.
    calendar_unknown_line(value);
    /// No fallback deadline policy for any kind and priority.
    sla_no_fallback();
    /// Two deadline policies for the same kind and priority.
    sla_duplicate();

    // Tiers.
    /// The lowest tier does not start at zero.
    tier_lowest_not_zero();
    /// Two tiers with the same minimum.
    tier_same_minimum(a, b);

    // Work orders and calls.
    /// A workflow command refused in the order's state.
    illegal_transition(state, command);
    /// A transfer to the department the order is already in.
    transfer_same_department();
    /// An outcome that needs a work order opened from the call.
    outcome_needs_order();
    /// A callback that is already done.
    callback_done();
    /// A work order was opened from the call: that stays its outcome.
    outcome_stays_order();

    // Campaigns.
    /// A questionnaire question whose id is used twice.
    question_twice(value);
    /// A question that names no question of the questionnaire.
    no_such_question(value);
    /// A choice question with fewer than two options.
    choice_needs_options();
    /// Options on a question that is not a choice.
    options_not_choice();
    /// A campaign selection that matches nobody.
    selection_empty();
    /// A random sample without its size.
    sample_needs_size();
    /// Answers for a campaign without questionnaire.
    no_questionnaire();
    /// A scale answer outside 1–5.
    answer_scale();
    /// A choice answer that is not among the options.
    answer_options(options);
    /// A calling window outside 08:00–22:00 for home numbers.
    home_hours_only();
    /// An attempt on a target that is not waiting to be called.
    target_not_pending(status);
    /// A satisfaction score given with a command that is not a callback's.
    satisfaction_only_on_callback();
    /// A callback's score against the rule (3 or more: satisfied).
    satisfaction_against_rule(score);
    /// A campaign command refused in the campaign's status.
    campaign_command_refused(command, status);
    /// Calls are made only while the campaign is active.
    campaign_not_active(status);

    // Incidents.
    /// A template variable that is not known.
    template_unknown_variable(name, at);
    /// A '{' never closed.
    template_unclosed(at);
    /// A single '}'.
    template_stray_brace(at);
    /// An incident command refused in its state.
    incident_command_refused(command, status);
    /// A send review refused in the send's state.
    send_review_refused(review, state);

    // Phrasebook, inspection and knowledge.
    /// A placeholder in a phrase that is not known.
    placeholder_unknown(name);
    /// A '{' in a phrase never closed.
    placeholder_unclosed();
    /// A pattern that is not a valid expression.
    pattern_invalid(detail);
    /// A pattern that matches empty text.
    pattern_matches_empty();
    /// Both or neither of text and pattern.
    text_or_pattern();
    /// A dictionary word outside 2–20 characters or with other characters.
    word_invalid(value);
    /// A synonym group with fewer than two words.
    group_too_small();
    /// A change that changes nothing.
    no_change();
    /// An item that was skipped cannot be reviewed.
    item_skipped();
    /// A search query with no word in it.
    query_no_words();

    // Assessment.
    /// A violation command refused in its state.
    violation_command_refused(command, status);
    /// An appeal without the agent's reason.
    appeal_needs_reason();
    /// Only the agent named may appeal.
    appeal_not_yours();
    /// An agent deciding their own appeal.
    decide_own_appeal();

    /// An active agent is needed.
    not_an_agent(value);
    /// The campaign is not running now.
    campaign_not_running();
    /// The target or customer is held by someone else, or the campaign is not
    /// assigned to this agent.
    not_assigned_to_you();
    /// Click-to-dial needs the agent signed in at an extension.
    seat_required();
    /// Not while a call rings or is going on.
    on_a_call();
    /// The call's recording cannot be fetched from where the PBX keeps it.
    recording_unavailable();
    /// Click-to-dial found no number to call.
    nothing_to_dial();
    /// A complaint callback without the customer's satisfaction.
    satisfaction_needed();
    /// A dissatisfied customer without the notes saying why.
    dissatisfaction_needs_notes();
    /// A built-in kind keeps its workflow.
    builtin_keeps_workflow();
    /// No routing rule matches: name the department.
    no_routing_rule();
    /// A command that needs a note.
    needs_note(command);
    /// A row whose phone updates a customer an earlier row updates.
    row_repeats_customer(row);

    // Conflicts (answered 409).
    /// The record changed since it was read: reload.
    stale_version(current);
    /// The record was saved by someone else since it was read.
    stale_version_by(current, by);
    /// No progress notice is due in this state.
    no_progress_notice_due(state);
    /// The incident is not notifying now.
    not_notifying();
    /// The call has not ended yet.
    call_not_ended();
    /// A shift is already open.
    already_signed_in();
    /// No shift is open.
    not_signed_in();
    /// Customers were added by someone else while importing.
    import_raced();
    /// A unique value already taken.
    taken(value);
    /// The thing is already done.
    already_done();
    /// The customer's record was deleted.
    gone();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_figures_named() {
        let mut codes: Vec<&str> = REASONS.iter().map(|(c, _)| *c).collect();
        codes.sort();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "a reason code is declared twice");
        let r = Reason::too_long(64);
        assert_eq!((r.code(), r.arg("max")), ("too_long", Some("64")));
        assert_eq!(r.to_string(), "too_long(max=64)");
        assert_eq!(
            FieldError::new("name", Reason::required()).to_string(),
            "name: required"
        );
    }
}
