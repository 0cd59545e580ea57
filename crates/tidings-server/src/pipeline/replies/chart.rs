//! The usage chart: tokens per day as an SVG bar chart, drawn on the server (no JavaScript, no
//! chart library), with the daily budget as a line when there is one.

use std::fmt::Write;

use super::dto::DayUsageOut;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round number at or above `value` for the axis (1, 2, 5 × a power of ten).
fn nice_ceiling(value: u64) -> u64 {
    if value == 0 {
        return 10;
    }
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor) >= value {
                return step.saturating_mul(factor);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The chart of `days` (oldest first) against `daily_limit`.
pub fn tokens_per_day(days: &[DayUsageOut], daily_limit: Option<u64>) -> String {
    let most = days.iter().map(|d| d.tokens).max().unwrap_or(0).max(daily_limit.unwrap_or(0));
    let top = nice_ceiling(most);
    let plot_width = WIDTH - LEFT - 8.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / days.len().max(1) as f64;
    let y = |tokens: u64| TOP + plot_height * (1.0 - tokens as f64 / top as f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="usage-chart-title" xmlns="http://www.w3.org/2000/svg"><title id="usage-chart-title">Tokens per day{}</title>"#,
        daily_limit.map(|l| format!(", daily budget {l}")).unwrap_or_default()
    );
    for fraction in [0.0, 0.5, 1.0] {
        let value = (top as f64 * fraction).round() as u64;
        let line_y = y(value);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" y1="{line_y:.1}" x2="{:.1}" y2="{line_y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{value}</text>"#,
            WIDTH - 8.0,
            LEFT - 6.0,
            line_y + 4.0
        );
    }
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let top_y = y(day.tokens);
        let height = (TOP + plot_height - top_y).max(0.0);
        let over = daily_limit.is_some_and(|l| day.tokens >= l);
        let _ = write!(
            svg,
            r#"<rect class="bar{}" x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{height:.1}"><title>{}: {} tokens, ${:.4}, {} calls</title></rect>"#,
            if over { " over" } else { "" },
            slot * 0.7,
            escape(&day.day),
            day.tokens,
            day.cost,
            day.calls
        );
        if i == 0 || i + 1 == days.len() || i % 7 == 0 {
            let label = day.day.get(5..).unwrap_or(&day.day);
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + slot * 0.35,
                HEIGHT - 8.0,
                escape(label)
            );
        }
    }
    if let Some(limit) = daily_limit {
        let line_y = y(limit);
        let _ = write!(
            svg,
            r#"<line class="budget" x1="{LEFT}" y1="{line_y:.1}" x2="{:.1}" y2="{line_y:.1}"/>"#,
            WIDTH - 8.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: &str, tokens: u64) -> DayUsageOut {
        DayUsageOut {
            day: day.into(),
            calls: 1,
            prompt_tokens: tokens,
            completion_tokens: 0,
            tokens,
            cost: 0.001,
            cache_hits: 0,
            short_circuits: 0,
            offline_drafts: 0,
            failures: 0,
        }
    }

    #[test]
    fn one_bar_per_day_scaled_to_a_round_top_with_the_budget_line() {
        let svg = tokens_per_day(&[day("2026-12-01", 400), day("2026-12-02", 1200), day("2026-12-03", 0)], Some(1000));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains(">2000</text>"), "the axis tops at a round number: {svg}");
        assert!(svg.contains(r#"class="bar over""#), "the day over budget is marked");
        assert!(svg.contains(r#"<line class="budget""#));
        assert!(svg.contains("2026-12-02: 1200 tokens"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!tokens_per_day(&[day("2026-12-01", 5)], None).contains("budget"));
    }

    #[test]
    fn round_ceilings() {
        assert_eq!([0, 1, 3, 7, 10, 11, 999, 1001].map(nice_ceiling), [10, 1, 5, 10, 10, 20, 1000, 2000]);
    }
}
