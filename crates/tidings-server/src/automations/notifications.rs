//! The signed-in member's bell (unread count, latest notifications, mark read) and notification
//! preferences (choices per kind, quiet hours): what the API and the dashboard both call.

use std::collections::HashMap;
use strum::VariantArray;

use tidings_core::{NotificationId, UserId, WorkspaceId};

use super::dto_notifications::{KindChoice, PreferencesIo, QuietHoursIo};
use super::members::{Choice, DEFAULT_CHOICE, NotificationKind};
use super::store::deliveries::NotificationRow;
use super::store::members as store;
use super::{Automations, AutomationsError};
use crate::inbox::zone::Zone;

/// How many notifications the bell lists.
const BELL_SIZE: i64 = 30;

impl Automations {
    /// The member's bell: unread count and latest notifications.
    pub async fn bell(
        &self,
        workspace: &WorkspaceId,
        member: &UserId,
    ) -> Result<(i64, Vec<NotificationRow>), AutomationsError> {
        let unread = store::unread(&self.db, workspace, member).await?;
        Ok((unread, store::latest(&self.db, workspace, member, BELL_SIZE).await?))
    }

    /// The member's unread count.
    pub async fn unread(&self, workspace: &WorkspaceId, member: &UserId) -> Result<i64, AutomationsError> {
        Ok(store::unread(&self.db, workspace, member).await?)
    }

    /// Marks one of the member's notifications read (`only`), or all of them.
    pub async fn mark_read(
        &self,
        workspace: &WorkspaceId,
        member: &UserId,
        only: Option<&NotificationId>,
    ) -> Result<u64, AutomationsError> {
        if let Some(id) = only
            && !store::exists(&self.db, workspace, member, id).await?
        {
            return Err(AutomationsError::NotFound("notification"));
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let marked = store::mark_read(&mut tx, workspace, member, only).await?;
        tx.commit().await?;
        Ok(marked)
    }

    /// The member's choices for every kind, and their quiet hours.
    pub async fn preferences(
        &self,
        workspace: &WorkspaceId,
        member: &UserId,
    ) -> Result<PreferencesIo, AutomationsError> {
        let stored: HashMap<NotificationKind, Choice> = store::preferences(&self.db, workspace, Some(member))
            .await?
            .into_iter()
            .map(|row| (row.kind, Choice { in_app: row.in_app, email: row.email }))
            .collect();
        let kinds = NotificationKind::VARIANTS
            .iter()
            .copied()
            .map(|kind| {
                let choice = stored.get(&kind).copied().unwrap_or(DEFAULT_CHOICE);
                KindChoice { kind, label: kind.label().to_owned(), in_app: choice.in_app, email: choice.email }
            })
            .collect();
        let quiet_hours = store::quiet_hours(&self.db, workspace, Some(member))
            .await?
            .into_iter()
            .next()
            .map(|q| QuietHoursIo { start: clock(q.starts_minute), end: clock(q.ends_minute), time_zone: q.time_zone });
        Ok(PreferencesIo { kinds, quiet_hours })
    }

    /// Saves the member's choices (kinds left out keep theirs) and quiet hours.
    pub async fn save_preferences(
        &self,
        workspace: &WorkspaceId,
        member: &UserId,
        input: &PreferencesIo,
    ) -> Result<PreferencesIo, AutomationsError> {
        let quiet = match &input.quiet_hours {
            Some(q) => {
                let starts = minutes(&q.start).ok_or_else(|| invalid_time("quietHours.start"))?;
                let ends = minutes(&q.end).ok_or_else(|| invalid_time("quietHours.end"))?;
                if starts == ends {
                    return Err(AutomationsError::invalid("quietHours.end", "must differ from the start"));
                }
                Some((starts, ends, known_zone("quietHours.timeZone", &q.time_zone)?))
            }
            None => None,
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        for choice in &input.kinds {
            store::set_preference(&mut tx, workspace, member, choice.kind.as_str(), choice.in_app, choice.email)
                .await?;
        }
        store::set_quiet_hours(&mut tx, workspace, member, quiet.as_ref().map(|(s, e, z)| (*s, *e, z.as_str())))
            .await?;
        tx.commit().await?;
        self.preferences(workspace, member).await
    }
}

/// A time zone the host knows, by its IANA name.
pub(crate) fn known_zone(field: &str, name: &str) -> Result<String, AutomationsError> {
    let name = name.trim();
    if Zone::named(name).name == name {
        Ok(name.to_owned())
    } else {
        Err(AutomationsError::invalid(field, format!("`{name}` is not a known time zone such as Europe/Lisbon")))
    }
}

fn invalid_time(field: &str) -> AutomationsError {
    AutomationsError::invalid(field, "must be a time such as 22:00")
}

/// `HH:MM` as minutes after midnight.
fn minutes(text: &str) -> Option<i64> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    ((0..24).contains(&hours) && (0..60).contains(&minutes)).then_some(hours * 60 + minutes)
}

/// Minutes after midnight as `HH:MM`.
fn clock(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_and_print_as_hours_and_minutes() {
        assert_eq!(minutes("22:00"), Some(1320));
        assert_eq!(minutes("7:05"), Some(425));
        assert_eq!(minutes("24:00"), None);
        assert_eq!(minutes("noon"), None);
        assert_eq!(clock(425), "07:05");
        assert!(known_zone("z", "Europe/Lisbon").is_ok());
        assert!(known_zone("z", "Mars/Olympus").is_err());
    }
}
