//! What the locations, connections and platforms endpoints accept and promise. Credentials go
//! in and never come out.

use serde::{Deserialize, Serialize};
use tidings_connectors::{Platform, ReplySupport};
use tidings_core::time::to_rfc3339;
use tidings_core::{ConnectionId, LocationId};
use utoipa::{IntoParams, ToSchema};

use super::model::{
    ConnectionChanges, ConnectionInput, ConnectionStatus, CredentialsInput, LocationInput, WebhookSubscriptionState,
};
use super::store::{ConnectionRow, LocationRow, LocationStatsRow};

/// A location to create, or its new fields (`PUT` replaces them all).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocationIn {
    /// 1–200 characters.
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    /// An `http` or `https` URL.
    pub website: Option<String>,
    /// An IANA time zone name (`Europe/Lisbon`); `UTC` when left out.
    pub timezone: Option<String>,
}

impl From<LocationIn> for LocationInput {
    fn from(input: LocationIn) -> Self {
        let LocationIn { name, address, city, country, phone, website, timezone } = input;
        Self { name, address, city, country, phone, website, timezone }
    }
}

/// A location, with what is connected to it and how it is reviewed.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationOut {
    pub id: LocationId,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub timezone: String,
    /// Platform accounts connected to this location.
    pub connection_count: i64,
    /// Reviews of this location in the inbox.
    pub review_count: i64,
    /// Mean star rating of those reviews (two decimals), `null` without rated reviews.
    pub average_rating: Option<f64>,
    pub created_at: String,
    pub updated_at: String,
}

impl LocationOut {
    /// The row with its counts (zero when `stats` is absent).
    pub fn from_row(row: LocationRow, stats: Option<&LocationStatsRow>) -> Self {
        Self {
            connection_count: stats.map_or(0, |s| s.connections),
            review_count: stats.map_or(0, |s| s.reviews),
            average_rating: stats.and_then(|s| s.average_rating).map(|avg| (avg * 100.0).round() / 100.0),
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
            id: row.id,
            name: row.name,
            address: row.address,
            city: row.city,
            country: row.country,
            phone: row.phone,
            website: row.website,
            timezone: row.timezone,
        }
    }
}

/// Credentials for connecting a platform account by hand. Which fields a platform needs is
/// listed by `GET /platforms` (`requiredCredentials`). Stored encrypted; never returned.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialsIn {
    /// API key (Yelp, TripAdvisor), Page/system-user/user access token (Meta, WhatsApp, X, Google).
    pub access_token: Option<String>,
    /// OAuth refresh token, where the platform issues one.
    pub refresh_token: Option<String>,
    /// A second secret (DataForSEO password, X access-token secret).
    pub secret: Option<String>,
    /// A login (DataForSEO).
    pub login: Option<String>,
}

impl From<CredentialsIn> for CredentialsInput {
    fn from(input: CredentialsIn) -> Self {
        let CredentialsIn { access_token, refresh_token, secret, login } = input;
        Self { access_token, refresh_token, secret, login }
    }
}

/// A platform account to connect with an API key or token.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionIn {
    /// `google`, `yelp`, `facebook`, `tripadvisor`, `dataforseo`, `messenger`, `instagram`, `whatsapp` or `x`.
    pub platform: String,
    /// The platform's id of the account (Google `accounts/{a}/locations/{l}`, Yelp business id,
    /// Page id, WhatsApp phone-number id, X user id, TripAdvisor location id…).
    pub external_account_id: String,
    pub display_name: String,
    pub location_id: Option<String>,
    pub credentials: CredentialsIn,
    /// Seconds between syncs, at least 300 (default: the server's `connectors.sync_interval_secs`).
    pub sync_interval_secs: Option<i64>,
}

impl From<ConnectionIn> for ConnectionInput {
    fn from(input: ConnectionIn) -> Self {
        let ConnectionIn { platform, external_account_id, display_name, location_id, credentials, sync_interval_secs } =
            input;
        Self {
            platform,
            external_account_id,
            display_name,
            location_id,
            credentials: credentials.into(),
            sync_interval_secs,
        }
    }
}

/// Changes to a connection; fields left out stay as they are. `locationId: null` detaches it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPatch {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub location_id: Option<Option<String>>,
    /// `true` stops syncing; `false` resumes it.
    pub paused: Option<bool>,
    /// At least 300.
    pub sync_interval_secs: Option<i64>,
}

impl From<ConnectionPatch> for ConnectionChanges {
    fn from(patch: ConnectionPatch) -> Self {
        let ConnectionPatch { display_name, location_id, paused, sync_interval_secs } = patch;
        Self { display_name, location_id, paused, sync_interval_secs }
    }
}

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`).
fn double_option<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// How replies reach a platform.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReplySupportOut {
    /// Posted through the platform's API.
    Api,
    /// Posted by hand on the platform's site (Tidings keeps the draft and a deep link).
    Manual,
}

impl From<ReplySupport> for ReplySupportOut {
    fn from(support: ReplySupport) -> Self {
        match support {
            ReplySupport::Api => Self::Api,
            ReplySupport::ManualOnly => Self::Manual,
        }
    }
}

/// What a platform brings into the inbox.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    /// Polled for reviews.
    Reviews,
    /// Pushes messages by webhook.
    Messages,
}

impl PlatformKind {
    /// The kind of `platform`.
    pub fn of(platform: Platform) -> Self {
        if platform.is_review_source() { Self::Reviews } else { Self::Messages }
    }
}

/// A connected platform account and its health. Its credentials are never shown.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionOut {
    pub id: ConnectionId,
    pub platform: String,
    /// The platform's name for people (`TripAdvisor`).
    pub platform_label: String,
    pub kind: PlatformKind,
    pub reply_support: ReplySupportOut,
    pub location_id: Option<LocationId>,
    pub external_account_id: String,
    pub display_name: String,
    pub status: ConnectionStatus,
    pub last_synced_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// When the access token expires, when the platform said.
    pub token_expires_at: Option<String>,
    pub consecutive_failures: i64,
    pub next_sync_at: Option<String>,
    pub sync_interval_secs: i64,
    /// What the platform has charged for syncing, in US cents as a decimal number
    /// (stored in hundredths of a cent: `1234` is `12.34`). Only DataForSEO charges.
    pub cost_cents: f64,
    pub created_at: String,
    pub updated_at: String,
    /// Whether the platform sends this account's events to our webhook: `subscribed`, `failed`
    /// (see `webhookSubscriptionError`; retry with `POST /connections/{id}/webhook-subscription`)
    /// or `not_applicable`.
    pub webhook_subscription: WebhookSubscriptionOut,
    pub webhook_subscription_error: Option<String>,
}

/// Whether the platform sends a connection's events to our webhook.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookSubscriptionOut {
    /// The platform sends the account's events (Meta: the Page installed the app).
    Subscribed,
    /// The platform refused the subscription; events will not arrive until it is retried.
    Failed,
    /// The platform needs no subscription per account.
    NotApplicable,
}

impl WebhookSubscriptionOut {
    pub(crate) fn of(stored: Option<WebhookSubscriptionState>) -> Self {
        match stored {
            Some(WebhookSubscriptionState::Subscribed) => Self::Subscribed,
            Some(WebhookSubscriptionState::Failed) => Self::Failed,
            None => Self::NotApplicable,
        }
    }
}

impl From<ConnectionRow> for ConnectionOut {
    fn from(row: ConnectionRow) -> Self {
        let platform = row.platform;
        Self {
            platform_label: platform.label().to_owned(),
            kind: PlatformKind::of(platform),
            reply_support: platform.reply_support().into(),
            last_synced_at: row.last_synced_at.map(to_rfc3339),
            last_error_at: row.last_error_at.map(to_rfc3339),
            token_expires_at: row.token_expires_at.map(to_rfc3339),
            next_sync_at: row.next_sync_at.map(to_rfc3339),
            // Exact for every amount below 2^53 hundredths of a cent.
            cost_cents: row.cost_centi_cents as f64 / 100.0,
            webhook_subscription: WebhookSubscriptionOut::of(row.webhook_subscription),
            webhook_subscription_error: row.webhook_subscription_error,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
            id: row.id,
            platform: platform.as_str().to_owned(),
            location_id: row.location_id,
            external_account_id: row.external_account_id,
            display_name: row.display_name,
            status: row.status,
            last_error: row.last_error,
            consecutive_failures: row.consecutive_failures,
            sync_interval_secs: row.sync_interval_secs,
        }
    }
}

/// How an account of a platform is connected.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ConnectMethod {
    /// Through the platform's consent screen (`GET /connections/oauth/{platform}/start`).
    Oauth,
    /// With an API key or token (`POST /connections`).
    Token,
}

/// A platform Tidings can connect to, and how.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformOut {
    pub platform: String,
    pub label: String,
    pub description: String,
    pub kind: PlatformKind,
    pub reply_support: ReplySupportOut,
    pub connect_method: ConnectMethod,
    /// Whether this server has the OAuth app configured (always `false` for token platforms).
    pub oauth_configured: bool,
    /// Credential fields `POST /connections` needs for this platform.
    pub required_credentials: Vec<String>,
    /// Where to point the platform's webhook, for platforms that push events. A Meta app has
    /// one callback URL per object, so Messenger and Facebook share the Page's.
    pub webhook_url: Option<String>,
    /// The Meta webhook object to subscribe the app to (`page`, `instagram`,
    /// `whatsapp_business_account`), for Meta platforms.
    pub webhook_object: Option<String>,
    /// Whether the webhook signing secret is configured (not derived for the demo).
    pub webhook_secret_configured: Option<bool>,
    /// The Meta `hub.verify_token` to enter in the app dashboard; shown only to roles that
    /// may connect channels.
    pub verify_token: Option<String>,
}

/// Where the OAuth flow starts.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OAuthStartQuery {
    /// Attach the connected accounts to this location.
    pub location_id: Option<String>,
}

/// The consent page to send the member to.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthStartOut {
    /// The platform's consent URL, carrying a single-use `state`.
    pub authorize_url: String,
    /// The `redirect_uri` the platform sends the member back to (register it with the app).
    pub redirect_uri: String,
    /// When the `state` stops being accepted.
    pub expires_at: String,
}

/// What the platform sends back to the callback.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OAuthCallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` Tidings sent.
    pub state: Option<String>,
    /// Set instead of `code` when the member declined (`access_denied`).
    pub error: Option<String>,
}

/// A sync asked for.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequestedOut {
    pub connection_id: ConnectionId,
    pub next_sync_at: String,
}

/// Something was removed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeletedOut {
    pub deleted: bool,
}
