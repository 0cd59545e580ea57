//! The filters of the inbox and reviews pages: read from the query string (leniently: a value
//! that does not parse is reported next to its field, never a 400), turned into a
//! [`ConversationFilter`], kept in links, and shown as the filter form.

use serde::Deserialize;
use strum::VariantArray;
use tidings_connectors::Platform;
use tidings_core::UserId;

use crate::dashboard::page::FormErrors;
use crate::identity::session::query_escape;
use crate::identity::store::MemberRow;
use crate::inbox::locations::LocationRow;
use crate::inbox::model::{ConversationKind, ConversationStatus};
use crate::inbox::search;
use crate::inbox::store::ConversationFilter;

/// The filters as the query string carries them. Every value is text, so nothing a person can
/// type into the address bar makes the page fail.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct FilterQuery {
    pub location: Option<String>,
    pub platform: Option<String>,
    pub kind: Option<String>,
    #[serde(rename = "ratingMin")]
    pub rating_min: Option<String>,
    #[serde(rename = "ratingMax")]
    pub rating_max: Option<String>,
    pub sentiment: Option<String>,
    pub responded: Option<String>,
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub q: Option<String>,
    pub offset: Option<String>,
    /// The inbox's next page: the conversations listed after this activity key ("Load more").
    pub after: Option<String>,
    /// A live refresh of a list that shows every conversation down to this activity key: the
    /// refreshed list keeps them all (and whatever arrived since), not only the first page.
    pub through: Option<String>,
    /// How many rows the refreshed list shows now (a refresh fetches that many and a page more).
    pub shown: Option<String>,
}

/// Sentiments the AI fills in.
const SENTIMENTS: [&str; 4] = ["positive", "neutral", "negative", "mixed"];

/// Parsed filters: what the store query gets, and the kept values for links and the form.
pub struct Filters {
    pub filter: ConversationFilter,
    pub offset: i64,
    /// `after`, `through` and `shown` of [`FilterQuery`], when they parse.
    pub after: Option<i64>,
    pub through: Option<i64>,
    pub shown: i64,
    /// The accepted values, by query name, in a stable order.
    kept: Vec<(&'static str, String)>,
    pub errors: FormErrors,
}

fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The start of a `YYYY-MM-DD` day (UTC) in milliseconds, shifted by `days`.
fn day_start(value: &str, days: i64) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(start + days * 86_400_000)
}

impl Filters {
    /// Reads `query` for the member `me` (for "assigned to me"); `kind` fixes the kind (the
    /// reviews page shows reviews only).
    pub fn parse(query: &FilterQuery, me: &UserId, kind: Option<ConversationKind>) -> Filters {
        let mut errors = FormErrors::new();
        let mut kept: Vec<(&'static str, String)> = Vec::new();
        let mut filter = ConversationFilter::default();
        let mut keep = |name: &'static str, value: &str| kept.push((name, value.to_owned()));

        if let Some(location) = filled(&query.location) {
            filter.location_id = Some(location.to_owned());
            keep("location", location);
        }
        if let Some(platform) = filled(&query.platform) {
            if Platform::parse(platform).is_some() {
                filter.platform = Some(platform.to_owned());
                keep("platform", platform);
            } else {
                errors.add("platform", "Choose a platform from the list.");
            }
        }
        match kind {
            Some(kind) => filter.kind = Some(kind),
            None => {
                if let Some(value) = filled(&query.kind).and_then(|value| value.parse::<ConversationKind>().ok()) {
                    filter.kind = Some(value);
                    keep("kind", value.as_str());
                }
            }
        }
        for (name, value, slot) in [
            ("ratingMin", &query.rating_min, &mut filter.rating_min),
            ("ratingMax", &query.rating_max, &mut filter.rating_max),
        ] {
            if let Some(text) = filled(value) {
                match text.parse::<i64>() {
                    Ok(stars) if (1..=5).contains(&stars) => {
                        *slot = Some(stars);
                        keep(name, text);
                    }
                    _ => errors.add(name, "Choose 1 to 5 stars."),
                }
            }
        }
        if let (Some(min), Some(max)) = (filter.rating_min, filter.rating_max)
            && min > max
        {
            errors.add("ratingMax", "The highest rating must not be below the lowest.");
        }
        if let Some(sentiment) = filled(&query.sentiment).filter(|s| SENTIMENTS.contains(s)) {
            filter.sentiment = Some(sentiment.to_owned());
            keep("sentiment", sentiment);
        }
        match filled(&query.responded) {
            Some("yes") => {
                filter.responded = Some(true);
                keep("responded", "yes");
            }
            Some("no") => {
                filter.responded = Some(false);
                keep("responded", "no");
            }
            _ => {}
        }
        if let Some(status) = filled(&query.status).and_then(|value| value.parse::<ConversationStatus>().ok()) {
            filter.status = Some(status);
            keep("status", status.as_str());
        }
        match filled(&query.assignee) {
            Some("me") => {
                filter.assignee = Some(Some(me.to_string()));
                keep("assignee", "me");
            }
            Some("unassigned") => {
                filter.assignee = Some(None);
                keep("assignee", "unassigned");
            }
            Some(member) => {
                filter.assignee = Some(Some(member.to_owned()));
                keep("assignee", member);
            }
            None => {}
        }
        for (name, value, days, slot) in
            [("from", &query.from, 0, &mut filter.since), ("to", &query.to, 1, &mut filter.until)]
        {
            if let Some(text) = filled(value) {
                match day_start(text, days) {
                    Some(at) => {
                        *slot = Some(at);
                        keep(name, text);
                    }
                    None => errors.add(name, "Enter a date as YYYY-MM-DD."),
                }
            }
        }
        if let Some(q) = filled(&query.q) {
            match search::check_query(q) {
                Ok(()) => {
                    filter.search = Some(q.to_owned());
                    keep("q", q);
                }
                Err(reason) => errors.add("q", format!("The search {reason}.")),
            }
        }
        let number = |value: &Option<String>| filled(value).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 0);
        let offset = number(&query.offset).unwrap_or(0);
        Filters {
            filter,
            offset,
            after: number(&query.after),
            through: number(&query.through),
            shown: number(&query.shown).unwrap_or(0),
            kept,
            errors,
        }
    }

    /// The kept filters as a query string (no offset), `""` when none.
    pub fn query(&self) -> String {
        self.kept.iter().map(|(name, value)| format!("{name}={}", query_escape(value))).collect::<Vec<_>>().join("&")
    }

    /// `base` with the filters and `offset`.
    pub fn link(&self, base: &str, offset: i64) -> String {
        let mut query = self.query();
        if offset > 0 {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("offset={offset}"));
        }
        if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") }
    }

    /// `base` with the filters and the page after activity key `key` (the inbox's "Load more").
    pub fn link_after(&self, base: &str, key: i64) -> String {
        let query = self.query();
        let separator = if query.is_empty() { "" } else { "&" };
        format!("{base}?{query}{separator}after={key}")
    }

    /// The same filters in the API's names (`GET /api/v1/reviews`, the CSV export), `""` when none.
    pub fn api_query(&self) -> String {
        let f = &self.filter;
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut text = |name, value: &Option<String>| {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        };
        text("locationId", &f.location_id);
        text("platform", &f.platform);
        text("sentiment", &f.sentiment);
        text("status", &f.status.map(|status| status.to_string()));
        text("q", &f.search);
        if let Some(min) = f.rating_min {
            pairs.push(("ratingMin", min.to_string()));
        }
        if let Some(max) = f.rating_max {
            pairs.push(("ratingMax", max.to_string()));
        }
        if let Some(responded) = f.responded {
            pairs.push(("responded", responded.to_string()));
        }
        match &f.assignee {
            Some(Some(member)) => pairs.push(("assigneeId", member.clone())),
            Some(None) => pairs.push(("assigneeId", "unassigned".to_owned())),
            None => {}
        }
        if let Some(since) = f.since {
            pairs.push(("since", tidings_core::time::to_rfc3339(since)));
        }
        if let Some(until) = f.until {
            pairs.push(("until", tidings_core::time::to_rfc3339(until)));
        }
        pairs.iter().map(|(name, value)| format!("{name}={}", query_escape(value))).collect::<Vec<_>>().join("&")
    }

    /// `base` with the filters but `name` set to `value` (or removed with `None`), first page.
    pub fn link_with(&self, base: &str, name: &str, value: Option<&str>) -> String {
        self.link_setting(base, &[(name, value)])
    }

    /// `base` with the filters but each of `changes` set (or removed with `None`), first page.
    pub fn link_setting(&self, base: &str, changes: &[(&str, Option<&str>)]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .kept
            .iter()
            .filter(|(n, _)| !changes.iter().any(|(name, _)| name == n))
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        pairs.extend(changes.iter().filter_map(|(name, value)| value.map(|v| (*name, v))));
        let query =
            pairs.iter().map(|(name, value)| format!("{name}={}", query_escape(value))).collect::<Vec<_>>().join("&");
        if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") }
    }

    /// `base` with only the kept filters named in `names`.
    pub fn link_keeping(&self, base: &str, names: &[&str]) -> String {
        let query = self
            .kept
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(name, value)| format!("{name}={}", query_escape(value)))
            .collect::<Vec<_>>()
            .join("&");
        if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") }
    }

    /// The kept value of a filter, `""` when not set.
    pub fn value(&self, name: &str) -> &str {
        self.kept.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// One choice of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A select of the filter form.
pub struct SelectField {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

/// An active filter shown as a chip, with the address without it.
pub struct Chip {
    pub label: String,
    pub remove: String,
}

/// One of the inbox's views: Mine, Unassigned, All, with how many each holds.
pub struct Tab {
    pub label: &'static str,
    pub count: String,
    pub href: String,
    pub current: bool,
}

impl FilterQuery {
    /// Whether a value was sent empty (a GET form sends every field): the address is then
    /// rewritten with only the filters that are set.
    pub fn has_blank(&self) -> bool {
        [
            &self.location,
            &self.platform,
            &self.kind,
            &self.rating_min,
            &self.rating_max,
            &self.sentiment,
            &self.responded,
            &self.status,
            &self.assignee,
            &self.from,
            &self.to,
            &self.q,
            &self.offset,
        ]
        .iter()
        .any(|value| value.as_deref().is_some_and(|v| v.trim().is_empty()))
    }
}

/// What the filter form shows.
pub struct FilterForm {
    /// Where it is sent (`/inbox`, the open thread's address, `/reviews`).
    pub action: String,
    /// The element htmx replaces with the answer.
    pub target: &'static str,
    pub selects: Vec<SelectField>,
    pub q: String,
    pub q_error: Option<String>,
    pub from: String,
    pub to: String,
    pub from_error: Option<String>,
    pub to_error: Option<String>,
    pub clear: String,
}

fn select(
    filters: &Filters,
    name: &'static str,
    label: &'static str,
    any: &str,
    options: Vec<(String, String)>,
) -> SelectField {
    let current = filters.value(name);
    let mut choices = vec![Choice { value: String::new(), label: any.to_owned(), selected: current.is_empty() }];
    choices.extend(options.into_iter().map(|(value, label)| Choice { selected: value == current, value, label }));
    SelectField { name, label, choices, error: filters.errors.get(name).map(str::to_owned) }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect()
}

fn star_options() -> Vec<(String, String)> {
    (1..=5).map(|n| (n.to_string(), format!("{n} ★"))).collect()
}

fn location_options(locations: &[LocationRow]) -> Vec<(String, String)> {
    locations.iter().map(|l| (l.id.to_string(), l.name.clone())).collect()
}

impl FilterForm {
    fn new(filters: &Filters, action: &str, target: &'static str, selects: Vec<SelectField>, clear: &str) -> Self {
        FilterForm {
            action: action.to_owned(),
            target,
            selects,
            q: filters.value("q").to_owned(),
            q_error: filters.errors.get("q").map(str::to_owned),
            from: filters.value("from").to_owned(),
            to: filters.value("to").to_owned(),
            from_error: filters.errors.get("from").map(str::to_owned),
            to_error: filters.errors.get("to").map(str::to_owned),
            clear: clear.to_owned(),
        }
    }

    /// The inbox's filters.
    pub fn inbox(filters: &Filters, action: &str, locations: &[LocationRow], members: &[MemberRow]) -> Self {
        let platforms = Platform::ALL.iter().map(|p| (p.as_str().to_owned(), p.label().to_owned())).collect();
        let statuses =
            ConversationStatus::VARIANTS.iter().map(|s| (s.to_string(), super::status_label(*s).to_owned())).collect();
        let mut assignees = owned(&[("me", "me"), ("unassigned", "nobody")]);
        assignees.extend(members.iter().map(|m| (m.user_id.to_string(), m.name.clone())));
        let selects = vec![
            select(filters, "location", "Location", "all locations", location_options(locations)),
            select(filters, "platform", "Platform", "all platforms", platforms),
            select(
                filters,
                "kind",
                "Kind",
                "reviews and messages",
                owned(&[("review", "reviews"), ("thread", "messages")]),
            ),
            select(filters, "ratingMin", "Rating from", "any", star_options()),
            select(filters, "ratingMax", "Rating to", "any", star_options()),
            select(
                filters,
                "sentiment",
                "Sentiment",
                "any",
                SENTIMENTS.iter().map(|s| ((*s).to_owned(), (*s).to_owned())).collect(),
            ),
            select(filters, "responded", "Replied", "either", owned(&[("yes", "replied"), ("no", "not replied")])),
            select(filters, "status", "Status", "any status", statuses),
            select(filters, "assignee", "Assigned to", "anyone", assignees),
        ];
        Self::new(filters, action, "inbox-list", selects, "/inbox")
    }

    /// How many filters of the popover are set (the assignee counts when it is not a view's:
    /// "me" and "unassigned" are the Mine and Unassigned tabs).
    pub fn active(&self) -> usize {
        let chosen = self
            .selects
            .iter()
            .filter(|s| {
                s.choices.iter().any(|c| {
                    c.selected
                        && !c.value.is_empty()
                        && !(s.name == "assignee" && matches!(c.value.as_str(), "me" | "unassigned"))
                })
            })
            .count();
        chosen + usize::from(!self.from.is_empty()) + usize::from(!self.to.is_empty())
    }

    /// Whether a field of the popover has an error (it then opens to show it).
    pub fn has_errors(&self) -> bool {
        self.selects.iter().any(|s| s.error.is_some()) || self.from_error.is_some() || self.to_error.is_some()
    }

    /// The active filters of the popover as chips, each linking to `base` without it; the
    /// assignee shows as a tab when it is "me" or "unassigned", not as a chip.
    pub fn chips(&self, filters: &Filters, base: &str) -> Vec<Chip> {
        let mut chips: Vec<Chip> = self
            .selects
            .iter()
            .filter(|s| !(s.name == "assignee" && matches!(filters.value("assignee"), "me" | "unassigned")))
            .filter_map(|s| {
                let chosen = s.choices.iter().find(|c| c.selected && !c.value.is_empty())?;
                Some(Chip {
                    label: format!("{}: {}", s.label, chosen.label),
                    remove: filters.link_with(base, s.name, None),
                })
            })
            .collect();
        for (name, label) in [("from", "From"), ("to", "To")] {
            let value = filters.value(name);
            if !value.is_empty() {
                chips.push(Chip { label: format!("{label}: {value}"), remove: filters.link_with(base, name, None) });
            }
        }
        chips
    }

    /// The reviews page's filters.
    pub fn reviews(filters: &Filters, locations: &[LocationRow]) -> Self {
        let platforms = Platform::ALL
            .iter()
            .filter(|p| p.is_review_source())
            .map(|p| (p.as_str().to_owned(), p.label().to_owned()))
            .collect();
        let selects = vec![
            select(filters, "location", "Location", "all locations", location_options(locations)),
            select(filters, "platform", "Platform", "all platforms", platforms),
            select(filters, "ratingMin", "Rating from", "any", star_options()),
            select(filters, "ratingMax", "Rating to", "any", star_options()),
            select(
                filters,
                "sentiment",
                "Sentiment",
                "any",
                SENTIMENTS.iter().map(|s| ((*s).to_owned(), (*s).to_owned())).collect(),
            ),
            select(filters, "responded", "Replied", "either", owned(&[("yes", "replied"), ("no", "not replied")])),
        ];
        Self::new(filters, "/reviews", "reviews-results", selects, "/reviews")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> UserId {
        UserId::generate()
    }

    #[test]
    fn filters_parse_leniently_and_links_keep_them() {
        let query = FilterQuery {
            rating_min: Some("4".into()),
            rating_max: Some("nine".into()),
            platform: Some("google".into()),
            responded: Some("no".into()),
            assignee: Some("unassigned".into()),
            q: Some(" cold soup ".into()),
            offset: Some("-5".into()),
            ..FilterQuery::default()
        };
        let filters = Filters::parse(&query, &me(), None);
        assert_eq!(filters.filter.rating_min, Some(4));
        assert_eq!(filters.filter.rating_max, None);
        assert!(filters.errors.has("ratingMax"));
        assert_eq!(filters.filter.responded, Some(false));
        assert_eq!(filters.filter.assignee, Some(None));
        assert_eq!(filters.offset, 0);
        assert_eq!(filters.query(), "platform=google&ratingMin=4&responded=no&assignee=unassigned&q=cold%20soup");
        assert_eq!(filters.link("/inbox", 50), format!("/inbox?{}&offset=50", filters.query()));
        assert_eq!(filters.link_after("/inbox", 7), format!("/inbox?{}&after=7", filters.query()));
        let live = FilterQuery { through: Some("123".into()), shown: Some("60".into()), ..FilterQuery::default() };
        let live = Filters::parse(&live, &me(), None);
        assert_eq!((live.through, live.shown, live.after), (Some(123), 60, None));
        assert_eq!(live.link_after("/inbox", 9), "/inbox?after=9");
        let reviews = Filters::parse(&FilterQuery::default(), &me(), Some(ConversationKind::Review));
        assert_eq!(reviews.filter.kind, Some(ConversationKind::Review));
        assert_eq!(reviews.link("/reviews", 0), "/reviews");
    }
}
