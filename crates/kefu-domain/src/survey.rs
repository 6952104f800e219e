//! Tallies for the follow-up report (回访报告表): satisfaction distribution and
//! average, and per-question results of a questionnaire. Pure counting over the
//! answers as recorded, so the report is the same whichever backend stored them.

use serde::Serialize;

use crate::campaign::{AnswerValue, Question};

/// Counts of satisfaction scores 1–5 and their average.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Satisfaction {
    /// `counts[i]` is the number of scores `i + 1`.
    pub counts: [u64; 5],
}

impl Satisfaction {
    /// Adds one score; anything outside 1–5 is not a score and is ignored.
    pub fn add(&mut self, score: i64, n: u64) {
        if let Ok(i) = usize::try_from(score - 1)
            && let Some(c) = self.counts.get_mut(i)
        {
            *c += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The mean score, `None` when nobody gave one.
    pub fn average(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| {
            let sum: u64 = self
                .counts
                .iter()
                .enumerate()
                .map(|(i, c)| (i as u64 + 1) * c)
                .sum();
            sum as f64 / total as f64
        })
    }

    /// Share of scores 4–5 (satisfied), in percent.
    pub fn satisfied_percent(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| 100.0 * (self.counts[3] + self.counts[4]) as f64 / total as f64)
    }
}

/// The results of one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionResult {
    pub id: String,
    pub text: String,
    pub kind: String,
    /// How many attempts answered it.
    pub answered: u64,
    /// For scale questions.
    pub scale: Option<Satisfaction>,
    /// For choice questions: each option with its count, in the questionnaire's order.
    pub options: Vec<(String, u64)>,
    /// For text questions: the latest answers (newest first), at most `keep_texts`.
    pub texts: Vec<String>,
}

/// Tallies answers, given as `(question id, answer)` lists (one list per
/// attempt, newest first), against the questionnaire. Answers to questions the
/// questionnaire does not have, or of the wrong shape, are not counted.
pub fn tally<'a, I>(questions: &[Question], attempts: I, keep_texts: usize) -> Vec<QuestionResult>
where
    I: IntoIterator<Item = &'a [(String, AnswerValue)]>,
{
    let mut out: Vec<QuestionResult> = questions
        .iter()
        .map(|q| QuestionResult {
            id: q.id.clone(),
            text: q.text.clone(),
            kind: q.kind.clone(),
            answered: 0,
            scale: (q.kind == "scale").then(Satisfaction::default),
            options: q.options.iter().map(|o| (o.clone(), 0)).collect(),
            texts: Vec::new(),
        })
        .collect();
    for answers in attempts {
        for (id, value) in answers {
            let Some(r) = out.iter_mut().find(|r| &r.id == id) else {
                continue;
            };
            let counted = match (r.kind.as_str(), value) {
                ("scale", AnswerValue::Scale(s)) if (1..=5).contains(s) => {
                    if let Some(scale) = r.scale.as_mut() {
                        scale.add(i64::from(*s), 1);
                    }
                    true
                }
                ("choice" | "multiple", AnswerValue::Choices(chosen)) => {
                    let mut any = false;
                    for c in chosen {
                        if let Some(o) = r.options.iter_mut().find(|(o, _)| o == c) {
                            o.1 += 1;
                            any = true;
                        }
                    }
                    any
                }
                ("text", AnswerValue::Text(t)) if !t.trim().is_empty() => {
                    if r.texts.len() < keep_texts {
                        r.texts.push(t.trim().to_owned());
                    }
                    true
                }
                _ => false,
            };
            if counted {
                r.answered += 1;
            }
        }
    }
    out
}

/// A rate in percent, `None` over nothing.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(id: &str, kind: &str, options: &[&str]) -> Question {
        Question {
            id: id.into(),
            text: format!("问题{id}"),
            kind: kind.into(),
            options: options.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn satisfaction_average_and_share() {
        let mut s = Satisfaction::default();
        s.add(5, 3);
        s.add(4, 1);
        s.add(1, 1);
        s.add(0, 7);
        s.add(6, 7);
        assert_eq!(s.counts, [1, 0, 0, 1, 3]);
        assert_eq!(s.average(), Some(20.0 / 5.0));
        assert_eq!(s.satisfied_percent(), Some(80.0));
        assert_eq!(Satisfaction::default().average(), None);
    }

    #[test]
    fn tally_counts_each_kind_and_ignores_the_unknown() {
        let questions = [
            q("q1", "scale", &[]),
            q("q2", "choice", &["上门", "电话"]),
            q("q3", "multiple", &["价格", "态度", "速度"]),
            q("q4", "text", &[]),
        ];
        let a1 = vec![
            ("q1".to_owned(), AnswerValue::Scale(5)),
            ("q2".to_owned(), AnswerValue::Choices(vec!["上门".into()])),
            (
                "q3".to_owned(),
                AnswerValue::Choices(vec!["态度".into(), "速度".into()]),
            ),
            ("q4".to_owned(), AnswerValue::Text("师傅很准时".into())),
        ];
        let a2 = vec![
            ("q1".to_owned(), AnswerValue::Scale(2)),
            ("q1".to_owned(), AnswerValue::Scale(9)),
            ("q2".to_owned(), AnswerValue::Choices(vec!["其他".into()])),
            ("q4".to_owned(), AnswerValue::Text("  ".into())),
            ("qx".to_owned(), AnswerValue::Scale(3)),
        ];
        let r = tally(&questions, [a1.as_slice(), a2.as_slice()], 10);
        assert_eq!(r[0].answered, 2);
        assert_eq!(r[0].scale.as_ref().map(|s| s.counts), Some([0, 1, 0, 0, 1]));
        assert_eq!(r[1].answered, 1);
        assert_eq!(r[1].options, vec![("上门".into(), 1), ("电话".into(), 0)]);
        assert_eq!(
            r[2].options,
            vec![("价格".into(), 0), ("态度".into(), 1), ("速度".into(), 1)]
        );
        assert_eq!(
            (r[3].answered, r[3].texts.clone()),
            (1, vec!["师傅很准时".to_owned()])
        );
    }

    proptest! {
        #[test]
        fn scale_counts_add_up(scores in proptest::collection::vec(0u8..8, 0..200)) {
            let questions = [q("q1", "scale", &[])];
            let lists: Vec<Vec<(String, AnswerValue)>> = scores
                .iter()
                .map(|s| vec![("q1".to_owned(), AnswerValue::Scale(*s))])
                .collect();
            let r = tally(&questions, lists.iter().map(Vec::as_slice), 0);
            let valid = scores.iter().filter(|s| (1..=5).contains(*s)).count() as u64;
            prop_assert_eq!(r[0].answered, valid);
            let scale = r[0].scale.clone().unwrap_or_default();
            prop_assert_eq!(scale.total(), valid);
            if let Some(avg) = scale.average() {
                prop_assert!((1.0..=5.0).contains(&avg));
            }
        }
    }
}
