//! How reviews went week by week: how many arrived and their average rating, for the reviews
//! page's chart. Weeks start on Monday (UTC); a review counts in the week of its date.

use tidings_core::WorkspaceId;
use tidings_store::{Db, StoreError, with_reader};

use super::{ConversationFilter, select};
use crate::inbox::query::{Arg, bind_args};

/// A week, in milliseconds.
pub const WEEK_MS: i64 = 7 * 86_400_000;
/// The first Monday of the Unix epoch (5 January 1970), which weeks are counted from.
pub const FIRST_MONDAY_MS: i64 = 4 * 86_400_000;

/// One week of reviews.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WeekRow {
    /// Weeks since the first Monday of the epoch.
    pub week: i64,
    pub reviews: i64,
    /// The sum and number of the ratings given, for the average.
    pub rating_sum: i64,
    pub rated: i64,
}

/// The weeks from `since` (unix ms) on with reviews matching `filter`, oldest first (weeks
/// without any are absent).
pub async fn weekly_reviews(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &ConversationFilter,
    since: i64,
) -> Result<Vec<WeekRow>, StoreError> {
    let super::Selection { source, conditions: mut c } = select(db.engine(), workspace, filter);
    c.push("c.last_message_at >= {}", Arg::Int(since));
    let sql = format!(
        "SELECT (c.last_message_at - {FIRST_MONDAY_MS}) / {WEEK_MS} AS week, COUNT(*) AS reviews, \
         CAST(COALESCE(SUM(c.rating), 0) AS BIGINT) AS rating_sum, COUNT(c.rating) AS rated \
         FROM {} {} GROUP BY 1 ORDER BY 1",
        source.from,
        c.where_sql()
    );
    Ok(with_reader!(db, |pool| bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())), c.args())
        .fetch_all(pool)
        .await)?)
}
