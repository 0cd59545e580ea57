//! Digests (ADR 0024): a daily or weekly summary of one location's reviews (or the whole
//! workspace's) — new reviews, average rating, unanswered, negative — sent to destinations at a
//! local hour.
//!
//! A scheduled job ([`SendDigests`], every five minutes) finds the digests whose hour has come
//! in their time zone and whose period was not sent yet. Each is claimed by moving its
//! `last_period` to the current one in a conditional update, in the transaction that also
//! records its deliveries: two processes running the job send a period's digest once. A daily
//! digest sent on the 5th covers the 4th (local midnight to midnight); a weekly one the seven
//! days before its day. A digest whose hour passed while no process ran goes out when one runs
//! again that day; a day missed entirely is not sent late.

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tidings_connectors::notify::Message;
use tidings_core::time::now_millis;
use tidings_core::{DeliveryId, DestinationId, DigestId, LocationId, WorkspaceId};
use tidings_store::queue::{JobError, JobPayload, NewJob, QueueError, Registry, Schedule, names};

use super::dto_notifications::DigestIn;
use super::members::NotificationKind;
use super::notifications::known_zone;
use super::store::deliveries::{self as log_store, NewDelivery, Target};
use super::store::digests::{self as store, DigestRow, NewDigest};
use super::store::{self as automations_store, scans};
use super::{Automations, AutomationsError};
use crate::inbox::locations;
use crate::inbox::zone::Zone;

/// Sends the digests that are due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendDigests {}

impl JobPayload for SendDigests {
    const KIND: &'static str = "automations.send_digests";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// Every five minutes: a digest goes out within five minutes of its hour.
pub fn schedules() -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule {
        name: SendDigests::KIND.to_owned(),
        cron: "45 */5 * * * *".to_owned(),
        job: NewJob::new(&SendDigests {})?,
    }])
}

/// Registers the job.
pub fn register(registry: &mut Registry, automations: Automations) {
    registry.register(move |_: SendDigests, _| {
        let automations = automations.clone();
        async move {
            let sent = automations.send_due_digests(now_millis()).await.map_err(JobError::retry)?;
            if sent > 0 {
                tracing::info!(sent, "digests sent");
            }
            Ok(())
        }
    });
}

/// How often a digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frequency {
    Daily,
    Weekly,
}

impl Frequency {
    fn parse(value: &str) -> Option<Frequency> {
        match value {
            "daily" => Some(Frequency::Daily),
            "weekly" => Some(Frequency::Weekly),
            _ => None,
        }
    }
}

/// The period a digest is due for at `now`, if it is due: its key (`2026-12-04`, `2026-W49`),
/// the span it covers (unix ms, end excluded) and how it reads in the title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub from: i64,
    pub to: i64,
    pub label: String,
}

/// The period `digest` is due for at `now` (unix ms), or `None` when its hour has not come.
pub fn due_period(digest: &DigestRow, now: i64) -> Option<Period> {
    let frequency = Frequency::parse(&digest.frequency)?;
    let zone = Zone::named(&digest.time_zone);
    let local = zone.local(now);
    if i64::from(local.hour()) < digest.hour {
        return None;
    }
    let today = local.date();
    let midnight = |day: NaiveDate| zone.instant(day.and_hms_opt(0, 0, 0).unwrap_or_default());
    match frequency {
        Frequency::Daily => {
            let yesterday = today - Duration::days(1);
            Some(Period {
                key: today.format("%Y-%m-%d").to_string(),
                from: midnight(yesterday),
                to: midnight(today),
                label: yesterday.format("%A %-d %B %Y").to_string(),
            })
        }
        Frequency::Weekly => {
            if Some(i64::from(today.weekday().number_from_monday())) != digest.weekday {
                return None;
            }
            let week = today.iso_week();
            let first = today - Duration::days(7);
            Some(Period {
                key: format!("{}-W{:02}", week.year(), week.week()),
                from: midnight(first),
                to: midnight(today),
                label: format!("{} to {}", first.format("%-d %B"), (today - Duration::days(1)).format("%-d %B %Y")),
            })
        }
    }
}

impl Automations {
    /// Creates a digest.
    pub async fn create_digest(
        &self,
        workspace: &WorkspaceId,
        input: &DigestIn,
    ) -> Result<DigestRow, AutomationsError> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(AutomationsError::invalid("name", "1 to 120 characters"));
        }
        let frequency = Frequency::parse(&input.frequency)
            .ok_or_else(|| AutomationsError::invalid("frequency", "must be `daily` or `weekly`"))?;
        let weekday = match (frequency, input.weekday) {
            (Frequency::Weekly, Some(day @ 1..=7)) => Some(day),
            (Frequency::Weekly, _) => {
                return Err(AutomationsError::invalid("weekday", "a weekly digest needs a day, 1 (Monday) to 7"));
            }
            (Frequency::Daily, None) => None,
            (Frequency::Daily, Some(_)) => {
                return Err(AutomationsError::invalid("weekday", "only weekly digests have a day"));
            }
        };
        if !(0..24).contains(&input.hour) {
            return Err(AutomationsError::invalid("hour", "must be an hour from 0 to 23"));
        }
        let location = match input.location_id.as_deref() {
            Some(id) => {
                let not_found = || AutomationsError::invalid("locationId", "no such location in this workspace");
                let id = LocationId::parse(id).map_err(|_| not_found())?;
                Some(locations::location(&self.db, workspace, &id).await?.ok_or_else(not_found)?)
            }
            None => None,
        };
        let time_zone = match (&input.time_zone, &location) {
            (Some(zone), _) => known_zone("timeZone", zone)?,
            (None, Some(location)) => location.timezone.clone(),
            (None, None) => "UTC".to_owned(),
        };
        if input.destination_ids.is_empty() || input.destination_ids.len() > 10 {
            return Err(AutomationsError::invalid("destinationIds", "1 to 10 destinations"));
        }
        for (i, id) in input.destination_ids.iter().enumerate() {
            let field = format!("destinationIds[{i}]");
            let id = DestinationId::parse(id).map_err(|_| AutomationsError::invalid(&field, "not a destination id"))?;
            if automations_store::destination(&self.db, workspace, &id).await?.is_none() {
                return Err(AutomationsError::invalid(field, "no such destination in this workspace"));
            }
        }
        let id = DigestId::generate();
        let destinations = serde_json::to_string(&input.destination_ids).unwrap_or_else(|_| "[]".into());
        let new = NewDigest {
            name,
            frequency: &input.frequency,
            weekday,
            hour: input.hour,
            time_zone: &time_zone,
            location_id: location.as_ref().map(|l| l.id.as_str()),
            destination_ids: &destinations,
            enabled: input.enabled.unwrap_or(true),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert(&mut tx, workspace, &id, &new).await?;
        tx.commit().await?;
        self.digest(workspace, &id).await
    }

    /// The workspace's digests.
    pub async fn digests(&self, workspace: &WorkspaceId) -> Result<Vec<DigestRow>, AutomationsError> {
        Ok(store::list(&self.db, workspace).await?)
    }

    /// One digest.
    pub async fn digest(&self, workspace: &WorkspaceId, id: &DigestId) -> Result<DigestRow, AutomationsError> {
        store::get(&self.db, workspace, id).await?.ok_or(AutomationsError::NotFound("digest"))
    }

    /// Deletes a digest (what it sent stays in the delivery log).
    pub async fn delete_digest(&self, workspace: &WorkspaceId, id: &DigestId) -> Result<(), AutomationsError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete(&mut tx, workspace, id).await? {
            return Err(AutomationsError::NotFound("digest"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sends every digest due at `now` (unix ms) whose period nobody sent yet; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn send_due_digests(&self, now: i64) -> Result<usize, AutomationsError> {
        let mut sent = 0;
        for digest in store::enabled(&self.db).await? {
            let Some(period) = due_period(&digest, now) else { continue };
            if digest.last_period.as_deref() == Some(period.key.as_str()) {
                continue;
            }
            if self.send_digest(&digest.workspace_id, &digest.id, &digest, &period).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Claims the period and records one delivery per destination, in one transaction.
    async fn send_digest(
        &self,
        workspace: &WorkspaceId,
        id: &DigestId,
        digest: &DigestRow,
        period: &Period,
    ) -> Result<bool, AutomationsError> {
        let numbers = scans::digest_numbers(
            &self.db,
            workspace,
            digest.location_id.as_ref().map(LocationId::as_str),
            period.from,
            period.to,
        )
        .await?;
        let place = match &digest.location_id {
            Some(location) => locations::location(&self.db, workspace, location).await?.map(|l| l.name),
            None => None,
        }
        .unwrap_or_else(|| "all locations".to_owned());
        let average = numbers.average_rating.map_or_else(|| "no ratings".to_owned(), |a| format!("{a:.1} ★"));
        let message = Message::Text {
            title: format!("{}: {place}, {}", digest.name, period.label),
            body: format!(
                "New reviews: {}\nAverage rating: {average}\nUnanswered: {}\nNegative: {}",
                numbers.new_reviews, numbers.unanswered, numbers.negative
            ),
            link: Some(format!("{}/inbox", self.public_url)),
        };
        let payload = json!({ "message": message, "thread": null, "kind": NotificationKind::Digest }).to_string();
        let destinations: Vec<String> = serde_json::from_str(&digest.destination_ids).unwrap_or_default();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::claim(&mut tx, workspace, id, &period.key).await? {
            return Ok(false);
        }
        for destination in destinations.iter().filter_map(|d| DestinationId::parse(d).ok()) {
            if automations_store::destination(&self.db, workspace, &destination).await?.is_none_or(|d| !d.enabled) {
                continue;
            }
            let delivery = DeliveryId::generate();
            let new = NewDelivery {
                id: &delivery,
                event_id: None,
                rule_id: None,
                target: Target::Destination(&destination),
                test: false,
                payload: &payload,
            };
            log_store::insert_delivery(&mut tx, workspace, &new).await?;
            self.queue_delivery(&mut tx, workspace, &delivery).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(frequency: &str, weekday: Option<i64>, hour: i64) -> DigestRow {
        DigestRow {
            id: DigestId::generate(),
            workspace_id: WorkspaceId::generate(),
            name: "Daily".into(),
            frequency: frequency.into(),
            weekday,
            hour,
            time_zone: "Europe/Lisbon".into(),
            location_id: None,
            destination_ids: "[]".into(),
            enabled: true,
            last_period: None,
            last_sent_at: None,
            created_at: 0,
        }
    }

    fn lisbon(day: u32, hour: u32) -> i64 {
        let date = NaiveDate::from_ymd_opt(2026, 12, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("time");
        Zone::named("Europe/Lisbon").instant(date)
    }

    #[test]
    fn a_daily_digest_is_due_from_its_local_hour_and_covers_the_day_before() {
        let daily = digest("daily", None, 8);
        assert_eq!(due_period(&daily, lisbon(5, 7)), None, "not before 8:00");
        let period = due_period(&daily, lisbon(5, 8)).expect("due at 8:00");
        assert_eq!(period.key, "2026-12-05");
        assert_eq!((period.from, period.to), (lisbon(4, 0), lisbon(5, 0)));
        assert_eq!(due_period(&daily, lisbon(5, 23)).map(|p| p.key), Some("2026-12-05".into()), "one key all day");
    }

    #[test]
    fn a_weekly_digest_is_due_on_its_day_and_covers_the_week_before() {
        // 7 December 2026 is a Monday.
        let weekly = digest("weekly", Some(1), 9);
        assert_eq!(due_period(&weekly, lisbon(6, 10)), None, "Sunday is not its day");
        let period = due_period(&weekly, lisbon(7, 9)).expect("due");
        assert_eq!(period.key, "2026-W50");
        let november_30 = NaiveDate::from_ymd_opt(2026, 11, 30).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
        assert_eq!((period.from, period.to), (Zone::named("Europe/Lisbon").instant(november_30), lisbon(7, 0)));
    }
}
