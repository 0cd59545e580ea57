//! The reviews page's figures as the page draws them: the bars of reviews per star (each a
//! link filtering the table to that rating), the weekly volume and average rating, and the
//! numbered pages of the table.

use super::filters::Filters;
use crate::inbox::store::{FIRST_MONDAY_MS, WEEK_MS, WeekRow};

/// Weeks the trend chart shows, this one included.
pub const WEEKS: i64 = 12;
const WEEK_COLUMN: u32 = 44;
const WEEK_CHART_HEIGHT: u32 = 120;

/// One bar of the chart: a star rating and how many reviews have it.
pub struct StarBar {
    pub stars: i64,
    pub count: i64,
    /// Bar length in SVG units (of [`CHART_WIDTH`]).
    pub width: u32,
    /// Share of all rated reviews, in whole percent.
    pub percent: i64,
    /// The reviews page showing only this rating.
    pub href: String,
    /// The table shows this rating alone now.
    pub current: bool,
}

pub const CHART_WIDTH: f64 = 420.0;

/// The chart's bars, five stars first; every rating has a bar, empty ones too. Returns the
/// bars, how many reviews are rated and the average.
pub fn star_bars(counts: &[(i64, i64)], filters: &Filters) -> (Vec<StarBar>, i64, String) {
    let count_of = |stars: i64| counts.iter().find(|(r, _)| *r == stars).map_or(0, |(_, c)| *c);
    let rated: i64 = counts.iter().filter(|(r, _)| (1..=5).contains(r)).map(|(_, c)| c).sum();
    let max = (1..=5).map(count_of).max().unwrap_or(0).max(1) as f64;
    let bars = (1..=5)
        .rev()
        .map(|stars| {
            let count = count_of(stars);
            let value = stars.to_string();
            StarBar {
                stars,
                count,
                width: ((count as f64 / max) * CHART_WIDTH).round() as u32,
                percent: if rated == 0 { 0 } else { (count * 100 + rated / 2) / rated },
                href: filters.link_setting("/reviews", &[("ratingMin", Some(&value)), ("ratingMax", Some(&value))]),
                current: filters.filter.rating_min == Some(stars) && filters.filter.rating_max == Some(stars),
            }
        })
        .collect();
    let weighted: i64 = counts.iter().filter(|(r, _)| (1..=5).contains(r)).map(|(r, c)| r * c).sum();
    let average = if rated == 0 { "—".to_owned() } else { format!("{:.2}", weighted as f64 / rated as f64) };
    (bars, rated, average)
}

/// One week of the trend chart.
pub struct WeekColumn {
    /// "12 Oct": the Monday it starts.
    pub label: String,
    pub reviews: i64,
    /// The average rating, "4.3", or "—" without ratings.
    pub average: String,
    pub x: u32,
    /// The bar's height and top, in SVG units.
    pub height: u32,
    pub y: u32,
}

/// The first instant (unix ms) the trend chart counts from: the Monday `WEEKS - 1` weeks ago.
pub fn trend_start(now: i64) -> i64 {
    let this_week = (now - FIRST_MONDAY_MS).div_euclid(WEEK_MS);
    FIRST_MONDAY_MS + (this_week - (WEEKS - 1)) * WEEK_MS
}

/// Every week of the chart, the empty ones too, oldest first.
pub fn week_columns(weeks: &[WeekRow], now: i64) -> Vec<WeekColumn> {
    let first = (trend_start(now) - FIRST_MONDAY_MS).div_euclid(WEEK_MS);
    let most = weeks.iter().map(|w| w.reviews).max().unwrap_or(0).max(1);
    (0..WEEKS)
        .zip(0u32..)
        .map(|(n, column)| {
            let week = first + n;
            let row = weeks.iter().find(|w| w.week == week);
            let reviews = row.map_or(0, |w| w.reviews);
            let height = u32::try_from(reviews * i64::from(WEEK_CHART_HEIGHT - 20) / most).unwrap_or(0);
            let monday = FIRST_MONDAY_MS + week * WEEK_MS;
            WeekColumn {
                label: chrono::DateTime::<chrono::Utc>::from_timestamp_millis(monday)
                    .map(|t| t.format("%-d %b").to_string())
                    .unwrap_or_default(),
                reviews,
                average: match row {
                    Some(w) if w.rated > 0 => format!("{:.1}", w.rating_sum as f64 / w.rated as f64),
                    _ => "—".to_owned(),
                },
                x: column * WEEK_COLUMN,
                height,
                y: WEEK_CHART_HEIGHT - height,
            }
        })
        .collect()
}

/// The trend chart's size, in SVG units.
pub fn week_chart_size() -> (u32, u32) {
    (u32::try_from(WEEKS).unwrap_or(12) * WEEK_COLUMN, WEEK_CHART_HEIGHT + 34)
}

/// One link of the pager: a page number, or a gap ("…").
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
    pub gap: bool,
}

/// The numbered pages around the current one (the first and last always), for `total` items
/// `page_size` a page, the current starting at `offset`.
pub fn page_links(filters: &Filters, total: i64, page_size: i64, offset: i64) -> Vec<PageLink> {
    let pages = (total + page_size - 1) / page_size;
    if pages <= 1 {
        return Vec::new();
    }
    let current = offset / page_size + 1;
    let mut links = Vec::new();
    let mut last_shown = 0;
    for number in 1..=pages {
        let near = (number - current).abs() <= 2;
        if number != 1 && number != pages && !near {
            continue;
        }
        if number > last_shown + 1 {
            links.push(PageLink { number: 0, href: String::new(), current: false, gap: true });
        }
        links.push(PageLink {
            number,
            href: filters.link("/reviews", (number - 1) * page_size),
            current: number == current,
            gap: false,
        });
        last_shown = number;
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::pages::filters::FilterQuery;
    use tidings_core::UserId;

    fn filters(query: FilterQuery) -> Filters {
        Filters::parse(&query, &UserId::generate(), None)
    }

    #[test]
    fn every_star_has_a_bar_that_filters_to_it_and_the_average_is_weighted() {
        let (bars, rated, average) = star_bars(&[(1, 1), (4, 2), (5, 1)], &filters(FilterQuery::default()));
        assert_eq!(bars.iter().map(|b| b.stars).collect::<Vec<_>>(), vec![5, 4, 3, 2, 1]);
        assert_eq!(bars.iter().map(|b| b.count).collect::<Vec<_>>(), vec![1, 2, 0, 0, 1]);
        assert_eq!(bars[1].width, CHART_WIDTH as u32, "the longest bar fills the chart");
        assert_eq!(bars[1].href, "/reviews?ratingMin=4&ratingMax=4");
        assert!(!bars[1].current);
        assert_eq!((rated, average.as_str()), (4, "3.50"));
        let four = filters(FilterQuery {
            rating_min: Some("4".into()),
            rating_max: Some("4".into()),
            ..FilterQuery::default()
        });
        let (bars, _, _) = star_bars(&[(4, 2)], &four);
        assert!(bars[1].current && !bars[0].current);
        let (_, rated, average) = star_bars(&[], &four);
        assert_eq!((rated, average.as_str()), (0, "—"));
    }

    #[test]
    fn weeks_start_on_monday_and_empty_ones_are_drawn() {
        // Friday 4 December 2026, 17:00 UTC: this week began on Monday 30 November.
        let now = 1_796_403_600_000;
        let start = trend_start(now);
        let week = |at: i64| (at - FIRST_MONDAY_MS).div_euclid(WEEK_MS);
        let rows = [WeekRow { week: week(now), reviews: 4, rating_sum: 18, rated: 4 }];
        let columns = week_columns(&rows, now);
        assert_eq!(columns.len(), 12);
        assert_eq!(columns[11].label, "30 Nov");
        assert_eq!((columns[11].reviews, columns[11].average.as_str()), (4, "4.5"));
        assert_eq!((columns[0].reviews, columns[0].average.as_str()), (0, "—"));
        assert_eq!(columns[0].label, "14 Sep");
        assert_eq!(start, FIRST_MONDAY_MS + (week(now) - 11) * WEEK_MS);
    }

    #[test]
    fn pages_are_numbered_around_the_current_one() {
        let f = filters(FilterQuery::default());
        let shown = |links: Vec<PageLink>| {
            links
                .iter()
                .map(|l| if l.gap { "…".to_owned() } else { l.number.to_string() })
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(shown(page_links(&f, 50, 50, 0)), "");
        assert_eq!(shown(page_links(&f, 120, 50, 0)), "1 2 3");
        assert_eq!(shown(page_links(&f, 1000, 50, 500)), "1 … 9 10 11 12 13 … 20");
        let links = page_links(&f, 1000, 50, 500);
        assert!(links.iter().any(|l| l.current && l.number == 11));
        assert_eq!(links.last().map(|l| l.href.as_str()), Some("/reviews?offset=950"));
    }
}
