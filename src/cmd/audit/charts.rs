//! The report's pictures as inline SVG: per account a timeline of the window (one row per OS
//! user and host), and the events per day across accounts.
//!
//! Self-contained by construction: shapes are drawn inline (no `<use href>`, no fonts, images
//! or scripts), colours come from the page's own style sheet. Accessible: every mark carries a
//! `<title>` that says what it stands for in words, each kind has its own shape as well as its
//! own colour, and each chart has a caption; the report's tables stay for those who read.
//! Everything shown comes from the report, which holds no secret; every text is escaped.

use std::fmt::Write as _;

use crate::activity::timeline::{AccountTimeline, Row};
use crate::activity::{DAY, HOUR, Kind, Timelines, date_of_day, minute_of};

use super::render::esc;
use super::report::{AccountRow, Report};

/// Width of a chart in SVG units; the page scales it to the paper or window.
const WIDTH: f64 = 960.0;
/// Left column for row labels.
const LABEL: f64 = 225.0;
const RIGHT: f64 = 16.0;
const ROW: f64 = 34.0;
const TOP: f64 = 22.0;

/// The charts' share of the page's style sheet (one colour per kind), and the page's print rules:
/// on paper the wide tables shrink and wrap instead of running off the page.
pub const STYLE: &str = "figure{margin:1em 0;break-inside:avoid}figcaption{font-size:.9em;color:#444}\
svg.chart{width:100%;height:auto;max-width:1100px;font-family:sans-serif;font-size:11px}\
.grid{stroke:#e2e2e2}.axis{fill:#555}.lbl{fill:#222}.now{stroke:#333;stroke-dasharray:4 3}\
.horizon{stroke:#c00;stroke-width:2;stroke-dasharray:6 3}.horizon-text{fill:#c00}\
.band{fill:#f7f7f7}.k-cache{fill:#8a8a8a}.k-refresh{fill:#1f66b5}.k-headless{fill:#e07b00}\
.k-failed{stroke:#c00000;stroke-width:2.5;fill:none}.k-failed-bar{fill:#c00000}.k-broken{fill:#7b3294}.k-reveal{fill:#137a32}\
.legend li{display:inline-block;margin-right:1.2em}.legend svg{vertical-align:middle}\
@media print{body{margin:0;font-size:10pt}h2,h3{break-after:avoid}table{width:100%;font-size:8pt}\
td:last-child{overflow-wrap:anywhere}tr{break-inside:avoid}}";

fn class(kind: Kind) -> &'static str {
    match kind {
        Kind::CacheHit => "k-cache",
        Kind::Refresh => "k-refresh",
        Kind::Headless => "k-headless",
        Kind::Failed => "k-failed",
        Kind::ChainBroken => "k-broken",
        Kind::Reveal => "k-reveal",
    }
}

/// The shape of a kind centred at (x, y), size s, with a title: circle, triangle, cross,
/// diamond, star; cache hits are a tick whose height grows with the count.
fn mark(out: &mut String, kind: Kind, x: f64, y: f64, s: f64, title: &str) {
    let c = class(kind);
    let t = esc(title);
    let h = s / 2.0;
    let _ = match kind {
        Kind::CacheHit => write!(
            out,
            "<rect class=\"{c}\" x=\"{:.1}\" y=\"{:.1}\" width=\"2\" height=\"{s:.1}\"><title>{t}</title></rect>",
            x - 1.0,
            y - h
        ),
        Kind::Refresh => write!(
            out,
            "<circle class=\"{c}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\"><title>{t}</title></circle>",
            h * 0.85
        ),
        Kind::Headless => write!(
            out,
            "<polygon class=\"{c}\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"><title>{t}</title></polygon>",
            x,
            y - h,
            x + h,
            y + h,
            x - h,
            y + h
        ),
        Kind::Failed => write!(
            out,
            "<path class=\"{c}\" d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\"><title>{t}</title></path>",
            x - h,
            y - h,
            x + h,
            y + h,
            x - h,
            y + h,
            x + h,
            y - h
        ),
        Kind::ChainBroken => write!(
            out,
            "<polygon class=\"{c}\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"><title>{t}</title></polygon>",
            x,
            y - h,
            x + h,
            y,
            x,
            y + h,
            x - h,
            y
        ),
        Kind::Reveal => {
            let mut points = String::new();
            for i in 0..10 {
                let r = if i % 2 == 0 { h } else { h * 0.45 };
                let a = std::f64::consts::PI * (i as f64) / 5.0 - std::f64::consts::FRAC_PI_2;
                let _ = write!(
                    points,
                    "{:.1},{:.1} ",
                    x + r * libm::cos(a),
                    y + r * libm::sin(a)
                );
            }
            write!(
                out,
                "<polygon class=\"{c}\" points=\"{}\"><title>{t}</title></polygon>",
                points.trim_end()
            )
        }
    };
}

/// The time axis of the timelines: the window plus a margin to the right, where the refresh
/// token's horizon can show when it is near.
struct Axis {
    start: i64,
    now: i64,
    end: i64,
    x0: f64,
    x1: f64,
}

impl Axis {
    fn new(t: &Timelines) -> Self {
        let pad = (t.window_days() / 5).max(1) * DAY;
        Axis {
            start: t.start,
            now: t.end,
            end: t.end + pad,
            x0: LABEL,
            x1: WIDTH - RIGHT,
        }
    }

    fn x(&self, time: i64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        self.x0 + (self.x1 - self.x0) * ((time - self.start) as f64 / span)
    }

    /// Vertical day lines and date labels (every few days so they do not collide).
    fn grid(&self, out: &mut String, top: f64, bottom: f64) {
        let every = label_every((self.end - self.start) / DAY, self.x1 - self.x0);
        let first = self.start.div_euclid(DAY) + 1;
        let last = self.end.div_euclid(DAY);
        for day in first..=last {
            let x = self.x(day * DAY);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>"
            );
            if (day - first) % every == 0 {
                let _ = write!(
                    out,
                    "<text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    top - 6.0,
                    &date_of_day(day)[5..]
                );
            }
        }
        let x = self.x(self.now);
        let _ = write!(
            out,
            "<line class=\"now\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"><title>now: {} UTC</title></line>",
            top - 2.0,
            minute_of(self.now)
        );
    }
}

/// The legend: each kind's shape, colour and name.
pub fn legend(out: &mut String) {
    out.push_str("<ul class=\"legend\" id=\"legend\">");
    for kind in Kind::ALL {
        out.push_str("<li><svg class=\"chart-key\" width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" role=\"img\">");
        mark(out, kind, 8.0, 8.0, 12.0, kind.noun(2));
        let _ = write!(out, "</svg> {}</li>", esc(kind.noun(2)));
    }
    out.push_str("<li><svg width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" role=\"img\"><line class=\"horizon\" x1=\"8\" y1=\"0\" x2=\"8\" y2=\"16\"><title>refresh token expiry</title></line></svg> refresh token expires unused</li></ul>\n");
}

/// The activity section of the HTML report: legend, summary chart, one timeline per account.
pub fn section(r: &Report) -> String {
    let t = &r.activity;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>Activity, last {} days</h2>\n<p>Times in UTC. Cache hits are counted per hour (tick); each other mark stands for the events of its kind in that hour. Hover or read a mark's title for its count, time and origin.</p>",
        t.window_days()
    );
    legend(&mut out);
    summary(&mut out, t);
    let mut names: Vec<&str> = r.accounts.iter().map(|a| a.name.as_str()).collect();
    for name in t.accounts.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let empty = AccountTimeline::default();
    for name in names {
        let row = r.accounts.iter().find(|a| a.name == name);
        timeline(
            &mut out,
            t,
            name,
            row,
            t.accounts.get(name).unwrap_or(&empty),
        );
    }
    out
}

/// Events per day across accounts: one strip of bars per kind, each scaled to its own maximum
/// (written beside it), so that rare failures are not flattened by thousands of cache hits.
fn summary(out: &mut String, t: &Timelines) {
    let days: Vec<i64> = t.days().collect();
    let strip = 40.0;
    let height = TOP + strip * Kind::ALL.len() as f64 + 8.0;
    let x0 = LABEL;
    let x1 = WIDTH - RIGHT;
    let w = (x1 - x0) / days.len().max(1) as f64;
    let total: u64 = t.daily.values().flat_map(|c| c.iter()).sum();
    let _ = write!(
        out,
        "<figure id=\"summary-chart\"><svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" aria-labelledby=\"summary-title\"><title id=\"summary-title\">Events per day across all accounts, {} to {}: {total} events</title>",
        date_of_day(days[0]),
        date_of_day(*days.last().expect("at least one day"))
    );
    let every = label_every(days.len() as i64, x1 - x0) as usize;
    for (i, day) in days.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x0 + w * (i as f64 + 0.5),
                TOP - 8.0,
                &date_of_day(*day)[5..]
            );
        }
    }
    for (k, kind) in Kind::ALL.iter().enumerate() {
        let y = TOP + strip * k as f64;
        let max = days
            .iter()
            .map(|d| t.daily.get(d).map_or(0, |c| c[k]))
            .max()
            .unwrap_or(0);
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{x0}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            y + 2.0,
            x1 - x0,
            strip - 4.0
        );
        mark(out, *kind, 12.0, y + strip / 2.0, 11.0, kind.noun(2));
        let _ = write!(
            out,
            "<text class=\"lbl\" x=\"24\" y=\"{:.1}\">{} (max {max}/day)</text>",
            y + strip / 2.0 + 4.0,
            esc(kind.noun(2))
        );
        for (i, day) in days.iter().enumerate() {
            let n = t.daily.get(day).map_or(0, |c| c[k]);
            if n == 0 {
                continue;
            }
            let bar = (strip - 8.0) * (n as f64 / max as f64).max(0.08);
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\"><title>{}: {n} {}</title></rect>",
                class_fill(*kind),
                x0 + w * i as f64 + 0.5,
                y + strip - 4.0 - bar,
                (w - 1.0).max(1.0),
                date_of_day(*day),
                kind.noun(n)
            );
        }
    }
    out.push_str("</svg><figcaption>Events per day across all accounts, one strip per kind, each scaled to its own busiest day.</figcaption></figure>\n");
}

/// Bars are filled even for the kind drawn as a stroked cross.
fn class_fill(kind: Kind) -> &'static str {
    match kind {
        Kind::Failed => "k-failed-bar",
        other => class(other),
    }
}

fn timeline(
    out: &mut String,
    t: &Timelines,
    name: &str,
    account: Option<&AccountRow>,
    tl: &AccountTimeline,
) {
    let axis = Axis::new(t);
    let rows: Vec<(&(String, String), &Row)> = tl.rows.iter().collect();
    let n = rows.len().max(1);
    let refresh_token = account.and_then(|a| a.refresh_token.as_ref());
    let horizon = refresh_token.and_then(|rt| rt.expires_at);
    // A horizon beyond the axis is written on a line of its own under the rows.
    let beyond = horizon.is_some_and(|at| at > axis.end);
    let rows_bottom = TOP + ROW * n as f64 + 6.0;
    let height = rows_bottom + if beyond { 16.0 } else { 0.0 };
    let events: u64 = rows.iter().map(|(_, r)| r.total()).sum();
    let horizon_text = match horizon {
        Some(at) if at <= axis.now => {
            format!("its refresh token expired unused at {} UTC", minute_of(at))
        }
        Some(at) => format!(
            "its refresh token expires unused at {} UTC ({} days from now)",
            minute_of(at),
            (at - axis.now) / DAY
        ),
        // A provider without an idle rule lets an unused refresh token live.
        None if refresh_token.is_some() => "its refresh token does not expire unused".to_string(),
        None => "no refresh token".to_string(),
    };
    let id = format!("timeline-{}", esc(name));
    let _ = write!(
        out,
        "<h3>{}</h3><figure class=\"timeline\" id=\"{id}\"><svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">Timeline of {}: {events} events from {} origin(s); {}</title>",
        esc(name),
        esc(name),
        rows.len(),
        esc(&horizon_text)
    );
    axis.grid(out, TOP, rows_bottom - 4.0);
    if rows.is_empty() {
        let _ = write!(
            out,
            "<text class=\"lbl\" x=\"8\" y=\"{:.1}\">no use in the window</text>",
            TOP + ROW / 2.0 + 4.0
        );
    }
    let hour_w = (axis.x(axis.start + HOUR) - axis.x(axis.start)).max(0.5);
    for (i, ((user, host), row)) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let origin = format!("{user}@{host}");
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/><text class=\"lbl\" x=\"8\" y=\"{:.1}\">{}<title>{} used {name} {} times in the window</title></text>",
            axis.x0,
            y + 2.0,
            axis.x(axis.now) - axis.x0,
            ROW - 4.0,
            y + ROW / 2.0 + 4.0,
            esc(&shorten(&origin, 28)),
            esc(&origin),
            row.total()
        );
        for ((hour, kind), count) in &row.marks {
            let from = t.hour_start(*hour);
            let x = axis.x(from) + hour_w / 2.0;
            let title = format!(
                "{count} {} {}–{} UTC, {origin}",
                kind.noun(*count),
                minute_of(from),
                &minute_of(from + HOUR)[11..]
            );
            if *kind == Kind::CacheHit {
                // Taller for more hits (log scale), in the upper half of the row.
                // `libm`, not `f64::log10`: the one call that made every keychain start load libm.so.
                let s = 4.0 + 3.0 * libm::log10(*count as f64).min(3.0);
                mark(out, *kind, x, y + 11.0, s, &title);
            } else {
                mark(out, *kind, x, y + 23.0, 9.0, &title);
            }
        }
    }
    if let Some(at) = horizon {
        if at >= axis.start && at <= axis.end {
            let x = axis.x(at);
            let _ = write!(
                out,
                "<line class=\"horizon\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>{}</title></line>",
                TOP - 2.0,
                rows_bottom - 4.0,
                esc(&horizon_text)
            );
        } else if at > axis.end {
            let _ = write!(
                out,
                "<text class=\"horizon-text\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">refresh token expires {} →<title>{}</title></text>",
                axis.x1,
                height - 4.0,
                date_of_day(at.div_euclid(DAY)),
                esc(&horizon_text)
            );
        }
    }
    let _ = writeln!(
        out,
        "</svg><figcaption>{}: {events} events in the window from {} origin(s) (OS user@host); {}.</figcaption></figure>",
        esc(name),
        rows.len(),
        esc(&horizon_text)
    );
}

/// Label every n-th day so that labels ("11-02", about 32 units wide) keep apart.
fn label_every(days: i64, width: f64) -> i64 {
    const LABEL_SPACE: f64 = 44.0;
    let per_day = width / days.max(1) as f64;
    ((LABEL_SPACE / per_day).ceil() as i64).max(1)
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}
