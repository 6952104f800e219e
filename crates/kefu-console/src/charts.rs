//! Small server-side SVG charts: grouped bars and lines, with labelled axes. The
//! same data feeds the CSV/XLSX downloads.

use std::fmt::Write;

/// One named series of values, aligned with the chart's labels.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bars,
    Lines,
}

/// A chart: labels along the x axis, one or more series.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub id: &'static str,
    pub title: String,
    pub kind: Kind,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    /// Values are percentages (0–100).
    pub percent: bool,
}

const COLOURS: [&str; 4] = ["#0b5cad", "#e36a00", "#137a3a", "#7a4b9c"];
const W: f64 = 560.0;
const H: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 48.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" upper bound for the axis: 1, 2 or 5 times a power of ten.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if max <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

impl Chart {
    /// The chart as an SVG element (title and values readable by screen readers).
    pub(crate) fn svg(&self) -> String {
        let mut out = String::new();
        let max = if self.percent {
            100.0
        } else {
            // Counts: at least 4, so the four grid steps are whole numbers.
            nice_max(
                self.series
                    .iter()
                    .flat_map(|s| s.values.iter().copied())
                    .fold(0.0, f64::max),
            )
            .max(4.0)
        };
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let n = self.labels.len().max(1) as f64;
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{}" font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif" font-size="11">"#,
            esc(&self.title)
        );
        let _ = write!(out, "<title>{}</title>", esc(&self.title));
        // Grid and y axis.
        for i in 0..=4 {
            let v = max * f64::from(i) / 4.0;
            let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e8ee"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5d6b7d">{}{}</text>"##,
                W - RIGHT,
                LEFT - 4.0,
                y + 4.0,
                fmt_value(v),
                if self.percent { "%" } else { "" }
            );
        }
        let slot = plot_w / n;
        let every = (self.labels.len() / 12).max(1);
        for (i, label) in self.labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let x = LEFT + slot * (i as f64 + 0.5);
            let _ = write!(
                out,
                r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#1c2430">{}</text>"##,
                TOP + plot_h + 16.0,
                esc(label)
            );
        }
        let n_series = self.series.len().max(1) as f64;
        for (s_i, s) in self.series.iter().enumerate() {
            let colour = COLOURS[s_i % COLOURS.len()];
            match self.kind {
                Kind::Bars => {
                    let bar_w = (slot * 0.8 / n_series).max(1.0);
                    for (i, v) in s.values.iter().enumerate() {
                        let h = if max > 0.0 { plot_h * v / max } else { 0.0 };
                        let x = LEFT + slot * i as f64 + slot * 0.1 + bar_w * s_i as f64;
                        let _ = write!(
                            out,
                            r#"<rect x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{colour}"><title>{} {}: {}</title></rect>"#,
                            TOP + plot_h - h,
                            esc(&s.name),
                            esc(self.labels.get(i).map_or("", String::as_str)),
                            fmt_value(*v)
                        );
                        if *v > 0.0 && self.labels.len() <= 12 {
                            let _ = write!(
                                out,
                                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1c2430">{}</text>"##,
                                x + bar_w / 2.0,
                                TOP + plot_h - h - 3.0,
                                fmt_value(*v)
                            );
                        }
                    }
                }
                Kind::Lines => {
                    let points: Vec<String> = s
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let x = LEFT + slot * (i as f64 + 0.5);
                            let y = TOP + plot_h - if max > 0.0 { plot_h * v / max } else { 0.0 };
                            format!("{x:.1},{y:.1}")
                        })
                        .collect();
                    let _ = write!(
                        out,
                        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                        points.join(" ")
                    );
                    for p in &points {
                        if let Some((x, y)) = p.split_once(',') {
                            let _ = write!(
                                out,
                                r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>"#
                            );
                        }
                    }
                }
            }
        }
        // Legend.
        for (s_i, s) in self.series.iter().enumerate() {
            let x = LEFT + 110.0 * s_i as f64;
            let y = H - 10.0;
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}" fill="#1c2430">{}</text>"##,
                y - 9.0,
                COLOURS[s_i % COLOURS.len()],
                x + 14.0,
                esc(&s.name)
            );
        }
        out.push_str("</svg>");
        out
    }

    /// The chart's data as a table: the label column, then one per series.
    pub(crate) fn table(&self, label_header: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut headers = vec![label_header.to_owned()];
        headers.extend(self.series.iter().map(|s| s.name.clone()));
        let rows = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut row = vec![l.clone()];
                row.extend(
                    self.series
                        .iter()
                        .map(|s| fmt_value(s.values.get(i).copied().unwrap_or(0.0))),
                );
                row
            })
            .collect();
        (headers, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_lines_render_values_escaped() {
        let chart = Chart {
            id: "t",
            title: "来电 <按类别>".into(),
            kind: Kind::Bars,
            labels: vec!["报修".into(), "投诉".into()],
            series: vec![Series {
                name: "数量".into(),
                values: vec![3.0, 7.0],
            }],
            percent: false,
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("来电 &lt;按类别&gt;"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            2 + 1,
            "two bars and a legend key"
        );
        let (h, rows) = chart.table("类别");
        assert_eq!(h, vec!["类别", "数量"]);
        assert_eq!(rows[1], vec!["投诉", "7"]);
        let line = Chart {
            kind: Kind::Lines,
            percent: true,
            ..chart
        };
        assert!(line.svg().contains("<polyline"));
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
    }
}
