//! Connecting Google Business Profile and Meta (Facebook, Messenger, Instagram) accounts through
//! the platform's consent screen.
//!
//! 1. `start`: a random 32-byte `state` is made; only its SHA-256 is stored, bound to the
//!    workspace, the member, the platform and the chosen location, for ten minutes. The member
//!    is sent to the consent URL carrying it.
//! 2. `complete` (the platform redirects back to `/oauth/callback/{platform}` with `code` and
//!    `state`, in the member's browser, so with their session): the state is spent in one
//!    statement that also checks workspace, member, platform, expiry and earlier use; then the
//!    code is exchanged (Facebook's short-lived token is traded for a long-lived one), the
//!    accounts the member manages are listed, and one connection is created per account:
//!    - Google: every location of every account (Account Management `GET /v1/accounts`, then
//!      Business Information `GET /v1/{account}/locations?readMask=name,title`); the connection's
//!      id is `accounts/{a}/locations/{l}`, the form the reviews API takes.
//!    - Facebook and Messenger: every Page (`GET /v21.0/me/accounts`), with the Page's own
//!      access token (which does not expire when read with a long-lived user token).
//!    - Instagram: every Page with a linked Instagram professional account, keyed by the
//!      Instagram account id (what webhooks name), with the Page's token.
//!
//! Accounts already connected to this workspace get the new credentials and become active
//! again; accounts connected to another workspace are skipped without saying whose they are.

use std::sync::LazyLock;

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tidings_connectors::oauth::{GOOGLE_BUSINESS_SCOPE, OAuthClient};
use tidings_connectors::{ConnectorError, Credentials, Platform, http};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, LocationId, WorkspaceId};

use super::service::{Channels, ChannelsError, NewAccount};
use super::store::{self, NewOAuthState};
use crate::access::Caller;
use crate::identity::tokens::{hash_token, opaque_token};

/// How long a `state` is accepted after the flow starts.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// The Graph API version the Meta calls use (the connectors' pinned version).
const GRAPH_VERSION: &str = tidings_connectors::facebook::GRAPH_VERSION;

/// The production Business Profile host configured by default; Google serves accounts and
/// locations from two other hosts, used when this default is configured. A different
/// `connectors.google.base_url` (a test server, a proxy) serves all three paths.
const GOOGLE_DEFAULT_BASE: &str = "https://mybusiness.googleapis.com";
const GOOGLE_ACCOUNTS_BASE: &str = "https://mybusinessaccountmanagement.googleapis.com";
const GOOGLE_LOCATIONS_BASE: &str = "https://mybusinessbusinessinformation.googleapis.com";

/// Pages of accounts or locations read at most, so a misbehaving server cannot loop us.
const MAX_PAGES: usize = 50;

/// One client for the listing calls (the OAuth client has its own).
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder().user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION"))).build().unwrap_or_default()
});

/// A started flow.
pub struct Started {
    /// Where to send the member.
    pub authorize_url: String,
    /// Where the platform sends them back.
    pub redirect_uri: String,
    /// When the state stops being accepted (unix milliseconds).
    pub expires_at: i64,
}

/// What a finished flow connected.
#[derive(Debug, Default)]
pub struct Completed {
    /// Connections created.
    pub connected: Vec<ConnectionId>,
    /// Connections of this workspace given new credentials.
    pub reconnected: Vec<ConnectionId>,
    /// Accounts skipped because another workspace has them connected.
    pub skipped: usize,
}

/// The scopes asked for on each platform.
pub fn scopes(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Google => &[GOOGLE_BUSINESS_SCOPE],
        Platform::Facebook => {
            &["pages_show_list", "pages_read_engagement", "pages_read_user_content", "pages_manage_engagement"]
        }
        Platform::Messenger => &["pages_show_list", "pages_manage_metadata", "pages_messaging"],
        Platform::Instagram => &[
            "pages_show_list",
            "pages_manage_metadata",
            "business_management",
            "instagram_basic",
            "instagram_manage_messages",
        ],
        _ => &[],
    }
}

impl Channels {
    /// The callback URL registered with the platform's app.
    pub fn redirect_uri(&self, platform: Platform) -> String {
        self.absolute(&format!("/oauth/callback/{platform}"))
    }

    fn oauth_client(&self, platform: Platform) -> Result<OAuthClient, ChannelsError> {
        if !platform.uses_oauth() {
            return Err(ChannelsError::NotFound("OAuth platform"));
        }
        self.platforms.oauth(platform).ok_or_else(|| {
            let settings = match platform {
                Platform::Google => "connectors.google.client_id and connectors.google.client_secret",
                _ => "connectors.meta.app_id and connectors.meta.app_secret",
            };
            ChannelsError::NotConfigured(format!(
                "connecting {} is not configured on this server: set {settings}",
                platform.label()
            ))
        })
    }

    /// Starts connecting `platform`: stores a fresh state for this member and returns the
    /// consent URL carrying it.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, platform = %platform))]
    pub async fn start_oauth(
        &self,
        caller: &Caller,
        platform: Platform,
        location: Option<&str>,
    ) -> Result<Started, ChannelsError> {
        let workspace = &caller.workspace_id;
        let user = &caller.user().ok_or_else(|| {
            ChannelsError::Conflict("connecting by OAuth needs a signed-in member, not an API key".to_owned())
        })?;
        let client = self.oauth_client(platform)?;
        let location = self.existing_location(workspace, "locationId", location).await?;
        let (state, state_hash) = opaque_token("ost");
        let expires_at = now_millis() + STATE_TTL_MS;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let new = NewOAuthState {
            state_hash: &state_hash,
            user_id: user.as_str(),
            platform: platform.as_str(),
            location_id: location.as_ref(),
            expires_at,
        };
        store::insert_oauth_state(&mut tx, workspace, &new).await?;
        tx.commit().await?;
        // Housekeeping: states nobody came back with.
        if let Err(error) = store::delete_expired_oauth_states(&self.db, now_millis() - STATE_TTL_MS).await {
            tracing::warn!(%error, "expired OAuth states not removed");
        }
        let redirect_uri = self.redirect_uri(platform);
        let authorize_url = client.authorize_url(&redirect_uri, scopes(platform), &state);
        Ok(Started { authorize_url, redirect_uri, expires_at })
    }

    /// Finishes connecting `platform` with the `code` and `state` the platform sent back.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, platform = %platform))]
    pub async fn complete_oauth(
        &self,
        caller: &Caller,
        platform: Platform,
        code: &str,
        state: &str,
    ) -> Result<Completed, ChannelsError> {
        let workspace = &caller.workspace_id;
        let client = self.oauth_client(platform)?;
        let user = &caller.user().ok_or(ChannelsError::InvalidState)?;
        if code.is_empty() || state.is_empty() {
            return Err(ChannelsError::InvalidState);
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let spent = store::consume_oauth_state(
            &mut tx,
            workspace,
            &hash_token(state),
            user.as_str(),
            platform.as_str(),
            now_millis(),
        )
        .await?;
        // Committed before any call out, so a replay racing this one finds the state used.
        tx.commit().await?;
        let location = spent.ok_or(ChannelsError::InvalidState)?;
        // The location may have been removed in the meantime.
        let location = match location.as_deref().map(LocationId::parse).transpose().ok().flatten() {
            Some(id) if store::location(&self.db, workspace, &id).await?.is_some() => Some(id),
            _ => None,
        };
        let label = platform.label();
        let failed = |source: ConnectorError| ChannelsError::Platform { label, source };
        let now = now_millis();
        let tokens = client.exchange_code(code, &self.redirect_uri(platform)).await.map_err(failed)?;
        let accounts = match platform {
            Platform::Google => {
                let mut credentials = Credentials::default();
                tokens.apply_to(&mut credentials, now);
                self.google_locations(&credentials).await.map_err(failed)?
            }
            _ => {
                let long_lived = client.exchange_long_lived(&tokens.access_token).await.map_err(failed)?;
                self.meta_accounts(platform, &long_lived.access_token).await.map_err(failed)?
            }
        };
        self.connect_accounts(caller, platform, location.as_ref(), accounts).await
    }

    async fn connect_accounts(
        &self,
        caller: &Caller,
        platform: Platform,
        location: Option<&LocationId>,
        accounts: Vec<NewAccount>,
    ) -> Result<Completed, ChannelsError> {
        let workspace: &WorkspaceId = &caller.workspace_id;
        let mut done = Completed::default();
        for account in accounts {
            if let Some(existing) =
                store::connection_by_account(&self.db, platform.as_str(), &account.external_id).await?
            {
                if existing.workspace_id == *workspace {
                    self.reconnect(caller, &existing.id, &account.credentials).await?;
                    done.reconnected.push(existing.id);
                } else {
                    done.skipped += 1;
                }
                continue;
            }
            let interval = self.default_sync_interval_secs;
            match self.insert_account(caller, platform, location, interval, &account, "oauth").await? {
                Some(id) => done.connected.push(id),
                None => done.skipped += 1,
            }
        }
        // A Page connected by OAuth delivers nothing until it installs the app; connecting
        // again retries a subscription that failed.
        for id in done.connected.iter().chain(&done.reconnected) {
            self.subscribe_webhooks(workspace, id).await?;
        }
        Ok(done)
    }

    fn get(&self, url: &str, token: &SecretString) -> RequestBuilder {
        HTTP.get(url).bearer_auth(token.expose_secret()).timeout(self.http_timeout)
    }

    /// Every location of every Business Profile account the member manages, each with a copy
    /// of the member's tokens.
    async fn google_locations(&self, credentials: &Credentials) -> Result<Vec<NewAccount>, ConnectorError> {
        let token = credentials
            .access_token
            .as_ref()
            .ok_or(ConnectorError::MissingCredential { platform: "google", what: "access token" })?;
        let base = self.platforms.config().google.base_url.trim_end_matches('/');
        let (accounts_base, locations_base) =
            if base == GOOGLE_DEFAULT_BASE { (GOOGLE_ACCOUNTS_BASE, GOOGLE_LOCATIONS_BASE) } else { (base, base) };
        let mut accounts = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self.get(&format!("{accounts_base}/v1/accounts"), token).query(&[("pageSize", "20")]);
            if let Some(next) = &page_token {
                request = request.query(&[("pageToken", next)]);
            }
            let page: wire::GoogleAccounts = http::send_json("google", request).await?;
            accounts.extend(page.accounts);
            page_token = page.next_page_token.filter(|t| !t.is_empty());
            if page_token.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for account in accounts {
            let mut page_token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let url = format!("{locations_base}/v1/{}/locations", account.name);
                let mut request = self.get(&url, token).query(&[("readMask", "name,title"), ("pageSize", "100")]);
                if let Some(next) = &page_token {
                    request = request.query(&[("pageToken", next)]);
                }
                let page: wire::GoogleLocations = http::send_json("google", request).await?;
                for location in page.locations {
                    // Business Information names a location `locations/{l}`; the reviews API
                    // wants `accounts/{a}/locations/{l}`.
                    let external_id = format!("{}/{}", account.name, location.name);
                    let display_name = location.title.filter(|t| !t.trim().is_empty()).unwrap_or(location.name);
                    found.push(NewAccount { external_id, display_name, credentials: credentials.clone() });
                }
                page_token = page.next_page_token.filter(|t| !t.is_empty());
                if page_token.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// The Pages (or the Instagram accounts linked to them) the member manages, each with the
    /// Page's access token.
    async fn meta_accounts(
        &self,
        platform: Platform,
        user_token: &SecretString,
    ) -> Result<Vec<NewAccount>, ConnectorError> {
        let name = platform.as_str();
        let graph = self.platforms.config().meta.graph_base_url.trim_end_matches('/');
        let url = format!("{graph}/{GRAPH_VERSION}/me/accounts");
        let fields = if platform == Platform::Instagram {
            "id,name,access_token,instagram_business_account{id,username}"
        } else {
            "id,name,access_token"
        };
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self.get(&url, user_token).query(&[("fields", fields), ("limit", "100")]);
            if let Some(cursor) = &after {
                request = request.query(&[("after", cursor)]);
            }
            let page: wire::MetaPages = http::send_json(name, request).await?;
            for page_row in page.data {
                let Some(token) = page_row.access_token.filter(|t| !t.is_empty()) else {
                    tracing::info!(platform = name, page_id = %page_row.id, "page without an access token skipped");
                    continue;
                };
                let credentials =
                    Credentials { access_token: Some(SecretString::from(token)), ..Credentials::default() };
                let page_name = page_row.name.unwrap_or_else(|| page_row.id.clone());
                let account = match platform {
                    Platform::Instagram => {
                        let Some(ig) = page_row.instagram_business_account else { continue };
                        let display_name = ig.username.map_or_else(|| page_name.clone(), |u| format!("@{u}"));
                        NewAccount { external_id: ig.id, display_name, credentials }
                    }
                    _ => NewAccount { external_id: page_row.id, display_name: page_name, credentials },
                };
                found.push(account);
            }
            let paging = page.paging.unwrap_or_default();
            after = paging.cursors.and_then(|c| c.after).filter(|_| paging.next.is_some());
            if after.is_none() {
                break;
            }
        }
        Ok(found)
    }
}

/// The platforms' JSON, exactly as documented.
mod wire {
    use super::Deserialize;

    /// Account Management `accounts.list`.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct GoogleAccounts {
        #[serde(default)]
        pub accounts: Vec<GoogleAccount>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    /// An account (`name` is `accounts/{id}`).
    #[derive(Deserialize)]
    pub struct GoogleAccount {
        pub name: String,
    }

    /// Business Information `accounts.locations.list`.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct GoogleLocations {
        #[serde(default)]
        pub locations: Vec<GoogleLocation>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    /// A location as read with `readMask=name,title` (`name` is `locations/{id}`).
    #[derive(Deserialize)]
    pub struct GoogleLocation {
        pub name: String,
        #[serde(default)]
        pub title: Option<String>,
    }

    /// Graph `GET /me/accounts`: the Pages the user manages.
    #[derive(Deserialize)]
    pub struct MetaPages {
        #[serde(default)]
        pub data: Vec<MetaPage>,
        #[serde(default)]
        pub paging: Option<Paging>,
    }

    /// A Page with its Page access token.
    #[derive(Deserialize)]
    pub struct MetaPage {
        pub id: String,
        #[serde(default)]
        pub name: Option<String>,
        #[serde(default)]
        pub access_token: Option<String>,
        #[serde(default)]
        pub instagram_business_account: Option<InstagramAccount>,
    }

    /// The Instagram professional account linked to a Page.
    #[derive(Deserialize)]
    pub struct InstagramAccount {
        pub id: String,
        #[serde(default)]
        pub username: Option<String>,
    }

    /// Cursor-based paging.
    #[derive(Deserialize, Default)]
    pub struct Paging {
        #[serde(default)]
        pub cursors: Option<Cursors>,
        #[serde(default)]
        pub next: Option<String>,
    }

    /// Paging cursors.
    #[derive(Deserialize)]
    pub struct Cursors {
        #[serde(default)]
        pub after: Option<String>,
    }
}
